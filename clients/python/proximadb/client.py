"""ProximaDBClient, and the operations it shares with AsyncProximaDBClient (async_client.py).

Both clients share every operation's logic: each operation is written once as a generator that
yields (operation, parameters) to its driver and receives the transport's result (or has the
transport's exception thrown into it). The sync client drives it with blocking calls, the async
client with awaits; REST and gRPC transports take the same operations and return the same
JSON-shaped results.
"""

from __future__ import annotations

import datetime
import numbers
import os
import uuid
from typing import Any, Dict, Generator, Iterator, List, Optional, Sequence, Tuple
from urllib.parse import urlparse

import numpy as np

from ._grpc import AsyncGrpcTransport, GrpcTransport
from ._rest import AsyncRestTransport, RestTransport
from ._tls import Tls
from .errors import InvalidArgumentError, VectorNotFoundError
from .types import (ApiKey, Backup, Collection, CollectionStats, MaintenanceEvent, Record,
                    SearchResult, Vector, backup_from, collection_from, event_from, key_from,
                    stats_from)

Op = Tuple[str, Dict[str, Any]]
OpGen = Generator[Op, Dict[str, Any], Any]
Filter = Dict[str, Any]

SETTINGS = ("m", "ef_construction", "ef_search", "max_wal_age_hours", "max_wal_size_mb",
            "max_vector_count", "flush_priority", "storage_strategy", "quantization", "pq_m",
            "rerank", "nprobe", "metadata_compression", "id_index", "tiering", "shards",
            "replication_factor")
MUTABLE_SETTINGS = ("ef_search", "max_wal_age_hours", "max_wal_size_mb", "max_vector_count",
                    "flush_priority", "rerank", "storage_strategy", "quantization", "pq_m",
                    "nprobe", "indexing_algorithm", "metadata_compression", "tiering")


def _as_list(vector: Vector) -> List[float]:
    if isinstance(vector, np.ndarray):
        return vector.astype(np.float32, copy=False).tolist()
    return [float(x) for x in vector]


def _as_f32(vector: Vector) -> np.ndarray:
    """A query vector as contiguous little-endian float32: what both transports send as bytes
    (REST base64, gRPC packed floats), with no number formatted or parsed on either side."""
    a = np.ascontiguousarray(vector, dtype="<f4")
    if a.ndim != 1:
        raise ValueError(f"a query vector must be one-dimensional, not of shape {a.shape}")
    return a


def _out(vector: Optional[List[float]], as_numpy: bool) -> Optional[Vector]:
    if vector is None:
        return None
    return np.asarray(vector, dtype=np.float32) if as_numpy else vector


def _check_settings(settings: Dict[str, Any], allowed: Sequence[str]) -> None:
    for key in settings:
        if key not in allowed:
            raise InvalidArgumentError("INVALID_ARGUMENT",
                                       f"unknown setting '{key}' (known: {', '.join(allowed)})")


class Columns:
    """A batch as columns: ids, a 2-D float32 array, and metadata (None, or one per id)."""

    def __init__(self, ids: List[str], matrix: np.ndarray,
                 metadata: Optional[List[Dict[str, Any]]]) -> None:
        self.ids, self.matrix, self.metadata = ids, matrix, metadata

    def __len__(self) -> int:
        return len(self.ids)

    def slice(self, start: int, stop: int) -> "Columns":
        return Columns(self.ids[start:stop], self.matrix[start:stop],
                       self.metadata[start:stop] if self.metadata is not None else None)


