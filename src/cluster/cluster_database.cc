#include "cluster/cluster_database.h"

#include <algorithm>
#include <random>
#include <set>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
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

std::string ShardName(const std::string& uid, uint32_t shard) { return Cat("s-", uid, "-", shard); }
std::string StreamName(const std::string& uid, uint32_t shard) {
  return Cat("proximadb-", uid, "-", shard);
}

// The uid of a local collection that holds a shard replica: "s-" then the uid (16 lower-case
// hex digits), '-' and the shard's number; "" for any other name.
std::string UidOfShard(std::string_view local_name) {
  constexpr size_t kUid = 16;
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (local_name.size() < 2 + kUid + 2 || !local_name.starts_with("s-") ||
      local_name[2 + kUid] != '-') {
    return "";
  }
  const std::string_view uid = local_name.substr(2, kUid), shard = local_name.substr(3 + kUid);
  if (!std::all_of(uid.begin(), uid.end(), hex) ||
      !std::all_of(shard.begin(), shard.end(), digit)) {
    return "";
  }
  return std::string(uid);
}

absl::Status NotInCluster(std::string_view what) {
  return absl::UnimplementedError(Cat(what, " is not available in cluster mode yet "
                                            "(docs/cluster.md)"));
}

}  // namespace

struct ClusterDatabase::Entry {
  CollectionConfig config;
  std::string uid;
  uint32_t shards = 0;
  int replication_factor = 0;
  int64_t mod_revision = 0;
};

struct ClusterDatabase::Replicas {
  Entry entry;
  std::shared_ptr<ShardedCollection> collection;
};

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
  absl::MutexLock l(&mu_);
  open_.clear();  // stops the apply threads before the local database closes
}

