"""What the end-to-end scripts share: free loopback ports, their command line, and a check of
HEAD answers on the wire."""

import argparse
import http.client
import os
import socket
import sys
import time
import unittest


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, condition, seconds=60):
    """Polls `condition` (it returns a value, or None while not yet) until it holds; a
    connection refused or cut, or a half-written answer, counts as not yet."""
    deadline = time.time() + seconds
    while True:
        try:
            value = condition()
        except (OSError, http.client.HTTPException, ValueError):
            value = None
        if value is not None:
            return value
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)  # polling a condition, not standing in for one


def head_then_get(port, path):
    """Sends HEAD `path` and GET `path` (Connection: close) pipelined on one connection and
    reads until the server closes it: (the HEAD answer's header block, its Content-Length,
    everything after that header, which must be the GET's whole answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"HEAD %s HTTP/1.1\r\nHost: t\r\n\r\n"
                  b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                  % (path.encode(), path.encode()))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    header, _, rest = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in header.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    return header, length, rest


def main(module, *shared):
    """Runs the unittest cases of `module` with its SERVER, and that of the `shared` modules it
    uses, set from --server."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    args, rest = parser.parse_known_args()
    for m in (module, *shared):
        m.SERVER = os.path.abspath(args.server)
    unittest.main(module=module, argv=[sys.argv[0]] + rest, verbosity=2)
