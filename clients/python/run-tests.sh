#!/usr/bin/env bash
# Runs the Python client's tests against the real server binary.
#
# Creates (once per version of pyproject.toml) a virtualenv at build/python-venv with the client
# installed in editable mode and its test extras from PyPI, then runs pytest. The server binary
# is $PROXIMADB_SERVER, or build/bin/proximadb-server.
#
#   clients/python/run-tests.sh [pytest args]
#   clients/python/run-tests.sh --regenerate    # rewrite the gRPC stubs from proto/
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv="$root/build/python-venv"
stamp="$venv/.installed-$(sha1sum "$here/pyproject.toml" | cut -c1-12)"
if [[ ! -f "$stamp" ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -e "$here[test,progress,parquet]"
  touch "$stamp"
fi
if [[ "${1:-}" == "--regenerate" ]]; then
  exec "$venv/bin/python" -m grpc_tools.protoc -I "$root/proto" --python_out="$here" \
    --grpc_python_out="$here" --pyi_out="$here" "$root/proto/proximadb/v1/proximadb.proto"
fi
export PROXIMADB_SERVER="${PROXIMADB_SERVER:-$root/build/bin/proximadb-server}"
cd "$here"
exec "$venv/bin/python" -m pytest -q "$@"
