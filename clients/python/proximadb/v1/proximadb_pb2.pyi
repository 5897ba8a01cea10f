from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CollectionRef(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class CreateCollectionRequest(_message.Message):
    __slots__ = ("name", "dimension", "distance_metric", "indexing_algorithm", "m", "ef_construction", "ef_search", "max_wal_age_hours", "max_wal_size_mb", "max_vector_count", "flush_priority", "storage_strategy", "quantization", "pq_m", "rerank", "nprobe", "metadata_compression", "id_index", "tiering", "shards", "replication_factor")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_METRIC_FIELD_NUMBER: _ClassVar[int]
    INDEXING_ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    M_FIELD_NUMBER: _ClassVar[int]
    EF_CONSTRUCTION_FIELD_NUMBER: _ClassVar[int]
    EF_SEARCH_FIELD_NUMBER: _ClassVar[int]
    MAX_WAL_AGE_HOURS_FIELD_NUMBER: _ClassVar[int]
    MAX_WAL_SIZE_MB_FIELD_NUMBER: _ClassVar[int]
    MAX_VECTOR_COUNT_FIELD_NUMBER: _ClassVar[int]
    FLUSH_PRIORITY_FIELD_NUMBER: _ClassVar[int]
    STORAGE_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    QUANTIZATION_FIELD_NUMBER: _ClassVar[int]
    PQ_M_FIELD_NUMBER: _ClassVar[int]
    RERANK_FIELD_NUMBER: _ClassVar[int]
    NPROBE_FIELD_NUMBER: _ClassVar[int]
    METADATA_COMPRESSION_FIELD_NUMBER: _ClassVar[int]
    ID_INDEX_FIELD_NUMBER: _ClassVar[int]
    TIERING_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    REPLICATION_FACTOR_FIELD_NUMBER: _ClassVar[int]
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
    quantization: str
    pq_m: int
    rerank: int
    nprobe: int
    metadata_compression: str
    id_index: str
    tiering: Tiering
    shards: int
    replication_factor: int
    def __init__(self, name: _Optional[str] = ..., dimension: _Optional[int] = ..., distance_metric: _Optional[str] = ..., indexing_algorithm: _Optional[str] = ..., m: _Optional[int] = ..., ef_construction: _Optional[int] = ..., ef_search: _Optional[int] = ..., max_wal_age_hours: _Optional[float] = ..., max_wal_size_mb: _Optional[float] = ..., max_vector_count: _Optional[int] = ..., flush_priority: _Optional[int] = ..., storage_strategy: _Optional[str] = ..., quantization: _Optional[str] = ..., pq_m: _Optional[int] = ..., rerank: _Optional[int] = ..., nprobe: _Optional[int] = ..., metadata_compression: _Optional[str] = ..., id_index: _Optional[str] = ..., tiering: _Optional[_Union[Tiering, _Mapping]] = ..., shards: _Optional[int] = ..., replication_factor: _Optional[int] = ...) -> None: ...

class Collection(_message.Message):
    __slots__ = ("name", "dimension", "distance_metric", "indexing_algorithm", "m", "ef_construction", "ef_search", "max_wal_age_hours", "max_wal_size_mb", "max_vector_count", "flush_priority", "storage_strategy", "created_at_us", "vector_count", "quantization", "pq_m", "rerank", "nprobe", "metadata_compression", "id_index", "tiering", "shards", "replication_factor")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_METRIC_FIELD_NUMBER: _ClassVar[int]
    INDEXING_ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    M_FIELD_NUMBER: _ClassVar[int]
    EF_CONSTRUCTION_FIELD_NUMBER: _ClassVar[int]
    EF_SEARCH_FIELD_NUMBER: _ClassVar[int]
    MAX_WAL_AGE_HOURS_FIELD_NUMBER: _ClassVar[int]
    MAX_WAL_SIZE_MB_FIELD_NUMBER: _ClassVar[int]
    MAX_VECTOR_COUNT_FIELD_NUMBER: _ClassVar[int]
    FLUSH_PRIORITY_FIELD_NUMBER: _ClassVar[int]
    STORAGE_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_US_FIELD_NUMBER: _ClassVar[int]
    VECTOR_COUNT_FIELD_NUMBER: _ClassVar[int]
    QUANTIZATION_FIELD_NUMBER: _ClassVar[int]
    PQ_M_FIELD_NUMBER: _ClassVar[int]
    RERANK_FIELD_NUMBER: _ClassVar[int]
    NPROBE_FIELD_NUMBER: _ClassVar[int]
    METADATA_COMPRESSION_FIELD_NUMBER: _ClassVar[int]
    ID_INDEX_FIELD_NUMBER: _ClassVar[int]
    TIERING_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    REPLICATION_FACTOR_FIELD_NUMBER: _ClassVar[int]
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
    created_at_us: int
    vector_count: int
    quantization: str
    pq_m: int
    rerank: int
    nprobe: int
    metadata_compression: str
    id_index: str
    tiering: Tiering
    shards: int
    replication_factor: int
    def __init__(self, name: _Optional[str] = ..., dimension: _Optional[int] = ..., distance_metric: _Optional[str] = ..., indexing_algorithm: _Optional[str] = ..., m: _Optional[int] = ..., ef_construction: _Optional[int] = ..., ef_search: _Optional[int] = ..., max_wal_age_hours: _Optional[float] = ..., max_wal_size_mb: _Optional[float] = ..., max_vector_count: _Optional[int] = ..., flush_priority: _Optional[int] = ..., storage_strategy: _Optional[str] = ..., created_at_us: _Optional[int] = ..., vector_count: _Optional[int] = ..., quantization: _Optional[str] = ..., pq_m: _Optional[int] = ..., rerank: _Optional[int] = ..., nprobe: _Optional[int] = ..., metadata_compression: _Optional[str] = ..., id_index: _Optional[str] = ..., tiering: _Optional[_Union[Tiering, _Mapping]] = ..., shards: _Optional[int] = ..., replication_factor: _Optional[int] = ...) -> None: ...

class Backup(_message.Message):
    __slots__ = ("backup_id", "collection", "created_at", "created_at_us", "bytes", "uploaded_bytes", "segments", "vector_count", "dimension")
    BACKUP_ID_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_US_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    UPLOADED_BYTES_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    VECTOR_COUNT_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    backup_id: str
    collection: str
    created_at: str
    created_at_us: int
    bytes: int
    uploaded_bytes: int
    segments: int
    vector_count: int
    dimension: int
    def __init__(self, backup_id: _Optional[str] = ..., collection: _Optional[str] = ..., created_at: _Optional[str] = ..., created_at_us: _Optional[int] = ..., bytes: _Optional[int] = ..., uploaded_bytes: _Optional[int] = ..., segments: _Optional[int] = ..., vector_count: _Optional[int] = ..., dimension: _Optional[int] = ...) -> None: ...

class ListBackupsRequest(_message.Message):
    __slots__ = ("collection",)
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: str
    def __init__(self, collection: _Optional[str] = ...) -> None: ...

class ListBackupsResponse(_message.Message):
    __slots__ = ("backups",)
    BACKUPS_FIELD_NUMBER: _ClassVar[int]
    backups: _containers.RepeatedCompositeFieldContainer[Backup]
    def __init__(self, backups: _Optional[_Iterable[_Union[Backup, _Mapping]]] = ...) -> None: ...

class BackupRef(_message.Message):
    __slots__ = ("backup_id",)
    BACKUP_ID_FIELD_NUMBER: _ClassVar[int]
    backup_id: str
    def __init__(self, backup_id: _Optional[str] = ...) -> None: ...

class DeleteBackupResponse(_message.Message):
    __slots__ = ("backup_id", "deleted")
    BACKUP_ID_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    backup_id: str
    deleted: bool
    def __init__(self, backup_id: _Optional[str] = ..., deleted: _Optional[bool] = ...) -> None: ...

class RestoreRequest(_message.Message):
    __slots__ = ("backup_id", "target_collection", "source_collection", "point_in_time")
    BACKUP_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_COLLECTION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_COLLECTION_FIELD_NUMBER: _ClassVar[int]
    POINT_IN_TIME_FIELD_NUMBER: _ClassVar[int]
    backup_id: str
    target_collection: str
    source_collection: str
    point_in_time: str
    def __init__(self, backup_id: _Optional[str] = ..., target_collection: _Optional[str] = ..., source_collection: _Optional[str] = ..., point_in_time: _Optional[str] = ...) -> None: ...

class ListCollectionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetClusterRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ClusterNode(_message.Message):
    __slots__ = ("id", "rest", "grpc", "started_unix_ms", "generation")
    ID_FIELD_NUMBER: _ClassVar[int]
    REST_FIELD_NUMBER: _ClassVar[int]
    GRPC_FIELD_NUMBER: _ClassVar[int]
    STARTED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    id: str
    rest: str
    grpc: str
    started_unix_ms: int
    generation: int
    def __init__(self, id: _Optional[str] = ..., rest: _Optional[str] = ..., grpc: _Optional[str] = ..., started_unix_ms: _Optional[int] = ..., generation: _Optional[int] = ...) -> None: ...

class LogFollower(_message.Message):
    __slots__ = ("name", "current", "lag")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    LAG_FIELD_NUMBER: _ClassVar[int]
    name: str
    current: bool
    lag: int
    def __init__(self, name: _Optional[str] = ..., current: _Optional[bool] = ..., lag: _Optional[int] = ...) -> None: ...

class ShardLog(_message.Message):
    __slots__ = ("stream", "leader", "first_position", "last_position", "entries", "bytes", "followers")
    STREAM_FIELD_NUMBER: _ClassVar[int]
    LEADER_FIELD_NUMBER: _ClassVar[int]
    FIRST_POSITION_FIELD_NUMBER: _ClassVar[int]
    LAST_POSITION_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    FOLLOWERS_FIELD_NUMBER: _ClassVar[int]
    stream: str
    leader: str
    first_position: int
    last_position: int
    entries: int
    bytes: int
    followers: _containers.RepeatedCompositeFieldContainer[LogFollower]
    def __init__(self, stream: _Optional[str] = ..., leader: _Optional[str] = ..., first_position: _Optional[int] = ..., last_position: _Optional[int] = ..., entries: _Optional[int] = ..., bytes: _Optional[int] = ..., followers: _Optional[_Iterable[_Union[LogFollower, _Mapping]]] = ...) -> None: ...

class ClusterShard(_message.Message):
    __slots__ = ("shard", "log", "applied_position", "lag", "apply_error", "opened", "nodes", "copying")
    SHARD_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    APPLIED_POSITION_FIELD_NUMBER: _ClassVar[int]
    LAG_FIELD_NUMBER: _ClassVar[int]
    APPLY_ERROR_FIELD_NUMBER: _ClassVar[int]
    OPENED_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    COPYING_FIELD_NUMBER: _ClassVar[int]
    shard: int
    log: ShardLog
    applied_position: int
    lag: int
    apply_error: str
    opened: bool
    nodes: _containers.RepeatedScalarFieldContainer[str]
    copying: bool
    def __init__(self, shard: _Optional[int] = ..., log: _Optional[_Union[ShardLog, _Mapping]] = ..., applied_position: _Optional[int] = ..., lag: _Optional[int] = ..., apply_error: _Optional[str] = ..., opened: _Optional[bool] = ..., nodes: _Optional[_Iterable[str]] = ..., copying: _Optional[bool] = ...) -> None: ...

class ClusterCollection(_message.Message):
    __slots__ = ("name", "replication_factor", "shards")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REPLICATION_FACTOR_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    replication_factor: int
    shards: _containers.RepeatedCompositeFieldContainer[ClusterShard]
    def __init__(self, name: _Optional[str] = ..., replication_factor: _Optional[int] = ..., shards: _Optional[_Iterable[_Union[ClusterShard, _Mapping]]] = ...) -> None: ...

class ClusterInfo(_message.Message):
    __slots__ = ("enabled", "cluster", "node_id", "nodes", "collections")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    cluster: str
    node_id: str
    nodes: _containers.RepeatedCompositeFieldContainer[ClusterNode]
    collections: _containers.RepeatedCompositeFieldContainer[ClusterCollection]
    def __init__(self, enabled: _Optional[bool] = ..., cluster: _Optional[str] = ..., node_id: _Optional[str] = ..., nodes: _Optional[_Iterable[_Union[ClusterNode, _Mapping]]] = ..., collections: _Optional[_Iterable[_Union[ClusterCollection, _Mapping]]] = ...) -> None: ...

class KeyScope(_message.Message):
    __slots__ = ("collections",)
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    collections: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, collections: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateKeyRequest(_message.Message):
    __slots__ = ("name", "role", "scope")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    role: str
    scope: KeyScope
    def __init__(self, name: _Optional[str] = ..., role: _Optional[str] = ..., scope: _Optional[_Union[KeyScope, _Mapping]] = ...) -> None: ...

class ApiKey(_message.Message):
    __slots__ = ("name", "role", "scope", "created_at_ms", "key")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    name: str
    role: str
    scope: KeyScope
    created_at_ms: int
    key: str
    def __init__(self, name: _Optional[str] = ..., role: _Optional[str] = ..., scope: _Optional[_Union[KeyScope, _Mapping]] = ..., created_at_ms: _Optional[int] = ..., key: _Optional[str] = ...) -> None: ...

class ListKeysRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListKeysResponse(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[ApiKey]
    def __init__(self, keys: _Optional[_Iterable[_Union[ApiKey, _Mapping]]] = ...) -> None: ...

class KeyRef(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteKeyResponse(_message.Message):
    __slots__ = ("name", "deleted")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    name: str
    deleted: bool
    def __init__(self, name: _Optional[str] = ..., deleted: _Optional[bool] = ...) -> None: ...

class ListCollectionsResponse(_message.Message):
    __slots__ = ("collections",)
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    collections: _containers.RepeatedCompositeFieldContainer[Collection]
    def __init__(self, collections: _Optional[_Iterable[_Union[Collection, _Mapping]]] = ...) -> None: ...

class UpdateCollectionRequest(_message.Message):
    __slots__ = ("name", "ef_search", "max_wal_age_hours", "max_wal_size_mb", "max_vector_count", "flush_priority", "rerank", "storage_strategy", "quantization", "pq_m", "nprobe", "indexing_algorithm", "metadata_compression", "tiering")
    NAME_FIELD_NUMBER: _ClassVar[int]
    EF_SEARCH_FIELD_NUMBER: _ClassVar[int]
    MAX_WAL_AGE_HOURS_FIELD_NUMBER: _ClassVar[int]
    MAX_WAL_SIZE_MB_FIELD_NUMBER: _ClassVar[int]
    MAX_VECTOR_COUNT_FIELD_NUMBER: _ClassVar[int]
    FLUSH_PRIORITY_FIELD_NUMBER: _ClassVar[int]
    RERANK_FIELD_NUMBER: _ClassVar[int]
    STORAGE_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    QUANTIZATION_FIELD_NUMBER: _ClassVar[int]
    PQ_M_FIELD_NUMBER: _ClassVar[int]
    NPROBE_FIELD_NUMBER: _ClassVar[int]
    INDEXING_ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    METADATA_COMPRESSION_FIELD_NUMBER: _ClassVar[int]
    TIERING_FIELD_NUMBER: _ClassVar[int]
    name: str
    ef_search: int
    max_wal_age_hours: float
    max_wal_size_mb: float
    max_vector_count: int
    flush_priority: int
    rerank: int
    storage_strategy: str
    quantization: str
    pq_m: int
    nprobe: int
    indexing_algorithm: str
    metadata_compression: str
    tiering: Tiering
    def __init__(self, name: _Optional[str] = ..., ef_search: _Optional[int] = ..., max_wal_age_hours: _Optional[float] = ..., max_wal_size_mb: _Optional[float] = ..., max_vector_count: _Optional[int] = ..., flush_priority: _Optional[int] = ..., rerank: _Optional[int] = ..., storage_strategy: _Optional[str] = ..., quantization: _Optional[str] = ..., pq_m: _Optional[int] = ..., nprobe: _Optional[int] = ..., indexing_algorithm: _Optional[str] = ..., metadata_compression: _Optional[str] = ..., tiering: _Optional[_Union[Tiering, _Mapping]] = ...) -> None: ...

class DeleteCollectionResponse(_message.Message):
    __slots__ = ("name", "dropped")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    name: str
    dropped: bool
    def __init__(self, name: _Optional[str] = ..., dropped: _Optional[bool] = ...) -> None: ...

class CollectionStats(_message.Message):
    __slots__ = ("name", "vector_count", "memtable_rows", "unindexed_rows", "segment_count", "segment_rows", "deleted_rows", "memory_bytes", "disk_bytes", "wal_bytes", "oldest_unflushed_age_seconds", "flushes", "compactions", "background_error", "flush_seconds", "compaction_seconds", "wal_syncs", "migration_state", "migration_segments_done", "migration_segments_total", "tier_ultra_hot_segments", "tier_ultra_hot_bytes", "tier_hot_segments", "tier_hot_bytes", "tier_warm_segments", "tier_warm_bytes", "tier_cold_segments", "tier_cold_bytes", "cache_bytes", "replication_lag", "ivf_rows")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VECTOR_COUNT_FIELD_NUMBER: _ClassVar[int]
    MEMTABLE_ROWS_FIELD_NUMBER: _ClassVar[int]
    UNINDEXED_ROWS_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_ROWS_FIELD_NUMBER: _ClassVar[int]
    DELETED_ROWS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    DISK_BYTES_FIELD_NUMBER: _ClassVar[int]
    WAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    OLDEST_UNFLUSHED_AGE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    FLUSHES_FIELD_NUMBER: _ClassVar[int]
    COMPACTIONS_FIELD_NUMBER: _ClassVar[int]
    BACKGROUND_ERROR_FIELD_NUMBER: _ClassVar[int]
    FLUSH_SECONDS_FIELD_NUMBER: _ClassVar[int]
    COMPACTION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    WAL_SYNCS_FIELD_NUMBER: _ClassVar[int]
    MIGRATION_STATE_FIELD_NUMBER: _ClassVar[int]
    MIGRATION_SEGMENTS_DONE_FIELD_NUMBER: _ClassVar[int]
    MIGRATION_SEGMENTS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    TIER_ULTRA_HOT_SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    TIER_ULTRA_HOT_BYTES_FIELD_NUMBER: _ClassVar[int]
    TIER_HOT_SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    TIER_HOT_BYTES_FIELD_NUMBER: _ClassVar[int]
    TIER_WARM_SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    TIER_WARM_BYTES_FIELD_NUMBER: _ClassVar[int]
    TIER_COLD_SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    TIER_COLD_BYTES_FIELD_NUMBER: _ClassVar[int]
    CACHE_BYTES_FIELD_NUMBER: _ClassVar[int]
    REPLICATION_LAG_FIELD_NUMBER: _ClassVar[int]
    IVF_ROWS_FIELD_NUMBER: _ClassVar[int]
    name: str
    vector_count: int
    memtable_rows: int
    unindexed_rows: int
    segment_count: int
    segment_rows: int
    deleted_rows: int
    memory_bytes: int
    disk_bytes: int
    wal_bytes: int
    oldest_unflushed_age_seconds: float
    flushes: int
    compactions: int
    background_error: str
    flush_seconds: float
    compaction_seconds: float
    wal_syncs: int
    migration_state: str
    migration_segments_done: int
    migration_segments_total: int
    tier_ultra_hot_segments: int
    tier_ultra_hot_bytes: int
    tier_hot_segments: int
    tier_hot_bytes: int
    tier_warm_segments: int
    tier_warm_bytes: int
    tier_cold_segments: int
    tier_cold_bytes: int
    cache_bytes: int
    replication_lag: int
    ivf_rows: int
    def __init__(self, name: _Optional[str] = ..., vector_count: _Optional[int] = ..., memtable_rows: _Optional[int] = ..., unindexed_rows: _Optional[int] = ..., segment_count: _Optional[int] = ..., segment_rows: _Optional[int] = ..., deleted_rows: _Optional[int] = ..., memory_bytes: _Optional[int] = ..., disk_bytes: _Optional[int] = ..., wal_bytes: _Optional[int] = ..., oldest_unflushed_age_seconds: _Optional[float] = ..., flushes: _Optional[int] = ..., compactions: _Optional[int] = ..., background_error: _Optional[str] = ..., flush_seconds: _Optional[float] = ..., compaction_seconds: _Optional[float] = ..., wal_syncs: _Optional[int] = ..., migration_state: _Optional[str] = ..., migration_segments_done: _Optional[int] = ..., migration_segments_total: _Optional[int] = ..., tier_ultra_hot_segments: _Optional[int] = ..., tier_ultra_hot_bytes: _Optional[int] = ..., tier_hot_segments: _Optional[int] = ..., tier_hot_bytes: _Optional[int] = ..., tier_warm_segments: _Optional[int] = ..., tier_warm_bytes: _Optional[int] = ..., tier_cold_segments: _Optional[int] = ..., tier_cold_bytes: _Optional[int] = ..., cache_bytes: _Optional[int] = ..., replication_lag: _Optional[int] = ..., ivf_rows: _Optional[int] = ...) -> None: ...

class MaintenanceEvent(_message.Message):
    __slots__ = ("kind", "started_at", "started_at_us", "seconds", "segments_in", "segments_out", "rows", "bytes", "error")
    KIND_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_US_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_IN_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_OUT_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    kind: str
    started_at: str
    started_at_us: int
    seconds: float
    segments_in: int
    segments_out: int
    rows: int
    bytes: int
    error: str
    def __init__(self, kind: _Optional[str] = ..., started_at: _Optional[str] = ..., started_at_us: _Optional[int] = ..., seconds: _Optional[float] = ..., segments_in: _Optional[int] = ..., segments_out: _Optional[int] = ..., rows: _Optional[int] = ..., bytes: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...

class CollectionHistory(_message.Message):
    __slots__ = ("name", "events")
    NAME_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    events: _containers.RepeatedCompositeFieldContainer[MaintenanceEvent]
    def __init__(self, name: _Optional[str] = ..., events: _Optional[_Iterable[_Union[MaintenanceEvent, _Mapping]]] = ...) -> None: ...

class Tiering(_message.Message):
    __slots__ = ("ultra_hot", "warm_after_hours", "cold_after_hours")
    ULTRA_HOT_FIELD_NUMBER: _ClassVar[int]
    WARM_AFTER_HOURS_FIELD_NUMBER: _ClassVar[int]
    COLD_AFTER_HOURS_FIELD_NUMBER: _ClassVar[int]
    ultra_hot: bool
    warm_after_hours: float
    cold_after_hours: float
    def __init__(self, ultra_hot: _Optional[bool] = ..., warm_after_hours: _Optional[float] = ..., cold_after_hours: _Optional[float] = ...) -> None: ...

class VectorInput(_message.Message):
    __slots__ = ("id", "vector", "metadata", "vector_f32")
    ID_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    VECTOR_F32_FIELD_NUMBER: _ClassVar[int]
    id: str
    vector: _containers.RepeatedScalarFieldContainer[float]
    metadata: _struct_pb2.Struct
    vector_f32: bytes
    def __init__(self, id: _Optional[str] = ..., vector: _Optional[_Iterable[float]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., vector_f32: _Optional[bytes] = ...) -> None: ...

class InsertRequest(_message.Message):
    __slots__ = ("collection", "record")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    collection: str
    record: VectorInput
    def __init__(self, collection: _Optional[str] = ..., record: _Optional[_Union[VectorInput, _Mapping]] = ...) -> None: ...

class WriteResponse(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class BatchWriteRequest(_message.Message):
    __slots__ = ("collection", "vectors", "upsert", "columns")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    UPSERT_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    collection: str
    vectors: _containers.RepeatedCompositeFieldContainer[VectorInput]
    upsert: bool
    columns: BatchColumns
    def __init__(self, collection: _Optional[str] = ..., vectors: _Optional[_Iterable[_Union[VectorInput, _Mapping]]] = ..., upsert: _Optional[bool] = ..., columns: _Optional[_Union[BatchColumns, _Mapping]] = ...) -> None: ...

class BatchColumns(_message.Message):
    __slots__ = ("ids", "vectors_f32", "metadata")
    IDS_FIELD_NUMBER: _ClassVar[int]
    VECTORS_F32_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    vectors_f32: bytes
    metadata: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    def __init__(self, ids: _Optional[_Iterable[str]] = ..., vectors_f32: _Optional[bytes] = ..., metadata: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ...) -> None: ...

class BatchWriteResponse(_message.Message):
    __slots__ = ("ids", "count")
    IDS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    count: int
    def __init__(self, ids: _Optional[_Iterable[str]] = ..., count: _Optional[int] = ...) -> None: ...

class StreamUpsertResponse(_message.Message):
    __slots__ = ("batches", "count")
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    batches: int
    count: int
    def __init__(self, batches: _Optional[int] = ..., count: _Optional[int] = ...) -> None: ...

class VectorRef(_message.Message):
    __slots__ = ("collection", "id", "consistency")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    collection: str
    id: str
    consistency: str
    def __init__(self, collection: _Optional[str] = ..., id: _Optional[str] = ..., consistency: _Optional[str] = ...) -> None: ...

class VectorRecord(_message.Message):
    __slots__ = ("id", "vector", "metadata")
    ID_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    vector: _containers.RepeatedScalarFieldContainer[float]
    metadata: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., vector: _Optional[_Iterable[float]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class UpsertVectorRequest(_message.Message):
    __slots__ = ("collection", "id", "vector", "metadata")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    collection: str
    id: str
    vector: _containers.RepeatedScalarFieldContainer[float]
    metadata: _struct_pb2.Struct
    def __init__(self, collection: _Optional[str] = ..., id: _Optional[str] = ..., vector: _Optional[_Iterable[float]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class PatchMetadataRequest(_message.Message):
    __slots__ = ("collection", "id", "metadata")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    collection: str
    id: str
    metadata: _struct_pb2.Struct
    def __init__(self, collection: _Optional[str] = ..., id: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class DeleteVectorsRequest(_message.Message):
    __slots__ = ("collection", "ids", "filter")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    collection: str
    ids: _containers.RepeatedScalarFieldContainer[str]
    filter: _struct_pb2.Struct
    def __init__(self, collection: _Optional[str] = ..., ids: _Optional[_Iterable[str]] = ..., filter: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class DeleteVectorsResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: int
    def __init__(self, deleted: _Optional[int] = ...) -> None: ...

class SearchRequest(_message.Message):
    __slots__ = ("collection", "vector", "k", "filter", "include_vectors", "include_metadata", "ef", "exact", "rerank", "nprobe", "vector_f32", "consistency")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_VECTORS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_METADATA_FIELD_NUMBER: _ClassVar[int]
    EF_FIELD_NUMBER: _ClassVar[int]
    EXACT_FIELD_NUMBER: _ClassVar[int]
    RERANK_FIELD_NUMBER: _ClassVar[int]
    NPROBE_FIELD_NUMBER: _ClassVar[int]
    VECTOR_F32_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    collection: str
    vector: _containers.RepeatedScalarFieldContainer[float]
    k: int
    filter: _struct_pb2.Struct
    include_vectors: bool
    include_metadata: bool
    ef: int
    exact: bool
    rerank: int
    nprobe: int
    vector_f32: bytes
    consistency: str
    def __init__(self, collection: _Optional[str] = ..., vector: _Optional[_Iterable[float]] = ..., k: _Optional[int] = ..., filter: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., include_vectors: _Optional[bool] = ..., include_metadata: _Optional[bool] = ..., ef: _Optional[int] = ..., exact: _Optional[bool] = ..., rerank: _Optional[int] = ..., nprobe: _Optional[int] = ..., vector_f32: _Optional[bytes] = ..., consistency: _Optional[str] = ...) -> None: ...

class SearchHit(_message.Message):
    __slots__ = ("id", "score", "metadata", "vector")
    ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    id: str
    score: float
    metadata: _struct_pb2.Struct
    vector: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, id: _Optional[str] = ..., score: _Optional[float] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., vector: _Optional[_Iterable[float]] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("results", "plan")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SearchHit]
    plan: str
    def __init__(self, results: _Optional[_Iterable[_Union[SearchHit, _Mapping]]] = ..., plan: _Optional[str] = ...) -> None: ...

class SearchBatchRequest(_message.Message):
    __slots__ = ("collection", "queries")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    collection: str
    queries: _containers.RepeatedCompositeFieldContainer[SearchRequest]
    def __init__(self, collection: _Optional[str] = ..., queries: _Optional[_Iterable[_Union[SearchRequest, _Mapping]]] = ...) -> None: ...

class SearchBatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SearchResponse]
    def __init__(self, results: _Optional[_Iterable[_Union[SearchResponse, _Mapping]]] = ...) -> None: ...

class CountRequest(_message.Message):
    __slots__ = ("collection", "filter", "consistency")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    collection: str
    filter: _struct_pb2.Struct
    consistency: str
    def __init__(self, collection: _Optional[str] = ..., filter: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., consistency: _Optional[str] = ...) -> None: ...

class CountResponse(_message.Message):
    __slots__ = ("count",)
    COUNT_FIELD_NUMBER: _ClassVar[int]
    count: int
    def __init__(self, count: _Optional[int] = ...) -> None: ...

class ScrollRequest(_message.Message):
    __slots__ = ("collection", "limit", "cursor", "filter", "include_vectors", "consistency")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_VECTORS_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    collection: str
    limit: int
    cursor: str
    filter: _struct_pb2.Struct
    include_vectors: bool
    consistency: str
    def __init__(self, collection: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ..., filter: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., include_vectors: _Optional[bool] = ..., consistency: _Optional[str] = ...) -> None: ...

class ScrollResponse(_message.Message):
    __slots__ = ("vectors", "next_cursor")
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    vectors: _containers.RepeatedCompositeFieldContainer[VectorRecord]
    next_cursor: str
    def __init__(self, vectors: _Optional[_Iterable[_Union[VectorRecord, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...
