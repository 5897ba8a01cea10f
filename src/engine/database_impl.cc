// Database: the catalog, the collections of one data directory, and the background
// maintenance thread that flushes and compacts them.
#include <algorithm>
#include <functional>
#include <map>
#include <random>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "catalog/catalog.h"
#include "common/errors.h"
#include "common/logging.h"
#include "common/macros.h"
#include "common/strings.h"
#include "engine/backup.h"
#include "engine/collection_config.h"
#include "engine/collection_impl.h"
#include "engine/placement.h"
#include "engine/snapshot_export.h"
#include "env/env.h"
#include "proximadb/database.h"

namespace proximadb {

absl::Status Collection::Insert(Record record) {
  std::vector<Record> batch;
  batch.push_back(std::move(record));
  return Write(std::move(batch), WriteMode::kInsert);
}

absl::Status Collection::Upsert(Record record) {
  std::vector<Record> batch;
  batch.push_back(std::move(record));
  return Write(std::move(batch), WriteMode::kUpsert);
}

namespace {

// A single node holds a collection in one shard, one copy (docs/cluster.md for more).
absl::Status CheckOneShard(const CollectionConfig& c) {
  for (auto [field, value] : {std::pair{"shards", c.shards},
                              std::pair{"replication_factor", c.replication_factor}}) {
    if (value > 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": ", value, " needs cluster mode; a single node holds one shard in one copy "
          "(docs/cluster.md)"));
    }
  }
  return absl::OkStatus();
}

absl::Status CollectionNotFound(std::string_view name) {
  return absl::NotFoundError(absl::StrCat("collection '", std::string(name), "' not found"));
}

class DatabaseImpl final : public Database {
 public:
  DatabaseImpl(const DatabaseOptions& options, Env* env, std::unique_ptr<FileLock> lock,
               std::unique_ptr<Catalog> catalog)
      : options_(options), env_(env), lock_(std::move(lock)), catalog_(std::move(catalog)) {
    // Set here, without mu_ held: a wake takes mu_ under the budget's own lock.
    budget_->SetWake([this] {
      absl::MutexLock l(&mu_);
      wake_maintenance_ = true;
    });
    if (options_.object_store != nullptr) {
      cold_cache_ = std::make_shared<ColdCache>(
          env_,
          options_.cache_directory.empty() ? JoinPath(options_.data_dir, "cache")
                                           : options_.cache_directory,
          options_.cache_size_mb << 20);
    }
  }

  ~DatabaseImpl() override {
    budget_->SetWake({});  // collections may outlive the database: no more calls into it
    BeginShutdown();  // collections created since a first call too
    {
      absl::MutexLock l(&mu_);
      stop_ = true;
    }
    if (maintenance_.joinable()) maintenance_.join();
    if (rewriter_.joinable()) rewriter_.join();
    if (indexer_.joinable()) indexer_.join();
  }

  void BeginShutdown() override {
    absl::MutexLock l(&mu_);
    for (const auto& [name, c] : collections_) c->CancelRewrites(/*dropped=*/false);
  }

