"""REST transport: each API operation as an HTTP request to the server's /api/v1 routes.

The blocking client speaks HTTP/1.1 on a blocking socket, one kept-alive connection per
thread; the async client keeps a pool of HTTP/1.1 connections as asyncio protocols. Both parse
responses with httptools (the C parser llhttp, as in uvicorn). CPU time per search on loopback:
httpx about 1 ms, aiohttp 0.12 ms, http.client 0.07 ms, the asyncio protocol 0.02 ms (README.md;
bench.py compares the clients). Neither uses proxy settings (HTTP(S)_PROXY).
"""

from __future__ import annotations

import asyncio
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

from ._tls import Tls
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
    if op == "collection_history":
        return "GET", _collection(p) + "/history", None, None
    if op in ("flush", "compact"):
        return "POST", _collection(p) + "/" + op, None, None
    if op == "apply_tiering":
        return "POST", _collection(p) + "/tiering", None, None
    if op == "create_backup":
        return "POST", _collection(p) + "/backups", None, None
    if op == "list_backups":
        query = {"collection": p["collection"]} if p.get("collection") else None
        return "GET", "/api/v1/backups", None, query
    if op == "delete_backup":
        return "DELETE", "/api/v1/backups/" + quote(p["backup_id"], safe=""), None, None
    if op == "restore_backup":
        return "POST", "/api/v1/restore", {"backup_id": p["backup_id"],
                                           "target_collection": p["target"]}, None
    if op == "restore_time":
        return "POST", "/api/v1/restore", {"source_collection": p["source"],
                                           "point_in_time": p["time"],
                                           "target_collection": p["target"]}, None
    if op == "create_key":
        return "POST", "/api/v1/keys", p["body"], None
    if op == "list_keys":
        return "GET", "/api/v1/keys", None, None
    if op == "health":
        return "GET", "/ready", None, None
    if op == "cluster":
        return "GET", "/api/v1/cluster", None, None
    if op == "delete_key":
        return "DELETE", "/api/v1/keys/" + quote(p["name"], safe=""), None, None
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
        return "GET", vector_path, None, _consistency(p)
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
        return "POST", _collection(p) + "/count", {**body, **(_consistency(p) or {})}, None
    if op == "scroll":
        query = {"limit": str(p["limit"]),
                 "include_vectors": "true" if p["include_vectors"] else "false"}
        if p.get("cursor"):
            query["cursor"] = p["cursor"]
        if p.get("filter"):
            query["filter"] = json.dumps(p["filter"], separators=(",", ":"))
        return "GET", _collection(p) + "/vectors", None, {**query, **(_consistency(p) or {})}
    raise ValueError(f"unknown operation {op}")


def _consistency(p: Dict[str, Any]) -> Optional[Dict[str, str]]:
    """A read's consistency as a body field or query parameter; None for the default."""
    return {"consistency": p["consistency"]} if p.get("consistency") else None


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
    get("retry-after") (a dict of lower-case names)."""
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


# What a failed connection raises: sockets (OSError covers refused, reset and timed-out
# connections), and an unparsable response.
_TRANSPORT_ERRORS = (OSError, httptools.HttpParserError)


def resendable(op: str, params: Dict[str, Any]) -> bool:
    """Whether `op` may be sent again after the server may have acted on it (a timeout once
    the request went out). Not the operations that are not idempotent (a second insert fails
    as ALREADY_EXISTS, a second delete reports nothing deleted), nor the slow ones (a flush,
    a compaction, a tier change), whose second copy would only queue behind the first: they
    are sent again only when the server cannot have acted on the first attempt (no connection,
    the request not wholly sent, or an answer of 429 or 503)."""
    if op in ("create_collection", "insert", "delete_one", "delete_ids", "delete_filter",
              "create_backup", "delete_backup", "restore_backup", "restore_time",
              "create_key", "delete_key", "flush", "compact", "apply_tiering"):
        return False
    return op != "batch_write" or bool(params.get("upsert"))


def _mark_sent(e: BaseException) -> None:
    """Marks a failure that came after the whole request was sent: the server may have acted."""
    try:
        e.request_sent = True  # type: ignore[attr-defined]
    except AttributeError:
        pass


def _sent(e: BaseException) -> bool:
    return getattr(e, "request_sent", False)


def _retryable(e: Exception, resendable_op: bool = True) -> bool:
    if not resendable_op and _sent(e):
        return False
    return isinstance(e, (UnavailableError,) + _TRANSPORT_ERRORS) or (
        isinstance(e, ProximaDBError) and e.http_status in RETRY_STATUSES)


def backoff(attempt: int, error: Optional[Exception] = None) -> float:
    """Exponential backoff with jitter: about 0.1, 0.2, 0.4 s ... capped at 2 s; at least the
    server's Retry-After when it sent one."""
    wait = min(2.0, 0.1 * (2 ** attempt)) * (0.5 + random.random() / 2)
    return max(wait, getattr(error, "retry_after", None) or 0.0)


