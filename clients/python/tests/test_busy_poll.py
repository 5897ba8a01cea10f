"""Busy polling: the client's busy_poll_us (REST) and the server's [server] busy_poll_us give
the answers the sleeping paths give, a call polls for its window and no longer, and bad values
are refused naming the setting."""

import time

import numpy as np
import pytest

from conftest import Server
from proximadb import CollectionNotFoundError, ProximaDBClient


def ids(hits):
    return [h.id for h in hits]


def test_busy_polling_client_and_server_answer_as_the_sleeping_ones(name):
    server = Server(PROXIMADB_SERVER__BUSY_POLL_US="300")
    try:
        rng = np.random.default_rng(7)
        data = rng.random((3000, 32), dtype=np.float32)
        url = server.url("rest")
        with ProximaDBClient(url) as plain, ProximaDBClient(url, busy_poll_us=500) as polling:
            polling.create_collection(name, 32, "l2")
            polling.batch_insert(name, data, ids=[str(i) for i in range(len(data))],
                                 batch_size=1500)  # bodies of about 260 KB
            for q in rng.random((20, 32), dtype=np.float32):
                assert ids(polling.search(name, q, k=5)) == ids(plain.search(name, q, k=5))
            # A response of many reads: 2,000 hits with their vectors.
            hits = polling.search(name, data[0], k=2000, include_vectors=True)
            assert len(hits) == 2000 and hits[0].id == "0"
            assert np.allclose(hits[0].vector, data[0])
            with pytest.raises(CollectionNotFoundError):
                polling.search("no-such-" + name, data[0], k=1)
            # After an idle second the server's threads sleep; they still answer at once.
            time.sleep(1)
            assert polling.count(name) == len(data)
    finally:
        server.stop()  # SIGTERM ends the polling threads too (stop waits for the exit)


def test_a_call_polls_for_its_window_and_then_sleeps(server, name):
    rng = np.random.default_rng(8)
    url = server.url("rest")
    with ProximaDBClient(url, busy_poll_us=1_000_000) as spinning, \
            ProximaDBClient(url, busy_poll_us=1000) as brief:
        spinning.create_collection(name, 128, "l2")
        spinning.batch_insert(name, rng.random((20000, 128), dtype=np.float32),
                              ids=[str(i) for i in range(20000)], batch_size=2000)
        queries = rng.random((1000, 128), dtype=np.float32)

        def cost(client):
            """(CPU seconds of this thread, wall seconds) of a slow call: 20 million exact
            distances, a few tenths of a second of the server's work here."""
            wall, cpu = time.perf_counter(), time.thread_time()
            assert len(client.search_batch(name, queries, k=10, exact=True)) == len(queries)
            return time.thread_time() - cpu, time.perf_counter() - wall

        spin_cpu, spin_wall = cost(spinning)
        brief_cpu, brief_wall = cost(brief)
        # The call outlasts the brief window many times over, so that client slept for most of
        # it and spent only its own work (encoding the queries, decoding the hits: tens of
        # milliseconds), while the other one polled all along, on whatever share of a core the
        # server's threads and other tests leave it (under make test's load, 44% in one run):
        # beyond the same own work, it spent a fifth of its wall time at least.
        assert brief_wall > 0.02, "the call was too quick to tell polling from sleeping"
        assert spin_cpu > brief_cpu + 0.2 * spin_wall, (spin_cpu, spin_wall, brief_cpu, brief_wall)
        assert brief_cpu < 0.5 * brief_wall, (brief_cpu, brief_wall)


@pytest.mark.parametrize("bad", [-1, 1.5, True, 1_000_001, "10"])
def test_a_bad_busy_poll_is_refused_naming_it(server, bad):
    with pytest.raises(ValueError, match="busy_poll_us"):
        ProximaDBClient(server.url("rest"), busy_poll_us=bad)


def test_grpc_does_not_busy_poll(server):
    with pytest.raises(ValueError, match="busy_poll_us: only the REST transport"):
        ProximaDBClient(server.url("grpc"), busy_poll_us=100)
