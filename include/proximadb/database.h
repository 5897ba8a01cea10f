// Database: the collections stored in one data directory.
//
//   <data_dir>/LOCK                    held while open, so one process owns the directory
//   <data_dir>/catalog.db              collection definitions (SQLite)
//   <data_dir>/collections/<uid>/      one directory per collection (WAL, segments, MANIFEST)
//
// Opening recovers every collection (segments from the manifest, then the WAL). A background
// thread flushes collections whose flush policy is due (highest flush_priority first) and
// compacts their segments; another indexes new memtable rows in HNSW graphs.
//
// Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "proximadb/collection.h"
#include "proximadb/types.h"

namespace proximadb {

class Env;
class ObjectStore;

struct DatabaseOptions {
  std::string data_dir = "./data";
  // Where else a collection's files go (docs/storage.md#directories-and-placement); each holds
  // a collections/<uid>/ directory per collection. The manifest stays in data_dir.
  std::string wal_directory;                   // WAL files on a device of their own; "": data_dir
  std::vector<std::string> hot_directories;    // new segments: the one with the most free space
  std::vector<std::string> warm_directories;   // the warm tier
  // All collection file I/O goes through this Env; nullptr means the POSIX one.
  Env* env = nullptr;
  // The SQLite catalog always lives on the real file system (SQLite does its own I/O, with its
  // own crash safety); empty means <data_dir>/catalog.db.
  std::string catalog_path;
  Durability durability = Durability::kSync;
  uint32_t async_sync_interval_ms = 100;
  // Background flush and compaction; tests turn it off to control timing.
  bool background_maintenance = true;
  uint32_t maintenance_interval_ms = 1000;
  // The memory budget of all memtables together (engine/memory_budget.h): past it the largest
  // are flushed at once, past twice it writes get kResourceExhausted until flushes catch up.
  // 0: none (flushes follow each collection's flush policy only). Needs background_maintenance
  // (without it there is no budget).
  uint64_t memtable_budget_mb = 0;
  // Background insertion of acknowledged memtable rows into the memtable's HNSW graphs (until
  // a row is indexed, searches scan it exactly).
  bool background_indexing = true;
  // Threads of a segment's graph build in a flush or compaction; 0 means one per core (it is
  // background work, but the sooner it ends the sooner its memory goes).
  int build_threads = 0;
  // Record limits, at most the engine's own (kMaxIdBytes, kMaxMetadataBytes): a write over
  // them is kInvalidArgument naming the record.
  size_t max_id_bytes = kMaxIdBytes;
  size_t max_metadata_bytes = kMaxMetadataBytes;
  // Where backups go (storage/object_store.h); nullptr: no object store, and the backup
  // operations answer kFailedPrecondition.
  std::shared_ptr<ObjectStore> object_store;
  // Uploads each WAL file to the object store once a flush covers it (before it is removed),
  // for RestoreToTime. Needs object_store.
  bool wal_archive = false;
  // The local cache of cold segments' files (docs/storage.md#the-cold-tier), emptied at open:
  // least recently used files go past cache_size_mb. Empty: <data_dir>/cache. Used with
  // object_store.
  std::string cache_directory;
  uint64_t cache_size_mb = 10240;
};

// kInvalidArgument naming the first setting of `config` that CreateCollection would refuse.
absl::Status ValidateCollectionConfig(const CollectionConfig& config);
// `config` with `update`'s settings (not validated): what UpdateCollection would store.
CollectionConfig ApplyCollectionUpdate(CollectionConfig config, const CollectionUpdate& update);
// The update that takes a collection defined as `from` to the changeable settings of `to` (a
// replica brought in line with the definition it should have); nullopt when they are equal.
std::optional<CollectionUpdate> UpdateBetween(const CollectionConfig& from,
                                              const CollectionConfig& to);

// A collection's state exported for a copy (Database::ExportCollection).
struct CollectionExport {
  std::string backup_id;               // the one backup `store` holds
  std::shared_ptr<ObjectStore> store;  // read-only
};

class Database {
 public:
  static absl::StatusOr<std::unique_ptr<Database>> Open(const DatabaseOptions& options);
  virtual ~Database() = default;

