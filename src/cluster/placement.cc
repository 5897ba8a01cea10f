// ClusterDatabase's placement of shard replicas on nodes (docs/cluster.md#placement): where a
// new collection's shards go, which nodes a request for a shard held elsewhere is forwarded
// to, and the re-placement of shards placed on too few nodes or on nodes gone too long.
#include <algorithm>
#include <random>

#include "absl/time/clock.h"
#include "cluster/cluster_database.h"
#include "common/errors.h"
#include "common/logging.h"
#include "common/strings.h"

namespace proximadb::cluster {

namespace {

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

}  // namespace

absl::Status ClusterDatabase::ReadNodes() {
  absl::StatusOr<std::vector<NodeInfo>> nodes = membership_->Nodes();
  if (!nodes.ok()) return nodes.status();
  absl::MutexLock l(&mu_);
  live_.clear();
  for (NodeInfo& n : *nodes) live_.emplace(n.id, std::move(n));
  return absl::OkStatus();
}

std::vector<std::vector<std::string>> ClusterDatabase::Place(uint32_t shards, int copies) {
  std::vector<std::string> nodes;
  {
    absl::MutexLock l(&mu_);
    for (const auto& [id, node] : live_) nodes.push_back(id);
  }
  if (nodes.empty()) nodes.push_back(options_.node_id);
  // Shard i on the nodes after a random start, shifted by i: each node holds about as many
  // replicas as any other, and collections do not all start on the same node.
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const size_t start = rng() % nodes.size();
  const size_t per_shard = std::min(nodes.size(), static_cast<size_t>(std::max(copies, 1)));
  std::vector<std::vector<std::string>> placement(shards);
  for (uint32_t i = 0; i < shards; ++i) {
    for (size_t j = 0; j < per_shard; ++j) {
      placement[i].push_back(nodes[(start + i + j) % nodes.size()]);
    }
  }
  return placement;
}

std::vector<std::string> ClusterDatabase::LiveHolders(const std::string& uid, uint32_t shard) {
  absl::MutexLock l(&mu_);
  std::vector<std::string> out;
  for (const auto& [name, open] : open_) {
    if (open->uid != uid || shard >= open->entry.placement.size()) continue;
    for (const std::string& node : open->entry.placement[shard]) {
      auto it = live_.find(node);
      if (node != options_.node_id && it != live_.end()) out.push_back(it->second.grpc);
    }
  }
  return out;
}

std::vector<std::string> ClusterDatabase::Holders(const std::string& uid, uint32_t shard,
                                                  bool refresh) {
  const int64_t asked = absl::ToUnixMicros(absl::Now());
  std::vector<std::string> out = LiveHolders(uid, shard);
  if (!out.empty() && !refresh) return out;
  // None live as far as this node knows: a holder joined, or the placement changed, since its
  // last refresh.
  if (absl::Status s = RefreshIfOlder(asked); !s.ok()) {
    Log(LogLevel::kWarning, Cat("cluster: catalog refresh failed: ", s.ToString()));
  }
  return LiveHolders(uid, shard);
}

absl::Status ClusterDatabase::RefreshIfOlder(int64_t since_us) {
  absl::MutexLock l(&change_mu_);  // waits for a refresh under way
  {
    absl::MutexLock m(&mu_);
    if (refresh_started_us_ >= since_us) return absl::OkStatus();
  }
  return RefreshLocked();
}

absl::Status ClusterDatabase::Reopen(std::shared_ptr<Replicas> open, const Entry& entry) {
  for (uint32_t i = 0; i < entry.shards; ++i) {
    const bool before = open->entry.Holds(options_.node_id, i),
               now = entry.Holds(options_.node_id, i);
    if (before == now) continue;
    Log(LogLevel::kInfo, Cat("cluster: collection '", entry.config.name, "' shard ", i,
                             now ? " is now placed on this node" : " moved off this node"));
    // Its files go once the last request using it is done (RefreshLocked). (Without a replica
    // here, one retired before may still be in use: its entry stays.)
    if (!now && open->local[i] != nullptr) {
      absl::MutexLock l(&mu_);
      retired_[ShardName(entry.uid, i)] = open->local[i]->lifetime();
    }
  }
  // The replicas still placed here go on applying.
  return OpenReplicas(entry, open.get()).status();
}

absl::StatusOr<std::shared_ptr<Shard>> ClusterDatabase::LocalShard(std::string_view name,
                                                                   std::string_view uid,
                                                                   uint32_t shard) {
  const int64_t asked = absl::ToUnixMicros(absl::Now());
  absl::StatusOr<std::shared_ptr<Replicas>> open = Find(name);
  if (open.ok() && (*open)->uid != uid) {  // this node has not seen a drop and create yet
    if (absl::Status s = RefreshIfOlder(asked); !s.ok()) return s;
    open = Find(name);
  }
  if (!open.ok()) return open.status();
  if ((*open)->uid != uid) {
    return absl::NotFoundError(Cat("collection '", name, "' (", uid, ") not found"));
  }
  if (shard >= (*open)->shards) {
    return absl::InvalidArgumentError(
        Cat("shard: ", shard, " is not a shard of collection '", name, "'"));
  }
  const std::shared_ptr<ShardReplica> replica = (*open)->local[shard];
  // The sender asks another holder: this node holds no replica (any more), or one that
  // stopped applying its log, or a new one still applying the log from its start.
  auto elsewhere = [&](std::string_view why) {
    return WithErrorCode(absl::UnavailableError(Cat("node ", options_.node_id, why, " shard ",
                                                    shard, " of collection '", name, "'")),
                         kShardNotHere);
  };
  if (replica == nullptr) return elsewhere(" holds no replica of");
  if (absl::Status s = replica->apply_error(); !s.ok()) {
    return elsewhere(Cat("'s replica stopped applying the log (", s.message(), ") of"));
  }
  if (!replica->caught_up()) return elsewhere(" is still building its replica of");
  return replica;
}

absl::Status ClusterDatabase::Replace() {
  std::vector<std::string> live;
  {
    absl::MutexLock l(&mu_);
    for (const auto& [id, node] : live_) live.push_back(id);
    // One node places, the live one with the lowest id (the transactions keep two from
    // overwriting each other's placement in any case). It counts a node's time gone from
    // when it saw it gone, as the one placing.
    if (live.empty() || live.front() != options_.node_id) {
      gone_since_ms_.clear();
      return absl::OkStatus();
    }
  }
  absl::StatusOr<std::vector<Entry>> catalog = ReadCatalog();
  if (!catalog.ok()) return catalog.status();
  std::map<std::string, size_t> load;  // replicas per live node
  for (const std::string& id : live) load[id] = 0;
  const int64_t now = NowMs();
  {
    absl::MutexLock l(&mu_);
    std::map<std::string, int64_t, std::less<>> gone;  // the placed nodes gone, since when
    for (const Entry& e : *catalog) {
      for (const auto& nodes : e.placement) {
        for (const std::string& node : nodes) {
          if (load.count(node)) {
            ++load[node];
          } else {
            auto it = gone_since_ms_.find(node);
            gone.emplace(node, it == gone_since_ms_.end() ? now : it->second);
          }
        }
      }
    }
    gone_since_ms_ = std::move(gone);
  }
  absl::Status first;
  bool placed_any = false;
  for (const Entry& e : *catalog) {
    if (e.placement.empty()) continue;
    Entry placed = e;
    bool changed = false;
    for (uint32_t i = 0; i < e.shards; ++i) {
      if (PlaceShard(placed, i, load, now)) changed = true;
    }
    if (changed) first.Update(WritePlacement(e, placed));
    placed_any |= changed;
  }
  // Moves only once every shard has its copies.
  if (!placed_any && first.ok() && options_.rebalance) first = Rebalance(*catalog, load);
  return first;
}

absl::Status ClusterDatabase::WritePlacement(const Entry& before, const Entry& after) {
  // A node placed on a shard has published nothing for it yet: 0 now holds its log back from
  // being trimmed before the new replica has read it (a key left from an earlier placement
  // might say more), and it is not ready (a key left behind would say it is).
  for (uint32_t i = 0; i < after.shards; ++i) {
    for (const std::string& node : after.placement[i]) {
      if (before.Holds(node, i)) continue;
      if (absl::Status s = etcd_.Put(Cat(ProgressPrefix(after.uid, i), node), "0").status();
          !s.ok()) {
        return s;
      }
      if (absl::Status s = etcd_.Delete(ReadyKey(after.uid, i, node)).status(); !s.ok()) {
        return s;
      }
    }
  }
  absl::StatusOr<bool> swapped = etcd_.CompareAndSwap(CatalogKey(after.config.name),
                                                      EntryValue(after), before.mod_revision);
  if (!swapped.ok()) return swapped.status();
  if (!*swapped) return absl::OkStatus();  // changed meanwhile: placed again at the next pass
  absl::Status first;
  for (uint32_t i = 0; i < after.shards; ++i) {  // the nodes moved off hold no log back now
    for (const std::string& node : before.placement[i]) {
      if (after.Holds(node, i)) continue;
      first.Update(etcd_.Delete(Cat(ProgressPrefix(after.uid, i), node)).status());
      first.Update(etcd_.Delete(ReadyKey(after.uid, i, node)).status());
    }
  }
  return first;
}

bool ClusterDatabase::PlaceShard(Entry& entry, uint32_t shard,
                                 std::map<std::string, size_t>& load, int64_t now_ms) {
  std::vector<std::string>& nodes = entry.placement[shard];
  // The live nodes that hold no replica of the shard, the least loaded first.
  auto candidate = [&]() -> std::string {
    std::string best;
    for (const auto& [id, n] : load) {
      if (std::find(nodes.begin(), nodes.end(), id) != nodes.end()) continue;
      if (best.empty() || n < load[best]) best = id;
    }
    return best;
  };
  const std::vector<std::string> holders = nodes;  // before any change: the copy sources
  // The holders gone past replace_after_seconds, and for how long (s).
  std::vector<std::pair<std::string, int64_t>> overdue;
  for (const std::string& node : nodes) {
    if (load.count(node)) continue;
    int64_t since = now_ms;
    {
      absl::MutexLock l(&mu_);
      if (auto it = gone_since_ms_.find(node); it != gone_since_ms_.end()) since = it->second;
    }
    if (now_ms - since >= int64_t{options_.replace_after_seconds} * 1000) {
      overdue.emplace_back(node, (now_ms - since) / 1000);
    }
  }
  bool changed = false;
  for (const auto& [node, seconds] : overdue) {
    const auto at = std::find(nodes.begin(), nodes.end(), node);
    const std::string gone =
        Cat("collection '", entry.config.name, "' shard ", shard, ": node ", node, " gone for ",
            seconds, " s, ");
    std::vector<std::string> others = nodes;
    others.erase(others.begin() + (at - nodes.begin()));
    if (nodes.size() > static_cast<size_t>(entry.replication_factor) &&
        CanStartReplica(entry, shard, others)) {
      // A move under way (rebalancing.cc), which would wait for it: the others are enough,
      // and hold what a new replica needs.
      Log(LogLevel::kInfo, Cat("cluster: ", gone, "removed"));
      nodes.erase(at);
      changed = true;
      continue;
    }
    const std::string with = candidate();
    if (with.empty() || !CanStartReplica(entry, shard, holders)) break;
    Log(LogLevel::kInfo, Cat("cluster: ", gone, "placed on node ", with, " instead"));
    *at = with;
    ++load[with];
    changed = true;
  }
  while (nodes.size() < static_cast<size_t>(entry.replication_factor)) {
    const std::string with = candidate();
    if (with.empty() || !CanStartReplica(entry, shard, holders)) break;
    Log(LogLevel::kInfo, Cat("cluster: collection '", entry.config.name, "' shard ", shard,
                             " placed on too few nodes, added node ", with));
    nodes.push_back(with);
    ++load[with];
    changed = true;
  }
  return changed;
}

bool ClusterDatabase::CanStartReplica(const Entry& entry, uint32_t shard,
                                      const std::vector<std::string>& holders) {
  absl::StatusOr<StreamState> state = log_->State(ShardStream(entry.uid, shard));
  if (!state.ok()) {
    Log(LogLevel::kWarning, Cat("cluster: collection '", entry.config.name, "' shard ", shard,
                                " is not placed on another node: ", state.status().ToString()));
    return false;
  }
  if (state->first_seq <= 1) return true;  // a new replica applies the log from its start
  // A trimmed log: a new replica is copied from a live holder's first (CopyIfTrimmed), one
  // whose replica is ready (not itself new, or copying).
  if (options_.peer_exports) {
    const std::string prefix = Cat(ReadyPrefix(entry.uid), shard, "/");
    absl::StatusOr<std::vector<KeyValue>> ready = etcd_.GetPrefix(prefix);
    if (!ready.ok()) return false;
    absl::MutexLock l(&mu_);
    for (const KeyValue& kv : *ready) {
      const std::string node = kv.key.substr(prefix.size());
      if (live_.contains(node) &&
          std::find(holders.begin(), holders.end(), node) != holders.end()) {
        return true;
      }
    }
  }
  Log(LogLevel::kWarning,
      Cat("cluster: collection '", entry.config.name, "' shard ", shard, " is not placed on "
          "another node: its log was trimmed, and no live node holds a ready replica to copy"));
  return false;
}

}  // namespace proximadb::cluster