def _records(vectors: Any, ids: Optional[Sequence[str]],
             metadata: Optional[Sequence[Optional[Dict[str, Any]]]]) -> Any:
    """Batch input as record dicts (from dicts or lists) or as Columns (from a 2-D NumPy array,
    sent without per-record conversion), with an id for every record (a UUID where none was
    given, so that both transports return all ids)."""
    if len(vectors) > 0 and isinstance(vectors[0], dict):
        if ids is not None or metadata is not None:
            raise InvalidArgumentError("INVALID_ARGUMENT",
                                       "give ids and metadata inside the dicts, not beside them")
        return [{"id": r.get("id") or str(uuid.uuid4()), "vector": _as_list(r["vector"]),
                 "metadata": r.get("metadata") or {}} for r in vectors]
    n = len(vectors)
    if ids is not None and len(ids) != n:
        raise InvalidArgumentError("INVALID_ARGUMENT", f"{len(ids)} ids for {n} vectors")
    if metadata is not None and len(metadata) != n:
        raise InvalidArgumentError("INVALID_ARGUMENT",
                                   f"{len(metadata)} metadata objects for {n} vectors")
    all_ids = list(ids) if ids is not None else [str(uuid.uuid4()) for _ in range(n)]
    meta = [m or {} for m in metadata] if metadata is not None else None
    if isinstance(vectors, np.ndarray):
        if vectors.ndim != 2:
            raise InvalidArgumentError("INVALID_ARGUMENT",
                                       f"vectors must be 2-D, not {vectors.ndim}-D")
        return Columns(all_ids, np.ascontiguousarray(vectors, dtype=np.float32), meta)
    return [{"id": all_ids[i], "vector": _as_list(v), "metadata": meta[i] if meta else {}}
            for i, v in enumerate(vectors)]


def _search_query(vector: Vector, k: int, filter: Optional[Filter], include_vectors: bool,
                  include_metadata: bool, ef: Optional[int], exact: bool,
                  rerank: Optional[int] = None, nprobe: Optional[int] = None,
                  consistency: Optional[str] = None) -> Dict[str, Any]:
    q: Dict[str, Any] = {"vector": _as_f32(vector), "k": k, "include_vectors": include_vectors,
                         "include_metadata": include_metadata, "exact": exact}
    if filter:
        q["filter"] = filter
    if ef is not None:
        q["ef"] = ef
    if rerank is not None:
        q["rerank"] = rerank
    if nprobe is not None:
        q["nprobe"] = nprobe
    if consistency is not None:
        q["consistency"] = consistency
    return q


def _results(data: Dict[str, Any], as_numpy: bool) -> List[SearchResult]:
    return [SearchResult(id=r["id"], score=float(r["score"]), metadata=r.get("metadata"),
                         vector=_out(r.get("vector"), as_numpy)) for r in data["results"]]


def _progress(total: int, show: bool) -> Any:
    if not show:
        return None
    try:
        from tqdm import tqdm
    except ImportError as e:  # pragma: no cover - tqdm is an optional dependency
        raise ImportError("show_progress=True needs tqdm: pip install 'proximadb[progress]'") from e
    return tqdm(total=total, unit="vec")


def _endpoint(url: Optional[str], protocol: str, grpc_port: int) -> Tuple[str, str, bool]:
    """(protocol, address, TLS): a REST base URL or a gRPC host:port, and whether over TLS
    (``https://``, ``grpcs://``)."""
    url = url or os.environ.get("PROXIMADB_URL") or "http://localhost:8080"
    parsed = urlparse(url)
    if protocol not in ("auto", "rest", "grpc"):
        raise ValueError(f"protocol must be 'auto', 'rest' or 'grpc', not {protocol!r}")
    secure = parsed.scheme in ("https", "grpcs")
    grpc_scheme = parsed.scheme in ("grpc", "grpcs")
    if protocol == "auto":
        protocol = "grpc" if grpc_scheme else "rest"
    host = parsed.hostname or "localhost"
    if protocol == "grpc":
        port = parsed.port if grpc_scheme and parsed.port else grpc_port
        return "grpc", f"{host}:{port}", secure
    if grpc_scheme:
        return "rest", f"{'https' if secure else 'http'}://{host}:8080", secure
    return "rest", url.rstrip("/"), secure


