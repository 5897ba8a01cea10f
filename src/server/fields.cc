#include "server/fields.h"

namespace proximadb::server {

std::vector<Field> CollectionFields(const CollectionInfo& info) {
  const CollectionConfig& c = info.config;
  return {
      {"name", c.name},
      {"dimension", uint64_t{c.dimension}},
      {"distance_metric", DistanceMetricName(c.metric)},
      {"indexing_algorithm", IndexingAlgorithmName(c.indexing_algorithm)},
      {"m", uint64_t{c.index.m}},
      {"ef_construction", uint64_t{c.index.ef_construction}},
      {"ef_search", uint64_t{c.index.ef_search}},
      {"max_wal_age_hours", c.flush.max_wal_age_hours},
      {"max_wal_size_mb", c.flush.max_wal_size_mb},
      {"max_vector_count", c.flush.max_vector_count},
      {"flush_priority", int64_t{c.flush.flush_priority}},
      {"storage_strategy", StorageStrategyName(c.storage_strategy)},
      {"created_at_us", c.created_at_us},
      {"vector_count", info.vector_count},
  };
}

const std::vector<StatsField> kStatsFields = {
    {"vector_count", &CollectionStats::vector_count, "proximadb_collection_vectors",
     "Live vectors."},
    {"memtable_rows", &CollectionStats::memtable_rows, "proximadb_collection_memtable_rows",
     "Rows not yet flushed."},
    {"unindexed_rows", &CollectionStats::unindexed_rows, "proximadb_collection_unindexed_rows",
     "Memtable rows not yet in its graphs."},
    {"segment_count", &CollectionStats::segment_count, "proximadb_collection_segments",
     "Segments."},
    {"segment_rows", &CollectionStats::segment_rows},
    {"deleted_rows", &CollectionStats::deleted_rows},
    {"memory_bytes", &CollectionStats::memory_bytes, "proximadb_collection_memory_bytes",
     "Memory held by the collection."},
    {"disk_bytes", &CollectionStats::disk_bytes, "proximadb_collection_disk_bytes",
     "Bytes on disk."},
    {"wal_bytes", &CollectionStats::wal_bytes, "proximadb_collection_wal_bytes",
     "WAL bytes not covered by segments."},
    {"oldest_unflushed_age_seconds", &CollectionStats::oldest_unflushed_age_seconds,
     "proximadb_collection_oldest_unflushed_age_seconds", "Age of the oldest unflushed write."},
    {"flushes", &CollectionStats::flushes, "proximadb_collection_flushes_total",
     "Flushes since the server started.", "counter"},
    {"compactions", &CollectionStats::compactions, "proximadb_collection_compactions_total",
     "Compactions since the server started.", "counter"},
    {"flush_seconds", &CollectionStats::flush_seconds, "proximadb_collection_flush_seconds_total",
     "Time spent flushing.", "counter"},
    {"compaction_seconds", &CollectionStats::compaction_seconds,
     "proximadb_collection_compaction_seconds_total", "Time spent compacting.", "counter"},
    {"wal_syncs", &CollectionStats::wal_syncs, "proximadb_collection_wal_syncs_total",
     "WAL fsyncs since the server started.", "counter"},
    {"background_error", &CollectionStats::background_error},
};

FieldValue ValueOf(const StatsField& field, const CollectionStats& stats) {
  return std::visit([&](auto member) -> FieldValue { return stats.*member; }, field.member);
}

}  // namespace proximadb::server
