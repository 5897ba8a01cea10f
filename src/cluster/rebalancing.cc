// ClusterDatabase's rebalancing (docs/cluster.md#rebalancing): moves of shard replicas from
// the live node holding the most replicas to the one holding the fewest, one at a time. A move
// adds the new node to the shard's placement first; the new node builds its replica (from the
// log, or copied from a holder) and publishes that it is ready; only then is the old node
// removed. So a move never leaves a shard with fewer ready replicas on live nodes than it had
// (a holder gone during a move is removed by placement.cc's PlaceShard).
#include <algorithm>
#include <map>

#include "cluster/cluster_database.h"
#include "common/logging.h"
#include "common/strings.h"

namespace proximadb::cluster {

std::string ClusterDatabase::ReadyPrefix(std::string_view uid) const {
  return Cat("/proximadb/", options_.cluster_name, "/ready/", uid, "/");
}

std::string ClusterDatabase::ReadyKey(std::string_view uid, uint32_t shard,
                                      std::string_view node) const {
  return Cat(ReadyPrefix(uid), shard, "/", node);
}

absl::Status ClusterDatabase::PublishReady() {
  // Read back every time: what this node published may have been deleted since (a placement
  // that removed this node from a shard and added it back between two of its refreshes), and
  // a replica it published may have stopped, or not been opened again after a restart.
  absl::StatusOr<std::vector<KeyValue>> published =
      etcd_.GetPrefix(Cat("/proximadb/", options_.cluster_name, "/ready/"));
  if (!published.ok()) return published.status();
  std::map<std::string, uint64_t, std::less<>> ready;  // key, applied position
  {
    absl::MutexLock l(&mu_);
    for (const auto& [name, open] : open_) {
      for (uint32_t i = 0; i < open->shards; ++i) {
        const std::shared_ptr<ShardReplica>& replica = open->local[i];
        if (replica == nullptr || !replica->caught_up() || !replica->apply_error().ok()) continue;
        ready[ReadyKey(open->uid, i, options_.node_id)] = replica->applied();
      }
    }
  }
  const std::string mine = Cat("/", options_.node_id);  // the end of this node's keys
  for (const KeyValue& kv : *published) {
    if (ready.erase(kv.key) > 0 || !kv.key.ends_with(mine)) continue;  // as it should be
    if (absl::Status s = etcd_.Delete(kv.key).status(); !s.ok()) return s;
  }
  for (const auto& [key, applied] : ready) {
    if (absl::Status s = etcd_.Put(key, Cat(applied)).status(); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ClusterDatabase::Rebalance(const std::vector<Entry>& catalog,
                                        const std::map<std::string, size_t>& load) {
  bool moving = false;
  for (const Entry& e : catalog) {
    for (uint32_t i = 0; i < e.placement.size(); ++i) {
      if (e.placement[i].size() <= static_cast<size_t>(e.replication_factor)) continue;
      moving = true;
      absl::StatusOr<bool> ended = EndMove(e, i, load);
      if (!ended.ok()) return ended.status();
      if (*ended) return absl::OkStatus();  // the entry changed: one change per pass
    }
  }
  if (moving || load.size() < 2) return absl::OkStatus();  // one move at a time
  auto by_load = [](const auto& a, const auto& b) { return a.second < b.second; };
  const auto most = std::max_element(load.begin(), load.end(), by_load);
  const auto least = std::min_element(load.begin(), load.end(), by_load);
  if (most->second < least->second + 2) return absl::OkStatus();
  for (const Entry& e : catalog) {
    for (uint32_t i = 0; i < e.placement.size(); ++i) {
      const std::vector<std::string>& nodes = e.placement[i];
      if (std::find(nodes.begin(), nodes.end(), most->first) == nodes.end() ||
          std::find(nodes.begin(), nodes.end(), least->first) != nodes.end() ||
          !CanStartReplica(e, i, nodes)) {
        continue;
      }
      Log(LogLevel::kInfo, Cat("cluster: collection '", e.config.name, "' shard ", i,
                               ": moving a replica from node ", most->first, " (", most->second,
                               " replicas) to node ", least->first, " (", least->second, ")"));
      Entry moved = e;
      moved.placement[i].push_back(least->first);
      return WritePlacement(e, moved);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> ClusterDatabase::EndMove(const Entry& e, uint32_t shard,
                                              const std::map<std::string, size_t>& load) {
  const std::vector<std::string>& nodes = e.placement[shard];
  // A holder gone meanwhile is replaced first (PlaceShard).
  for (const std::string& node : nodes) {
    if (!load.contains(node)) return false;
  }
  // The node leaving: the most loaded holder (the one the move started from), once every
  // other holder is ready.
  std::string leaving = nodes.front();
  for (const std::string& node : nodes) {
    if (load.at(node) > load.at(leaving)) leaving = node;
  }
  const std::string prefix = Cat(ReadyPrefix(e.uid), shard, "/");
  absl::StatusOr<std::vector<KeyValue>> ready = etcd_.GetPrefix(prefix);
  if (!ready.ok()) return ready.status();
  for (const std::string& node : nodes) {
    if (node == leaving) continue;
    if (std::none_of(ready->begin(), ready->end(),
                     [&](const KeyValue& kv) { return kv.key == prefix + node; })) {
      return false;
    }
  }
  Log(LogLevel::kInfo, Cat("cluster: collection '", e.config.name, "' shard ", shard,
                           ": the new replicas are ready, node ", leaving, " lets go of it"));
  Entry after = e;
  std::vector<std::string>& placed = after.placement[shard];
  placed.erase(std::find(placed.begin(), placed.end(), leaving));
  if (absl::Status s = WritePlacement(e, after); !s.ok()) return s;
  return true;
}

}  // namespace proximadb::cluster