def _transport(url: Optional[str], api_key: Optional[str], protocol: str, grpc_port: int,
               timeout: float, retries: int, tls: Tls, asynchronous: bool,
               busy_poll_us: int = 0) -> Tuple[str, Any]:
    """(protocol, transport) of a client's settings (API key and CA file from the
    environment when not given)."""
    protocol, address, secure = _endpoint(url, protocol, grpc_port)
    if (isinstance(busy_poll_us, bool) or not isinstance(busy_poll_us, numbers.Integral)
            or not 0 <= busy_poll_us <= 1_000_000):
        raise ValueError(f"busy_poll_us: a whole number of microseconds from 0 to 1000000, "
                         f"not {busy_poll_us!r}")
    if busy_poll_us and protocol == "grpc":
        raise ValueError("busy_poll_us: only the REST transport polls (use an http(s):// URL)")
    if not secure and tls != Tls():
        raise ValueError("ca_file, cert_file and key_file are for TLS: use an https:// or "
                         "grpcs:// URL (a plaintext one would send the API key in the clear)")
    api_key = api_key or os.environ.get("PROXIMADB_API_KEY")
    if tls.ca_file is None and os.environ.get("PROXIMADB_CA_FILE"):
        tls = Tls(os.environ["PROXIMADB_CA_FILE"], tls.cert_file, tls.key_file)
    if protocol == "grpc":
        grpc_type = AsyncGrpcTransport if asynchronous else GrpcTransport
        return protocol, grpc_type(address, api_key, timeout, retries, tls if secure else None)
    if asynchronous:
        return protocol, AsyncRestTransport(address, api_key, timeout, retries, tls)
    return protocol, RestTransport(address, api_key, timeout, retries, tls,
                                   int(busy_poll_us) / 1e6)


