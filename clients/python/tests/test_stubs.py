"""The checked-in gRPC stubs are exactly what grpcio-tools generates from proto/."""

import os
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.join(HERE, "..", "..", "..", "proto")
PACKAGE = os.path.join(HERE, "..")


def test_generated_stubs_are_up_to_date():
    pytest.importorskip("grpc_tools")
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO_ROOT}",
                        f"--python_out={out}", f"--grpc_python_out={out}", f"--pyi_out={out}",
                        os.path.join(PROTO_ROOT, "proximadb", "v1", "proximadb.proto")],
                       check=True)
        for name in ("proximadb_pb2.py", "proximadb_pb2_grpc.py", "proximadb_pb2.pyi"):
            with open(os.path.join(out, "proximadb", "v1", name)) as f:
                fresh = f.read()
            with open(os.path.join(PACKAGE, "proximadb", "v1", name)) as f:
                checked_in = f.read()
            assert fresh == checked_in, (
                f"proximadb/v1/{name} is stale: regenerate with clients/python/run-tests.sh "
                "--regenerate")
