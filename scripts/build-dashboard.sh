#!/usr/bin/env bash
# Builds the web dashboard (dashboard/: TypeScript, Vite) into ${BUILD_DIR:-build}/dashboard,
# where proximadb-server finds it ([server] dashboard_dir). `npm ci` runs only when
# package-lock.json changed since the last one (a stamp in node_modules), and the build only
# when a source changed since the last build: a second run costs a fraction of a second.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="${BUILD_DIR:-build}"
[[ "$build" == /* ]] || build="$root/$build"
app="$root/dashboard"
out="$build/dashboard"

"$root/scripts/install-deps.sh" >/dev/null
stamp="$app/node_modules/.installed-$(sha1sum "$app/package-lock.json" | cut -c1-12)"
if [[ ! -f "$stamp" ]]; then
  echo "build-dashboard: npm ci"
  (cd "$app" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$stamp"
fi
newest=$(find "$app/src" "$app/index.html" "$app/vite.config.ts" "$app/package-lock.json" \
  -type f -newer "$out/index.html" 2>/dev/null | head -1 || true)
if [[ ! -f "$out/index.html" || -n "$newest" ]]; then
  echo "build-dashboard: vite build -> $out"
  (cd "$app" && npx tsc --noEmit && DASHBOARD_OUT="$out" npx vite build --logLevel warn)
fi