class _Operations:
    """The operations, as generators (see the module docstring)."""

    _streams = False  # whether the transport has stream_write (gRPC)

    # Collections ---------------------------------------------------------------------------

    def _create_collection(self, name: str, dimension: int, distance_metric: str = "cosine",
                           indexing_algorithm: str = "hnsw", **settings: Any) -> OpGen:
        _check_settings(settings, SETTINGS)
        body = {"name": name, "dimension": dimension, "distance_metric": distance_metric,
                "indexing_algorithm": indexing_algorithm, **settings}
        return collection_from((yield "create_collection", {"body": body}))

    def _list_collections(self) -> OpGen:
        data = yield "list_collections", {}
        return [collection_from(c) for c in data["collections"]]

    def _get_collection(self, name: str) -> OpGen:
        return collection_from((yield "get_collection", {"collection": name}))

    def _update_collection(self, name: str, **settings: Any) -> OpGen:
        _check_settings(settings, MUTABLE_SETTINGS)
        return collection_from((yield "update_collection", {"collection": name,
                                                            "body": settings}))

    def _delete_collection(self, name: str) -> OpGen:
        yield "delete_collection", {"collection": name}
        return True

    def _stats(self, op: str, name: str) -> OpGen:
        data = yield op, {"collection": name}
        data.setdefault("name", name)
        return stats_from(data)

    def _history(self, name: str) -> OpGen:
        data = yield "collection_history", {"collection": name}
        return [event_from(e) for e in data["events"]]

    # Backups --------------------------------------------------------------------------------

    def _create_backup(self, name: str) -> OpGen:
        return backup_from((yield "create_backup", {"collection": name}))

    def _list_backups(self, collection: Optional[str]) -> OpGen:
        data = yield "list_backups", {"collection": collection}
        return [backup_from(b) for b in data["backups"]]

    def _delete_backup(self, backup_id: str) -> OpGen:
        yield "delete_backup", {"backup_id": backup_id}
        return True

    def _restore_time(self, source_collection: str, point_in_time: Any,
                      target_collection: str) -> OpGen:
        if isinstance(point_in_time, datetime.datetime):
            if point_in_time.tzinfo is None:  # naive: UTC
                point_in_time = point_in_time.replace(tzinfo=datetime.timezone.utc)
            point_in_time = point_in_time.isoformat()
        return collection_from((yield "restore_time", {"source": source_collection,
                                                       "time": point_in_time,
                                                       "target": target_collection}))

    def _restore_backup(self, backup_id: str, target_collection: str) -> OpGen:
        return collection_from((yield "restore_backup", {"backup_id": backup_id,
                                                         "target": target_collection}))

    # Writes ---------------------------------------------------------------------------------

    def _create_key(self, name: str, role: str, collections: Optional[Sequence[str]]) -> OpGen:
        body = {"name": name, "role": role,
                "collections": list(collections) if collections is not None else None}
        return key_from((yield "create_key", {"body": body}))

    def _list_keys(self) -> OpGen:
        return [key_from(k) for k in (yield "list_keys", {})["keys"]]

    def _health(self) -> OpGen:
        yield "health", {}
        return True

    def _cluster(self) -> OpGen:
        data = yield "cluster", {}
        return {"enabled": data["enabled"], "cluster": data.get("cluster", ""),
                "node_id": data["node_id"], "nodes": data.get("nodes", []),
                "collections": data.get("collections", [])}

    def _delete_key(self, name: str) -> OpGen:
        yield "delete_key", {"name": name}
        return True

    def _insert(self, collection: str, id: Optional[str], vector: Vector,
                metadata: Optional[Dict[str, Any]] = None) -> OpGen:
        record = {"id": id, "vector": _as_list(vector), "metadata": metadata or {}}
        return (yield "insert", {"collection": collection, "record": record})["id"]

    def _upsert(self, collection: str, id: str, vector: Vector,
                metadata: Optional[Dict[str, Any]] = None) -> OpGen:
        yield "upsert_one", {"collection": collection, "id": id, "vector": _as_list(vector),
                             "metadata": metadata or {}}
        return id

    def _batch_insert(self, collection: str, vectors: Any, ids: Optional[Sequence[str]],
                      metadata: Optional[Sequence[Optional[Dict[str, Any]]]], batch_size: int,
                      upsert: bool, show_progress: bool) -> OpGen:
        if batch_size < 1:
            raise InvalidArgumentError("INVALID_ARGUMENT", "batch_size must be at least 1")
        records = _records(vectors, ids, metadata)
        batches = [records.slice(i, i + batch_size) if isinstance(records, Columns)
                   else records[i:i + batch_size] for i in range(0, len(records), batch_size)]
        bar = _progress(len(records), show_progress)
        try:
            if self._streams and len(batches) > 1:
                def counted() -> Iterator[Any]:
                    for b in batches:
                        yield b
                        if bar is not None:
                            bar.update(len(b))
                yield "stream_write", {"collection": collection, "batches": counted(),
                                       "upsert": upsert}
            else:
                for b in batches:
                    yield "batch_write", {"collection": collection, "vectors": b,
                                          "upsert": upsert}
                    if bar is not None:
                        bar.update(len(b))
        finally:
            if bar is not None:
                bar.close()
        return list(records.ids) if isinstance(records, Columns) else [r["id"] for r in records]

    def _update_metadata(self, collection: str, id: str, metadata: Dict[str, Any]) -> OpGen:
        yield "patch_metadata", {"collection": collection, "id": id, "metadata": metadata}
        return True

    def _delete(self, collection: str, id: str) -> OpGen:
        yield "delete_one", {"collection": collection, "id": id}
        return True

    def _delete_many(self, collection: str, ids: Sequence[str]) -> OpGen:
        return (yield "delete_ids", {"collection": collection, "ids": list(ids)})["deleted"]

    def _delete_by_filter(self, collection: str, filter: Filter) -> OpGen:
        return (yield "delete_filter", {"collection": collection, "filter": filter})["deleted"]

    # Reads ----------------------------------------------------------------------------------

    def _get(self, collection: str, id: str, as_numpy: bool = False,
             consistency: Optional[str] = None) -> OpGen:
        r = yield "get", {"collection": collection, "id": id, "consistency": consistency}
        return Record(id=r["id"], vector=_out(r["vector"], as_numpy), metadata=r["metadata"])

    def _get_many(self, collection: str, ids: Sequence[str], as_numpy: bool = False,
                  consistency: Optional[str] = None) -> OpGen:
        out = []
        for id in ids:
            try:
                r = yield "get", {"collection": collection, "id": id, "consistency": consistency}
            except VectorNotFoundError:
                continue
            out.append(Record(id=r["id"], vector=_out(r["vector"], as_numpy),
                              metadata=r["metadata"]))
        return out

    def _count(self, collection: str, filter: Optional[Filter] = None,
               consistency: Optional[str] = None) -> OpGen:
        return (yield "count", {"collection": collection, "filter": filter,
                                "consistency": consistency})["count"]

    def _search(self, collection: str, query_vector: Vector, k: int = 10,
                filter: Optional[Filter] = None, include_vectors: bool = False,
                include_metadata: bool = True, ef: Optional[int] = None, exact: bool = False,
                as_numpy: bool = False, rerank: Optional[int] = None,
                nprobe: Optional[int] = None, consistency: Optional[str] = None) -> OpGen:
        q = _search_query(query_vector, k, filter, include_vectors, include_metadata, ef, exact,
                          rerank, nprobe, consistency)
        return _results((yield "search", {"collection": collection, "query": q}), as_numpy)

    def _search_batch(self, collection: str, query_vectors: Any, k: int = 10,
                      filter: Optional[Filter] = None, include_vectors: bool = False,
                      include_metadata: bool = True, ef: Optional[int] = None,
                      exact: bool = False, as_numpy: bool = False,
                      rerank: Optional[int] = None, nprobe: Optional[int] = None,
                      consistency: Optional[str] = None) -> OpGen:
        queries = [_search_query(v, k, filter, include_vectors, include_metadata, ef, exact,
                                 rerank, nprobe, consistency) for v in query_vectors]
        data = yield "search_batch", {"collection": collection, "queries": queries}
        return [_results(r, as_numpy) for r in data["results"]]

    def _scroll_page(self, collection: str, cursor: Optional[str], filter: Optional[Filter],
                     batch_size: int, include_vectors: bool, as_numpy: bool,
                     consistency: Optional[str] = None) -> OpGen:
        data = yield "scroll", {"collection": collection, "cursor": cursor, "filter": filter,
                                "limit": batch_size, "include_vectors": include_vectors,
                                "consistency": consistency}
        records = [Record(id=r["id"], vector=_out(r.get("vector"), as_numpy),
                          metadata=r["metadata"]) for r in data["vectors"]]
        return records, data.get("next_cursor")


