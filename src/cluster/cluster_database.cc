#include "cluster/cluster_database.h"

#include <algorithm>
#include <random>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/errors.h"
#include "common/logging.h"
#include "common/strings.h"
#include "engine/config_json.h"
#include "nlohmann/json.hpp"

namespace proximadb::cluster {

namespace {

using json = nlohmann::json;

std::string NewUid() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return absl::StrFormat("%016x", rng());
}


// The uid and shard of a local collection that holds a shard replica: its name is "s-", the
// uid (16 lower-case hex digits), '-' and the shard's number; nullopt for any other name.
std::optional<std::pair<std::string, uint32_t>> ShardOfLocal(std::string_view local_name) {
  constexpr size_t kUid = 16;
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  if (local_name.size() < 2 + kUid + 2 || !local_name.starts_with("s-") ||
      local_name[2 + kUid] != '-') {
    return std::nullopt;
  }
  const std::string_view uid = local_name.substr(2, kUid), shard = local_name.substr(3 + kUid);
  uint32_t index = 0;
  if (!std::all_of(uid.begin(), uid.end(), hex) ||
      !std::all_of(shard.begin(), shard.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      !absl::SimpleAtoi(absl::string_view(shard.data(), shard.size()), &index)) {
    return std::nullopt;
  }
  return std::make_pair(std::string(uid), index);
}

std::string UidOfShard(std::string_view local_name) {
  auto parsed = ShardOfLocal(local_name);
  return parsed ? parsed->first : "";
}

absl::Status NotInCluster(std::string_view what) {
  return absl::UnimplementedError(Cat(what, " is not available in cluster mode yet "
                                            "(docs/cluster.md)"));
}

}  // namespace

int LogReplicas(int replication_factor) {
  return replication_factor % 2 == 0 ? replication_factor + 1 : replication_factor;
}

std::string ShardName(std::string_view uid, uint32_t shard) { return Cat("s-", uid, "-", shard); }

std::string ShardStream(std::string_view uid, uint32_t shard) {
  return Cat("proximadb-", uid, "-", shard);
}

ClusterDatabase::ClusterDatabase(std::unique_ptr<Database> local, EtcdClient etcd,
                                 ClusterOptions options)
    : local_(std::move(local)), etcd_(std::move(etcd)), options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<ClusterDatabase>> ClusterDatabase::Open(
    std::unique_ptr<Database> local, ClusterOptions options) {
  if (options.default_shards < 1 || options.default_shards > 256) {
    return absl::InvalidArgumentError(
        Cat("default_shards: ", options.default_shards, " is not in 1..256"));
  }
  absl::StatusOr<EtcdClient> etcd = EtcdClient::Create({.endpoints = options.etcd_endpoints});
  if (!etcd.ok()) return etcd.status();
  std::unique_ptr<ClusterDatabase> db(
      new ClusterDatabase(std::move(local), *std::move(etcd), std::move(options)));
  absl::StatusOr<std::unique_ptr<ShardLog>> log =
      ShardLog::Connect({.urls = db->options_.nats_urls});
  if (!log.ok()) return log.status();
  db->log_ = *std::move(log);
  absl::StatusOr<EtcdClient> member_etcd =
      EtcdClient::Create({.endpoints = db->options_.etcd_endpoints});
  if (!member_etcd.ok()) return member_etcd.status();
  absl::StatusOr<std::unique_ptr<Membership>> membership = Membership::Join(
      *std::move(member_etcd),
      {.cluster = db->options_.cluster_name, .node_id = db->options_.node_id,
       .advertise_rest = db->options_.advertise_rest,
       .advertise_grpc = db->options_.advertise_grpc,
       .ttl_seconds = db->options_.lease_ttl_seconds});
  if (!membership.ok()) return membership.status();
  db->membership_ = *std::move(membership);
  // A member for good (no lease): the logs are not trimmed past what it has not flushed, even
  // while it is down, until it is removed by hand (docs/cluster.md#trimming-the-logs).
  if (absl::Status s = db->etcd_.Put(Cat(db->MembersPrefix(), db->options_.node_id), "").status();
      !s.ok()) {
    return s;
  }
  if (absl::Status s = db->Refresh(); !s.ok()) {  // the refresh thread tries again
    Log(LogLevel::kWarning, Cat("cluster: opening the replicas failed, retrying: ", s.ToString()));
  }
  db->refresher_ = std::thread([p = db.get()] { p->RefreshLoop(); });
  return db;
}

ClusterDatabase::~ClusterDatabase() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
  }
  if (refresher_.joinable()) refresher_.join();
  std::map<std::string, Copy, std::less<>> copies;  // they stop at their next read
  {
    absl::MutexLock l(&mu_);
    copies.swap(copies_);
  }
  for (auto& [name, copy] : copies) copy.thread.join();
  absl::MutexLock l(&mu_);
  open_.clear();  // stops the apply threads before the local database closes
}

