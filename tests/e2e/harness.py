"""What the end-to-end scripts share: free loopback ports and their command line."""

import argparse
import os
import socket
import sys
import unittest


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(module):
    """Runs the unittest cases of `module` with its SERVER set from --server."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    args, rest = parser.parse_known_args()
    module.SERVER = os.path.abspath(args.server)
    unittest.main(module=module, argv=[sys.argv[0]] + rest, verbosity=2)
