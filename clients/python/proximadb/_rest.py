"""REST transport: each API operation as an HTTP request to the server's /api/v1 routes.

The blocking client speaks HTTP/1.1 through the standard library's http.client, one kept-alive
connection per thread. The async client keeps a pool of HTTP/1.1 connections as asyncio
protocols, each response parsed by httptools (the C parser llhttp, as in uvicorn). CPU time per
search on loopback: httpx about 1 ms, aiohttp 0.12 ms, http.client 0.07 ms, the asyncio protocol
0.02 ms (README.md; bench.py compares the clients). Neither uses proxy settings (HTTP(S)_PROXY).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import random
import select
import socket
import ssl
import threading
import time
import weakref
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import quote, urlencode, urlsplit

import httptools
import numpy as np
import orjson
import pybase64

from .errors import ProximaDBError, UnavailableError, error_for

RETRY_STATUSES = {429, 503}


def _collection(params: Dict[str, Any]) -> str:
    return "/api/v1/collections/" + quote(params["collection"], safe="")


def build_request(op: str, p: Dict[str, Any]) -> Tuple[str, str, Any, Optional[Dict[str, str]]]:
    """(method, path, JSON body (an object, or bytes already encoded), query) of an
    operation."""
    if op == "create_collection":
        return "POST", "/api/v1/collections", p["body"], None
    if op == "list_collections":
        return "GET", "/api/v1/collections", None, None
    if op == "get_collection":
        return "GET", _collection(p), None, None
    if op == "update_collection":
        return "PATCH", _collection(p), p["body"], None
    if op == "delete_collection":
        return "DELETE", _collection(p), None, None
    if op == "collection_stats":
        return "GET", _collection(p) + "/stats", None, None
    if op in ("flush", "compact"):
        return "POST", _collection(p) + "/" + op, None, None
    if op == "insert":
        return "POST", _collection(p) + "/vectors", p["record"], None
    if op == "batch_write":
        batch = p["vectors"]
        if hasattr(batch, "matrix"):  # Columns: the columnar form of the batch route, with
            # the vectors as base64 of their float32 bytes (no number formatting on either side),
            # by pybase64's SIMD encoder (the stdlib's took a tenth of a bulk load's time), put
            # into the body as it is (orjson would scan and copy it again).
            packed = pybase64.b64encode(np.ascontiguousarray(batch.matrix, dtype="<f4"))
            rest: Dict[str, Any] = {"upsert": p["upsert"]}
            if batch.metadata is not None:
                rest["metadata"] = batch.metadata
            body = b"".join((b'{"ids":', orjson.dumps(batch.ids), b',"vectors_f32":"', packed,
                             b'",', encode(rest)[1:]))
            return "POST", _collection(p) + "/vectors/batch", body, None
        return "POST", _collection(p) + "/vectors/batch", {
            "vectors": batch, "upsert": p["upsert"]}, None
    vector_path = _collection(p) + "/vectors/" + quote(p.get("id", ""), safe="")
    if op == "get":
        return "GET", vector_path, None, None
    if op == "upsert_one":
        return "PUT", vector_path, {"vector": p["vector"], "metadata": p["metadata"]}, None
    if op == "patch_metadata":
        return "PATCH", vector_path, {"metadata": p["metadata"]}, None
    if op == "delete_one":
        return "DELETE", vector_path, None, None
    if op == "delete_ids":
        return "POST", _collection(p) + "/vectors/delete", {"ids": p["ids"]}, None
    if op == "delete_filter":
        return "POST", _collection(p) + "/vectors/delete", {"filter": p["filter"]}, None
    if op == "search":
        return "POST", _collection(p) + "/search", _query_body(p["query"]), None
    if op == "search_batch":
        queries = [_query_body(q) for q in p["queries"]]
        return "POST", _collection(p) + "/search/batch", {"queries": queries}, None
    if op == "count":
        body = {"filter": p["filter"]} if p.get("filter") else {}
        return "POST", _collection(p) + "/count", body, None
    if op == "scroll":
        query = {"limit": str(p["limit"]),
                 "include_vectors": "true" if p["include_vectors"] else "false"}
        if p.get("cursor"):
            query["cursor"] = p["cursor"]
        if p.get("filter"):
            query["filter"] = json.dumps(p["filter"], separators=(",", ":"))
        return "GET", _collection(p) + "/vectors", None, query
    raise ValueError(f"unknown operation {op}")


def _query_body(q: Dict[str, Any]) -> Dict[str, Any]:
    """A search query for the REST body: its float32 vector as `vector_f32`, base64 of the bytes
    (a 784-d query as JSON numbers took a quarter of a served search's time to format and
    parse)."""
    body = {key: value for key, value in q.items() if key != "vector"}
    body["vector_f32"] = pybase64.b64encode_as_string(q["vector"])
    return body


def encode(body: Any) -> Optional[bytes]:
    """JSON bytes of a body (bytes are already JSON); NumPy arrays are written directly
    (orjson), which is what makes bulk loads from NumPy fast."""
    if body is None or isinstance(body, bytes):
        return body
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


JSON_HEADERS = {"Content-Type": "application/json"}


def parse_response(status: int, content: bytes, headers: Any) -> Dict[str, Any]:
    """The JSON body of a 2xx response; the mapped exception otherwise. `headers` answers
    get("retry-after") (http.client.HTTPMessage without regard to case; the async transport's
    dict has lower-case names)."""
    if 200 <= status < 300:
        return orjson.loads(content)
    try:
        err = orjson.loads(content)["error"]
        code, message, details = err["code"], err["message"], err.get("details") or {}
    except (ValueError, KeyError, TypeError):
        code = "UNAVAILABLE" if status in RETRY_STATUSES else "INTERNAL"
        message = content.decode("utf-8", "replace") or f"HTTP {status}"
        details = {}
    error = error_for(code, message, http_status=status, details=details)
    try:
        error.retry_after = float(headers.get("retry-after"))
    except (TypeError, ValueError):
        pass
    raise error


# What a failed connection raises: http.client and sockets (OSError covers refused, reset and
# timed-out connections), and an unparsable response on the async transport.
_TRANSPORT_ERRORS = (OSError, http.client.HTTPException, httptools.HttpParserError)


def _retryable(e: Exception) -> bool:
    return isinstance(e, (UnavailableError,) + _TRANSPORT_ERRORS) or (
        isinstance(e, ProximaDBError) and e.http_status in RETRY_STATUSES)


def backoff(attempt: int, error: Optional[Exception] = None) -> float:
    """Exponential backoff with jitter: about 0.1, 0.2, 0.4 s ... capped at 2 s; at least the
    server's Retry-After when it sent one."""
    wait = min(2.0, 0.1 * (2 ** attempt)) * (0.5 + random.random() / 2)
    return max(wait, getattr(error, "retry_after", None) or 0.0)