std::string ClusterDatabase::CatalogKey(std::string_view name) const {
  return Cat("/proximadb/", options_.cluster_name, "/collections/", name);
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

absl::StatusOr<std::shared_ptr<ClusterDatabase::Replicas>> ClusterDatabase::OpenReplicas(
    const Entry& entry) {
  std::vector<std::unique_ptr<ShardReplica>> replicas;
  for (uint32_t i = 0; i < entry.shards; ++i) {
    const std::string stream = StreamName(entry.uid, i);
    if (absl::Status s = log_->EnsureStream(stream, entry.replication_factor); !s.ok()) return s;
    CollectionConfig config = entry.config;
    config.name = ShardName(entry.uid, i);
    absl::StatusOr<std::shared_ptr<Collection>> local = local_->GetCollection(config.name);
    if (absl::IsNotFound(local.status())) {
      if (absl::Status s = local_->CreateCollection(config).status(); !s.ok()) return s;
      local = local_->GetCollection(config.name);
    }
    if (!local.ok()) return local.status();
    absl::StatusOr<std::unique_ptr<ShardReplica>> replica = ShardReplica::Start(
        log_.get(), *std::move(local), {.stream = stream, .node_id = options_.node_id});
    if (!replica.ok()) return replica.status();
    replicas.push_back(*std::move(replica));
  }
  auto open = std::make_shared<Replicas>();
  open->entry = entry;
  open->collection =
      std::make_shared<ShardedCollection>(entry.config.name, std::move(replicas));
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
  absl::StatusOr<std::vector<Entry>> catalog = ReadCatalog();
  if (!catalog.ok()) return catalog.status();
  std::set<std::string> uids;
  absl::Status first;
  for (const Entry& e : *catalog) {
    uids.insert(e.uid);
    bool open;
    {
      absl::MutexLock l(&mu_);
      auto it = open_.find(e.config.name);
      open = it != open_.end() && it->second->entry.uid == e.uid;
    }
    if (!open) first.Update(OpenReplicas(e).status());
  }
  std::set<std::string> gone;
  {
    absl::MutexLock l(&mu_);
    for (const auto& [name, open] : open_) {
      if (!uids.count(open->entry.uid)) gone.insert(open->entry.uid);
    }
  }
  for (const CollectionConfig& c : local_->ListCollections()) {
    const std::string uid = UidOfShard(c.name);
    if (!uid.empty() && !uids.count(uid)) gone.insert(uid);
  }
  for (const std::string& uid : gone) {
    // Not in the catalog: no longer served. Its files go only once its log is gone too (the
    // drop deletes it), so that a wrong catalog (another cluster name, an etcd that lost its
    // data) costs no data.
    absl::Status log = log_->State(StreamName(uid, 0)).status();
    first.Update(DropReplicas(uid, absl::IsNotFound(log)));
  }
  return first;
}

void ClusterDatabase::RefreshLoop() {
  absl::MutexLock l(&mu_);
  while (!mu_.AwaitWithTimeout(absl::Condition(&stop_),
                               absl::Milliseconds(options_.catalog_refresh_ms))) {
    mu_.Unlock();
    if (absl::Status s = Refresh(); !s.ok()) {
      Log(LogLevel::kWarning, Cat("cluster: catalog refresh failed: ", s.ToString()));
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
  e.shards = options_.default_shards;
  e.replication_factor = options_.replication_factor;
  const json value = {{"config", ConfigToJson(e.config)}, {"created_at_us", e.config.created_at_us},
                      {"uid", e.uid}, {"shards", e.shards},
                      {"replication_factor", e.replication_factor}};
  absl::MutexLock l(&change_mu_);
  absl::StatusOr<bool> created = etcd_.CreateIfAbsent(CatalogKey(c.name), value.dump());
  if (!created.ok()) return created.status();
  if (!*created) {
    return absl::AlreadyExistsError(Cat("collection '", c.name, "' already exists"));
  }
  if (absl::Status s = OpenReplicas(e).status(); !s.ok()) {
    // This node cannot hold it (a setting it cannot serve, more replicas than NATS servers):
    // the collection is not created.
    absl::StatusOr<std::optional<Entry>> written = ReadEntry(c.name);
    if (written.ok() && written->has_value() && (*written)->uid == e.uid) {
      (void)etcd_.CompareAndDelete(CatalogKey(c.name), (*written)->mod_revision);
    }
    (void)DropReplicas(e.uid, /*delete_files=*/true);
    for (uint32_t i = 0; i < e.shards; ++i) (void)log_->DeleteStream(StreamName(e.uid, i));
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
  if (!e.ok()) return e.status();
  if (!e->has_value()) return absl::NotFoundError(Cat("collection '", name, "' not found"));
  return (*e)->config;
}

absl::StatusOr<std::shared_ptr<Collection>> ClusterDatabase::GetCollection(std::string_view name) {
  {
    absl::MutexLock l(&mu_);
    if (auto it = open_.find(name); it != open_.end()) return it->second->collection;
  }
  // Created on another node since this one's last refresh, or never.
  absl::MutexLock l(&change_mu_);
  {
    absl::MutexLock m(&mu_);
    if (auto it = open_.find(name); it != open_.end()) return it->second->collection;
  }
  absl::StatusOr<std::optional<Entry>> e = ReadEntry(name);
  if (!e.ok()) return e.status();
  if (!e->has_value()) return absl::NotFoundError(Cat("collection '", name, "' not found"));
  absl::StatusOr<std::shared_ptr<Replicas>> open = OpenReplicas(**e);
  if (!open.ok()) return open.status();
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
    absl::Status s = log_->DeleteStream(StreamName((*e)->uid, i));
    if (!absl::IsNotFound(s)) first.Update(s);
  }
  return first;
}

absl::StatusOr<CollectionConfig> ClusterDatabase::UpdateCollection(std::string_view,
                                                                   const CollectionUpdate&) {
  return NotInCluster("changing a collection's settings");
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
  ClusterView view;
  absl::StatusOr<std::vector<NodeInfo>> nodes = membership_->Nodes();
  if (!nodes.ok()) return nodes.status();
  view.nodes = *std::move(nodes);
  std::vector<std::shared_ptr<Replicas>> open;
  {
    absl::MutexLock l(&mu_);
    for (const auto& [name, o] : open_) open.push_back(o);
  }
  for (const auto& o : open) {
    ClusterView::Collection c{.name = o->entry.config.name,
                              .replication_factor =
                                  static_cast<uint32_t>(o->entry.replication_factor)};
    for (uint32_t i = 0; i < o->entry.shards; ++i) {
      ClusterView::Shard shard{.index = i, .stream = StreamName(o->entry.uid, i)};
      absl::StatusOr<StreamState> state = log_->State(shard.stream);
      if (!state.ok()) return state.status();
      shard.log = *std::move(state);
      shard.applied = o->collection->shard(i).applied();
      shard.apply_error = o->collection->shard(i).apply_error().ToString();
      if (o->collection->shard(i).apply_error().ok()) shard.apply_error.clear();
      c.shards.push_back(std::move(shard));
    }
    view.collections.push_back(std::move(c));
  }
  return view;
}

}  // namespace proximadb::cluster
