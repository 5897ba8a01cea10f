// ShardReplica: one replica of one shard: a local collection kept equal to the shard's log
// (docs/cluster.md). A background thread applies the log's entries in order, each at its own
// sequence (Collection::ApplyReplicated), so the collection's last_seq is the log position it
// has applied, and a restart resumes the log right after it.
//
// A write goes through the log from any replica: it is resolved against this replica's state
// as of the position P it has applied (Collection::PrepareWrite), then appended on condition
// that the log still ends at P. If another write came first, this replica catches up and
// resolves it again. So every replica applies the same batches, each resolved against exactly
// the state that precedes it, and they cannot diverge. The write is acknowledged once a quorum
// of the log's replicas stored it and this replica applied it: the writer reads its own write.
// A refusal or a no-op decided by the replica's state (an id that exists, ids that do not)
// first passes a barrier and is resolved again, so that a lagging replica never answers from a
// stale state. A write that keeps losing the race gives up after apply_timeout_ms.
//
// Strong reads call Barrier() first: it appends an empty entry and waits until this replica
// has applied through it, which orders the read after every write acknowledged before.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cluster/shard.h"
#include "cluster/shard_log.h"
#include "proximadb/collection.h"

namespace proximadb::cluster {

struct ShardReplicaOptions {
  std::string stream;   // the shard's log
  std::string node_id;  // names this node in the ids of its appends
  int apply_timeout_ms = 30000;  // how long a write or barrier waits for the apply
};

class ShardReplica final : public Shard {
 public:
  // Starts applying `log` from the collection's last_seq + 1. `log` must outlive the replica.
  static absl::StatusOr<std::unique_ptr<ShardReplica>> Start(
      ShardLog* log, std::shared_ptr<Collection> collection, ShardReplicaOptions options);
  ~ShardReplica();  // stops the apply thread
  ShardReplica(const ShardReplica&) = delete;
  ShardReplica& operator=(const ShardReplica&) = delete;

  absl::Status Write(const std::vector<Record>& records, WriteMode mode) override;
  absl::StatusOr<uint64_t> Delete(const std::vector<std::string>& ids) override;
  // Collection::PatchMetadata and ReplaceMetadata through the log (kNotFound if the id is not
  // live), and DeleteWhere: the ids the filter matches at the log position it is appended
  // after; returns how many.
  absl::Status Patch(std::string_view id, std::string_view patch) override;
  absl::Status Replace(std::string_view id, std::string_view metadata) override;
  absl::StatusOr<uint64_t> DeleteWhere(std::string_view filter) override;
  // Reads of the collection, after a barrier when `reads` is strong. An eventual read still
  // refuses a replica that stopped applying its log: its state is no longer the log's.
  absl::StatusOr<Record> Get(std::string_view id, ReadConsistency reads) override;
  absl::StatusOr<std::vector<Record>> GetMany(const std::vector<std::string>& ids,
                                              ReadConsistency reads) override;
  absl::StatusOr<uint64_t> Count(std::string_view filter, ReadConsistency reads) override;
  absl::StatusOr<ScrollPage> Scroll(std::string_view after, uint32_t limit,
                                    std::string_view filter, bool include_vectors,
                                    ReadConsistency reads) override;
  absl::StatusOr<SearchResponse> Search(const SearchRequest& request,
                                        ReadConsistency reads) override;
  // The collection's, with lag() as replication_lag.
  absl::StatusOr<CollectionStats> Stats() override;
  absl::Status Maintain(ShardMaintenance what) override;
  Collection* local() override { return collection_.get(); }
  // Returns once this replica has applied every write acknowledged (by any replica) before
  // the call. Concurrent calls share one empty entry appended after all of them began.
  // kUnavailable after apply_timeout_ms, the wait for other calls' entries included.
  absl::Status Barrier();
  // Notes that the log reaches at least `seq`.
  void Saw(uint64_t seq);
  // Waits until this replica has applied log position `seq` (kDeadlineExceeded after
  // apply_timeout_ms; the apply thread's error if it stopped).
  absl::Status WaitApplied(uint64_t seq);

  // The last log position applied, and the apply thread's failure (OK while it runs).
  uint64_t applied() const;
  // Entries of the log not applied yet, as far as this replica knows: the log's end as its
  // reader, writes and barriers last saw it (a replica cut off from the log sees no new end).
  uint64_t lag() const;
  absl::Status apply_error() const;
  // When the apply thread stopped for good (absl::InfiniteFuture() while it runs).
  absl::Time stopped_at() const;
  // Whether it has applied the log as far as it reached when the replica started: a new
  // replica is not asked by other nodes before (it would make them wait).
  bool caught_up() const;
  Collection& collection() { return *collection_; }
  // Expires once the replica is destroyed and its apply thread has ended (a weak_ptr to the
  // replica itself expires before: when its destructor starts).
  std::weak_ptr<const void> lifetime() const { return lifetime_; }

 private:
  // Passes a barrier if `reads` is strong; otherwise apply_error() (the reads' first step).
  absl::Status Sync(ReadConsistency reads);
  ShardReplica(ShardLog* log, std::shared_ptr<Collection> collection,
               ShardReplicaOptions options);
  // Appends what `prepare` resolves, again after catching up while another append came first.
  template <typename Prepare>
  absl::StatusOr<PreparedBatch> Replicate(Prepare prepare);
  void ApplyLoop();
  // Stops applying for good: writes and barriers fail with `cause` from now on.
  void Stop(const absl::Status& cause);

  // The first member: destroyed last, after the destructor has joined the apply thread.
  const std::shared_ptr<const int> lifetime_ = std::make_shared<const int>(0);
  ShardLog* const log_;
  const std::shared_ptr<Collection> collection_;
  const ShardReplicaOptions options_;
  mutable absl::Mutex mu_;
  uint64_t applied_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t known_end_ ABSL_GUARDED_BY(mu_) = 0;  // the log's last position, as last seen
  uint64_t start_end_ ABSL_GUARDED_BY(mu_) = 0;  // ... as seen at the start
  absl::Status apply_error_ ABSL_GUARDED_BY(mu_);
  absl::Time stopped_at_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t wanted_ ABSL_GUARDED_BY(mu_) = 0;  // the highest position a caller waits for
  std::thread applier_;

  // Barriers shared by concurrent callers (Barrier()).
  struct BarrierRound {
    bool done = false;
    absl::Status status;
    uint64_t mark = 0;  // the round's entry, once appended
  };
  absl::Status WaitApplied(uint64_t seq, absl::Time deadline);
  // Barrier's work; kDeadlineExceeded when it times out.
  absl::Status PassBarrier();
  absl::Mutex barrier_mu_;
  // The round callers join: its entry is not appended yet.
  std::shared_ptr<BarrierRound> next_round_ ABSL_GUARDED_BY(barrier_mu_);
  bool marking_ ABSL_GUARDED_BY(barrier_mu_) = false;  // a round's entry is under way
};

}  // namespace proximadb::cluster
