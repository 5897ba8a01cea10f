#!/usr/bin/env bash
# Installs the servers that tests start on loopback: the two S3 servers of the object-store
# tests, under ${BUILD_DIR:-build}/test-servers/:
#   venv/        moto_server (PyPI moto[server]): S3 and DynamoDB, accepts any signature
#   s3proxy.jar  s3proxy (Maven Central), filesystem-nio2 backend, checks SigV4 signatures
#   schemathesis/  schemathesis (PyPI), for tests/e2e/openapi_test.py
# and Debian's prometheus (with promtool) for tests/e2e/observability_test.py and chromium for
# the dashboard's browser tests (dashboard/e2e), and Debian's etcd and nats-server, which the
# cluster tests (src/cluster, tests/cluster) start on loopback ports.
# Idempotent: a stamp file and the jar's presence make a second run a no-op that needs no
# network. Uses sudo only when not root (and only if java, mvn, promtool or chromium is missing).
set -euo pipefail

MOTO_VERSION=5.2.5
SCHEMATHESIS_VERSION=4.32.5
S3PROXY_ARTIFACT=org.gaul:s3proxy:2.7.0:jar:jar-with-dependencies

root=$(cd "$(dirname "$0")/.." && pwd)
build="${BUILD_DIR:-build}"
[[ "$build" == /* ]] || build="$root/$build"  # BUILD_DIR may be absolute or repo-relative
dir="$build/test-servers"
mkdir -p "$dir"

# Java runs s3proxy, Maven fetches it. Install a package only when its command is missing
# (the image may ship a JDK without the default-jre-headless metapackage).
missing=()
command -v java >/dev/null || missing+=(default-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v promtool >/dev/null || missing+=(prometheus)
command -v chromium >/dev/null || missing+=(chromium)  # the dashboard's browser tests
command -v etcd >/dev/null || missing+=(etcd-server)    # cluster: membership and catalog
[[ -x /usr/sbin/nats-server ]] || command -v nats-server >/dev/null \
  || missing+=(nats-server)                            # cluster: the shards' logs
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "install-test-servers: installing ${missing[*]}"
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# A PyPI package in a virtualenv of its own, installed once: the stamp names the version, so
# changing it reinstalls.
venv_with() {  # venv_with <dir> <stamp name> <pip spec>
  if [[ ! -f "$1/.installed-$2" ]]; then
    echo "install-test-servers: $3"
    python3 -m venv "$1"
    "$1/bin/pip" install -q "$3"
    touch "$1/.installed-$2"
  fi
}
venv_with "$dir/venv" "moto-$MOTO_VERSION" "moto[server]==$MOTO_VERSION"
venv_with "$dir/schemathesis" "$SCHEMATHESIS_VERSION" "schemathesis==$SCHEMATHESIS_VERSION"

# s3proxy's self-contained jar (the classifier bundles jclouds, Jetty and the rest).
# dependency:get puts it into ~/.m2; -Dtransitive=false since the jar needs nothing else.
if [[ ! -f "$dir/s3proxy.jar" ]]; then
  echo "install-test-servers: $S3PROXY_ARTIFACT"
  # Maven 3.8's -q still prints colour codes: keep its log and show it only on failure.
  mvn -B dependency:get -Dartifact="$S3PROXY_ARTIFACT" -Dtransitive=false >"$dir/mvn.log" 2>&1 \
    || { cat "$dir/mvn.log"; exit 1; }
  IFS=: read -r group artifact version _ classifier <<<"$S3PROXY_ARTIFACT"
  m2="$HOME/.m2/repository"  # Maven's default local repository
  cp "$m2/${group//.//}/$artifact/$version/$artifact-$version-$classifier.jar" "$dir/s3proxy.jar.tmp"
  mv "$dir/s3proxy.jar.tmp" "$dir/s3proxy.jar"  # atomic: a killed run leaves no half jar
fi