std::string ClusterDatabase::CatalogKey(std::string_view name) const {
  return Cat("/proximadb/", options_.cluster_name, "/collections/", name);
}

std::string ClusterDatabase::EntryValue(const Entry& e) {
  const json value = {{"config", ConfigToJson(e.config)}, {"created_at_us", e.config.created_at_us},
                      {"uid", e.uid}, {"shards", e.shards},
                      {"replication_factor", e.replication_factor}};
  json out = value;
  if (!e.placement.empty()) out["placement"] = e.placement;
  return out.dump();
}

absl::StatusOr<ClusterDatabase::Entry> ClusterDatabase::ParseEntry(std::string_view name,
                                                                   const KeyValue& kv) {
  const json j = json::parse(kv.value, nullptr, /*allow_exceptions=*/false);
  const std::string where = Cat("the cluster catalog's entry of collection '", name, "'");
  if (!j.is_object()) return absl::DataLossError(Cat(where, " is not JSON"));
  Entry e;
  absl::StatusOr<CollectionConfig> config =
      ConfigFromJson(j.value("config", json::object()), where);
  if (!config.ok()) return config.status();
  e.config = *std::move(config);
  e.config.created_at_us = j.value("created_at_us", int64_t{0});
  e.uid = j.value("uid", "");
  e.shards = j.value("shards", 0u);
  e.replication_factor = j.value("replication_factor", 0);
  e.mod_revision = kv.mod_revision;
  if (e.uid.empty() || e.shards == 0 || e.replication_factor == 0) {
    return absl::DataLossError(Cat(where, " lacks its uid, shards or replication factor"));
  }
  if (const auto p = j.find("placement"); p != j.end()) {
    if (!p->is_array() || p->size() != e.shards) {
      return absl::DataLossError(Cat(where, " has a placement that is not one list per shard"));
    }
    for (const json& nodes : *p) {
      if (!nodes.is_array() || !std::all_of(nodes.begin(), nodes.end(),
                                            [](const json& n) { return n.is_string(); })) {
        return absl::DataLossError(Cat(where, " has a placement that is not lists of node ids"));
      }
      e.placement.push_back(nodes.get<std::vector<std::string>>());
    }
  }
  e.config.shards = e.shards;
  e.config.replication_factor = static_cast<uint32_t>(e.replication_factor);
  return e;
}

absl::StatusOr<std::optional<ClusterDatabase::Entry>> ClusterDatabase::ReadEntry(
    std::string_view name) {
  absl::StatusOr<std::optional<KeyValue>> kv = etcd_.Get(CatalogKey(name));
  if (!kv.ok()) return kv.status();
  if (!kv->has_value()) return std::nullopt;
  return ParseEntry(name, **kv);
}

