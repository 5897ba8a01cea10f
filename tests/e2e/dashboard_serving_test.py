#!/usr/bin/env python3
"""The server's serving of the dashboard's files (src/server/dashboard.cc), against the real
binary and a directory of files made here: content types and caching, index.html for the app's
own pages, 404 for a missing file, no way out of the directory, GET only, no key needed with
[auth] on, and 404 while [server] dashboard_enabled is false.

    dashboard_serving_test.py --server build/bin/proximadb-server
"""

import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import harness
from harness import free_port

SERVER = None  # set from --server



class Running:
    """A server on free ports with `env` added to its environment."""

    def __init__(self, env):
        self.dir = tempfile.mkdtemp(prefix="proximadb-dash-")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [SERVER, "--data-dir", os.path.join(self.dir, "data"), "--rest-port",
             str(self.port), "--grpc-port", str(free_port()), "--log-level", "warn"],
            env=dict(os.environ, **env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while self.get("/ready", probe=True) != 200:
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.05)  # polling readiness

    def request(self, method, path, headers=None):
        """(status, headers by lower-case name, body bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def get(self, path, probe=False):
        try:
            return self.request("GET", path)[0]
        except OSError:
            if probe:
                return None
            raise

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


class DashboardServingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.files = tempfile.mkdtemp(prefix="proximadb-dash-files-")
        os.makedirs(os.path.join(cls.files, "assets"))
        for name, text in (("index.html", "<!doctype html><title>ProximaDB</title>"),
                           ("assets/app-1a2b.js", "console.log('hi')"),
                           ("assets/app-1a2b.css", "body{}"),
                           ("favicon.svg", "<svg/>")):
            with open(os.path.join(cls.files, name), "w") as f:
                f.write(text)
        # A file beside the directory that no path may reach, not even through a link inside
        # it; and a dot file inside it.
        secret = os.path.join(os.path.dirname(cls.files), "secret.txt")
        with open(secret, "w") as f:
            f.write("the-secret-file-content")
        os.symlink(secret, os.path.join(cls.files, "assets", "link.txt"))
        with open(os.path.join(cls.files, ".inputs"), "w") as f:
            f.write("the-secret-file-content")
        cls.admin = "dash-admin-" + os.urandom(8).hex()
        cls.server = Running({"PROXIMADB_SERVER__DASHBOARD_ENABLED": "true",
                              "PROXIMADB_SERVER__DASHBOARD_DIR": cls.files,
                              "PROXIMADB_AUTH__ENABLED": "true",
                              "PROXIMADB_AUTH__ADMIN_KEY": cls.admin})

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.files, ignore_errors=True)
        os.remove(os.path.join(os.path.dirname(cls.files), "secret.txt"))

    def test_files_with_their_types_and_caching_and_no_key(self):
        status, headers, body = self.server.request("GET", "/dashboard/")
        self.assertEqual((status, body), (200, b"<!doctype html><title>ProximaDB</title>"))
        self.assertEqual(headers["content-type"], "text/html; charset=utf-8")
        self.assertEqual(headers["cache-control"], "no-cache")
        self.assertEqual(headers["x-content-type-options"], "nosniff")
        self.assertIn("default-src 'self'", headers["content-security-policy"])
        status, headers, body = self.server.request("GET", "/dashboard/assets/app-1a2b.js")
        self.assertEqual((status, body), (200, b"console.log('hi')"))
        self.assertEqual(headers["content-type"], "text/javascript; charset=utf-8")
        self.assertIn("immutable", headers["cache-control"])
        self.assertEqual(self.server.request("GET", "/dashboard/assets/app-1a2b.css")[1]
                         ["content-type"], "text/css; charset=utf-8")
        self.assertEqual(self.server.request("GET", "/dashboard/favicon.svg")[1]
                         ["content-type"], "image/svg+xml")
        # The API itself still needs the key.
        self.assertEqual(self.server.get("/api/v1/collections"), 401)

    def test_app_pages_missing_files_and_the_bare_prefix(self):
        status, _, body = self.server.request("GET", "/dashboard/collections/docs")
        self.assertEqual((status, body[:15]), (200, b"<!doctype html>"))
        self.assertEqual(self.server.get("/dashboard/assets/missing.js"), 404)
        status, headers, _ = self.server.request("GET", "/dashboard")
        self.assertEqual((status, headers["location"]), (308, "/dashboard/"))
        self.assertEqual(self.server.get("/dashboards"), 404)  # not the dashboard's

    def test_no_path_leaves_the_directory(self):
        for path in ("/dashboard/../secret.txt", "/dashboard/%2e%2e/secret.txt",
                     "/dashboard/assets/%2e%2e/%2e%2e/secret.txt", "/dashboard//etc/passwd",
                     "/dashboard/assets/..%5c..%5csecret.txt", "/dashboard/./index.html",
                     "/dashboard/assets/link.txt", "/dashboard/.inputs"):
            status, _, body = self.server.request("GET", path)
            self.assertEqual(status, 404, path)
            self.assertNotIn(b"the-secret-file-content", body, path)

    def test_get_and_head_only(self):
        status, headers, _ = self.server.request("POST", "/dashboard/index.html")
        self.assertEqual((status, headers["allow"]), (405, "GET, HEAD"))
        self.assertTrue(headers["x-request-id"])
        header, length, rest = harness.head_then_get(self.server.port, "/dashboard/index.html")
        self.assertTrue(header.startswith(b"HTTP/1.1 200 "), header)
        self.assertIn(b"Content-Type: text/html", header)
        self.assertTrue(rest.startswith(b"HTTP/1.1 200 "), rest[:80])  # the GET's, whole
        self.assertEqual(len(rest.partition(b"\r\n\r\n")[2]), length)


class DashboardOffTest(unittest.TestCase):
    def test_off_by_default(self):
        server = Running({})
        try:
            status, _, body = server.request("GET", "/dashboard/")
            self.assertEqual(status, 404)
            self.assertIn(b"dashboard_enabled", body)
        finally:
            server.stop()


if __name__ == "__main__":
    harness.main(sys.modules[__name__])
