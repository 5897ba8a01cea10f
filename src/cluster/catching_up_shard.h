// CatchingUpShard: a shard placed on this node whose replica is still applying the log from
// where it was when the replica opened (a new replica, or one of a node that was away). Until
// it has caught up, the shard's other holders serve it: a request the replica served meanwhile
// would wait for it to apply the log first (up to 30 s), and an eventual read would miss what
// it has not applied. A call that no other holder takes (error code SHARD_NOT_REACHED: nothing
// was done) is served by the replica all the same, say while every holder is catching up.
//
// Maintenance, and local(), are the replica's own. Thread-safety: as Shard.
#pragma once

#include <atomic>
#include <functional>
#include <memory>

#include "cluster/shard.h"

namespace proximadb::cluster {

class CatchingUpShard final : public Shard {
 public:
  // `caught_up` tells whether `replica` has caught up (ShardReplica::caught_up()); once it
  // has, every call goes to the replica.
  CatchingUpShard(std::shared_ptr<Shard> replica, std::function<bool()> caught_up,
                  std::shared_ptr<Shard> others)
      : replica_(std::move(replica)), caught_up_(std::move(caught_up)),
        others_(std::move(others)) {}

  absl::Status Write(const std::vector<Record>& records, WriteMode mode) override;
  absl::StatusOr<uint64_t> Delete(const std::vector<std::string>& ids) override;
  absl::Status Patch(std::string_view id, std::string_view patch) override;
  absl::Status Replace(std::string_view id, std::string_view metadata) override;
  absl::StatusOr<uint64_t> DeleteWhere(std::string_view filter) override;
  absl::StatusOr<Record> Get(std::string_view id, ReadConsistency reads) override;
  absl::StatusOr<std::vector<Record>> GetMany(const std::vector<std::string>& ids,
                                              ReadConsistency reads) override;
  absl::StatusOr<uint64_t> Count(std::string_view filter, ReadConsistency reads) override;
  absl::StatusOr<ScrollPage> Scroll(std::string_view after, uint32_t limit,
                                    std::string_view filter, bool include_vectors,
                                    ReadConsistency reads) override;
  absl::StatusOr<SearchResponse> Search(const SearchRequest& request,
                                        ReadConsistency reads) override;
  // The other holders' while catching up: this replica's count is short of the shard's.
  absl::StatusOr<CollectionStats> Stats() override;
  absl::Status Maintain(ShardMaintenance what) override { return replica_->Maintain(what); }
  Collection* local() override { return replica_->local(); }

 private:
  // `call` on the other holders while the replica catches up, else (or if none took it) on
  // the replica.
  template <typename Call>
  auto Route(Call call) -> decltype(call(std::declval<Shard&>()));

  const std::shared_ptr<Shard> replica_;
  const std::function<bool()> caught_up_;
  const std::shared_ptr<Shard> others_;
  std::atomic<bool> caught_up_seen_{false};
};

}  // namespace proximadb::cluster
