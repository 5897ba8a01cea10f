"""The async client through REST and gRPC, and the async REST transport against a fake
server (responses the real one never sends: chunked, closing, malformed, none)."""

import asyncio
import threading
import time

import numpy as np
import pytest

from conftest import Server
from proximadb import (AsyncProximaDBClient, CollectionNotFoundError, DimensionMismatchError,
                       ProximaDBClient, UnavailableError, VectorNotFoundError)


async def test_async_client(aclient, name):
    c = await aclient.create_collection(name, dimension=3, distance_metric="l2")
    assert c.dimension == 3
    data = np.arange(30, dtype=np.float32).reshape(10, 3)
    ids = await aclient.batch_insert(name, data, ids=[f"a{i}" for i in range(10)],
                                     metadata=[{"n": i} for i in range(10)], batch_size=4)
    assert ids[-1] == "a9"
    assert await aclient.count(name) == 10
    hits = await aclient.search(name, [0, 1, 2], k=2)
    assert [h.id for h in hits] == ["a0", "a1"]
    batches = await aclient.search_batch(name, [[0, 1, 2], [27, 28, 29]], k=1)
    assert [b[0].id for b in batches] == ["a0", "a9"]
    assert [r.id async for r in aclient.scroll(name, batch_size=3)] == [f"a{i}" for i in range(10)]
    await aclient.update_metadata(name, "a0", {"x": 1})
    assert (await aclient.get(name, "a0")).metadata["x"] == 1
    assert [r.id for r in await aclient.get_many(name, ["a1", "zz"])] == ["a1"]
    assert await aclient.delete_by_filter(name, {"n": {"$gte": 5}}) == 5
    assert (await aclient.collection_stats(name)).vector_count == 5
    with pytest.raises(VectorNotFoundError):
        await aclient.get(name, "a7")
    with pytest.raises(DimensionMismatchError):
        await aclient.search(name, [1, 2])
    assert await aclient.delete_collection(name)
    with pytest.raises(CollectionNotFoundError):
        await aclient.count(name)


async def test_concurrent_calls_share_one_client(aclient, name):
    # More calls at once than the REST pool has connections (100): each gets its own answer.
    await aclient.create_collection(name, dimension=4, distance_metric="l2")
    data = np.arange(1200, dtype=np.float32).reshape(300, 4)
    await aclient.batch_insert(name, data, ids=[f"v{i}" for i in range(300)])
    hits = await asyncio.gather(*(aclient.search(name, data[i], k=1, exact=True)
                                  for i in range(300)))
    assert [h[0].id for h in hits] == [f"v{i}" for i in range(300)]
    counts = await asyncio.gather(*(aclient.count(name) for _ in range(150)))
    assert counts == [300] * 150


async def test_a_closed_client_says_so(server, protocol, name):
    # Over both protocols, sync and async, calls and streamed batches alike; nothing is sent.
    with ProximaDBClient(server.url(protocol)) as c:
        c.create_collection(name, dimension=2)
    closed = ProximaDBClient(server.url(protocol))
    closed.count(name)
    closed.close()
    aclosed = AsyncProximaDBClient(server.url(protocol))
    await aclosed.count(name)
    await aclosed.close()
    with pytest.raises(RuntimeError, match="the client is closed"):
        closed.count(name)
    with pytest.raises(RuntimeError, match="the client is closed"):
        closed.batch_insert(name, [[1.0, 2.0]], ids=["a"])
    with pytest.raises(RuntimeError, match="the client is closed"):
        await aclosed.count(name)
    with pytest.raises(RuntimeError, match="the client is closed"):
        await aclosed.batch_insert(name, [[1.0, 2.0]], ids=["b"])
    with ProximaDBClient(server.url(protocol)) as c:
        assert c.count(name) == 0


async def test_unreachable_and_stopped_server_are_unavailable(protocol):
    async with AsyncProximaDBClient(f"{'grpc' if protocol == 'grpc' else 'http'}://127.0.0.1:1",
                                    retries=1, timeout=2) as c:
        with pytest.raises(UnavailableError) as e:
            await c.list_collections()
        assert e.value.code == "UNAVAILABLE"
    server = Server()
    try:
        async with AsyncProximaDBClient(server.url(protocol), retries=1, timeout=2) as c:
            await c.create_collection("gone", dimension=2)
            server.stop()
            with pytest.raises(UnavailableError):
                await c.count("gone")
    finally:
        server.stop()


async def test_rest_reconnects_after_the_server_closes_idle_connections():
    # The server closes connections idle for longer than its request timeout (300 ms): the
    # next call opens a new one, without an error or a retry's backoff.
    server = Server(PROXIMADB_API__REQUEST_TIMEOUT_MS="300")
    try:
        async with AsyncProximaDBClient(server.rest_url, retries=0) as c:
            await c.create_collection("idle", dimension=2, distance_metric="l2")
            await c.insert("idle", "a", [1, 0])
            conn = c._t._connections._idle[-1]
            for _ in range(600):
                if conn.closed:
                    break
                await asyncio.sleep(0.05)
            assert conn.closed, "the idle connection was not closed"
            t = time.perf_counter()
            assert (await c.get("idle", "a")).id == "a"
            assert time.perf_counter() - t < 0.5
    finally:
        server.stop()


def test_rest_client_outlives_its_event_loop(server, name):
    c = AsyncProximaDBClient(server.rest_url)
    asyncio.run(c.create_collection(name, dimension=2))
    assert asyncio.run(c.count(name)) == 0  # the first loop's connection is not used
    asyncio.run(c.close())