  absl::Status Load() {
    if (cold_cache_ != nullptr) PROXIMADB_RETURN_IF_ERROR(cold_cache_->Reset());
    PROXIMADB_ASSIGN_OR_RETURN(std::vector<CatalogEntry> entries, catalog_->List());
    absl::MutexLock l(&mu_);
    std::vector<std::string> known;
    for (CatalogEntry& e : entries) {
      known.push_back(e.dir_name);
      absl::StatusOr<std::shared_ptr<CollectionImpl>> c =
          CollectionImpl::Open(CollectionOptionsFor(e));
      if (!c.ok()) {
        return absl::Status(c.status().code(), absl::StrCat("collection '", e.config.name,
                                                            "': ", c.status().message()));
      }
      collections_[e.config.name] = *std::move(c);
    }
    // Directories without a catalog entry are what an interrupted create, restore or drop
    // left, in any of the base directories.
    for (const std::string& base : BaseDirs()) {
      const std::string collections = JoinPath(base, "collections");
      if (!env_->FileExists(collections)) continue;
      PROXIMADB_ASSIGN_OR_RETURN(std::vector<std::string> dirs, env_->ListDir(collections));
      for (const std::string& d : dirs) {
        if (std::find(known.begin(), known.end(), d) == known.end()) {
          Log(LogLevel::kInfo, Cat("removing orphaned collection directory ", collections, "/", d));
          PROXIMADB_RETURN_IF_ERROR(env_->RemoveDirRecursively(JoinPath(collections, d)));
        }
      }
    }
    if (options_.background_maintenance) {
      maintenance_ = std::thread([this] { Loop(&wake_maintenance_, &DatabaseImpl::Maintain); });
      rewriter_ = std::thread([this] { Loop(&wake_rewrites_, &DatabaseImpl::Rewrite); });
    }
    if (options_.background_indexing) {
      indexer_ = std::thread([this] { IndexingLoop(); });
    }
    return absl::OkStatus();
  }

  absl::StatusOr<CollectionConfig> UpdateCollection(std::string_view name,
                                                    const CollectionUpdate& u) override {
    absl::MutexLock l(&mu_);
    auto it = collections_.find(std::string(name));
    if (it == collections_.end()) {
      return absl::NotFoundError(absl::StrCat("collection '", std::string(name), "' not found"));
    }
    const CollectionConfig before = it->second->config();
    const CollectionConfig c = ApplyCollectionUpdate(before, u);
    PROXIMADB_RETURN_IF_ERROR(ValidateCollectionConfig(c));
    if (u.tiering) PROXIMADB_RETURN_IF_ERROR(CheckTieringPlaces(c.tiering));
    const bool relayout = c.storage_strategy != before.storage_strategy ||
                          c.indexing_algorithm != before.indexing_algorithm ||
                          c.quantization.kind != before.quantization.kind ||
                          c.quantization.pq_m != before.quantization.pq_m ||
                          c.metadata_compression != before.metadata_compression;
    if (relayout && it->second->MigrationInProgress()) {
      return WithErrorCode(
          absl::FailedPreconditionError(absl::StrCat(
              "collection '", c.name,
              "': a migration to the previous layout change is still running (see its stats)")),
          kMigrationInProgress);
    }
    // The catalog first: once it has the settings, a restart applies them too (and resumes the
    // migration).
    PROXIMADB_RETURN_IF_ERROR(catalog_->UpdateSettings(c));
    it->second->UpdateSettings(c);
    if (c.tiering != before.tiering) wake_maintenance_ = true;  // the policy applies at once
    if (relayout) {
      PROXIMADB_RETURN_IF_ERROR(it->second->ChangeLayout(c));
      wake_rewrites_ = true;  // the migration starts now
    }
    return c;
  }