def _transport_error(e: Exception) -> ProximaDBError:
    return UnavailableError("UNAVAILABLE", f"cannot reach the server: {e}")


class _NoDelay:
    """TCP_NODELAY on connect: http.client sends a body over 2,920 bytes apart from its header,
    and Nagle's algorithm would hold that second segment until the first is acknowledged."""

    sock: socket.socket

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _HTTPConnection(_NoDelay, http.client.HTTPConnection):
    pass


class _HTTPSConnection(_NoDelay, http.client.HTTPSConnection):
    pass


class _Connections:
    """Kept-alive HTTP/1.1 connections to one server, one per calling thread (http.client
    connections are not thread-safe), so that a client can be shared by threads. Proxy
    settings (HTTP(S)_PROXY) are not used."""

    def __init__(self, base_url: str, timeout: float, headers: Dict[str, str]):
        url = urlsplit(base_url)
        self._https = url.scheme == "https"
        self._host = url.hostname or "localhost"
        self._port = url.port or (443 if self._https else 80)
        self._prefix = url.path.rstrip("/")
        self._timeout = timeout
        self._headers = dict(headers, **JSON_HEADERS)
        self._local = threading.local()
        self._lock = threading.Lock()
        # Every thread's connection, for close(); one whose thread has ended goes with it.
        self._open: "weakref.WeakSet[http.client.HTTPConnection]" = weakref.WeakSet()

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            kind = _HTTPSConnection if self._https else _HTTPConnection
            conn = kind(self._host, self._port, timeout=self._timeout)
            self._local.conn = conn
            with self._lock:
                self._open.add(conn)
        elif isinstance(conn.sock, socket.socket) and not isinstance(conn.sock, ssl.SSLSocket) \
                and select.select([conn.sock], [], [], 0)[0]:
            # An idle kept-alive connection that is readable has been closed by the server
            # (its idle timeout): replaced before anything is sent on it.
            conn.close()
        return conn

    def request(self, method: str, path: str, body: Optional[bytes],
                query: Optional[Dict[str, str]]) -> Tuple[int, bytes, Any]:
        """(status, body, headers)."""
        url = self._prefix + path + ("?" + urlencode(query, quote_via=quote) if query else "")
        conn = self._connection()
        reused = conn.sock is not None
        try:
            try:
                conn.request(method, url, body=body, headers=self._headers)
            except (ConnectionResetError, BrokenPipeError):
                if not reused:
                    raise
                # The server closed it as the request went out, before it had all of it:
                # nothing was done, so once more on a new connection.
                conn.close()
                conn.request(method, url, body=body, headers=self._headers)
            response = conn.getresponse()
            return response.status, response.read(), response.headers
        except BaseException:
            conn.close()  # whatever the state of the exchange, start the next one afresh
            raise

    def close(self) -> None:
        with self._lock:
            for conn in list(self._open):
                conn.close()


