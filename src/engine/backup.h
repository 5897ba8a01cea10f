// Backups of collections in the object store, and restores from them. Object layout under the
// store's prefix (docs/backups.md):
//
//   segments/<sha256>.pxs          a segment file, named by the SHA-256 of its bytes: stored once
//                                  and shared by every backup (of any collection) that has it
//   backups/<id>/MANIFEST          the collection's manifest as of the snapshot
//   backups/<id>/backup.json       the definition and what the backup holds; written last, so a
//                                  backup exists exactly when its backup.json does
//
// A crash before backup.json leaves segment objects that no backup names; DeleteBackup removes
// every such object (the collection of orphans).
//
// Not thread-safe on one store: the Database serializes backup operations.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/collection_impl.h"
#include "env/env.h"
#include "proximadb/types.h"
#include "storage/manifest.h"
#include "storage/object_store.h"

namespace proximadb {

// A segment of a snapshot as a backup stores it.
struct SegmentDigest {
  std::string sha256;  // of the segment file's bytes, in hex
  uint64_t bytes = 0;
};
// A backup's own objects: its backup.json and MANIFEST.
struct BackupFiles {
  std::string doc, manifest;
};
// The objects of backup `info` (backup_id, created_at_us, vector_count and uploaded_bytes
// set; bytes and segments are set here) of `snapshot`, whose segments are `digests` in order.
BackupFiles DescribeBackup(BackupInfo& info, const CollectionConfig& config,
                           const DurableSnapshot& snapshot,
                           const std::vector<SegmentDigest>& digests);
// The keys of a backup's objects.
std::string BackupDocKey(std::string_view backup_id);
std::string BackupManifestKey(std::string_view backup_id);
std::string BackupSegmentKey(std::string_view sha256);

// Uploads `snapshot` (of the collection `config` defines) as a new backup; segments already in
// the store are not sent again.
absl::StatusOr<BackupInfo> UploadBackup(ObjectStore& store, const CollectionConfig& config,
                                        const DurableSnapshot& snapshot);

// Every backup in the store, oldest first.
absl::StatusOr<std::vector<BackupInfo>> ListBackups(ObjectStore& store);

// Writes backup `backup_id`'s manifest into the existing, empty directory `dir` and its
// segments (each checked against its SHA-256) into the existing `segment_dir` (which may be
// `dir`), durably; returns the backed-up definition. kNotFound naming the backup if there is
// none; kDataLoss if one of its objects is missing or damaged.
absl::StatusOr<CollectionConfig> DownloadBackup(ObjectStore& store, std::string_view backup_id,
                                                Env* env, const std::string& dir,
                                                const std::string& segment_dir,
                                                Manifest* as_backed_up = nullptr);

// Point-in-time restore (wal_archive): the latest backup of the collection in directory
// `collection_uid` taken at or before `time_us`; kNotFound if there is none.
absl::StatusOr<std::string> LatestBackupBefore(ObjectStore& store,
                                               std::string_view collection_uid, int64_t time_us);

// Replays into `dir`, restored from a backup whose manifest was `manifest`, every archived batch
// of the collection after the manifest's covered_seq with a timestamp at or before `time_us`:
// they go into one new WAL file, which the manifest then names. Returns the timestamp of the
// last batch replayed (0 for none). kDataLoss when batches are missing from the archive.
absl::StatusOr<int64_t> ReplayArchivedWal(ObjectStore& store, std::string_view collection_uid,
                                          int64_t time_us, Env* env, const std::string& dir,
                                          Manifest manifest);

// Removes backup `backup_id` (damaged ones too), then collects garbage.
absl::Status DeleteBackup(ObjectStore& store, std::string_view backup_id);

// Removes every segment object no backup names, and the MANIFEST of every backup without a
// backup.json (what interrupted backups leave). Does nothing while a backup.json is unreadable.
absl::Status CollectGarbage(ObjectStore& store);

}  // namespace proximadb
