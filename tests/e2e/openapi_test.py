#!/usr/bin/env python3
"""docs/openapi.yaml states what the server enforces: schemathesis (PyPI, installed by
scripts/install-test-servers.sh) runs every check of its for a bounded time with a fixed seed
against a fresh server (with a warm directory, so that tiering settings are valid). It must
find no failure: no 5xx, no schema-valid request refused, no schema-violating one accepted,
every status and header as documented, 405 with Allow. tests/e2e/schemathesis.toml states the
few answers JSON Schema cannot predict, and why.

    openapi_test.py --server build/bin/proximadb-server [--seconds 90] [--seed 1]
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

from harness import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ST = os.path.join(os.environ.get("BUILD_DIR", os.path.join(ROOT, "build")), "test-servers",
                  "schemathesis", "bin", "st")



def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--seconds", type=int, default=90)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if not os.path.exists(ST):
        sys.exit(f"{ST} is missing: run scripts/install-test-servers.sh")
    work = tempfile.mkdtemp(prefix="proximadb-openapi-")
    os.makedirs(os.path.join(work, "warm"))
    port = free_port()
    env = dict(os.environ, PROXIMADB_STORAGE__WARM_DIRECTORIES=os.path.join(work, "warm"))
    server = subprocess.Popen(
        [args.server, "--data-dir", os.path.join(work, "data"), "--rest-port", str(port),
         "--grpc-port", str(free_port()), "--log-level", "warn"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.time() > deadline:
                sys.exit("the server did not start")
            time.sleep(0.05)  # polling readiness
        run = subprocess.run(
            [ST, "--config-file", os.path.join(ROOT, "tests", "e2e", "schemathesis.toml"),
             "run", os.path.join(ROOT, "docs", "openapi.yaml"),
             "--url", f"http://127.0.0.1:{port}", "--checks", "all", "--seed", str(args.seed),
             "--max-time", str(args.seconds), "--workers", "1", "--no-color",
             "--generation-database", "none", "--generation-codec", "ascii"],
            capture_output=True, text=True, timeout=args.seconds + 300)
        tail = run.stdout[-20000:]
        print(tail)
        generated = re.search(r"(\d+) generated", run.stdout)
        if run.returncode != 0:
            sys.exit(f"schemathesis found failures (exit {run.returncode}); the report is above")
        if not generated or int(generated.group(1)) < 500:
            sys.exit("schemathesis generated too few requests to mean anything")
        if server.poll() is not None:
            sys.exit("the server died during the run")
        print(f"openapi: {generated.group(1)} generated requests, no failure")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
