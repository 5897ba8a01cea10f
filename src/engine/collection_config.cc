// ValidateCollectionConfig (proximadb/database.h) and ValidateName (engine/collection_config.h).
#include "engine/collection_config.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/macros.h"
#include "common/strings.h"
#include "proximadb/database.h"

namespace proximadb {

absl::Status ValidateName(std::string_view n) {
  auto name_char = [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
  };
  if (n.empty() || n.size() > 64 || !name_char(n[0]) ||
      !std::all_of(n.begin(), n.end(),
                   [&](char ch) { return name_char(ch) || ch == '_' || ch == '-'; })) {
    return absl::InvalidArgumentError(
        Cat("name: '", n,
            "' must be 1-64 letters, digits, '_' or '-', starting with a letter or digit"));
  }
  return absl::OkStatus();
}

absl::Status ValidateCollectionConfig(const CollectionConfig& c) {
  auto bad = [](std::string msg) { return absl::InvalidArgumentError(std::move(msg)); };
  PROXIMADB_RETURN_IF_ERROR(ValidateName(c.name));
  if (c.dimension < 1 || c.dimension > 65536) {
    return bad(absl::StrCat("dimension: ", c.dimension, " is not in 1..65536"));
  }
  if (c.index.m < 2 || c.index.m > 256) return bad(absl::StrCat("m: ", c.index.m, " is not in 2..256"));
  if (c.index.ef_construction < 1 || c.index.ef_construction > 10000) {
    return bad(absl::StrCat("ef_construction: ", c.index.ef_construction, " is not in 1..10000"));
  }
  if (c.index.ef_search < 1 || c.index.ef_search > 10000) {
    return bad(absl::StrCat("ef_search: ", c.index.ef_search, " is not in 1..10000"));
  }
  const FlushPolicy& f = c.flush;
  if (!(f.max_wal_age_hours > 0)) {
    return bad(absl::StrCat("max_wal_age_hours: ", f.max_wal_age_hours, " must be positive"));
  }
  if (!(f.max_wal_size_mb > 0)) {
    return bad(absl::StrCat("max_wal_size_mb: ", f.max_wal_size_mb, " must be positive"));
  }
  if (f.max_vector_count < 1) return bad("max_vector_count: must be at least 1");
  if (f.flush_priority < 1 || f.flush_priority > 100) {
    return bad(absl::StrCat("flush_priority: ", f.flush_priority, " is not in 1..100"));
  }
  const QuantizationParams& q = c.quantization;
  if (IsProductQuantization(q.kind) && q.pq_m != 0 &&
      (q.pq_m > c.dimension || c.dimension % q.pq_m != 0)) {
    return bad(absl::StrCat("pq_m: ", q.pq_m, " must divide the dimension ", c.dimension));
  }
  if (!IsProductQuantization(q.kind) && q.pq_m != 0) {
    return bad(absl::StrCat("pq_m: applies only to quantization 'pq' or 'pq4', not '",
                            QuantizationName(q.kind), "'"));
  }
  if (q.rerank > 10000) return bad(absl::StrCat("rerank: ", q.rerank, " is not in 0..10000"));
  if (c.index.nprobe < 1 || c.index.nprobe > 65536) {
    return bad(absl::StrCat("nprobe: ", c.index.nprobe, " is not in 1..65536"));
  }
  const bool custom = c.storage_strategy == StorageStrategy::kCustom;
  if (c.indexing_algorithm == IndexingAlgorithm::kIvf && !custom) {
    return bad("indexing_algorithm: 'ivf' needs storage_strategy 'custom' (viper always uses it)");
  }
  if (c.metadata_compression != MetadataCompression::kNone && !custom) {
    return bad(absl::StrCat("metadata_compression: '",
                            MetadataCompressionName(c.metadata_compression),
                            "' needs storage_strategy 'custom' (viper always compresses)"));
  }
  if (q.kind != Quantization::kNone && c.indexing_algorithm == IndexingAlgorithm::kFlat &&
      c.storage_strategy != StorageStrategy::kViper) {
    return bad(absl::StrCat("quantization: '", QuantizationName(q.kind),
                            "' needs indexing_algorithm 'hnsw' (a flat collection scans its "
                            "float32 vectors)"));
  }
  const TieringPolicy& t = c.tiering;
  if (t.warm_after_hours && !(*t.warm_after_hours >= 0 && *t.warm_after_hours < 1e9)) {
    return bad(absl::StrCat("tiering.warm_after_hours: ", *t.warm_after_hours,
                            " is not a number of hours >= 0 (null: never)"));
  }
  if (t.cold_after_hours && !(*t.cold_after_hours >= 0 && *t.cold_after_hours < 1e9)) {
    return bad(absl::StrCat("tiering.cold_after_hours: ", *t.cold_after_hours,
                            " is not a number of hours >= 0 (null: never)"));
  }
  return absl::OkStatus();
}

}  // namespace proximadb
