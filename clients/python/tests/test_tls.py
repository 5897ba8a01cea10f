"""TLS against a real server with its own self-signed CA: https:// and grpcs:// with a CA file,
plaintext refused on TLS ports, mutual TLS with client certificates, and bad files named."""

import http.client
import os
import socket
import ssl
import subprocess

import pytest

from proximadb import ProximaDBClient, ProximaDBError, UnavailableError

from conftest import SERVER, Server


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_cert(d: str, name: str, ca: str, extension: str) -> None:
    """`name`.key and `name`.pem, signed by the CA files `ca`.key and `ca`.pem."""
    key, csr, pem, ext = (os.path.join(d, name + s) for s in (".key", ".csr", ".pem", ".ext"))
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", csr, "-subj", f"/CN={name}")
    with open(ext, "w") as f:
        f.write(extension + "\n")
    openssl("x509", "-req", "-in", csr, "-CA", os.path.join(d, ca + ".pem"), "-CAkey",
            os.path.join(d, ca + ".key"), "-CAcreateserial", "-out", pem, "-days", "2",
            "-extfile", ext)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A CA, a server certificate for 127.0.0.1, a client certificate, and a second CA that
    signed nothing here."""
    d = str(tmp_path_factory.mktemp("tls"))
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", os.path.join(d, ca + ".key"), "-out",
                os.path.join(d, ca + ".pem"), "-days", "2", "-subj", f"/CN={ca}")
    make_cert(d, "server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost")
    make_cert(d, "client", "ca", "extendedKeyUsage=clientAuth")
    return lambda name: os.path.join(d, name)


def tls_server(certs, **settings):
    context = ssl.create_default_context(cafile=certs("ca.pem"))
    context.load_cert_chain(certs("client.pem"), certs("client.key"))
    return Server(PROXIMADB_TLS__ENABLED="true", PROXIMADB_TLS__CERT_FILE=certs("server.pem"),
                  PROXIMADB_TLS__KEY_FILE=certs("server.key"), ready_tls=context, **settings)


def round_trip(client: ProximaDBClient, name: str) -> None:
    client.create_collection(name, dimension=2, distance_metric="l2")
    client.batch_insert(name, [{"id": "a", "vector": [0, 0]}, {"id": "b", "vector": [5, 5]}])
    assert [h.id for h in client.search(name, [1, 1], k=1)] == ["a"]
    assert client.delete_collection(name)


def test_rest_and_grpc_over_tls_and_plaintext_refused(certs, name):
    s = tls_server(certs)
    try:
        for url in (f"https://127.0.0.1:{s.rest_port}", f"grpcs://127.0.0.1:{s.grpc_port}"):
            with ProximaDBClient(url, ca_file=certs("ca.pem")) as c:
                round_trip(c, name)
        # A busy-polling client reads TLS records without blocking too.
        with ProximaDBClient(f"https://127.0.0.1:{s.rest_port}", ca_file=certs("ca.pem"),
                             busy_poll_us=2000) as c:
            round_trip(c, name)
        # Plain HTTP on the TLS port: a readable refusal, then the connection ends.
        with socket.create_connection(("127.0.0.1", s.rest_port), timeout=10) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 400") and b"TLS_REQUIRED" in answer
        with ProximaDBClient(f"http://127.0.0.1:{s.rest_port}", retries=0) as c:
            with pytest.raises(ProximaDBError) as refused:
                c.list_collections()
            assert refused.value.code == "TLS_REQUIRED" and refused.value.http_status == 400
        with ProximaDBClient(f"grpc://127.0.0.1:{s.grpc_port}", retries=0, timeout=5) as c:
            with pytest.raises(UnavailableError):
                c.list_collections()
        # TLS options with a plaintext URL would send the key in the clear: refused.
        with pytest.raises(ValueError, match="https://"):
            ProximaDBClient(f"http://127.0.0.1:{s.rest_port}", ca_file=certs("ca.pem"))
        # A server certificate signed by a CA the client does not trust.
        for url in (f"https://127.0.0.1:{s.rest_port}", f"grpcs://127.0.0.1:{s.grpc_port}"):
            with ProximaDBClient(url, ca_file=certs("other-ca.pem"), retries=0, timeout=5) as c:
                with pytest.raises(UnavailableError):
                    c.list_collections()
    finally:
        s.stop()


def test_an_answer_before_the_body_reaches_a_client_still_sending(certs):
    """Over TLS, a request refused after its header (no key) or for its size gets its answer,
    not a reset, while the client is still sending the body."""
    s = tls_server(certs, PROXIMADB_AUTH__ENABLED="true",
                   PROXIMADB_AUTH__ADMIN_KEY="tls-admin-key-0123456789",
                   PROXIMADB_API__MAX_BODY_MB="1")
    try:
        context = ssl.create_default_context(cafile=certs("ca.pem"))
        for key, status in ((None, 401), ("tls-admin-key-0123456789", 413)):
            conn = http.client.HTTPSConnection("127.0.0.1", s.rest_port, context=context,
                                               timeout=10)
            headers = {"Content-Type": "application/json"}
            if key:
                headers["Authorization"] = f"Bearer {key}"
            try:
                conn.request("POST", "/api/v1/collections/c/vectors/batch",
                             body=b" " * (3 << 20), headers=headers)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server stopped reading: the answer is still there to read
            assert conn.getresponse().status == status
            conn.close()
    finally:
        s.stop()


def test_mutual_tls_needs_a_client_certificate(certs, name):
    s = tls_server(certs, PROXIMADB_TLS__CLIENT_CA_FILE=certs("ca.pem"),
                   PROXIMADB_AUTH__ENABLED="true",
                   PROXIMADB_AUTH__ADMIN_KEY="mtls-admin-key-0123456789")
    try:
        for url in (f"https://127.0.0.1:{s.rest_port}", f"grpcs://127.0.0.1:{s.grpc_port}"):
            with ProximaDBClient(url, api_key="mtls-admin-key-0123456789",
                                 ca_file=certs("ca.pem"), cert_file=certs("client.pem"),
                                 key_file=certs("client.key")) as c:
                round_trip(c, name)
            with ProximaDBClient(url, api_key="mtls-admin-key-0123456789",
                                 ca_file=certs("ca.pem"), retries=0, timeout=5) as c:
                with pytest.raises(UnavailableError):
                    c.list_collections()
    finally:
        s.stop()


def test_a_missing_or_mismatched_file_stops_the_server_naming_it(certs, tmp_path):
    env = dict(os.environ, PROXIMADB_TLS__ENABLED="true",
               PROXIMADB_TLS__CERT_FILE=certs("server.pem"),
               PROXIMADB_TLS__KEY_FILE=certs("client.key"))  # not the certificate's key
    for settings, named in (({}, b"key_file"),
                            ({"PROXIMADB_TLS__CERT_FILE": str(tmp_path / "none.pem")},
                             b"cert_file"),
                            ({"PROXIMADB_TLS__KEY_FILE": ""}, b"tls.key_file")):
        done = subprocess.run([SERVER, "--data-dir", str(tmp_path / "data")],
                              env={**env, **settings}, capture_output=True, timeout=30)
        assert done.returncode != 0, settings
        assert named in done.stderr + done.stdout, (settings, done.stderr, done.stdout)


def test_head_over_tls_is_gets_header_only(certs):
    """HEAD and then GET pipelined on one TLS connection: the HEAD's answer ends at its header
    (GET's Content-Length, no body), so the GET's answer follows it whole."""
    s = tls_server(certs)
    try:
        context = ssl.create_default_context(cafile=certs("ca.pem"))
        with socket.create_connection(("127.0.0.1", s.rest_port), timeout=10) as raw, \
                context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"HEAD /health HTTP/1.1\r\nHost: t\r\n\r\n"
                        b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
        header, _, rest = data.partition(b"\r\n\r\n")
        assert header.startswith(b"HTTP/1.1 200 ")
        assert b"Content-Length: 15" in header  # {"status":"ok"}
        assert rest.startswith(b"HTTP/1.1 200 ")
        assert rest.endswith(b'{"status":"ok"}')
    finally:
        s.stop()