class RestTransport:
    """Blocking REST transport over kept-alive http.client connections."""

    def __init__(self, base_url: str, api_key: Optional[str], timeout: float, retries: int):
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._connections = _Connections(base_url, timeout, headers)
        self._retries = retries

    def call(self, op: str, params: Dict[str, Any]) -> Dict[str, Any]:
        method, path, body, query = build_request(op, params)
        content = encode(body)
        for attempt in range(self._retries + 1):
            try:
                return parse_response(*self._connections.request(method, path, content, query))
            except Exception as e:  # noqa: BLE001 - re-raised below unless retryable
                if attempt == self._retries or not _retryable(e):
                    if isinstance(e, _TRANSPORT_ERRORS):
                        raise _transport_error(e) from e
                    raise
                time.sleep(backoff(attempt, e))
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._connections.close()


class _Exchange(asyncio.Protocol):
    """One HTTP/1.1 connection as an asyncio protocol, carrying one request at a time: the
    request is written whole and its response, parsed by httptools as it arrives, is handed to
    the waiting coroutine when complete. A response must have a Content-Length or be chunked
    (the server's always are): one that would end with the connection is a transport error."""

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._transport: Optional[asyncio.Transport] = None
        self._waiter: "Optional[asyncio.Future[Tuple[int, bytes, Dict[str, str]]]]" = None
        self._body: List[bytes] = []
        self._headers: Dict[str, str] = {}
        self.received = False  # any byte of the current response
        self.keep_alive = False  # after a complete response: the server keeps the connection
        self.closed = False

    def exchange(self, request: bytes, deadline: float) -> "asyncio.Future[Any]":
        """Sends `request`; the future of its (status, body, headers by lower-case name)."""
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        self._body, self._headers, self.received, self.keep_alive = [], {}, False, False
        timer = loop.call_at(deadline, self._expire, waiter)
        waiter.add_done_callback(lambda _: timer.cancel())
        assert self._transport is not None
        self._transport.write(request)
        return waiter

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.abort()

    def _expire(self, waiter: "asyncio.Future[Any]") -> None:
        if waiter is self._waiter:
            self._fail(TimeoutError("no response before the client's timeout"))

    def _fail(self, error: BaseException) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.closed = True
        self._fail(exc or ConnectionResetError("the server closed the connection"))

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # bytes no request asked for: the connection is unusable
            self.close()
            return
        self.received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as e:
            self._fail(e)
            self.close()

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self.keep_alive = self._parser.should_keep_alive()  # valid only inside the callbacks
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((self._parser.get_status_code(), b"".join(self._body),
                               self._headers))


