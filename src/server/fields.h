// The fields of a collection (its definition and live count) and of its statistics as the
// APIs name them, written once: REST's JSON, the gRPC messages (filled by field name through
// protobuf reflection, so a name the proto lacks is a test failure, not a silent gap) and the
// Prometheus gauges of /metrics are all made from these lists, so they cannot drift.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "proximadb/types.h"
#include "server/service.h"

namespace proximadb::server {

using FieldValue = std::variant<uint64_t, int64_t, double, std::string>;

struct Field {
  std::string_view name;
  FieldValue value;
};

// name, dimension, distance_metric, indexing_algorithm, m, ef_construction, ef_search, the
// flush policy, storage_strategy and created_at_us: a collection's definition (what a list
// shows of each collection).
std::vector<Field> CollectionFields(const CollectionConfig& config);
// Those and vector_count: what describing a collection shows.
std::vector<Field> CollectionFields(const CollectionInfo& info);
// backup_id, collection, created_at (RFC 3339) and created_at_us, bytes, uploaded_bytes,
// segments, vector_count, dimension: a backup as the APIs show it.
std::vector<Field> BackupFields(const BackupInfo& backup);

// kind, started_at (RFC 3339) and started_at_us, seconds, segments_in, segments_out, rows,
// bytes, error: a flush, compaction or migration as the APIs show it.
std::vector<Field> EventFields(const MaintenanceEvent& event);

// A field of CollectionStats, with the Prometheus series it is exported as (if any).
struct StatsField {
  const char* name;
  std::variant<uint64_t CollectionStats::*, double CollectionStats::*,
               std::string CollectionStats::*>
      member;
  // Exported as proximadb_collection_<metric> (a gauge), or ..._<metric>_total (a counter);
  // null: not exported.
  const char* metric = nullptr;
  const char* help = nullptr;
  bool counter = false;
};
extern const std::vector<StatsField> kStatsFields;

// The Prometheus name of an exported field.
std::string MetricName(const StatsField& field);

FieldValue ValueOf(const StatsField& field, const CollectionStats& stats);

}  // namespace proximadb::server
