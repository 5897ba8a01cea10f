// ClusterDatabase's copies of replicas from other nodes (docs/cluster.md#copying-a-replica): a
// replica placed on this node whose log no longer holds every entry after the replica's own
// (a new replica of a trimmed log, say) is copied from a live holder's export first, then
// applies the log from the position the copy covers. The copy runs on a thread of its own;
// meanwhile the node forwards what concerns the shard to the other holders.
#include "absl/time/clock.h"
#include "cluster/cluster_database.h"
#include "common/logging.h"
#include "common/strings.h"
#include "storage/object_store.h"

namespace proximadb::cluster {

namespace {

constexpr int64_t kRetryAfterMs = 5000;  // after a failed copy

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

// An export read until the database stops: then every call fails, and the copy with it.
class Stoppable final : public ObjectStore {
 public:
  Stoppable(ObjectStore& inner, std::function<bool()> stopping)
      : inner_(inner), stopping_(std::move(stopping)) {}
  absl::Status Put(std::string_view key, std::string_view data) override {
    if (stopping_()) return Stopped();
    return inner_.Put(key, data);
  }
  absl::StatusOr<std::string> Get(std::string_view key) override {
    if (stopping_()) return Stopped();
    return inner_.Get(key);
  }
  absl::StatusOr<std::string> GetRange(std::string_view key, uint64_t offset,
                                       uint64_t length) override {
    if (stopping_()) return Stopped();
    return inner_.GetRange(key, offset, length);
  }
  absl::StatusOr<ObjectInfo> Head(std::string_view key) override {
    if (stopping_()) return Stopped();
    return inner_.Head(key);
  }
  absl::StatusOr<std::vector<ObjectInfo>> List(std::string_view prefix) override {
    if (stopping_()) return Stopped();
    return inner_.List(prefix);
  }
  absl::Status Delete(std::string_view key) override {
    if (stopping_()) return Stopped();
    return inner_.Delete(key);
  }

