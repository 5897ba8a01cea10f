// ClusterDatabase's opening of the replicas placed on this node (docs/cluster.md#placement):
// one opened before goes on, unless it stopped applying its log on an error that opening it
// again may cure. Then it is retired and opened anew at a later refresh, once no request uses
// it: copied from another holder if the log no longer holds what follows its own position
// (docs/cluster.md#copying-a-replica), else from its own files. The other holders serve the
// shard meanwhile.
#include <algorithm>
#include <vector>

#include "absl/time/clock.h"
#include "cluster/catching_up_shard.h"
#include "cluster/cluster_database.h"
#include "common/logging.h"
#include "common/strings.h"

namespace proximadb::cluster {

namespace {

// How long a stopped replica waits before it is opened again: one that stops again at once
// (a batch it cannot apply) does so every few seconds, not at every refresh.
constexpr absl::Duration kRestartAfter = absl::Seconds(2);

}  // namespace

bool ClusterDatabase::Restartable(ShardReplica& replica) const {
  // Without other holders to serve the shard meanwhile, a stopped replica stays as it is.
  if (!options_.remote_shards) return false;
  const absl::Status error = replica.apply_error();
  // (A log that is gone is the collection's drop, which the refresh follows.)
  if (!absl::IsFailedPrecondition(error) && !absl::IsDataLoss(error)) return false;
  if (absl::Now() - replica.stopped_at() < kRestartAfter) return false;
  // A collection whose own writes stopped (a failed WAL write or fsync) stays so until the
  // process restarts: opened again, it would stop the replica again.
  return replica.collection().Stats().background_error.empty();
}

bool ClusterDatabase::Retiring(std::string_view name) {
  absl::MutexLock l(&mu_);
  auto it = retired_.find(name);
  return it != retired_.end() && !it->second.expired();
}

absl::StatusOr<std::shared_ptr<Shard>> ClusterDatabase::OpenPlaced(
    const Entry& entry, uint32_t shard, std::shared_ptr<ShardReplica> kept,
    std::shared_ptr<ShardReplica>* opened) {
  const std::string name = ShardName(entry.uid, shard);
  if (kept != nullptr && Restartable(*kept)) {
    Log(LogLevel::kWarning, Cat("cluster: replica ", name, " is opened again: ",
                                kept->apply_error().message()));
    absl::MutexLock l(&mu_);
    retired_[name] = kept->lifetime();
    kept = nullptr;
  }
  if (kept == nullptr) {
    // A replica retired here is closed first (a request may still use it); the next refresh
    // opens it again (ToReopen).
    absl::StatusOr<bool> later = Retiring(name) ? true : CopyIfTrimmed(entry, shard);
    if (!later.ok()) return later.status();
    if (*later) return RemoteShard(entry, shard);  // the other holders serve it meanwhile
    absl::StatusOr<std::shared_ptr<ShardReplica>> replica = OpenReplica(entry, shard);
    if (!replica.ok()) return replica.status();
    kept = *std::move(replica);
  }
  *opened = kept;
  const bool others = options_.remote_shards && !entry.placement.empty() &&
                      entry.placement[shard].size() > 1;
  if (!others || kept->caught_up()) return kept;
  // (The wrapper holds the replica: the raw pointer lives as long as the function.)
  // (No refresh for holders: with none live, or all of them new too, the replica answers.)
  return std::make_shared<CatchingUpShard>(
      kept, [replica = kept.get()] { return replica->caught_up(); },
      RemoteShard(entry, shard, /*refresh=*/false));
}

bool ClusterDatabase::ToReopen(const Replicas& open) {
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  std::vector<std::shared_ptr<ShardReplica>> opened;  // checked unlocked (Restartable)
  {
    absl::MutexLock l(&mu_);
    for (uint32_t i = 0; i < open.shards; ++i) {
      // (A shard no longer placed here waits until it is again.)
      if (!open.entry.Holds(options_.node_id, i)) continue;
      if (open.local[i] != nullptr) {
        opened.push_back(open.local[i]);
        continue;
      }
      auto it = copies_.find(ShardName(open.uid, i));
      if (it == copies_.end()) return true;  // its replica was still closing
      const Copy& copy = it->second;
      if (copy.done && (copy.status.ok() || now_ms >= copy.retry_at_ms)) return true;
    }
  }
  return std::any_of(opened.begin(), opened.end(),
                     [&](const std::shared_ptr<ShardReplica>& r) { return Restartable(*r); });
}

}  // namespace proximadb::cluster