absl::StatusOr<std::vector<ClusterDatabase::Entry>> ClusterDatabase::ReadCatalog() {
  absl::StatusOr<std::vector<KeyValue>> kvs = etcd_.GetPrefix(CatalogKey(""));
  if (!kvs.ok()) return kvs.status();
  std::vector<Entry> out;
  for (const KeyValue& kv : *kvs) {  // one read for the whole catalog
    absl::StatusOr<Entry> e = ParseEntry(kv.key.substr(CatalogKey("").size()), kv);
    if (!e.ok()) return e.status();
    out.push_back(*std::move(e));
  }
  return out;
}

bool ClusterDatabase::Entry::Holds(std::string_view node, uint32_t shard) const {
  if (placement.empty()) return true;
  const std::vector<std::string>& nodes = placement[shard];
  return std::find(nodes.begin(), nodes.end(), node) != nodes.end();
}

absl::StatusOr<std::shared_ptr<ShardReplica>> ClusterDatabase::OpenReplica(const Entry& entry,
                                                                          uint32_t i) {
  const std::string stream = ShardStream(entry.uid, i);
  CollectionConfig config = entry.config;
  config.name = ShardName(entry.uid, i);
  {
    absl::MutexLock l(&mu_);
    if (auto it = retired_.find(config.name); it != retired_.end()) {
      if (!it->second.expired()) {  // moved off and back while a request still used it
        return absl::UnavailableError(Cat("shard replica ", config.name, " is still closing"));
      }
      retired_.erase(it);
    }
  }
  config.shards = config.replication_factor = 0;  // a local collection: one shard, one copy
  absl::StatusOr<std::shared_ptr<Collection>> local = local_->GetCollection(config.name);
  if (absl::IsNotFound(local.status())) {
    if (absl::Status s = local_->CreateCollection(config).status(); !s.ok()) return s;
    local = local_->GetCollection(config.name);
  }
  if (!local.ok()) return local.status();
  // Before it reads the log: from now on the log is not trimmed past what it has flushed.
  if (absl::Status s = PublishFlushed(entry.uid, i, **local); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<ShardReplica>> replica = ShardReplica::Start(
      log_.get(), *std::move(local), {.stream = stream, .node_id = options_.node_id});
  if (!replica.ok()) return replica.status();
  return std::shared_ptr<ShardReplica>(*std::move(replica));
}

absl::StatusOr<std::shared_ptr<ClusterDatabase::Replicas>> ClusterDatabase::OpenReplicas(
    const Entry& entry, const Replicas* reuse) {
  auto open = std::make_shared<Replicas>(entry.uid, entry.shards);
  open->entry = entry;
  open->local.resize(entry.shards);
  std::vector<std::shared_ptr<Shard>> shards;
  for (uint32_t i = 0; i < entry.shards; ++i) {
    // Every node makes sure of every log: the node that creates the collection may hold none.
    const std::string stream = ShardStream(entry.uid, i);
    absl::Status ensured = log_->EnsureStream(stream, LogReplicas(entry.replication_factor));
    if (absl::IsAlreadyExists(ensured)) {  // made before logs had an odd count: as it is
      ensured = log_->EnsureStream(stream, entry.replication_factor);
    }
    if (!ensured.ok()) return ensured;
    if (!entry.Holds(options_.node_id, i)) {
      if (!options_.remote_shards) {
        return absl::FailedPreconditionError(
            Cat("collection '", entry.config.name, "' is placed on other nodes, and this node "
                "was started without a way to reach them"));
      }
      shards.push_back(RemoteShard(entry, i));
      continue;
    }
    absl::StatusOr<std::shared_ptr<Shard>> shard =
        OpenPlaced(entry, i, reuse != nullptr ? reuse->local[i] : nullptr, &open->local[i]);
    if (!shard.ok()) return shard.status();
    shards.push_back(*std::move(shard));
  }
  open->collection = std::make_shared<ShardedCollection>(
      std::move(shards), entry.config, ReadConsistency::kStrong, options_.max_id_bytes,
      options_.max_metadata_bytes);
  open->eventual = open->collection->WithReads(ReadConsistency::kEventual);
  // Replicas opened again keep their settings; those changed while this node was away are
  // applied now, or at a later refresh if a replica refuses them for now.
  if (absl::Status s = ApplySettings(*open, entry); !s.ok()) {
    Log(LogLevel::kWarning, Cat("cluster: collection '", entry.config.name, "' keeps its old "
                                "settings on this node for now: ", s.ToString()));
    open->entry.mod_revision = 0;  // not shared yet
  }
  std::shared_ptr<Replicas> replaced;  // an older collection of that name: stopped unlocked
  {
    absl::MutexLock l(&mu_);
    replaced = std::exchange(open_[entry.config.name], open);
  }
  return open;
}

absl::Status ClusterDatabase::DropReplicas(const std::string& uid, bool delete_files) {
  std::vector<std::shared_ptr<Replicas>> closing;  // stopped after mu_ is released: stopping
  {                                                // waits for their apply threads
    absl::MutexLock l(&mu_);
    for (auto it = open_.begin(); it != open_.end();) {
      if (it->second->entry.uid == uid) {
        closing.push_back(std::move(it->second));
        it = open_.erase(it);
      } else {
        ++it;
      }
    }
  }
  closing.clear();
  if (!delete_files) return absl::OkStatus();
  absl::Status first;
  for (const CollectionConfig& c : local_->ListCollections()) {
    if (UidOfShard(c.name) == uid) first.Update(local_->DropCollection(c.name));
  }
  return first;
}

absl::Status ClusterDatabase::Refresh() {
  absl::MutexLock l(&change_mu_);
  return RefreshLocked();
}

absl::Status ClusterDatabase::RefreshLocked() {
  {
    absl::MutexLock l(&mu_);
    refresh_started_us_ = absl::ToUnixMicros(absl::Now());
  }
  if (absl::Status s = ReadNodes(); !s.ok()) return s;
  absl::StatusOr<std::vector<Entry>> catalog = ReadCatalog();
  if (!catalog.ok()) return catalog.status();
  std::map<std::string, const Entry*> uids;  // the catalog's entries, by uid
  absl::Status first;
  for (const Entry& e : *catalog) {
    uids[e.uid] = &e;
    std::shared_ptr<Replicas> open;
    {
      absl::MutexLock l(&mu_);
      auto it = open_.find(e.config.name);
      if (it != open_.end() && it->second->entry.uid == e.uid) open = it->second;
    }
    if (open == nullptr) {
      first.Update(OpenReplicas(e).status());
    } else if (open->entry.placement != e.placement || ToReopen(*open)) {
      // Placed anew by another node, or a replica copied (or to be copied again), stopped or
      // closed since.
      first.Update(Reopen(std::move(open), e));
    } else if (open->entry.mod_revision != e.mod_revision) {
      first.Update(ApplySettings(*open, e));  // changed on another node
    }
  }
  std::set<std::string> gone;
  {
    absl::MutexLock l(&mu_);
    for (const auto& [name, open] : open_) {
      if (!uids.count(open->entry.uid)) gone.insert(open->entry.uid);
    }
  }
  std::set<std::string> unplaced;  // replicas of shards placed on other nodes since
  for (const CollectionConfig& c : local_->ListCollections()) {
    const auto shard = ShardOfLocal(c.name);
    if (!shard) continue;
    if (!uids.count(shard->first)) {
      gone.insert(shard->first);
      continue;
    }
    absl::MutexLock l(&mu_);
    if (auto it = retired_.find(c.name); it != retired_.end()) {
      if (!it->second.expired()) continue;  // a request still uses it
      retired_.erase(it);
    }
    // Not placed here by the catalog just read (not this node's view, which a failed reopen
    // may leave behind it), and not open here.
    const Entry& e = *uids[shard->first];
    if (shard->second >= e.shards || e.Holds(options_.node_id, shard->second)) continue;
    for (const auto& [name, open] : open_) {
      if (open->uid == shard->first && open->local[shard->second] == nullptr) {
        unplaced.insert(c.name);
      }
    }
  }
  for (const std::string& name : unplaced) {
    Log(LogLevel::kInfo, Cat("cluster: dropping replica ", name, ", now placed on other nodes"));
    first.Update(local_->DropCollection(name));
  }
  for (const std::string& uid : gone) {
    // Not in the catalog: no longer served. Its files go only once its log is gone too (the
    // drop deletes it), so that a wrong catalog (another cluster name, an etcd that lost its
    // data) costs no data.
    absl::Status log = log_->State(ShardStream(uid, 0)).status();
    first.Update(DropReplicas(uid, absl::IsNotFound(log)));
    if (absl::IsNotFound(log)) {  // what a drop may have left behind
      first.Update(etcd_.DeletePrefix(ProgressPrefix(uid)).status());
      first.Update(etcd_.DeletePrefix(ReadyPrefix(uid)).status());
    }
  }
  first.Update(PublishReady());
  return first;
}

void ClusterDatabase::RefreshLoop() {
  absl::MutexLock l(&mu_);
  for (int pass = 1; !mu_.AwaitWithTimeout(absl::Condition(&stop_),
                                           absl::Milliseconds(options_.catalog_refresh_ms));
       ++pass) {
    mu_.Unlock();
    if (absl::Status s = Refresh(); !s.ok()) {
      Log(LogLevel::kWarning, Cat("cluster: catalog refresh failed: ", s.ToString()));
    }
    if (absl::Status s = Replace(); !s.ok()) {
      Log(LogLevel::kWarning, Cat("cluster: placing shards failed: ", s.ToString()));
    }
    if (options_.trim_logs && pass % std::max(options_.trim_every_refreshes, 1) == 0) {
      if (absl::Status s = TrimLogs(); !s.ok()) {
        Log(LogLevel::kWarning, Cat("cluster: trimming the logs failed: ", s.ToString()));
      }
    }
    mu_.Lock();
  }
}

absl::StatusOr<CollectionConfig> ClusterDatabase::CreateCollection(const CollectionConfig& c) {
  if (absl::Status s = ValidateCollectionConfig(c); !s.ok()) return s;
  Entry e;
  e.config = c;
  e.config.created_at_us = absl::ToUnixMicros(absl::Now());
  e.uid = NewUid();
  if (c.shards > 256) {
    return absl::InvalidArgumentError(Cat("shards: ", c.shards, " is not in 1..256"));
  }
  if (c.replication_factor > 5) {
    return absl::InvalidArgumentError(
        Cat("replication_factor: ", c.replication_factor, " is not in 1..5"));
  }
  e.shards = c.shards != 0 ? c.shards : options_.default_shards;
  e.replication_factor = c.replication_factor != 0 ? static_cast<int>(c.replication_factor)
                                                   : options_.replication_factor;
  e.config.shards = e.shards;
  e.config.replication_factor = static_cast<uint32_t>(e.replication_factor);
  absl::MutexLock l(&change_mu_);
  if (options_.remote_shards) {
    if (absl::Status s = ReadNodes(); !s.ok()) return s;
    e.placement = Place(e.shards, e.replication_factor);
  }
  absl::StatusOr<bool> created = etcd_.CreateIfAbsent(CatalogKey(c.name), EntryValue(e));
  if (absl::IsUnavailable(created.status()) || absl::IsDeadlineExceeded(created.status())) {
    // No answer, but etcd may have applied it: this create's uid in the catalog says it did.
    absl::StatusOr<std::optional<Entry>> written = ReadEntry(c.name);
    if (written.ok() && written->has_value() && (*written)->uid == e.uid) created = true;
  }
  if (!created.ok()) return created.status();
  if (!*created) {
    return absl::AlreadyExistsError(Cat("collection '", c.name, "' already exists"));
  }
  if (absl::Status s = OpenReplicas(e).status(); !s.ok()) {
    // This node cannot open it (a setting it cannot serve, more replicas than NATS servers):
    // the collection is not created.
    absl::StatusOr<std::optional<Entry>> written = ReadEntry(c.name);
    if (written.ok() && written->has_value() && (*written)->uid == e.uid) {
      (void)etcd_.CompareAndDelete(CatalogKey(c.name), (*written)->mod_revision);
    }
    (void)DropReplicas(e.uid, /*delete_files=*/true);
    for (uint32_t i = 0; i < e.shards; ++i) (void)log_->DeleteStream(ShardStream(e.uid, i));
    return s;
  }
  return e.config;
}

std::vector<CollectionConfig> ClusterDatabase::ListCollections() {
  absl::StatusOr<std::vector<Entry>> catalog = ReadCatalog();
  std::vector<CollectionConfig> out;
  if (catalog.ok()) {
    for (Entry& e : *catalog) out.push_back(std::move(e.config));
  } else {  // etcd unreachable: what this node has open
    absl::MutexLock l(&mu_);
    for (const auto& [name, open] : open_) out.push_back(open->entry.config);
  }
  return out;
}

absl::StatusOr<CollectionConfig> ClusterDatabase::DescribeCollection(std::string_view name) {
  absl::StatusOr<std::optional<Entry>> e = ReadEntry(name);
  if (absl::IsUnavailable(e.status()) || absl::IsDeadlineExceeded(e.status())) {
    absl::MutexLock l(&mu_);  // etcd unreachable: what this node has open
    if (auto it = open_.find(name); it != open_.end()) return it->second->entry.config;
  }
  if (!e.ok()) return e.status();
  if (!e->has_value()) return absl::NotFoundError(Cat("collection '", name, "' not found"));
  return (*e)->config;
}

absl::StatusOr<std::shared_ptr<ClusterDatabase::Replicas>> ClusterDatabase::Find(
    std::string_view name) {
  {
    absl::MutexLock l(&mu_);
    if (auto it = open_.find(name); it != open_.end()) return it->second;
  }
  // Created on another node since this one's last refresh, or never.
  absl::MutexLock l(&change_mu_);
  absl::StatusOr<std::optional<Entry>> e = ReadEntry(name);
  if (!e.ok()) return e.status();
  if (!e->has_value()) return absl::NotFoundError(Cat("collection '", name, "' not found"));
  return OpenLocked(**e);
}

absl::StatusOr<std::shared_ptr<ClusterDatabase::Replicas>> ClusterDatabase::OpenLocked(
    const Entry& entry) {
  {
    absl::MutexLock m(&mu_);
    auto it = open_.find(entry.config.name);
    if (it != open_.end() && it->second->entry.uid == entry.uid) return it->second;
  }
  return OpenReplicas(entry);
}

absl::StatusOr<std::shared_ptr<Collection>> ClusterDatabase::GetCollection(std::string_view name) {
  return GetCollectionForReads(name, ReadConsistency::kStrong);
}

absl::StatusOr<std::shared_ptr<Collection>> ClusterDatabase::GetCollectionForReads(
    std::string_view name, ReadConsistency consistency) {
  absl::StatusOr<std::shared_ptr<Replicas>> open = Find(name);
  if (!open.ok()) return open.status();
  if (consistency == ReadConsistency::kEventual) return (*open)->eventual;
  return (*open)->collection;
}

absl::Status ClusterDatabase::DropCollection(std::string_view name) {
  absl::MutexLock l(&change_mu_);
  absl::StatusOr<std::optional<Entry>> e = ReadEntry(name);
  if (!e.ok()) return e.status();
  if (!e->has_value()) return absl::NotFoundError(Cat("collection '", name, "' not found"));
  absl::StatusOr<bool> deleted = etcd_.CompareAndDelete(CatalogKey(name), (*e)->mod_revision);
  if (!deleted.ok()) return deleted.status();
  if (!*deleted) {
    return absl::AbortedError(Cat("collection '", name, "' changed during the drop; retry"));
  }
  absl::Status first = DropReplicas((*e)->uid, /*delete_files=*/true);
  for (uint32_t i = 0; i < (*e)->shards; ++i) {
    absl::Status s = log_->DeleteStream(ShardStream((*e)->uid, i));
    if (!absl::IsNotFound(s)) first.Update(s);
  }
  first.Update(etcd_.DeletePrefix(ProgressPrefix((*e)->uid)).status());
  first.Update(etcd_.DeletePrefix(ReadyPrefix((*e)->uid)).status());
  return first;
}

absl::Status ClusterDatabase::ApplySettings(Replicas& open, const Entry& e) {
  std::vector<std::pair<std::string, CollectionUpdate>> changes;
  for (uint32_t i = 0; i < open.shards; ++i) {
    if (open.local[i] == nullptr) continue;  // held elsewhere
    Collection& replica = open.local[i]->collection();
    const CollectionConfig now = replica.config();
    std::optional<CollectionUpdate> u = UpdateBetween(now, e.config);
    if (!u) continue;
    const CollectionConfig after = ApplyCollectionUpdate(now, *u);
    const bool relayout = after.storage_strategy != now.storage_strategy ||
                          after.indexing_algorithm != now.indexing_algorithm ||
                          after.quantization.kind != now.quantization.kind ||
                          after.quantization.pq_m != now.quantization.pq_m ||
                          after.metadata_compression != now.metadata_compression;
    if (relayout && replica.Stats().migration_state != "none") {  // refused before any change
      return WithErrorCode(
          absl::FailedPreconditionError(Cat("collection '", e.config.name, "': shard ", i,
                                            " is still migrating to the previous layout change "
                                            "(see its stats)")),
          kMigrationInProgress);
    }
    changes.emplace_back(ShardName(open.uid, i), *std::move(u));
  }
  for (const auto& [shard, u] : changes) {
    if (absl::Status s = local_->UpdateCollection(shard, u).status(); !s.ok()) return s;
  }
  absl::MutexLock l(&mu_);
  // The placement stays the one the replicas were opened for: a change of it is the refresh's
  // to follow (Reopen), which it does when it finds the catalog's differs.
  std::vector<std::vector<std::string>> placement = std::move(open.entry.placement);
  open.entry = e;
  open.entry.placement = std::move(placement);
  return absl::OkStatus();
}

absl::StatusOr<CollectionConfig> ClusterDatabase::UpdateCollection(std::string_view name,
                                                                   const CollectionUpdate& u) {
  absl::MutexLock l(&change_mu_);
  absl::StatusOr<std::optional<Entry>> read = ReadEntry(name);
  if (!read.ok()) return read.status();
  if (!read->has_value()) return absl::NotFoundError(Cat("collection '", name, "' not found"));
  Entry e = **std::move(read);
  e.config = ApplyCollectionUpdate(e.config, u);
  if (absl::Status s = ValidateCollectionConfig(e.config); !s.ok()) return s;
  // This node's replicas first: what they refuse (a migration still running, a tier this node
  // lacks) changes nothing in the catalog. Then the catalog, on the revision read: other nodes
  // follow at their next refresh, and a node that was away when it opens its replicas.
  absl::StatusOr<std::optional<Entry>> before = ReadEntry(name);  // opened as it is
  if (!before.ok()) return before.status();
  if (!before->has_value() || (*before)->uid != e.uid) {
    return absl::AbortedError(Cat("collection '", name, "' changed during the update; retry"));
  }
  absl::StatusOr<std::shared_ptr<Replicas>> open = OpenLocked(**before);
  if (!open.ok()) return open.status();
  // Recorded with revision 0 whatever comes next, so that the refresh brings the replicas in
  // line with the catalog if the transaction fails, or its outcome is unknown.
  Entry applied = e;
  applied.mod_revision = 0;
  if (absl::Status s = ApplySettings(**open, applied); !s.ok()) {
    absl::MutexLock m(&mu_);
    (*open)->entry.mod_revision = 0;  // a failure on a later shard: the earlier ones changed
    return s;
  }
  absl::StatusOr<bool> swapped = etcd_.CompareAndSwap(CatalogKey(name), EntryValue(e),
                                                      e.mod_revision);
  if (!swapped.ok()) return swapped.status();
  if (!*swapped) {  // changed meanwhile: the refresh brings this node's replicas back in line
    return absl::AbortedError(Cat("collection '", name, "' changed during the update; retry"));
  }
  return e.config;
}

absl::StatusOr<BackupInfo> ClusterDatabase::BackupCollection(std::string_view) {
  return NotInCluster("a backup");
}

absl::StatusOr<std::vector<BackupInfo>> ClusterDatabase::ListBackups() {
  return NotInCluster("listing backups");
}

absl::StatusOr<CollectionConfig> ClusterDatabase::RestoreBackup(std::string_view,
                                                                std::string_view) {
  return NotInCluster("a restore");
}

absl::Status ClusterDatabase::DeleteBackup(std::string_view) {
  return NotInCluster("deleting a backup");
}

absl::StatusOr<CollectionConfig> ClusterDatabase::RestoreToTime(std::string_view, int64_t,
                                                                std::string_view) {
  return NotInCluster("a point-in-time restore");
}

absl::StatusOr<ClusterView> ClusterDatabase::View() {
  ClusterView view{.cluster = options_.cluster_name, .node_id = options_.node_id};
  absl::StatusOr<std::vector<NodeInfo>> nodes = membership_->Nodes();
  if (!nodes.ok()) return nodes.status();
  view.nodes = *std::move(nodes);
  absl::StatusOr<std::vector<Entry>> catalog = ReadCatalog();
  if (!catalog.ok()) return catalog.status();
  std::map<std::string, std::shared_ptr<Replicas>> open;  // by uid
  {
    absl::MutexLock l(&mu_);
    for (const auto& [name, o] : open_) open[o->entry.uid] = o;
  }
  for (const Entry& e : *catalog) {
    ClusterView::Collection c{.name = e.config.name,
                              .replication_factor = static_cast<uint32_t>(e.replication_factor)};
    auto mine = open.find(e.uid);
    for (uint32_t i = 0; i < e.shards; ++i) {
      ClusterView::Shard shard{.index = i, .stream = ShardStream(e.uid, i)};
      if (e.placement.empty()) {
        for (const NodeInfo& n : view.nodes) shard.nodes.push_back(n.id);
      } else {
        shard.nodes = e.placement[i];
      }
      shard.placed_here = e.Holds(options_.node_id, i);
      absl::StatusOr<StreamState> state = log_->State(shard.stream);
      if (absl::IsNotFound(state.status())) {  // being created, or dropped: no positions yet
        c.shards.push_back(std::move(shard));
        continue;
      }
      if (!state.ok()) return state.status();
      shard.log = *std::move(state);
      if (mine == open.end() || mine->second->local[i] == nullptr) {
        // At its next refresh or the collection's first request, or held elsewhere.
        shard.copying = shard.placed_here && Copying(ShardName(e.uid, i));
        c.shards.push_back(std::move(shard));
        continue;
      }
      ShardReplica& replica = *mine->second->local[i];
      shard.opened = true;
      shard.applied = replica.applied();
      if (absl::Status s = replica.apply_error(); !s.ok()) shard.apply_error = s.ToString();
      c.shards.push_back(std::move(shard));
    }
    view.collections.push_back(std::move(c));
  }
  return view;
}

}  // namespace proximadb::cluster