  // Gives up the compactions and migrations under way, and those asked for later (they fail as
  // UNAVAILABLE; the background ones run again after the next open), so that a shutdown need
  // not wait for them. Closing the database does this too; a server calls it first, before it
  // waits for the requests in flight (one may be a compaction).
  virtual void BeginShutdown() = 0;

  // Validates and stores a new collection; returns it with created_at_us set.
  // kAlreadyExists if the name is taken, kInvalidArgument naming the bad setting.
  virtual absl::StatusOr<CollectionConfig> CreateCollection(const CollectionConfig& config) = 0;
  virtual std::vector<CollectionConfig> ListCollections() = 0;
  virtual absl::StatusOr<CollectionConfig> DescribeCollection(std::string_view name) = 0;
  // Changes the mutable settings (ef_search, flush policy) durably; returns the new definition.
  // kNotFound naming the collection, kInvalidArgument naming a bad setting.
  virtual absl::StatusOr<CollectionConfig> UpdateCollection(std::string_view name,
                                                            const CollectionUpdate& update) = 0;
  // Removes the collection and its files. Handles to it fail with kFailedPrecondition after.
  virtual absl::Status DropCollection(std::string_view name) = 0;
  // kNotFound naming the collection if it does not exist.
  virtual absl::StatusOr<std::shared_ptr<Collection>> GetCollection(std::string_view name) = 0;
  // The collection, its reads made with `consistency`. A single node has only strong reads:
  // GetCollection's collection.
  virtual absl::StatusOr<std::shared_ptr<Collection>> GetCollectionForReads(
      std::string_view name, ReadConsistency consistency) {
    (void)consistency;
    return GetCollection(name);
  }

  // Backups in the object store (docs/backups.md). One backup operation runs at a time.
  // Flushes the collection, then uploads what it durably holds: every write acknowledged before
  // the call is in the backup. Segments the store already has are not sent again.
  virtual absl::StatusOr<BackupInfo> BackupCollection(std::string_view name) = 0;
  virtual absl::StatusOr<std::vector<BackupInfo>> ListBackups() = 0;
  // Creates collection `target` from backup `backup_id`: kAlreadyExists if the name is taken,
  // kNotFound naming the backup. A crash midway leaves no collection (and no files, once the
  // database is opened again).
  virtual absl::StatusOr<CollectionConfig> RestoreBackup(std::string_view backup_id,
                                                         std::string_view target) = 0;
  // Removes the backup and the segment objects no other backup names.
  virtual absl::Status DeleteBackup(std::string_view backup_id) = 0;
  // Creates collection `target` as collection `source` was at `time_us` (microseconds since
  // the epoch): its latest backup at or before then, and the archived WAL batches after it up
  // to then. Needs wal_archive (else kFailedPrecondition); batches not yet archived (those
  // since the last flush) are not reached. kNotFound if no backup is old enough.
  virtual absl::StatusOr<CollectionConfig> RestoreToTime(std::string_view source,
                                                         int64_t time_us,
                                                         std::string_view target) = 0;

  // Copies of a collection from one database to another (a cluster's replica made from a
  // peer's, docs/cluster.md#copying-a-replica). ExportCollection flushes the collection, then
  // answers a read-only object store holding one backup of what it durably holds, served from
  // its own files (which stay while the store lives). RestoreFrom creates collection `target`
  // from backup `backup_id` of `store` as RestoreBackup does, with the last sequence number
  // the backup covers. kUnimplemented where a database cannot.
  virtual absl::StatusOr<CollectionExport> ExportCollection(std::string_view name) {
    (void)name;
    return absl::UnimplementedError("this database cannot export collections");
  }
  virtual absl::StatusOr<CollectionConfig> RestoreFrom(ObjectStore& store,
                                                       std::string_view backup_id,
                                                       std::string_view target) {
    (void)store;
    (void)backup_id;
    (void)target;
    return absl::UnimplementedError("this database cannot restore collections from a store");
  }
};

}  // namespace proximadb
