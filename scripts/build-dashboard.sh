#!/usr/bin/env bash
# Builds the web dashboard (dashboard/: TypeScript, Vite) into ${BUILD_DIR:-build}/dashboard,
# where proximadb-server finds it ([server] dashboard_dir). `npm ci` runs only when
# package-lock.json changed since the last one (a stamp in node_modules), and the build only
# when the sources' content changed since the last build: a second run costs about a second.
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
# The inputs' content (not their times: copies and checkouts keep or reset those): rebuilt
# when it differs from what the last build was made of.
inputs=$(cd "$app" && find src index.html vite.config.ts tsconfig.json package.json \
  package-lock.json -type f | LC_ALL=C sort | xargs sha1sum | sha1sum | cut -c1-40)
if [[ ! -f "$out/index.html" || "$(cat "$out/.inputs" 2>/dev/null)" != "$inputs" ]]; then
  echo "build-dashboard: vite build -> $out"
  # --no-install: a damaged node_modules fails here rather than fetching other packages.
  (cd "$app" && npx --no-install tsc --noEmit &&
    DASHBOARD_OUT="$out" npx --no-install vite build --logLevel warn)
  echo "$inputs" > "$out/.inputs"
fi