 private:
  static absl::Status Stopped() { return absl::CancelledError("the node is stopping"); }
  ObjectStore& inner_;
  const std::function<bool()> stopping_;
};

}  // namespace

bool ClusterDatabase::stopping() const {
  absl::MutexLock l(&mu_);
  return stop_;
}

std::shared_ptr<Shard> ClusterDatabase::RemoteShard(const Entry& entry, uint32_t shard,
                                                    bool refresh) {
  ShardHolders holders = [this, uid = entry.uid, shard, refresh](bool again) {
    return refresh ? Holders(uid, shard, again) : LiveHolders(uid, shard);
  };
  return options_.remote_shards(
      {.collection = entry.config.name, .uid = entry.uid, .shard = shard}, std::move(holders));
}

absl::StatusOr<CollectionExport> ClusterDatabase::ExportShard(std::string_view name,
                                                              std::string_view uid,
                                                              uint32_t shard) {
  absl::StatusOr<std::shared_ptr<Shard>> held = LocalShard(name, uid, shard);
  if (!held.ok()) return held.status();
  return local_->ExportCollection(ShardName(uid, shard));
}

absl::StatusOr<bool> ClusterDatabase::CopyIfTrimmed(const Entry& entry, uint32_t shard) {
  if (!options_.peer_exports || !options_.remote_shards) return false;
  const std::string name = ShardName(entry.uid, shard);
  std::thread ended;  // a copy's thread that ended, joined unlocked
  {
    absl::MutexLock l(&mu_);
    if (auto it = copies_.find(name); it != copies_.end()) {
      if (!it->second.done) return true;
      if (!it->second.status.ok() && NowMs() < it->second.retry_at_ms) return true;
      ended = std::move(it->second.thread);
      copies_.erase(it);
    }
  }
  if (ended.joinable()) ended.join();
  absl::StatusOr<StreamState> state = log_->State(ShardStream(entry.uid, shard));
  if (!state.ok()) return state.status();
  absl::StatusOr<std::shared_ptr<Collection>> local = local_->GetCollection(name);
  if (!local.ok() && !absl::IsNotFound(local.status())) return local.status();
  const uint64_t applied = local.ok() ? (*local)->Stats().last_seq : 0;
  if (state->first_seq <= applied + 1) return false;  // the log goes on from it
  if (local.ok()) {  // it cannot follow the log any more: a copy replaces it
    {
      absl::MutexLock l(&mu_);
      if (auto it = retired_.find(name); it != retired_.end() && !it->second.expired()) {
        return absl::UnavailableError(Cat("shard replica ", name, " is still closing"));
      }
    }
    Log(LogLevel::kWarning, Cat("cluster: replica ", name, " has applied the log up to ",
                                applied, ", which now starts at ", state->first_seq,
                                ": replacing it with a copy from another node"));
    local->reset();
    if (absl::Status s = local_->DropCollection(name); !s.ok()) return s;
  }
  Log(LogLevel::kInfo, Cat("cluster: collection '", entry.config.name, "' shard ", shard,
                           ": its log starts at ", state->first_seq,
                           ", copying a replica from another node"));
  // Not ready until copied (a key left behind would say it is).
  const std::string ready = ReadyKey(entry.uid, shard, options_.node_id);
  if (absl::Status s = etcd_.Delete(ready).status(); !s.ok()) return s;
  absl::MutexLock l(&mu_);
  if (stop_) return absl::CancelledError("the node is stopping");  // no thread is joined now
  Copy& copy = copies_[name];
  copy.thread = std::thread([this, entry, shard, name] {
    const absl::Status s = CopyShard(entry, shard);
    absl::MutexLock l(&mu_);
    Copy& done = copies_[name];
    done.done = true;
    done.status = s;
    done.retry_at_ms = NowMs() + kRetryAfterMs;
  });
  return true;
}

absl::Status ClusterDatabase::CopyShard(const Entry& entry, uint32_t shard) {
  const std::string name = ShardName(entry.uid, shard);
  const ShardAddress address{.collection = entry.config.name, .uid = entry.uid, .shard = shard};
  absl::Status last = absl::UnavailableError("no live node holds a replica");
  for (const std::string& holder : Holders(entry.uid, shard)) {
    if (stopping()) return absl::CancelledError("the node is stopping");
    const int64_t started = NowMs();
    absl::StatusOr<CollectionExport> exported = options_.peer_exports(address, holder);
    if (!exported.ok()) {
      last = exported.status();
      continue;
    }
    Stoppable store(*exported->store, [this] { return stopping(); });
    absl::StatusOr<CollectionConfig> copied =
        local_->RestoreFrom(store, exported->backup_id, name);
    if (!copied.ok()) {
      last = absl::Status(copied.status().code(),
                          Cat("from node ", holder, ": ", copied.status().message()));
      continue;
    }
    absl::StatusOr<std::shared_ptr<Collection>> local = local_->GetCollection(name);
    if (!local.ok()) return local.status();
    const CollectionStats stats = (*local)->Stats();
    Log(LogLevel::kInfo, Cat("cluster: collection '", entry.config.name, "' shard ", shard,
                             ": copied ", stats.vector_count, " records through log position ",
                             stats.last_seq, " from node ", holder, " in ", NowMs() - started,
                             " ms"));
    return absl::OkStatus();
  }
  Log(LogLevel::kWarning, Cat("cluster: collection '", entry.config.name, "' shard ", shard,
                              ": no replica could be copied, trying again in ",
                              kRetryAfterMs / 1000, " s: ", last.ToString()));
  return last;
}

bool ClusterDatabase::Copying(std::string_view name) {
  absl::MutexLock l(&mu_);
  auto it = copies_.find(name);
  return it != copies_.end() && !it->second.done;
}

}  // namespace proximadb::cluster
