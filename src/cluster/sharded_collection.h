// ShardedCollection: one collection split into shards, each a ShardReplica on this node, behind
// the engine's Collection interface (docs/cluster.md#shards). An id belongs to shard
// CRC32C(id) mod shards, the same on every node and every version.
//
// - Writes split their records by shard; each shard's part is one batch through that shard's
//   log, the parts running one after another. A batch is all-or-nothing per shard, not across
//   shards: an insert refused on one shard (an id exists) leaves the parts already written.
//   A metadata patch or replace goes to the id's shard; a delete by filter runs on each shard
//   in turn, each an atomic batch of the ids it matches there.
// - Reads (get, count, scroll, search) with strong consistency first pass a barrier on each
//   shard they read, so they see every write acknowledged before they started, from any node.
//   Eventual reads read the local replicas as they are. One set of replicas can be behind
//   two ShardedCollections, one for each consistency (WithReads).
// - Searches ask every shard for k hits at once (a thread each) and keep the best k; counts
//   add up; scrolls merge in id order.
// - Maintenance (flush, compact, migrate, tiering) runs on every local shard.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cluster/shard_replica.h"
#include "proximadb/collection.h"

namespace proximadb::cluster {

class ShardedCollection final : public Collection {
 public:
  // `shards[i]` is this node's replica of shard i; every shard has the collection's config.
  // `replication_factor` is the copies of each shard's log, as config() shows it.
  ShardedCollection(std::string name, std::vector<std::shared_ptr<ShardReplica>> shards,
                    ReadConsistency reads = ReadConsistency::kStrong,
                    uint32_t replication_factor = 1);
  // The same replicas, read with `reads`.
  std::shared_ptr<ShardedCollection> WithReads(ReadConsistency reads) const;

  static uint32_t ShardOf(std::string_view id, size_t shards);
  size_t shard_count() const { return shards_.size(); }
  ShardReplica& shard(size_t i) { return *shards_[i]; }

  // Shard 0's config, with the collection's name, shards and replication factor.
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
  // replication_lag: of their lags).
  CollectionStats Stats() override;
  // Every shard's events, newest first.
  std::vector<MaintenanceEvent> History() override;

 private:
  // Strong reads: a barrier on shard `i`, or on every shard at once. Eventual reads: only the
  // replicas' apply errors (a stopped replica is not read).
  absl::Status Sync(size_t i);
  absl::Status SyncAll();
  // The ids grouped by shard, each group in the order given.
  std::vector<std::vector<std::string>> ByShard(const std::vector<std::string>& ids) const;
  // fn(i) for every shard i at once, shard 0 on the calling thread; the results in order.
  template <typename Fn>
  auto InParallel(Fn fn) const;
  // Runs `op` on every local shard collection; the first failure (the rest still ran).
  template <typename Op>
  absl::Status OnEveryShard(Op op);

  const std::string name_;
  const std::vector<std::shared_ptr<ShardReplica>> shards_;
  const ReadConsistency reads_;
  const uint32_t replication_factor_;
};

}  // namespace proximadb::cluster