  // A policy that needs directories this database does not have.
  absl::Status CheckTieringPlaces(const TieringPolicy& t) const {
    if (t.warm_after_hours && options_.warm_directories.empty()) {
      return absl::InvalidArgumentError(
          "tiering.warm_after_hours: no warm directories are configured ([storage] "
          "warm_directories)");
    }
    if (t.cold_after_hours && options_.object_store == nullptr) {
      return WithErrorCode(absl::FailedPreconditionError(
                               "tiering.cold_after_hours: no object store is configured "
                               "([object_store] endpoint)"),
                           kObjectStoreNotConfigured);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<CollectionConfig> CreateCollection(const CollectionConfig& config) override {
    PROXIMADB_RETURN_IF_ERROR(ValidateCollectionConfig(config));
    PROXIMADB_RETURN_IF_ERROR(CheckTieringPlaces(config.tiering));
    PROXIMADB_RETURN_IF_ERROR(CheckOneShard(config));
    absl::MutexLock l(&mu_);
    if (collections_.contains(config.name)) {
      return absl::AlreadyExistsError(
          absl::StrCat("collection '", config.name, "' already exists"));
    }
    CatalogEntry entry;
    entry.config = config;
    entry.config.created_at_us = absl::ToUnixMicros(absl::Now());
    entry.dir_name = NewDirName(entry.config.created_at_us);
    // The directory first, then the catalog row: a crash in between leaves an orphaned
    // directory, which the next open removes.
    CollectionOptions opts = CollectionOptionsFor(entry);
    absl::StatusOr<std::shared_ptr<CollectionImpl>> c = CollectionImpl::Create(opts);
    absl::Status s = c.status();
    if (s.ok()) s = catalog_->Insert(entry);
    if (!s.ok()) {
      if (c.ok()) c->reset();
      if (env_->FileExists(opts.dir)) env_->RemoveDirRecursively(opts.dir).IgnoreError();
      return s;
    }
    collections_[config.name] = *std::move(c);
    return entry.config;
  }

  std::vector<CollectionConfig> ListCollections() override {
    absl::MutexLock l(&mu_);
    std::vector<CollectionConfig> out;
    for (const auto& [name, c] : collections_) out.push_back(c->config());
    return out;
  }

  absl::StatusOr<CollectionConfig> DescribeCollection(std::string_view name) override {
    PROXIMADB_ASSIGN_OR_RETURN(std::shared_ptr<Collection> c, GetCollection(name));
    return c->config();
  }

  absl::Status DropCollection(std::string_view name) override {
    std::shared_ptr<CollectionImpl> c;
    {
      absl::MutexLock l(&mu_);
      auto it = collections_.find(std::string(name));
      if (it == collections_.end()) return CollectionNotFound(name);
      // The catalog row goes first: after it, a crash leaves only an orphaned directory.
      PROXIMADB_RETURN_IF_ERROR(catalog_->Remove(name));
      c = std::move(it->second);
      collections_.erase(it);
    }
    c->MarkDropped();
    if (absl::Status s = c->DropColdTier(); !s.ok()) {
      Log(LogLevel::kWarning, Cat("dropped collection '", name, "': its cold segments could not "
                                  "all be deleted from the object store: ", s.ToString()));
    }
    // The manifest's directory last: until it goes, the collection's files can be found.
    std::vector<std::string> dirs = c->AllDirs();
    std::reverse(dirs.begin(), dirs.end());
    for (const std::string& dir : dirs) {
      if (dir != c->dir() && env_->FileExists(dir)) {
        PROXIMADB_RETURN_IF_ERROR(env_->RemoveDirRecursively(dir));
      }
    }
    return env_->RemoveDirRecursively(c->dir());
  }

  absl::StatusOr<std::shared_ptr<Collection>> GetCollection(std::string_view name) override {
    PROXIMADB_ASSIGN_OR_RETURN(std::shared_ptr<CollectionImpl> c, Find(name));
    return std::static_pointer_cast<Collection>(c);
  }

  absl::StatusOr<BackupInfo> BackupCollection(std::string_view name) override {
    PROXIMADB_ASSIGN_OR_RETURN(ObjectStore * store, Store());
    PROXIMADB_ASSIGN_OR_RETURN(std::shared_ptr<CollectionImpl> c, Find(name));
    absl::MutexLock b(&backups_mu_);
    PROXIMADB_ASSIGN_OR_RETURN(DurableSnapshot snapshot, c->SnapshotForBackup());
    return UploadBackup(*store, c->config(), snapshot);
  }

  absl::StatusOr<CollectionExport> ExportCollection(std::string_view name) override {
    PROXIMADB_ASSIGN_OR_RETURN(std::shared_ptr<CollectionImpl> c, Find(name));
    PROXIMADB_ASSIGN_OR_RETURN(DurableSnapshot snapshot, c->SnapshotForBackup());
    std::string id;
    {
      absl::MutexLock l(&mu_);
      id = absl::StrFormat("export-%08x", static_cast<uint32_t>(rng_()));
    }
    PROXIMADB_ASSIGN_OR_RETURN(
        std::unique_ptr<ObjectStore> store,
        NewSnapshotStore(c->config(), std::move(snapshot), options_.object_store.get(), id));
    return CollectionExport{.backup_id = id, .store = std::move(store)};
  }

  absl::StatusOr<CollectionConfig> RestoreFrom(ObjectStore& store, std::string_view backup_id,
                                               std::string_view target) override {
    PROXIMADB_RETURN_IF_ERROR(ValidateName(target));
    absl::MutexLock b(&backups_mu_);
    return RestoreLocked(store, backup_id, target, nullptr);
  }

  absl::StatusOr<std::vector<BackupInfo>> ListBackups() override {
    PROXIMADB_ASSIGN_OR_RETURN(ObjectStore * store, Store());
    return proximadb::ListBackups(*store);
  }

  absl::Status DeleteBackup(std::string_view backup_id) override {
    PROXIMADB_ASSIGN_OR_RETURN(ObjectStore * store, Store());
    absl::MutexLock b(&backups_mu_);
    return proximadb::DeleteBackup(*store, backup_id);
  }

  absl::StatusOr<CollectionConfig> RestoreBackup(std::string_view backup_id,
                                                 std::string_view target) override;
  absl::StatusOr<CollectionConfig> RestoreToTime(std::string_view source, int64_t time_us,
                                                 std::string_view target) override;

 private:
  absl::StatusOr<std::shared_ptr<CollectionImpl>> Find(std::string_view name) {
    absl::MutexLock l(&mu_);
    auto it = collections_.find(std::string(name));
    if (it == collections_.end()) return CollectionNotFound(name);
    return it->second;
  }
  std::string CollectionsDir() const { return JoinPath(options_.data_dir, "collections"); }

  // A collection directory's name: unique per creation (and restore).
  std::string NewDirName(int64_t created_at_us) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return absl::StrFormat("%x-%08x", created_at_us, static_cast<uint32_t>(rng_()));
  }

  // Restores backup `backup_id` as collection `target`, calling `then` (if any) with the new
  // directory and the backup's manifest once the backup's files are in place.
  absl::StatusOr<CollectionConfig> RestoreLocked(
      ObjectStore& store, std::string_view backup_id, std::string_view target,
      const std::function<absl::Status(const std::string&, const Manifest&)>& then)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(backups_mu_);

  absl::StatusOr<ObjectStore*> Store() const {
    if (options_.object_store == nullptr) {
      return WithErrorCode(absl::FailedPreconditionError(
                               "no object store is configured ([object_store] endpoint): "
                               "backups need one"),
                           kObjectStoreNotConfigured);
    }
    return options_.object_store.get();
  }

  // data_dir, then the WAL, hot and warm directories: each with a collections/ of its own.
  std::vector<std::string> BaseDirs() const {
    std::vector<std::string> out = {options_.data_dir};
    auto add = [&](const std::string& d) {
      if (!d.empty() && std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
    };
    add(options_.wal_directory);
    for (const std::string& d : options_.hot_directories) add(d);
    for (const std::string& d : options_.warm_directories) add(d);
    return out;
  }

  CollectionOptions CollectionOptionsFor(const CatalogEntry& e) {
    CollectionOptions o;
    o.env = env_;
    o.dir = JoinPath(CollectionsDir(), e.dir_name);
    auto in = [&](const std::string& base) { return JoinPath(JoinPath(base, "collections"),
                                                             e.dir_name); };
    if (!options_.wal_directory.empty()) o.wal_dir = in(options_.wal_directory);
    for (const std::string& d : options_.hot_directories) o.hot_dirs.push_back(in(d));
    for (const std::string& d : options_.warm_directories) o.warm_dirs.push_back(in(d));
    o.config = e.config;
    o.durability = options_.durability;
    o.async_sync_interval_ms = options_.async_sync_interval_ms;
    o.build_threads = options_.build_threads > 0
                          ? options_.build_threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    o.activity = activity_;
    if (options_.wal_archive) o.wal_archive = options_.object_store.get();
    if (cold_cache_ != nullptr) {
      o.cold_store = options_.object_store.get();
      o.cold_cache = cold_cache_;
    }
    o.budget = budget_;
    o.limits.max_id_bytes = std::min(options_.max_id_bytes, kMaxIdBytes);
    o.limits.max_metadata_bytes = std::min(options_.max_metadata_bytes, kMaxMetadataBytes);
    return o;
  }

  using Collections = std::vector<std::shared_ptr<CollectionImpl>>;

  // Runs `pass` on every collection each maintenance interval, and at once when `*wake` is set
  // (by the memory budget, a tiering change or a layout change).
  void Loop(bool* wake, void (DatabaseImpl::*pass)(const Collections&)) {
    const absl::Duration interval = absl::Milliseconds(options_.maintenance_interval_ms);
    absl::MutexLock l(&mu_);
    auto stop_or_wake = [this, wake]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stop_ || *wake; };
    while (true) {
      mu_.AwaitWithTimeout(absl::Condition(&stop_or_wake), interval);
      if (stop_) break;
      *wake = false;
      Collections all;
      for (const auto& [name, c] : collections_) all.push_back(c);
      mu_.Unlock();
      (this->*pass)(all);
      mu_.Lock();
    }
  }

  // Indexes new memtable rows, a few hundred per collection in turn so that one busy collection
  // does not starve the others; sleeps while every collection is caught up.
  void IndexingLoop() {
    constexpr uint32_t kRowsPerTurn = 1024;  // per collection per turn (IndexMemtable splits it)
    const absl::Duration idle = absl::Milliseconds(10);
    absl::MutexLock l(&mu_);
    bool worked = false;
    while (!(worked ? stop_ : mu_.AwaitWithTimeout(absl::Condition(&stop_), idle))) {
      std::vector<std::shared_ptr<CollectionImpl>> all;
      for (const auto& [name, c] : collections_) all.push_back(c);
      mu_.Unlock();
      worked = false;
      for (const auto& c : all) worked |= c->IndexMemtable(kRowsPerTurn) > 0;
      mu_.Lock();
    }
  }

  // Deletes the cold objects of collections that are gone (a drop whose deletions failed, or a
  // crash before them); once per open, retried until the store answers.
  void CollectColdOrphans() {
    absl::StatusOr<std::vector<ObjectInfo>> listed = options_.object_store->List("cold/");
    if (!listed.ok()) return;  // the next pass tries again
    absl::flat_hash_set<std::string> live;  // after the listing: no newer collection is missed
    {
      absl::MutexLock l(&mu_);
      for (const auto& [name, c] : collections_) {
        live.insert(c->Uid());
      }
    }
    for (const ObjectInfo& o : *listed) {
      const size_t end = o.key.find('/', 5);
      if (end == std::string::npos || live.contains(o.key.substr(5, end - 5))) continue;
      if (options_.object_store->Delete(o.key).ok()) {
        Log(LogLevel::kInfo, Cat("removed cold object ", o.key, " of a dropped collection"));
      }
    }
    cold_orphans_collected_ = true;
  }

  // The maintenance thread: flushes (the memory budget's first), tier changes.
  void Maintain(const Collections& all) {
    if (cold_cache_ != nullptr && !cold_orphans_collected_) CollectColdOrphans();
    if (budget_->budget() > 0) CollectionImpl::ReleaseMemory(*budget_, all);
    const int64_t now = absl::ToUnixMicros(absl::Now());
    std::vector<std::shared_ptr<CollectionImpl>> due;
    for (const auto& c : all) {
      if (c->FlushDue(now)) due.push_back(c);
    }
    std::stable_sort(due.begin(), due.end(), [](const auto& a, const auto& b) {
      return a->config().flush.flush_priority > b->config().flush.flush_priority;
    });
    for (const auto& c : due) {
      if (absl::Status s = c->Flush(); !s.ok()) {
        Log(LogLevel::kError, absl::StrCat("background flush of collection '", c->config().name,
                                           "' failed: ", s.ToString()));
      }
    }
    for (const auto& c : all) {
      if (absl::Status s = c->ApplyTiering(); !s.ok()) {
        Log(LogLevel::kError, absl::StrCat("tiering of collection '", c->config().name,
                                           "' failed (retried at the next pass): ",
                                           s.ToString()));
      }
    }
  }

  // The rewriter thread: migrations and compactions, which can take minutes, and so run
  // beside the flushes rather than before them.
  void Rewrite(const Collections& all) {
    for (const auto& c : all) {
      if (absl::Status s = c->Migrate(); !s.ok() && s != c->RewritesGivenUp()) {
        Log(LogLevel::kError, absl::StrCat("migration of collection '", c->config().name,
                                           "' failed (retried at the next pass): ",
                                           s.ToString()));
      }
    }
    for (const auto& c : all) {
      if (absl::Status s = c->MaybeCompact(); !s.ok() && s != c->RewritesGivenUp()) {
        Log(LogLevel::kError, absl::StrCat("background compaction of collection '",
                                           c->config().name, "' failed: ", s.ToString()));
      }
    }
  }

  const DatabaseOptions options_;
  Env* const env_;
  std::unique_ptr<FileLock> lock_;
  std::unique_ptr<Catalog> catalog_;
  std::shared_ptr<ColdCache> cold_cache_;  // with an object store: the cold tier's cache
  // Only with a maintenance thread to flush: without one, nothing would ever free it.
  const std::shared_ptr<MemoryBudget> budget_ = std::make_shared<MemoryBudget>(
      options_.background_maintenance ? options_.memtable_budget_mb << 20 : 0);
  bool cold_orphans_collected_ = false;     // by the maintenance thread
  absl::Mutex backups_mu_;  // one backup, restore or backup deletion at a time
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<CollectionImpl>> collections_ ABSL_GUARDED_BY(mu_);
  const std::shared_ptr<SearchActivity> activity_ = std::make_shared<SearchActivity>();
  std::mt19937 rng_ ABSL_GUARDED_BY(mu_){std::random_device{}()};
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_maintenance_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_rewrites_ ABSL_GUARDED_BY(mu_) = false;
  std::thread maintenance_;
  std::thread rewriter_;
  std::thread indexer_;
};

absl::StatusOr<CollectionConfig> DatabaseImpl::RestoreBackup(std::string_view backup_id,
                                                             std::string_view target) {
  PROXIMADB_ASSIGN_OR_RETURN(ObjectStore * store, Store());
  PROXIMADB_RETURN_IF_ERROR(ValidateName(target));
  absl::MutexLock b(&backups_mu_);
  return RestoreLocked(*store, backup_id, target, nullptr);
}

absl::StatusOr<CollectionConfig> DatabaseImpl::RestoreToTime(std::string_view source,
                                                             int64_t time_us,
                                                             std::string_view target) {
  PROXIMADB_ASSIGN_OR_RETURN(ObjectStore * store, Store());
  if (!options_.wal_archive) {
    return WithErrorCode(absl::FailedPreconditionError(
                             "point-in-time restore needs [object_store] wal_archive = true"),
                         kObjectStoreNotConfigured);
  }
  PROXIMADB_RETURN_IF_ERROR(ValidateName(target));
  std::string uid;
  {
    absl::MutexLock l(&mu_);
    auto it = collections_.find(std::string(source));
    if (it == collections_.end()) return CollectionNotFound(source);
    uid = it->second->Uid();
  }
  absl::MutexLock b(&backups_mu_);
  PROXIMADB_ASSIGN_OR_RETURN(std::string backup_id, LatestBackupBefore(*store, uid, time_us));
  auto replay = [&](const std::string& dir, const Manifest& backed_up) {
    return ReplayArchivedWal(*store, uid, time_us, env_, dir, backed_up).status();
  };
  return RestoreLocked(*store, backup_id, target, replay);
}

absl::StatusOr<CollectionConfig> DatabaseImpl::RestoreLocked(
    ObjectStore& store, std::string_view backup_id, std::string_view target,
    const std::function<absl::Status(const std::string&, const Manifest&)>& then) {
  CatalogEntry entry;
  entry.config.created_at_us = absl::ToUnixMicros(absl::Now());
  {
    absl::MutexLock l(&mu_);
    if (collections_.contains(std::string(target))) {
      return absl::AlreadyExistsError(Cat("collection '", target, "' already exists"));
    }
    entry.dir_name = NewDirName(entry.config.created_at_us);
  }
  // The files first, the catalog row last (as CreateCollection): a crash in between leaves a
  // directory without a row, which the next open removes.
  const CollectionOptions placed = CollectionOptionsFor(entry);
  const std::string& dir = placed.dir;
  // The segments go where a flush would put them: the hot directory with the most free space.
  std::string segment_dir = dir;
  uint64_t most_free = 0;
  for (const std::string& hot : placed.hot_dirs) {
    absl::StatusOr<uint64_t> free =
        EnsureDir(env_, hot).ok() ? env_->FreeSpace(hot) : absl::StatusOr<uint64_t>(0);
    if (free.ok() && *free > most_free) {
      most_free = *free;
      segment_dir = hot;
    }
  }
  auto cleanup = [&](absl::Status s) {
    for (const std::string& d : {segment_dir, dir}) {
      if (env_->FileExists(d)) env_->RemoveDirRecursively(d).IgnoreError();
    }
    return s;
  };
  PROXIMADB_RETURN_IF_ERROR(env_->CreateDirs(dir));
  Manifest backed_up;
  absl::StatusOr<CollectionConfig> config =
      DownloadBackup(store, backup_id, env_, dir, segment_dir, &backed_up);
  if (!config.ok()) return cleanup(config.status());
  if (then) {
    if (absl::Status s = then(dir, backed_up); !s.ok()) return cleanup(s);
  }
  const int64_t created_at_us = entry.config.created_at_us;
  entry.config = *config;
  entry.config.name = std::string(target);
  entry.config.created_at_us = created_at_us;
  // A backup from another version may hold settings this one refuses.
  if (absl::Status s = ValidateCollectionConfig(entry.config); !s.ok()) {
    return cleanup(absl::InvalidArgumentError(Cat("backup ", backup_id, ": ", s.message())));
  }
  absl::MutexLock l(&mu_);
  if (collections_.contains(entry.config.name)) {  // created while the files came down
    return cleanup(absl::AlreadyExistsError(Cat("collection '", target, "' already exists")));
  }
  absl::StatusOr<std::shared_ptr<CollectionImpl>> c =
      CollectionImpl::Open(CollectionOptionsFor(entry));
  absl::Status s = c.status();
  if (s.ok()) s = catalog_->Insert(entry);
  if (!s.ok()) {
    if (c.ok()) c->reset();
    return cleanup(s);
  }
  collections_[entry.config.name] = *std::move(c);
  return entry.config;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const DatabaseOptions& options) {
  Env* env = options.env != nullptr ? options.env : Env::Default();
  PROXIMADB_RETURN_IF_ERROR(CheckDirectories(options, env));
  PROXIMADB_RETURN_IF_ERROR(env->CreateDirs(JoinPath(options.data_dir, "collections")));
  PROXIMADB_ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock,
                             env->LockFile(JoinPath(options.data_dir, "LOCK")));
  const std::string catalog_path = options.catalog_path.empty()
                                       ? JoinPath(options.data_dir, "catalog.db")
                                       : options.catalog_path;
  PROXIMADB_ASSIGN_OR_RETURN(std::unique_ptr<Catalog> catalog, OpenSqliteCatalog(catalog_path));
  auto db = std::make_unique<DatabaseImpl>(options, env, std::move(lock), std::move(catalog));
  PROXIMADB_RETURN_IF_ERROR(db->Load());
  return db;
}

}  // namespace proximadb