def _drive(gen: OpGen, transport: Any) -> Any:
    result: Any = None
    error: Optional[BaseException] = None
    while True:
        try:
            op, params = gen.throw(error) if error is not None else gen.send(result)
        except StopIteration as stop:
            return stop.value
        result, error = None, None
        try:
            if op == "stream_write":
                result = transport.stream_write(params["collection"], params["batches"],
                                                params["upsert"])
            else:
                result = transport.call(op, params)
        except Exception as e:  # noqa: BLE001 - handed to the operation, which may catch it
            error = e


class ProximaDBClient(_Operations):
    """A blocking client. ``with ProximaDBClient(...) as client:`` closes its connections.

    Args:
        url: ``http(s)://host:port`` speaks REST, ``grpc(s)://host:port`` gRPC (``https`` and
            ``grpcs`` over TLS); default ``$PROXIMADB_URL`` or ``http://localhost:8080``.
        api_key: sent as a bearer token; default ``$PROXIMADB_API_KEY``.
        ca_file: PEM CAs to trust for TLS; default ``$PROXIMADB_CA_FILE``, else the system's.
        cert_file, key_file: a PEM client certificate and key, for servers that require one.
        protocol: ``"auto"`` (from the URL's scheme), ``"rest"`` or ``"grpc"`` (then the URL's
            host with ``grpc_port``).
        grpc_port: the gRPC port when ``protocol="grpc"`` is given with an http URL.
        timeout: seconds per request.
        retries: retries with exponential backoff on UNAVAILABLE, HTTP 429 and 503 and
            connection failures (never on other errors). Over REST, an operation that is not
            idempotent (create_collection, insert, a batch insert without upsert, the deletes)
            or that may take minutes (flush, compact, apply_tiering: give them a timeout to
            match) is not sent again once its request went out whole: a timeout then raises,
            since the server may be acting on it.
        busy_poll_us: over REST, how long a call polls its socket for the response before it
            sleeps waiting for it (0, the default: at once). A response arriving in the window
            saves the calling thread's wake-up (tens of microseconds on a VM) at the price of
            a core kept busy while it waits; for one latency-bound thread per process. Pair it
            with the server's ``[server] busy_poll_us``.
    """

    def __init__(self, url: Optional[str] = None, api_key: Optional[str] = None,
                 protocol: str = "auto", grpc_port: int = 5678, timeout: float = 30,
                 retries: int = 3, ca_file: Optional[str] = None,
                 cert_file: Optional[str] = None, key_file: Optional[str] = None,
                 busy_poll_us: int = 0) -> None:
        self.protocol, self._t = _transport(url, api_key, protocol, grpc_port, timeout, retries,
                                            Tls(ca_file, cert_file, key_file), False,
                                            busy_poll_us)
        self._streams = self.protocol == "grpc"

    def __enter__(self) -> "ProximaDBClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Closes the connections."""
        self._t.close()

    def health(self) -> bool:
        """True once the server has finished recovery and serves requests (REST ``GET /ready``,
        gRPC's health service); UnavailableError while it recovers or shuts down, or cannot be
        reached."""
        return _drive(self._health(), self._t)

    def cluster(self) -> Dict[str, Any]:
        """Cluster mode's view from the node asked (server admin; docs/cluster.md): enabled,
        cluster, node_id, the live nodes, and each collection's shards with their logs and this
        node's applied positions and lag. A single node: enabled False and its node_id."""
        return _drive(self._cluster(), self._t)

    def create_collection(self, name: str, dimension: int, distance_metric: str = "cosine",
                          indexing_algorithm: str = "hnsw", **settings: Any) -> Collection:
        """Creates a collection; ``settings`` are m, ef_construction, ef_search,
        max_wal_age_hours, max_wal_size_mb, max_vector_count, flush_priority, storage_strategy,
        ... (SETTINGS), and in cluster mode shards and replication_factor."""
        return _drive(self._create_collection(name, dimension, distance_metric,
                                              indexing_algorithm, **settings), self._t)

    def list_collections(self) -> List[Collection]:
        """All collections the client's key covers, each with its vector_count on a single
        node; in cluster mode vector_count is None (get_collection counts one)."""
        return _drive(self._list_collections(), self._t)

    def get_collection(self, name: str) -> Collection:
        """A collection's definition with its vector_count."""
        return _drive(self._get_collection(name), self._t)

    def update_collection(self, name: str, **settings: Any) -> Collection:
        """Changes ef_search and the flush policy (max_wal_age_hours, max_wal_size_mb,
        max_vector_count, flush_priority)."""
        return _drive(self._update_collection(name, **settings), self._t)

    def delete_collection(self, name: str) -> bool:
        """Drops a collection and its data."""
        return _drive(self._delete_collection(name), self._t)

    def collection_stats(self, name: str) -> CollectionStats:
        """Counters of a collection."""
        return _drive(self._stats("collection_stats", name), self._t)

    def collection_history(self, name: str) -> List[MaintenanceEvent]:
        """The collection's last flushes, compactions and migrations since the server opened
        it (up to 100), newest first; a failed one carries its ``error``."""
        return _drive(self._history(name), self._t)

    def flush(self, name: str) -> CollectionStats:
        """Writes the collection's memtable into a segment now."""
        return _drive(self._stats("flush", name), self._t)

    def compact(self, name: str) -> CollectionStats:
        """Merges the collection's segments, dropping deleted rows."""
        return _drive(self._stats("compact", name), self._t)

    def apply_tiering(self, name: str) -> CollectionStats:
        """Applies the collection's tiering policy now (``tiering`` of create/update:
        ``{"ultra_hot": bool, "warm_after_hours": float | None}``); the stats' ``tiers`` show
        where its segments are."""
        return _drive(self._stats("apply_tiering", name), self._t)

    def create_backup(self, name: str) -> Backup:
        """Backs the collection up to the server's object store: every write acknowledged
        before the call is in it; segments the store already has are not sent again."""
        return _drive(self._create_backup(name), self._t)

    def list_backups(self, collection: Optional[str] = None) -> List[Backup]:
        """The backups in the object store (of one collection if given), oldest first."""
        return _drive(self._list_backups(collection), self._t)

    def delete_backup(self, backup_id: str) -> bool:
        """Removes a backup and the stored segments no other backup shares."""
        return _drive(self._delete_backup(backup_id), self._t)

    def restore_backup(self, backup_id: str, target_collection: str) -> Collection:
        """Creates collection ``target_collection`` from a backup (the name must be free)."""
        return _drive(self._restore_backup(backup_id, target_collection), self._t)

    def restore_point_in_time(self, source_collection: str, point_in_time: Any,
                              target_collection: str) -> Collection:
        """Creates ``target_collection`` as ``source_collection`` was at ``point_in_time`` (a
        datetime, naive meaning UTC, or an RFC 3339 string): its latest backup before then and
        the archived WAL after it. Needs the server's ``[object_store] wal_archive``; writes
        since the source's last flush are not archived yet."""
        return _drive(self._restore_time(source_collection, point_in_time, target_collection),
                      self._t)

    def create_key(self, name: str, role: str,
                   collections: Optional[Sequence[str]] = None) -> ApiKey:
        """Makes an API key (admin): ``role`` is "read", "write" or "admin"; ``collections``
        names and ``"prefix_*"`` patterns, or None for every collection. The answer's ``key`` is
        the secret, shown this once."""
        return _drive(self._create_key(name, role, collections), self._t)

    def list_keys(self) -> List[ApiKey]:
        """The API keys, without their secrets (admin)."""
        return _drive(self._list_keys(), self._t)

    def delete_key(self, name: str) -> bool:
        """Revokes an API key (admin); it stops working at once."""
        return _drive(self._delete_key(name), self._t)

    def insert(self, collection: str, id: Optional[str], vector: Vector,
               metadata: Optional[Dict[str, Any]] = None) -> str:
        """Inserts one record (AlreadyExistsError if the id exists); returns its id (a UUID is
        generated when ``id`` is None)."""
        return _drive(self._insert(collection, id, vector, metadata), self._t)

    def upsert(self, collection: str, id: str, vector: Vector,
               metadata: Optional[Dict[str, Any]] = None) -> str:
        """Inserts or replaces one record."""
        return _drive(self._upsert(collection, id, vector, metadata), self._t)

    def batch_insert(self, collection: str, vectors: Any, ids: Optional[Sequence[str]] = None,
                     metadata: Optional[Sequence[Optional[Dict[str, Any]]]] = None,
                     batch_size: int = 1000, upsert: bool = False,
                     show_progress: bool = False) -> List[str]:
        """Writes many records in batches of ``batch_size`` (each all-or-nothing; over gRPC
        streamed). ``vectors`` is a list of {"id", "vector", "metadata"} dicts, or a 2-D NumPy
        array / list of lists with optional ``ids`` and ``metadata``. Returns the ids."""
        return _drive(self._batch_insert(collection, vectors, ids, metadata, batch_size, upsert,
                                         show_progress), self._t)

    def get(self, collection: str, id: str, as_numpy: bool = False,
            consistency: Optional[str] = None) -> Record:
        """One record; VectorNotFoundError if absent. ``consistency`` (every read takes it):
        "strong" (the default) or "eventual" (cluster mode: this node's replicas as they are,
        without waiting for the logs)."""
        return _drive(self._get(collection, id, as_numpy, consistency), self._t)

    def get_many(self, collection: str, ids: Sequence[str],
                 as_numpy: bool = False, consistency: Optional[str] = None) -> List[Record]:
        """The records of the ids that exist, in the order asked."""
        return _drive(self._get_many(collection, ids, as_numpy, consistency), self._t)

    def update_metadata(self, collection: str, id: str, metadata: Dict[str, Any]) -> bool:
        """Merges ``metadata`` into the record's (RFC 7386: None removes a key)."""
        return _drive(self._update_metadata(collection, id, metadata), self._t)

    def delete(self, collection: str, id: str) -> bool:
        """Deletes one record; VectorNotFoundError if absent."""
        return _drive(self._delete(collection, id), self._t)

    def delete_many(self, collection: str, ids: Sequence[str]) -> int:
        """Deletes the ids that exist (one atomic batch); returns how many."""
        return _drive(self._delete_many(collection, ids), self._t)

    def delete_by_filter(self, collection: str, filter: Filter) -> int:
        """Deletes the records matching a (non-empty) filter; returns how many."""
        return _drive(self._delete_by_filter(collection, filter), self._t)

    def count(self, collection: str, filter: Optional[Filter] = None,
              consistency: Optional[str] = None) -> int:
        """Live records, optionally only those matching ``filter``."""
        return _drive(self._count(collection, filter, consistency), self._t)

    def search(self, collection: str, query_vector: Vector, k: int = 10,
               filter: Optional[Filter] = None, include_vectors: bool = False,
               include_metadata: bool = True, ef: Optional[int] = None, exact: bool = False,
               as_numpy: bool = False, rerank: Optional[int] = None,
               nprobe: Optional[int] = None,
               consistency: Optional[str] = None) -> List[SearchResult]:
        """The k nearest records matching ``filter``, best first. ``rerank``: in a quantized
        collection, how many candidates to re-score on the full vectors (default: the
        collection's); ``nprobe``: in a viper collection, how many partitions to probe at least."""
        return _drive(self._search(collection, query_vector, k, filter, include_vectors,
                                   include_metadata, ef, exact, as_numpy, rerank, nprobe,
                                   consistency), self._t)

    def search_batch(self, collection: str, query_vectors: Any, k: int = 10,
                     filter: Optional[Filter] = None, include_vectors: bool = False,
                     include_metadata: bool = True, ef: Optional[int] = None,
                     exact: bool = False, as_numpy: bool = False,
                     rerank: Optional[int] = None, nprobe: Optional[int] = None,
                     consistency: Optional[str] = None) -> List[List[SearchResult]]:
        """Many searches in one call; one result list per query vector."""
        return _drive(self._search_batch(collection, query_vectors, k, filter, include_vectors,
                                         include_metadata, ef, exact, as_numpy, rerank, nprobe,
                                         consistency), self._t)

    def scroll(self, collection: str, filter: Optional[Filter] = None, batch_size: int = 100,
               include_vectors: bool = False, as_numpy: bool = False,
               consistency: Optional[str] = None) -> Iterator[Record]:
        """Every live record (matching ``filter``) in id order, fetched a page at a time."""
        cursor: Optional[str] = None
        while True:
            records, cursor = _drive(self._scroll_page(collection, cursor, filter, batch_size,
                                                       include_vectors, as_numpy, consistency),
                                     self._t)
            yield from records
            if not cursor:
                return