class _AsyncConnections:
    """Kept-alive HTTP/1.1 connections to one server for the coroutines of an event loop: at
    most `limit` at a time (further requests wait for one), idle ones reused most recent first.
    Bound to the event loop of its first request; used from another loop (a later
    asyncio.run), it drops the old loop's connections and starts afresh. Proxy settings
    (HTTP(S)_PROXY) are not used."""

    def __init__(self, base_url: str, timeout: float, headers: Dict[str, str],
                 limit: int = 100):
        url = urlsplit(base_url)
        self._ssl = ssl.create_default_context() if url.scheme == "https" else None
        self._host = url.hostname or "localhost"
        self._port = url.port or (443 if self._ssl else 80)
        self._prefix = url.path.rstrip("/")
        self._timeout = timeout
        fields = {"Host": url.netloc.rpartition("@")[2], **headers, **JSON_HEADERS}
        self._fields = "".join(f"\r\n{k}: {v}" for k, v in fields.items()).encode("latin-1")
        self._limit = limit
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._slots: Optional[asyncio.Semaphore] = None
        self._idle: List[_Exchange] = []
        self._closed = False

    def _bind(self) -> Tuple[asyncio.AbstractEventLoop, asyncio.Semaphore]:
        loop = asyncio.get_running_loop()
        if loop is not self._loop or self._slots is None:
            self._drop_idle()
            self._loop, self._slots = loop, asyncio.Semaphore(self._limit)
        return loop, self._slots

    def _drop_idle(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            try:
                conn.close()
            except RuntimeError:  # its event loop has been closed; the socket goes with it
                pass

    async def request(self, method: str, path: str, body: Optional[bytes],
                      query: Optional[Dict[str, str]]) -> Tuple[int, bytes, Dict[str, str]]:
        """(status, body, headers by lower-case name). The client's timeout bounds connecting,
        sending and the response, not the wait for a free connection."""
        if self._closed:
            raise RuntimeError("the client is closed")
        target = self._prefix + path + ("?" + urlencode(query, quote_via=quote) if query else "")
        request = f"{method} {target} HTTP/1.1".encode("latin-1") + self._fields
        if body is not None or method in ("POST", "PUT", "PATCH"):
            request += b"\r\nContent-Length: %d" % len(body or b"")
        request += b"\r\n\r\n" + (body or b"")
        loop, slots = self._bind()
        async with slots:
            deadline = loop.time() + self._timeout
            while self._idle:
                conn = self._idle.pop()
                if conn.closed:
                    continue
                try:
                    return await self._send(conn, request, deadline)
                except ConnectionError:
                    if conn.received:
                        raise
                    # The server closed it (its idle timeout) as the request went out, before
                    # answering anything: nothing was done, so once more on a new connection.
                    break
            try:
                _, conn = await asyncio.wait_for(
                    loop.create_connection(_Exchange, self._host, self._port, ssl=self._ssl),
                    deadline - loop.time())
            except asyncio.TimeoutError:  # before Python 3.11 not an OSError
                raise TimeoutError(f"no connection in {self._timeout:g} s") from None
            return await self._send(conn, request, deadline)

    async def _send(self, conn: _Exchange, request: bytes,
                    deadline: float) -> Tuple[int, bytes, Dict[str, str]]:
        try:
            result = await conn.exchange(request, deadline)
        except BaseException:
            conn.close()  # whatever the state of the exchange (cancelled too), not reused
            raise
        if conn.keep_alive and not self._closed and self._loop is asyncio.get_running_loop():
            self._idle.append(conn)
        else:
            conn.close()
        return result

    def close(self) -> None:
        self._closed = True
        self._drop_idle()


class AsyncRestTransport:
    """REST transport over kept-alive asyncio connections."""

    def __init__(self, base_url: str, api_key: Optional[str], timeout: float, retries: int):
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._connections = _AsyncConnections(base_url, timeout, headers)
        self._retries = retries

    async def call(self, op: str, params: Dict[str, Any]) -> Dict[str, Any]:
        method, path, body, query = build_request(op, params)
        content = encode(body)
        for attempt in range(self._retries + 1):
            try:
                return parse_response(*await self._connections.request(method, path, content,
                                                                        query))
            except Exception as e:  # noqa: BLE001
                if attempt == self._retries or not _retryable(e):
                    if isinstance(e, _TRANSPORT_ERRORS):
                        raise _transport_error(e) from e
                    raise
                await asyncio.sleep(backoff(attempt, e))
        raise AssertionError("unreachable")

    async def close(self) -> None:
        self._connections.close()
        await asyncio.sleep(0)  # the transports close in a callback: let it run in this loop