def _transport_error(e: Exception) -> ProximaDBError:
    return UnavailableError("UNAVAILABLE", f"cannot reach the server: {e}")


class _Endpoint:
    """Where requests go: host, port, TLS context, path prefix, and the fixed header fields."""

    def __init__(self, base_url: str, headers: Dict[str, str], tls: Tls):
        url = urlsplit(base_url)
        self.ssl = tls.ssl_context() if url.scheme == "https" else None
        self.host = url.hostname or "localhost"
        self.port = url.port or (443 if self.ssl else 80)
        self.prefix = url.path.rstrip("/")
        fields = {"Host": url.netloc.rpartition("@")[2], **headers, **JSON_HEADERS}
        self.fields = "".join(f"\r\n{k}: {v}" for k, v in fields.items()).encode("latin-1")

    def request(self, method: str, path: str, body: Optional[bytes],
                query: Optional[Dict[str, str]]) -> bytes:
        """The whole HTTP/1.1 request, ready to send."""
        target = self.prefix + path + ("?" + urlencode(query, quote_via=quote) if query else "")
        request = f"{method} {target} HTTP/1.1".encode("latin-1") + self.fields
        if body is not None or method in ("POST", "PUT", "PATCH"):
            request += b"\r\nContent-Length: %d" % len(body or b"")
        return request + b"\r\n\r\n" + (body or b"")