class FakeServer:
    """A loopback HTTP/1.1 server answering the requests it gets, in order, with `replies`:
    raw response bytes (the connection closed after one with "Connection: close"), a pair
    (seconds, bytes) for bytes sent after that delay, CLOSE (the connection closed without an
    answer) or HANG (no answer)."""

    CLOSE, HANG = "close", "hang"

    def __init__(self, *replies) -> None:
        self.replies = list(replies)
        self.connections = 0
        self.requests = 0

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc) -> None:
        self.server.close()

    async def _serve(self, reader, writer) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        await reader.readexactly(int(line.split(b":")[1]))
                reply = self.replies.pop(0)
                self.requests += 1
                if reply == FakeServer.HANG:
                    await asyncio.sleep(60)
                if reply == FakeServer.CLOSE:
                    break
                if isinstance(reply, tuple):
                    await asyncio.sleep(reply[0])
                    reply = reply[1]
                writer.write(reply)
                if b"Connection: close" in reply:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        writer.close()


def ok(body: bytes = b'{"collections":[]}', extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n%s" % (extra, len(body), body)


CHUNKED_CLOSE = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                 b"5\r\n{\"col\r\nd\r\nlections\":[]}\r\n0\r\n\r\n")


async def test_rest_transport_reads_chunked_and_closing_responses():
    fake = FakeServer(CHUNKED_CLOSE, ok(), ok())
    async with fake as url, AsyncProximaDBClient(url, retries=0) as c:
        for _ in range(3):
            assert await c.list_collections() == []
    assert fake.connections == 2  # a new one after "Connection: close", then kept


async def test_rest_transport_resends_once_on_a_connection_closed_as_it_was_reused():
    fake = FakeServer(ok(), FakeServer.CLOSE, ok())
    async with fake as url, AsyncProximaDBClient(url, retries=0) as c:
        assert await c.list_collections() == []
        assert await c.list_collections() == []  # with retries=0: resent, not retried
    assert fake.connections == 2


async def test_rest_transport_errors():
    # A 503 with Retry-After and a body that is not JSON; a response that is not HTTP; none.
    busy = b"HTTP/1.1 503 Busy\r\nretry-AFTER: 2\r\nContent-Length: 4\r\n\r\nbusy"
    async with FakeServer(busy, b"garbage\r\n\r\n", FakeServer.HANG) as url, \
            AsyncProximaDBClient(url, retries=0, timeout=0.3) as c:
        with pytest.raises(UnavailableError) as e:
            await c.list_collections()
        assert (e.value.http_status, e.value.retry_after, e.value.message) == (503, 2.0, "busy")
        for _ in range(2):
            t = time.perf_counter()
            with pytest.raises(UnavailableError) as e:
                await c.list_collections()
            assert e.value.code == "UNAVAILABLE" and "cannot reach the server" in str(e.value)
            assert time.perf_counter() - t < 2
        assert c._t._connections._idle == []


async def test_rest_timeouts_count_from_each_request_on_a_reused_connection():
    # A connection's timer, started by its first request, moves on to a later request's
    # deadline: the second answer comes after the first request's deadline but within its own,
    # and a request that gets no answer fails at its own deadline, not earlier.
    fake = FakeServer(ok(), (1.2, ok()), FakeServer.HANG)
    async with fake as url, AsyncProximaDBClient(url, retries=0, timeout=2.0) as c:
        assert await c.list_collections() == []
        await asyncio.sleep(1.2)
        # Answered 2.4 s after the first request was sent, 0.8 s before its own deadline.
        assert await c.list_collections() == []
        t = time.perf_counter()
        with pytest.raises(UnavailableError, match="timeout"):
            await c.list_collections()
        assert 2.0 <= time.perf_counter() - t < 6
    assert fake.connections == 1


async def test_rest_transport_drops_a_connection_whose_call_was_cancelled():
    # The cancelled call's answer may still come: its connection is closed, not reused.
    async with FakeServer(FakeServer.HANG, ok()) as url, AsyncProximaDBClient(url) as c:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(c.list_collections(), 0.2)
        assert c._t._connections._idle == []
        assert await c.list_collections() == []


class ThreadedFake:
    """A FakeServer on an event loop of its own thread, for the blocking client."""

    def __init__(self, *replies) -> None:
        self.fake = FakeServer(*replies)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return asyncio.run_coroutine_threadsafe(self.fake.__aenter__(), self.loop).result(5)

    def __exit__(self, *exc) -> None:
        async def stop() -> None:
            await self.fake.__aexit__()
            for task in asyncio.all_tasks():  # connections still served (a HANG)
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)  # after the cancellations have run
        self.thread.join(5)
        self.loop.close()


async def test_rest_retries_only_what_may_be_done_twice():
    # A timed-out list is sent again; a timed-out insert is not (the server may have stored it:
    # sent again, it would come back as ALREADY_EXISTS).
    fake = FakeServer(FakeServer.HANG, ok(), FakeServer.HANG, ok())
    async with fake as url, AsyncProximaDBClient(url, retries=2, timeout=0.3) as c:
        assert await c.list_collections() == []
        assert fake.requests == 2
        with pytest.raises(UnavailableError):
            await c.insert("docs", "a", [1.0, 2.0])
        assert fake.requests == 3, "the insert was sent again"


def test_blocking_rest_retries_only_what_may_be_done_twice():
    server = ThreadedFake(FakeServer.HANG, ok(), FakeServer.HANG, ok())
    with server as url, ProximaDBClient(url, retries=2, timeout=0.3) as c:
        assert c.list_collections() == []
        assert server.fake.requests == 2
        with pytest.raises(UnavailableError):
            c.insert("docs", "a", [1.0, 2.0])
        assert server.fake.requests == 3, "the insert was sent again"
