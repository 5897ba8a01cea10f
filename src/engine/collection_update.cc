// The settings changes of a collection (include/proximadb/database.h): an update applied to a
// definition, and the update that takes one definition to another.
#include "proximadb/database.h"

namespace proximadb {

CollectionConfig ApplyCollectionUpdate(CollectionConfig c, const CollectionUpdate& u) {
  if (u.ef_search) c.index.ef_search = *u.ef_search;
  if (u.nprobe) c.index.nprobe = *u.nprobe;
  if (u.rerank) c.quantization.rerank = *u.rerank;
  if (u.storage_strategy) c.storage_strategy = *u.storage_strategy;
  if (u.quantization && *u.quantization != c.quantization.kind) {
    c.quantization.kind = *u.quantization;
    c.quantization.pq_m = 0;  // another quantization's pq_m does not carry over
  }
  if (u.pq_m) c.quantization.pq_m = *u.pq_m;
  if (u.indexing_algorithm) c.indexing_algorithm = *u.indexing_algorithm;
  if (u.metadata_compression) c.metadata_compression = *u.metadata_compression;
  if (u.max_wal_age_hours) c.flush.max_wal_age_hours = *u.max_wal_age_hours;
  if (u.max_wal_size_mb) c.flush.max_wal_size_mb = *u.max_wal_size_mb;
  if (u.max_vector_count) c.flush.max_vector_count = *u.max_vector_count;
  if (u.flush_priority) c.flush.flush_priority = *u.flush_priority;
  if (u.tiering) c.tiering = *u.tiering;
  return c;
}

std::optional<CollectionUpdate> UpdateBetween(const CollectionConfig& from,
                                              const CollectionConfig& to) {
  CollectionUpdate u;
  bool any = false;
  auto set = [&any](auto& field, const auto& was, const auto& wanted) {
    if (was == wanted) return;
    field = wanted;
    any = true;
  };
  set(u.ef_search, from.index.ef_search, to.index.ef_search);
  set(u.nprobe, from.index.nprobe, to.index.nprobe);
  set(u.rerank, from.quantization.rerank, to.quantization.rerank);
  set(u.storage_strategy, from.storage_strategy, to.storage_strategy);
  set(u.quantization, from.quantization.kind, to.quantization.kind);
  set(u.pq_m, from.quantization.pq_m, to.quantization.pq_m);
  set(u.indexing_algorithm, from.indexing_algorithm, to.indexing_algorithm);
  set(u.metadata_compression, from.metadata_compression, to.metadata_compression);
  set(u.max_wal_age_hours, from.flush.max_wal_age_hours, to.flush.max_wal_age_hours);
  set(u.max_wal_size_mb, from.flush.max_wal_size_mb, to.flush.max_wal_size_mb);
  set(u.max_vector_count, from.flush.max_vector_count, to.flush.max_vector_count);
  set(u.flush_priority, from.flush.flush_priority, to.flush.flush_priority);
  set(u.tiering, from.tiering, to.tiering);
  if (u.quantization) u.pq_m = to.quantization.pq_m;  // a new quantization resets pq_m
  if (!any) return std::nullopt;
  return u;
}

}  // namespace proximadb
