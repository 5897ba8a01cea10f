#!/usr/bin/env bash
# Installs the Debian packages that building, testing and benchmarking ProximaDB need.
# Idempotent: asks dpkg what is already there and installs only what is missing, so a second
# run costs a fraction of a second and needs no network. Uses sudo only when not root.
set -euo pipefail

# Build and test.
packages=(
  build-essential cmake ninja-build ccache pkg-config
  libabsl-dev          # Status/StatusOr, hash maps, synchronization
  libsqlite3-dev       # the catalog
  libisal-dev          # CRC32C (crc32_iscsi), hardware accelerated
  nlohmann-json3-dev   # metadata documents: parse, merge, canonical dump
  libroaring-dev       # deletion bitmaps in segments
  zlib1g-dev           # reading the gzip'ed evaluation data sets
  libboost-dev         # Boost.Beast/Asio: the REST server (header-only)
  libsimdjson-dev      # request parsing (float arrays)
  libtomlplusplus-dev  # config.toml
  libcli11-dev         # command-line flags
  libspdlog-dev        # server logs
  libzstd-dev          # compressed metadata in segments (viper, metadata_compression zstd)
  libcurl4-openssl-dev  # the S3 client (cold tier, backups): HTTP and SigV4 signing
  libxml2-dev          # the S3 client: XML answers
  libssl-dev           # TLS for REST and gRPC; MD5 and SHA-256 (uploads, API key hashes)
  libnats-dev          # cluster mode: each shard's log is a NATS JetStream stream
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc  # the gRPC API
  libgtest-dev libgmock-dev
  python3-venv         # the Python client's tests run in a virtualenv (PyPI packages)
  openssl              # tests make their own CA and certificates for TLS
  dataset-fashion-mnist  # real vectors for the index tests (60,000 + 10,000 x 784)
)
# Benchmarks (`make bench`).
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(libbenchmark-dev libhnswlib-dev libfaiss-dev)
fi
# Fuzzing (`make fuzz`): clang with libFuzzer and the sanitizers' runtimes.
if [[ "${1:-}" == "--fuzz" ]]; then
  packages+=(clang-14 libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# The dashboard is built with Node (Debian's 18 will do); a Node already installed (say from
# NodeSource, which bundles npm) is used as it is.
if ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi

if [[ ${#missing[@]} -gt 0 ]]; then
  echo "install-deps: installing ${missing[*]}"
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The benchmarks' Python peers (bench/ann_peers.py: FAISS and ScaNN from PyPI) in their own
# virtualenv, rebuilt when bench/requirements.txt changes.
if [[ "${1:-}" == "--bench" ]]; then
  root=$(cd "$(dirname "$0")/.." && pwd)
  venv="$root/${BUILD_DIR:-build}/bench-venv"
  stamp="$venv/.installed-$(sha1sum "$root/bench/requirements.txt" | cut -c1-12)"
  if [[ ! -f "$stamp" ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip
    "$venv/bin/pip" install -q -r "$root/bench/requirements.txt"
    touch "$stamp"
  fi
fi