class _Response:
    """httptools callbacks collecting one response at a time on a connection."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.reset()

    def reset(self) -> None:
        self.body: List[bytes] = []
        self.headers: Dict[str, str] = {}
        self.complete = False
        self.keep_alive = False

    def result(self) -> Tuple[int, bytes, Dict[str, str]]:
        return self.parser.get_status_code(), b"".join(self.body), self.headers

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()  # valid only inside the callbacks
        self.complete = True


class _BlockingConnection:
    """One kept-alive HTTP/1.1 connection on a blocking socket, one request at a time, its
    response parsed by httptools (llhttp). A search costs about a quarter of the Python time
    http.client took (which parses headers with the email package)."""

    def __init__(self, endpoint: _Endpoint, timeout: float, busy_poll: float = 0.0):
        sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
        # The request goes out in one send, but Nagle's algorithm would still hold a second
        # segment of a large body until the first is acknowledged.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if endpoint.ssl is not None:
            sock = endpoint.ssl.wrap_socket(sock, server_hostname=endpoint.host)
        self.sock = sock
        self.received = False  # any byte of the current response
        self._response = _Response()
        self._timeout = timeout
        self._busy_poll = busy_poll  # seconds

    def stale(self) -> bool:
        """Whether the server has closed this idle connection (its idle timeout): readable
        with no request out."""
        if isinstance(self.sock, ssl.SSLSocket):
            return False
        return bool(select.select([self.sock], [], [], 0)[0])

    def exchange(self, request: bytes) -> Tuple[int, bytes, Dict[str, str], bool]:
        """(status, body, headers by lower-case name, whether the connection stays open)."""
        response = self._response
        response.reset()
        self.received = False
        self.sock.sendall(request)
        try:
            if self._busy_poll > 0:
                self._poll(response)
            while not response.complete:
                self._feed(self.sock.recv(1 << 18))
        except BaseException as e:
            _mark_sent(e)
            raise
        return (*response.result(), response.keep_alive)

    def _poll(self, response: _Response) -> None:
        """Reads the response as it arrives within the busy-poll window, without sleeping."""
        sock = self.sock
        deadline = time.perf_counter() + min(self._busy_poll, self._timeout)
        sock.settimeout(0.0)
        try:
            while not response.complete:
                try:
                    # 64 KiB: a larger buffer is allocated by mmap, and freed, at every try
                    data = sock.recv(1 << 16)
                except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    if time.perf_counter() >= deadline:
                        return
                    continue
                self._feed(data)
        finally:
            sock.settimeout(self._timeout)

    def _feed(self, data: bytes) -> None:
        if not data:
            raise ConnectionResetError("the server closed the connection")
        self.received = True
        self._response.parser.feed_data(data)

    def close(self) -> None:
        self.sock.close()


class _Connections:
    """Kept-alive HTTP/1.1 connections to one server, one per calling thread, so that a client
    can be shared by threads. Proxy settings (HTTP(S)_PROXY) are not used."""

    def __init__(self, base_url: str, timeout: float, headers: Dict[str, str], tls: Tls,
                 busy_poll: float = 0.0):
        self._endpoint = _Endpoint(base_url, headers, tls)
        self._timeout = timeout
        self._busy_poll = busy_poll
        self._local = threading.local()
        self._lock = threading.Lock()
        # Every thread's connection, for close(); one whose thread has ended goes with it.
        self._open: "weakref.WeakSet[_BlockingConnection]" = weakref.WeakSet()
        self._closed = False

    def request(self, method: str, path: str, body: Optional[bytes],
                query: Optional[Dict[str, str]],
                resendable_op: bool = True) -> Tuple[int, bytes, Dict[str, str]]:
        """(status, body, headers by lower-case name)."""
        if self._closed:
            raise RuntimeError("the client is closed")
        request = self._endpoint.request(method, path, body, query)
        conn: Optional[_BlockingConnection] = getattr(self._local, "conn", None)
        self._local.conn = None  # until the exchange ends well
        if conn is not None and conn.stale():
            conn.close()
            conn = None
        if conn is not None:
            try:
                return self._exchange(conn, request)
            except (ConnectionResetError, BrokenPipeError) as e:
                if conn.received or (_sent(e) and not resendable_op):
                    raise
                # The server closed it (its idle timeout) as the request went out, before
                # answering anything: once more on a new connection.
        conn = _BlockingConnection(self._endpoint, self._timeout, self._busy_poll)
        with self._lock:
            if self._closed:  # close() ran meanwhile and has not seen this one
                conn.close()
                raise RuntimeError("the client is closed")
            self._open.add(conn)
        return self._exchange(conn, request)

    def _exchange(self, conn: _BlockingConnection,
                  request: bytes) -> Tuple[int, bytes, Dict[str, str]]:
        try:
            status, body, headers, keep_alive = conn.exchange(request)
        except BaseException:
            conn.close()  # whatever the state of the exchange, start the next one afresh
            raise
        if keep_alive:
            self._local.conn = conn
        else:
            conn.close()
        return status, body, headers

    def close(self) -> None:
        self._closed = True
        with self._lock:
            for conn in list(self._open):
                conn.close()


class RestTransport:
    """Blocking REST transport over kept-alive connections, one per thread; with `busy_poll`
    (seconds) each waits that long for a response without sleeping before it blocks."""

    def __init__(self, base_url: str, api_key: Optional[str], timeout: float, retries: int,
                 tls: Tls = Tls(), busy_poll: float = 0.0):
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._connections = _Connections(base_url, timeout, headers, tls, busy_poll)
        self._retries = retries

    def call(self, op: str, params: Dict[str, Any]) -> Dict[str, Any]:
        method, path, body, query = build_request(op, params)
        content = encode(body)
        resend = resendable(op, params)
        for attempt in range(self._retries + 1):
            try:
                return parse_response(*self._connections.request(method, path, content, query,
                                                                 resend))
            except Exception as e:  # noqa: BLE001 - re-raised below unless retryable
                if attempt == self._retries or not _retryable(e, resend):
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
        self._response = _Response()
        self._transport: Optional[asyncio.Transport] = None
        self._waiter: "Optional[asyncio.Future[Tuple[int, bytes, Dict[str, str]]]]" = None
        # One timer per connection, not per request (4 us of a search's CPU): it is left to
        # run when an answer comes, and where it finds a later request waiting it moves on to
        # that request's deadline.
        self._timer: Optional[asyncio.TimerHandle] = None
        self._timer_at = 0.0  # when it fires
        self._deadline = 0.0  # the current request's
        self.received = False  # any byte of the current response
        self.keep_alive = False  # after a complete response: the server keeps the connection
        self.closed = False

    def exchange(self, request: bytes, deadline: float) -> "asyncio.Future[Any]":
        """Sends `request`; the future of its (status, body, headers by lower-case name)."""
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        self._response.reset()
        self.received, self.keep_alive = False, False
        self._deadline = deadline
        if self._timer is None:
            self._arm(loop)
        assert self._transport is not None
        self._transport.write(request)
        return waiter

    def close(self) -> None:
        self.closed = True
        self._disarm()
        if self._transport is not None:
            self._transport.abort()

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer_at = self._deadline
        self._timer = loop.call_at(self._deadline, self._expire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        if self._waiter is None:  # idle: the next request starts a timer
            return
        if self._deadline > self._timer_at:  # set for an earlier request
            self._arm(asyncio.get_running_loop())
        else:
            self._fail(TimeoutError("no response before the client's timeout"))

    def _settle(self) -> "Optional[asyncio.Future[Any]]":
        """The waiting future, if any, now detached from the connection."""
        waiter, self._waiter = self._waiter, None
        return waiter if waiter is not None and not waiter.done() else None

    def _fail(self, error: BaseException) -> None:
        waiter = self._settle()
        if waiter is not None:
            waiter.set_exception(error)

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.closed = True
        self._disarm()
        self._fail(exc or ConnectionResetError("the server closed the connection"))

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # bytes no request asked for: the connection is unusable
            self.close()
            return
        self.received = True
        try:
            self._response.parser.feed_data(data)
        except httptools.HttpParserError as e:
            self._fail(e)
            self.close()
            return
        if self._response.complete:
            self.keep_alive = self._response.keep_alive
            waiter = self._settle()
            if waiter is not None:
                waiter.set_result(self._response.result())


class _AsyncConnections:
    """Kept-alive HTTP/1.1 connections to one server for the coroutines of an event loop: at
    most `limit` at a time (further requests wait for one), idle ones reused most recent first.
    Bound to the event loop of its first request; used from another loop (a later
    asyncio.run), it drops the old loop's connections and starts afresh. Proxy settings
    (HTTP(S)_PROXY) are not used."""

    def __init__(self, base_url: str, timeout: float, headers: Dict[str, str], tls: Tls,
                 limit: int = 100):
        self._endpoint = _Endpoint(base_url, headers, tls)
        self._timeout = timeout
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
                      query: Optional[Dict[str, str]],
                      resendable_op: bool = True) -> Tuple[int, bytes, Dict[str, str]]:
        """(status, body, headers by lower-case name). The client's timeout bounds connecting,
        sending and the response, not the wait for a free connection."""
        if self._closed:
            raise RuntimeError("the client is closed")
        request = self._endpoint.request(method, path, body, query)
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
                    if conn.received or not resendable_op:
                        raise
                    # The server closed it (its idle timeout) as the request went out, before
                    # answering anything: once more on a new connection.
                    break
            try:
                _, conn = await asyncio.wait_for(
                    loop.create_connection(_Exchange, self._endpoint.host, self._endpoint.port,
                                           ssl=self._endpoint.ssl),
                    deadline - loop.time())
            except asyncio.TimeoutError:  # before Python 3.11 not an OSError
                raise TimeoutError(f"no connection in {self._timeout:g} s") from None
            return await self._send(conn, request, deadline)

    async def _send(self, conn: _Exchange, request: bytes,
                    deadline: float) -> Tuple[int, bytes, Dict[str, str]]:
        try:
            result = await conn.exchange(request, deadline)
        except BaseException as e:
            conn.close()  # whatever the state of the exchange (cancelled too), not reused
            _mark_sent(e)  # written to the transport: the server may have it
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

    def __init__(self, base_url: str, api_key: Optional[str], timeout: float, retries: int,
                 tls: Tls = Tls()):
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._connections = _AsyncConnections(base_url, timeout, headers, tls)
        self._retries = retries

    async def call(self, op: str, params: Dict[str, Any]) -> Dict[str, Any]:
        method, path, body, query = build_request(op, params)
        content = encode(body)
        resend = resendable(op, params)
        for attempt in range(self._retries + 1):
            try:
                return parse_response(*await self._connections.request(method, path, content,
                                                                        query, resend))
            except Exception as e:  # noqa: BLE001
                if attempt == self._retries or not _retryable(e, resend):
                    if isinstance(e, _TRANSPORT_ERRORS):
                        raise _transport_error(e) from e
                    raise
                await asyncio.sleep(backoff(attempt, e))
        raise AssertionError("unreachable")

    async def close(self) -> None:
        self._connections.close()
        await asyncio.sleep(0)  # the transports close in a callback: let it run in this loop
