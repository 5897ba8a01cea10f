// ClusterDatabase's trimming of the shards' logs (docs/cluster.md#trimming-the-logs): each
// replica publishes in etcd the position its segments cover, and a log is trimmed through the
// lowest position published for it, once every node that may hold a replica of it has published
// one.
#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/numbers.h"
#include "cluster/cluster_database.h"
#include "common/strings.h"

namespace proximadb::cluster {

std::string ClusterDatabase::MembersPrefix() const {
  return Cat("/proximadb/", options_.cluster_name, "/members/");
}

std::string ClusterDatabase::ProgressPrefix(std::string_view uid) const {
  return Cat("/proximadb/", options_.cluster_name, "/progress/", uid, "/");
}

std::string ClusterDatabase::ProgressPrefix(std::string_view uid, uint32_t shard) const {
  return Cat(ProgressPrefix(uid), shard, "/");
}

absl::Status ClusterDatabase::PublishFlushed(std::string_view uid, uint32_t shard,
                                             Collection& replica) {
  // Every batch up to it is in the replica's segments: a restart, whatever its WAL kept,
  // resumes the log after it. Under no lease, so that a node that is down still holds the log
  // back for the entries it has not flushed. Written when it changed (or was never written
  // by this process): each write is an etcd revision.
  const std::string key = Cat(ProgressPrefix(uid, shard), options_.node_id);
  const uint64_t flushed = replica.Stats().flushed_seq;
  {
    absl::MutexLock l(&published_mu_);
    if (auto it = published_.find(key); it != published_.end() && it->second == flushed) {
      return absl::OkStatus();
    }
  }
  if (absl::Status s = etcd_.Put(key, Cat(flushed)).status(); !s.ok()) return s;
  absl::MutexLock l(&published_mu_);
  published_[key] = flushed;
  return absl::OkStatus();
}

absl::Status ClusterDatabase::TrimLogs() {
  std::vector<std::shared_ptr<Replicas>> open;
  {
    absl::MutexLock l(&mu_);
    for (const auto& [name, o] : open_) open.push_back(o);
  }
  // Every node that ever joined (and was not removed) may hold a replica of a shard of a
  // collection without placement; the catalog, read now, says who holds the others' shards.
  absl::StatusOr<std::vector<KeyValue>> members = etcd_.GetPrefix(MembersPrefix());
  if (!members.ok()) return members.status();
  std::vector<std::string> nodes;
  for (const KeyValue& kv : *members) nodes.push_back(kv.key.substr(MembersPrefix().size()));
  absl::StatusOr<std::vector<Entry>> catalog = ReadCatalog();
  if (!catalog.ok()) return catalog.status();
  std::map<std::string, Entry> entries;  // by uid
  for (Entry& e : *catalog) entries[e.uid] = std::move(e);
  absl::Status first;
  for (const auto& o : open) {
    auto entry = entries.find(o->uid);
    if (entry == entries.end()) continue;  // dropped meanwhile
    for (uint32_t i = 0; i < o->shards; ++i) {
      {
        absl::MutexLock l(&mu_);
        if (stop_) return first;
      }
      // The nodes holding a shard trim its log.
      if (o->local[i] == nullptr) continue;
      const Entry& e = entry->second;
      first.Update(TrimShard(*o, i, e.placement.empty() ? nodes : e.placement[i], e));
    }
  }
  return first;
}

absl::Status ClusterDatabase::TrimShard(const Replicas& open, uint32_t shard,
                                        const std::vector<std::string>& members,
                                        const Entry& read) {
  const std::string prefix = ProgressPrefix(open.uid, shard);
  if (absl::Status s = PublishFlushed(open.uid, shard, open.local[shard]->collection());
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::vector<KeyValue>> replicas = etcd_.GetPrefix(prefix);
  if (!replicas.ok()) return replicas.status();
  std::set<std::string, std::less<>> published;
  uint64_t lowest = UINT64_MAX;
  for (const KeyValue& kv : *replicas) {
    uint64_t position = 0;
    if (!absl::SimpleAtoi(kv.value, &position)) {
      return absl::DataLossError(Cat("etcd key ", kv.key, " is not a log position"));
    }
    const std::string node = kv.key.substr(prefix.size());
    // A node that held the shard before it was placed elsewhere no longer holds the log back.
    if (std::find(members.begin(), members.end(), node) == members.end()) continue;
    lowest = std::min(lowest, position);
    published.insert(node);
  }
  for (const std::string& node : members) {  // a member may hold a replica: wait for its word
    if (!published.contains(node)) return absl::OkStatus();
  }
  const std::string stream = ShardStream(open.uid, shard);
  absl::StatusOr<StreamState> state = log_->State(stream);
  if (!state.ok()) return state.status();
  const uint64_t before = std::min(lowest + 1, state->last_seq);  // the last entry stays
  if (before <= state->first_seq) return absl::OkStatus();
  // Not if the shard was placed anew since the catalog was read: a node it was placed on may
  // not be counted yet (the placing node publishes 0 for it before the placement names it).
  absl::StatusOr<std::optional<Entry>> now = ReadEntry(read.config.name);
  if (!now.ok()) return now.status();
  if (!now->has_value() || (*now)->mod_revision != read.mod_revision) return absl::OkStatus();
  return log_->TrimBefore(stream, before);
}

}  // namespace proximadb::cluster
