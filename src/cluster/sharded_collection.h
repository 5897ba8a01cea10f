// ShardedCollection: one collection split into shards behind the engine's Collection interface
// (docs/cluster.md#shards): each shard is this node's replica of it, or the nodes that hold one
// (cluster/shard.h). An id belongs to shard CRC32C(id) mod shards, the same on every node and
// every version.
//
// - Writes are checked whole first (record_checks.h: bad input changes nothing), then split by
//   shard; each shard's part is one batch through that shard's log, the parts running one
//   after another. A batch is all-or-nothing per shard, not across shards: an insert refused on
//   one shard (an id exists) leaves the parts already written.
//   A metadata patch or replace goes to the id's shard; a delete by filter runs on each shard
//   in turn, each an atomic batch of the ids it matches there.
// - Reads (get, count, scroll, search) with strong consistency first pass a barrier on each
//   shard they read, so they see every write acknowledged before they started, from any node.
//   Eventual reads read a replica as it is. One set of shards can be behind two
//   ShardedCollections, one for each consistency (WithReads).
// - Searches, counts and scrolls ask every shard at once (a thread each); searches keep the
//   best k, counts add up, scrolls merge in id order.
// - Maintenance (flush, compact, migrate, tiering) runs on one replica of every shard: this
//   node's where it holds one.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cluster/shard.h"
#include "engine/record_checks.h"
#include "proximadb/collection.h"

namespace proximadb::cluster {

class ShardedCollection final : public Collection {
 public:
  // `shards[i]` is shard i; `config` the collection's as the catalog holds it (name, shards and
  // replication factor included), shown while this node holds no replica; writes are checked
  // against the config's dimension and the given record limits.
  ShardedCollection(std::vector<std::shared_ptr<Shard>> shards, CollectionConfig config,
                    ReadConsistency reads = ReadConsistency::kStrong,
                    size_t max_id_bytes = kMaxIdBytes,
                    size_t max_metadata_bytes = kMaxMetadataBytes);
  // The same shards, read with `reads`.
  std::shared_ptr<ShardedCollection> WithReads(ReadConsistency reads) const;

  static uint32_t ShardOf(std::string_view id, size_t shards);
  size_t shard_count() const { return shards_.size(); }
  Shard& shard(size_t i) { return *shards_[i]; }

  // The config of this node's first replica (settings changed since creation show there), with
  // the collection's name, shards and replication factor; the catalog's if it holds none.
  CollectionConfig config() const override;
  absl::Status Write(std::vector<Record> records, WriteMode mode) override;
  absl::StatusOr<Record> Get(std::string_view id) override;
  absl::StatusOr<std::vector<Record>> GetMany(const std::vector<std::string>& ids) override;
  absl::StatusOr<uint64_t> Delete(const std::vector<std::string>& ids) override;
  absl::Status PatchMetadata(std::string_view id, std::string_view patch) override;
  absl::Status ReplaceMetadata(std::string_view id, std::string_view metadata) override;
  absl::StatusOr<uint64_t> Count(std::string_view filter) override;
  absl::StatusOr<uint64_t> DeleteWhere(std::string_view filter) override;
  absl::StatusOr<ScrollPage> Scroll(std::string_view after, uint32_t limit,
                                    std::string_view filter, bool include_vectors) override;
  absl::StatusOr<SearchResponse> Search(const SearchRequest& request) override;
  absl::StatusOr<PreparedBatch> PrepareWrite(std::vector<Record> records,
                                             WriteMode mode) override;
  absl::StatusOr<PreparedBatch> PrepareDelete(const std::vector<std::string>& ids) override;
  absl::StatusOr<PreparedBatch> PreparePatch(std::string_view id,
                                             std::string_view patch) override;
  absl::StatusOr<PreparedBatch> PrepareReplace(std::string_view id,
                                               std::string_view metadata) override;
  absl::StatusOr<PreparedBatch> PrepareDeleteWhere(std::string_view filter) override;
  absl::Status ApplyReplicated(std::string_view batch, uint64_t seq) override;
  absl::Status Flush() override;
  absl::Status Compact() override;
  absl::Status Migrate() override;
  absl::Status ApplyTiering() override;
  // The shards' figures added up (last_seq and flushed_seq: sums of their log positions;
  // replication_lag: of their lags). A shard that cannot be reached is named in
  // background_error.
  CollectionStats Stats() override;
  // The events of this node's replicas, newest first.
  std::vector<MaintenanceEvent> History() override;

 private:
  // The ids grouped by shard, each group in the order given.
  std::vector<std::vector<std::string>> ByShard(const std::vector<std::string>& ids) const;
  // fn(i) for every shard i at once, shard 0 on the calling thread; the results in order.
  template <typename Fn>
  auto InParallel(Fn fn) const;
  // Runs `what` on one replica of every shard; the first failure (the rest still ran).
  absl::Status OnEveryShard(ShardMaintenance what);

  const std::vector<std::shared_ptr<Shard>> shards_;
  const CollectionConfig config_;
  const ReadConsistency reads_;
  const RecordRules rules_;
};

}  // namespace proximadb::cluster
