"""Typed results returned by the ProximaDB clients."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Union

import numpy as np

Vector = Union[List[float], "np.ndarray"]


@dataclass
class Collection:
    """A collection's definition and size."""

    name: str
    dimension: int
    distance_metric: str
    indexing_algorithm: str
    m: int
    ef_construction: int
    ef_search: int
    max_wal_age_hours: float
    max_wal_size_mb: float
    max_vector_count: int
    flush_priority: int
    storage_strategy: str
    created_at_us: int = 0
    vector_count: Optional[int] = None  # None in a cluster's list_collections()
    quantization: str = "none"
    pq_m: int = 0
    rerank: int = 0
    nprobe: int = 16
    metadata_compression: str = "none"
    id_index: str = "hashmap"
    # {"ultra_hot": bool, "warm_after_hours": float | None, "cold_after_hours": float | None}
    tiering: Dict[str, Any] = field(default_factory=dict)
    # Cluster mode: shards and copies of each shard (a single node: 1 and 1).
    shards: int = 1
    replication_factor: int = 1


@dataclass
class CollectionStats:
    """Counters of a collection (see docs/api.md of the server)."""

    name: str
    vector_count: int = 0
    memtable_rows: int = 0
    unindexed_rows: int = 0
    ivf_rows: int = 0
    segment_count: int = 0
    segment_rows: int = 0
    deleted_rows: int = 0
    memory_bytes: int = 0
    disk_bytes: int = 0
    wal_bytes: int = 0
    oldest_unflushed_age_seconds: float = 0.0
    flushes: int = 0
    compactions: int = 0
    flush_seconds: float = 0.0
    compaction_seconds: float = 0.0
    wal_syncs: int = 0
    background_error: str = ""
    migration_state: str = "none"
    migration_segments_done: int = 0
    migration_segments_total: int = 0
    # Per tier ("ultra_hot", "hot", "warm", "cold"): {"segments": n, "bytes": n}.
    tiers: Dict[str, Dict[str, int]] = field(default_factory=dict)
    cache_bytes: int = 0
    # Cluster mode: log entries this node's replicas have not applied yet.
    replication_lag: int = 0


@dataclass
class Backup:
    """A backup of a collection in the server's object store."""

    backup_id: str
    collection: str
    created_at: str  # RFC 3339, UTC
    created_at_us: int = 0
    bytes: int = 0           # the snapshot's segment bytes
    uploaded_bytes: int = 0  # of these, what this backup sent (the rest was stored already)
    segments: int = 0
    vector_count: int = 0
    dimension: int = 0


@dataclass
class MaintenanceEvent:
    """A flush, compaction or migration of a collection (``collection_history``)."""

    kind: str          # "flush", "compaction" or "migration"
    started_at: str    # RFC 3339, UTC
    started_at_us: int = 0
    seconds: float = 0.0
    segments_in: int = 0   # segments read (0 for a flush: it reads the memtable)
    segments_out: int = 0  # segments written (0 when no row was live)
    rows: int = 0          # rows written
    bytes: int = 0         # file bytes written
    error: str = ""        # empty on success


@dataclass
class ApiKey:
    """An API key (its secret, ``key``, only in the answer of create_key)."""

    name: str
    role: str                               # "read", "write" or "admin"
    collections: Optional[List[str]] = None  # names and "prefix_*"; None: every collection
    created_at_ms: int = 0
    key: Optional[str] = None


@dataclass
class Record:
    """A stored record: id, vector (empty when not asked for) and metadata."""

    id: str
    vector: Optional[Vector] = None
    metadata: Dict[str, Any] = field(default_factory=dict)


@dataclass
class SearchResult:
    """One hit of a search, best first.

    ``score`` is the cosine similarity (cosine), the inner product (dot), both higher-is-better,
    or the Euclidean distance (l2, lower is better).
    """

    id: str
    score: float
    metadata: Optional[Dict[str, Any]] = None
    vector: Optional[Vector] = None


def _fields(cls: type, data: Dict[str, Any]) -> Dict[str, Any]:
    names = cls.__dataclass_fields__  # type: ignore[attr-defined]
    return {k: v for k, v in data.items() if k in names}


def collection_from(data: Dict[str, Any]) -> Collection:
    return Collection(**_fields(Collection, data))


def stats_from(data: Dict[str, Any]) -> CollectionStats:
    return CollectionStats(**_fields(CollectionStats, data))


def backup_from(data: Dict[str, Any]) -> Backup:
    return Backup(**_fields(Backup, data))


def event_from(data: Dict[str, Any]) -> MaintenanceEvent:
    return MaintenanceEvent(**_fields(MaintenanceEvent, data))


def key_from(data: Dict[str, Any]) -> ApiKey:
    return ApiKey(**_fields(ApiKey, data))
