#include "server/fields.h"

#include <algorithm>

#include "absl/time/time.h"

namespace proximadb::server {
namespace {

std::string Rfc3339(int64_t unix_us) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::FromUnixMicros(unix_us),
                          absl::UTCTimeZone());
}

}  // namespace

std::vector<Field> CollectionFields(const CollectionConfig& c) {
  return {
      {"name", c.name},
      {"dimension", uint64_t{c.dimension}},
      {"distance_metric", DistanceMetricName(c.metric)},
      {"indexing_algorithm", IndexingAlgorithmName(c.indexing_algorithm)},
      {"m", uint64_t{c.index.m}},
      {"ef_construction", uint64_t{c.index.ef_construction}},
      {"ef_search", uint64_t{c.index.ef_search}},
      {"nprobe", uint64_t{c.index.nprobe}},
      {"max_wal_age_hours", c.flush.max_wal_age_hours},
      {"max_wal_size_mb", c.flush.max_wal_size_mb},
      {"max_vector_count", c.flush.max_vector_count},
      {"flush_priority", int64_t{c.flush.flush_priority}},
      {"storage_strategy", StorageStrategyName(c.storage_strategy)},
      {"quantization", QuantizationName(c.quantization.kind)},
      {"pq_m", uint64_t{c.quantization.pq_m}},
      {"rerank", uint64_t{c.quantization.rerank}},
      {"metadata_compression", MetadataCompressionName(c.metadata_compression)},
      {"id_index", "hashmap"},
      {"created_at_us", c.created_at_us},
      // A single node's collections are one shard in one copy (stored as 0: the default).
      {"shards", uint64_t{std::max(c.shards, 1u)}},
      {"replication_factor", uint64_t{std::max(c.replication_factor, 1u)}},
  };
}

std::vector<Field> CollectionFields(const CollectionInfo& info) {
  std::vector<Field> fields = CollectionFields(info.config);
  if (info.vector_count) fields.push_back({"vector_count", *info.vector_count});
  return fields;
}

std::vector<Field> BackupFields(const BackupInfo& b) {
  return {
      {"backup_id", b.backup_id},
      {"collection", b.collection},
      {"created_at", Rfc3339(b.created_at_us)},
      {"created_at_us", b.created_at_us},
      {"bytes", b.bytes},
      {"uploaded_bytes", b.uploaded_bytes},
      {"segments", uint64_t{b.segments}},
      {"vector_count", b.vector_count},
      {"dimension", uint64_t{b.dimension}},
  };
}

std::vector<Field> EventFields(const MaintenanceEvent& e) {
  return {
      {"kind", e.kind},
      {"started_at", Rfc3339(e.started_at_us)},
      {"started_at_us", e.started_at_us},
      {"seconds", e.seconds},
      {"segments_in", e.segments_in},
      {"segments_out", e.segments_out},
      {"rows", e.rows},
      {"bytes", e.bytes},
      {"error", e.error},
  };
}

// A stats field by its member, which names it too.
#define PROXIMADB_STATS_FIELD(member) #member, &CollectionStats::member

const std::vector<StatsField> kStatsFields = {
    {PROXIMADB_STATS_FIELD(vector_count), "vectors", "Live vectors."},
    {PROXIMADB_STATS_FIELD(memtable_rows), "memtable_rows", "Rows not yet flushed."},
    {PROXIMADB_STATS_FIELD(unindexed_rows), "unindexed_rows",
     "Memtable rows not yet in its graphs."},
    {PROXIMADB_STATS_FIELD(ivf_rows), "ivf_rows",
     "Memtable rows not yet in its graphs that its IVF lists hold (the rest are scanned)."},
    {PROXIMADB_STATS_FIELD(segment_count), "segments", "Segments."},
    {PROXIMADB_STATS_FIELD(segment_rows)},
    {PROXIMADB_STATS_FIELD(deleted_rows)},
    {PROXIMADB_STATS_FIELD(memory_bytes), "memory_bytes", "Memory held by the collection."},
    {PROXIMADB_STATS_FIELD(disk_bytes), "disk_bytes", "Bytes on disk."},
    {PROXIMADB_STATS_FIELD(wal_bytes), "wal_bytes", "WAL bytes not covered by segments."},
    {PROXIMADB_STATS_FIELD(oldest_unflushed_age_seconds), "oldest_unflushed_age_seconds",
     "Age of the oldest unflushed write."},
    {PROXIMADB_STATS_FIELD(flushes), "flushes", "Flushes since the server started.", true},
    {PROXIMADB_STATS_FIELD(compactions), "compactions", "Compactions since the server started.",
     true},
    {PROXIMADB_STATS_FIELD(flush_seconds), "flush_seconds", "Time spent flushing.", true},
    {PROXIMADB_STATS_FIELD(compaction_seconds), "compaction_seconds", "Time spent compacting.",
     true},
    {PROXIMADB_STATS_FIELD(wal_syncs), "wal_syncs", "WAL fsyncs since the server started.", true},
    {PROXIMADB_STATS_FIELD(background_error)},
    {PROXIMADB_STATS_FIELD(migration_state)},
    {PROXIMADB_STATS_FIELD(migration_segments_done)},
    {PROXIMADB_STATS_FIELD(migration_segments_total)},
    {PROXIMADB_STATS_FIELD(tier_ultra_hot_segments)},
    {PROXIMADB_STATS_FIELD(tier_ultra_hot_bytes), "ultra_hot_bytes",
     "Segment bytes held resident (ultra_hot)."},
    {PROXIMADB_STATS_FIELD(tier_hot_segments)},
    {PROXIMADB_STATS_FIELD(tier_hot_bytes), "hot_bytes", "Segment bytes in hot directories."},
    {PROXIMADB_STATS_FIELD(tier_warm_segments)},
    {PROXIMADB_STATS_FIELD(tier_warm_bytes), "warm_bytes", "Segment bytes in warm directories."},
    {PROXIMADB_STATS_FIELD(tier_cold_segments)},
    {PROXIMADB_STATS_FIELD(tier_cold_bytes)},
    {PROXIMADB_STATS_FIELD(cache_bytes)},
    {PROXIMADB_STATS_FIELD(replication_lag), "replication_lag",
     "Cluster mode: log entries this node's replicas have not applied yet."},
};

#undef PROXIMADB_STATS_FIELD

std::string MetricName(const StatsField& field) {
  return std::string("proximadb_collection_") + field.metric + (field.counter ? "_total" : "");
}

FieldValue ValueOf(const StatsField& field, const CollectionStats& stats) {
  return std::visit([&](auto member) -> FieldValue { return stats.*member; }, field.member);
}

}  // namespace proximadb::server
