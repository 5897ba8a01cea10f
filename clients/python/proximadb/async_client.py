"""AsyncProximaDBClient: ProximaDBClient's operations (client.py) driven with awaits."""

from __future__ import annotations

from typing import Any, AsyncIterator, Dict, List, Optional, Sequence

from ._tls import Tls
from .client import Filter, OpGen, _Operations, _transport
from .types import (ApiKey, Backup, Collection, CollectionStats, MaintenanceEvent, Record,
                    SearchResult, Vector)


async def _adrive(gen: OpGen, transport: Any) -> Any:
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
                result = await transport.stream_write(params["collection"], params["batches"],
                                                      params["upsert"])
            else:
                result = await transport.call(op, params)
        except Exception as e:  # noqa: BLE001
            error = e


class AsyncProximaDBClient(_Operations):
    """The asyncio client: the same methods as ProximaDBClient, as coroutines (scroll is an
    async iterator). ``async with AsyncProximaDBClient(...) as client:``."""

    def __init__(self, url: Optional[str] = None, api_key: Optional[str] = None,
                 protocol: str = "auto", grpc_port: int = 5678, timeout: float = 30,
                 retries: int = 3, ca_file: Optional[str] = None,
                 cert_file: Optional[str] = None, key_file: Optional[str] = None) -> None:
        self.protocol, self._t = _transport(url, api_key, protocol, grpc_port, timeout, retries,
                                            Tls(ca_file, cert_file, key_file), True)
        self._streams = self.protocol == "grpc"

    async def __aenter__(self) -> "AsyncProximaDBClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the connections."""
        await self._t.close()

    async def health(self) -> bool:
        """True once the server serves requests; UnavailableError otherwise."""
        return await _adrive(self._health(), self._t)

    async def cluster(self) -> Dict[str, Any]:
        """Cluster mode's view from the node asked (see the sync client's)."""
        return await _adrive(self._cluster(), self._t)

    async def create_collection(self, name: str, dimension: int, distance_metric: str = "cosine",
                                indexing_algorithm: str = "hnsw", **settings: Any) -> Collection:
        return await _adrive(self._create_collection(name, dimension, distance_metric,
                                                     indexing_algorithm, **settings), self._t)

    async def list_collections(self) -> List[Collection]:
        return await _adrive(self._list_collections(), self._t)

    async def get_collection(self, name: str) -> Collection:
        return await _adrive(self._get_collection(name), self._t)

    async def update_collection(self, name: str, **settings: Any) -> Collection:
        return await _adrive(self._update_collection(name, **settings), self._t)

    async def delete_collection(self, name: str) -> bool:
        return await _adrive(self._delete_collection(name), self._t)

    async def collection_stats(self, name: str) -> CollectionStats:
        return await _adrive(self._stats("collection_stats", name), self._t)

    async def collection_history(self, name: str) -> List[MaintenanceEvent]:
        return await _adrive(self._history(name), self._t)

    async def flush(self, name: str) -> CollectionStats:
        return await _adrive(self._stats("flush", name), self._t)

    async def compact(self, name: str) -> CollectionStats:
        return await _adrive(self._stats("compact", name), self._t)

    async def apply_tiering(self, name: str) -> CollectionStats:
        return await _adrive(self._stats("apply_tiering", name), self._t)

    async def create_backup(self, name: str) -> Backup:
        return await _adrive(self._create_backup(name), self._t)

    async def list_backups(self, collection: Optional[str] = None) -> List[Backup]:
        return await _adrive(self._list_backups(collection), self._t)

    async def delete_backup(self, backup_id: str) -> bool:
        return await _adrive(self._delete_backup(backup_id), self._t)

    async def restore_backup(self, backup_id: str, target_collection: str) -> Collection:
        return await _adrive(self._restore_backup(backup_id, target_collection), self._t)

    async def restore_point_in_time(self, source_collection: str, point_in_time: Any,
                                    target_collection: str) -> Collection:
        return await _adrive(self._restore_time(source_collection, point_in_time,
                                                target_collection), self._t)

    async def create_key(self, name: str, role: str,
                         collections: Optional[Sequence[str]] = None) -> ApiKey:
        return await _adrive(self._create_key(name, role, collections), self._t)

    async def list_keys(self) -> List[ApiKey]:
        return await _adrive(self._list_keys(), self._t)

    async def delete_key(self, name: str) -> bool:
        return await _adrive(self._delete_key(name), self._t)

    async def insert(self, collection: str, id: Optional[str], vector: Vector,
                     metadata: Optional[Dict[str, Any]] = None) -> str:
        return await _adrive(self._insert(collection, id, vector, metadata), self._t)

    async def upsert(self, collection: str, id: str, vector: Vector,
                     metadata: Optional[Dict[str, Any]] = None) -> str:
        return await _adrive(self._upsert(collection, id, vector, metadata), self._t)

    async def batch_insert(self, collection: str, vectors: Any,
                           ids: Optional[Sequence[str]] = None,
                           metadata: Optional[Sequence[Optional[Dict[str, Any]]]] = None,
                           batch_size: int = 1000, upsert: bool = False,
                           show_progress: bool = False) -> List[str]:
        return await _adrive(self._batch_insert(collection, vectors, ids, metadata, batch_size,
                                                upsert, show_progress), self._t)

    async def get(self, collection: str, id: str, as_numpy: bool = False,
                  consistency: Optional[str] = None) -> Record:
        return await _adrive(self._get(collection, id, as_numpy, consistency), self._t)

    async def get_many(self, collection: str, ids: Sequence[str],
                       as_numpy: bool = False, consistency: Optional[str] = None) -> List[Record]:
        return await _adrive(self._get_many(collection, ids, as_numpy, consistency), self._t)

    async def update_metadata(self, collection: str, id: str, metadata: Dict[str, Any]) -> bool:
        return await _adrive(self._update_metadata(collection, id, metadata), self._t)

    async def delete(self, collection: str, id: str) -> bool:
        return await _adrive(self._delete(collection, id), self._t)

    async def delete_many(self, collection: str, ids: Sequence[str]) -> int:
        return await _adrive(self._delete_many(collection, ids), self._t)

    async def delete_by_filter(self, collection: str, filter: Filter) -> int:
        return await _adrive(self._delete_by_filter(collection, filter), self._t)

    async def count(self, collection: str, filter: Optional[Filter] = None,
                    consistency: Optional[str] = None) -> int:
        return await _adrive(self._count(collection, filter, consistency), self._t)

    async def search(self, collection: str, query_vector: Vector, k: int = 10,
                     filter: Optional[Filter] = None, include_vectors: bool = False,
                     include_metadata: bool = True, ef: Optional[int] = None,
                     exact: bool = False, as_numpy: bool = False,
                     rerank: Optional[int] = None, nprobe: Optional[int] = None,
                     consistency: Optional[str] = None) -> List[SearchResult]:
        return await _adrive(self._search(collection, query_vector, k, filter, include_vectors,
                                          include_metadata, ef, exact, as_numpy, rerank, nprobe,
                                          consistency), self._t)

    async def search_batch(self, collection: str, query_vectors: Any, k: int = 10,
                           filter: Optional[Filter] = None, include_vectors: bool = False,
                           include_metadata: bool = True, ef: Optional[int] = None,
                           exact: bool = False,
                           as_numpy: bool = False,
                           rerank: Optional[int] = None, nprobe: Optional[int] = None,
                           consistency: Optional[str] = None) -> List[List[SearchResult]]:
        return await _adrive(self._search_batch(collection, query_vectors, k, filter,
                                                include_vectors, include_metadata, ef, exact,
                                                as_numpy, rerank, nprobe, consistency), self._t)

    async def scroll(self, collection: str, filter: Optional[Filter] = None,
                     batch_size: int = 100, include_vectors: bool = False,
                     as_numpy: bool = False,
                     consistency: Optional[str] = None) -> AsyncIterator[Record]:
        cursor: Optional[str] = None
        while True:
            records, cursor = await _adrive(self._scroll_page(collection, cursor, filter,
                                                              batch_size, include_vectors,
                                                              as_numpy, consistency), self._t)
            for r in records:
                yield r
            if not cursor:
                return
