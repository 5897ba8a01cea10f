#include "engine/snapshot_export.h"

#include <algorithm>
#include <map>

#include "absl/time/clock.h"
#include "common/macros.h"
#include "common/strings.h"
#include "engine/backup.h"
#include "storage/digest.h"

namespace proximadb {

namespace {

class SnapshotStore final : public ObjectStore {
 public:
  SnapshotStore(DurableSnapshot snapshot, ObjectStore* cold_store)
      : snapshot_(std::move(snapshot)), cold_store_(cold_store) {}

  // Hashes the segments and describes the backup.
  absl::Status Describe(const CollectionConfig& config, std::string backup_id) {
    std::vector<SegmentDigest> digests;
    for (const std::shared_ptr<Segment>& segment : snapshot_.segments) {
      std::string fetched;  // a cold segment's whole file: only its digest is kept
      if (segment->cold_stub()) {
        PROXIMADB_ASSIGN_OR_RETURN(fetched, cold_store_->Get(ColdKey(*segment)));
      }
      const std::string_view bytes = segment->cold_stub() ? fetched : segment->file_bytes();
      digests.push_back({.sha256 = Sha256Hex(bytes), .bytes = bytes.size()});
      segments_[BackupSegmentKey(digests.back().sha256)] = segment;
    }
    BackupInfo info{.backup_id = backup_id,
                    .collection = config.name,
                    .created_at_us = absl::ToUnixMicros(absl::Now()),
                    .vector_count = snapshot_.live_rows,
                    .dimension = config.dimension};
    BackupFiles files = DescribeBackup(info, config, snapshot_, digests);
    objects_[BackupDocKey(backup_id)] = std::move(files.doc);
    objects_[BackupManifestKey(backup_id)] = std::move(files.manifest);
    return absl::OkStatus();
  }

  absl::Status Put(std::string_view key, std::string_view) override { return ReadOnly(key); }
  absl::Status Delete(std::string_view key) override { return ReadOnly(key); }

  absl::StatusOr<std::string> Get(std::string_view key) override {
    return GetRange(key, 0, UINT64_MAX);
  }
  absl::StatusOr<std::string> GetRange(std::string_view key, uint64_t offset,
                                       uint64_t length) override {
    if (auto it = objects_.find(key); it != objects_.end()) {
      return Slice(it->second, offset, length);
    }
    auto it = segments_.find(key);
    if (it == segments_.end()) return NotFound(key);
    const Segment& segment = *it->second;
    if (segment.cold_stub()) return cold_store_->GetRange(ColdKey(segment), offset, length);
    return Slice(segment.file_bytes(), offset, length);
  }
  absl::StatusOr<ObjectInfo> Head(std::string_view key) override {
    if (auto it = objects_.find(key); it != objects_.end()) {
      return ObjectInfo{.key = std::string(key), .size = it->second.size()};
    }
    auto it = segments_.find(key);
    if (it == segments_.end()) return NotFound(key);
    if (it->second->cold_stub()) {
      PROXIMADB_ASSIGN_OR_RETURN(ObjectInfo info, cold_store_->Head(ColdKey(*it->second)));
      return ObjectInfo{.key = std::string(key), .size = info.size};
    }
    return ObjectInfo{.key = std::string(key), .size = it->second->file_bytes().size()};
  }
  absl::StatusOr<std::vector<ObjectInfo>> List(std::string_view prefix) override {
    std::map<std::string, ObjectInfo> listed;
    for (const auto& [key, bytes] : objects_) {
      if (key.starts_with(prefix)) listed[key] = {.key = key, .size = bytes.size()};
    }
    for (const auto& [key, segment] : segments_) {
      if (!key.starts_with(prefix)) continue;
      PROXIMADB_ASSIGN_OR_RETURN(listed[key], Head(key));
    }
    std::vector<ObjectInfo> out;
    for (auto& [key, info] : listed) out.push_back(std::move(info));
    return out;
  }

 private:
  std::string ColdKey(const Segment& segment) const {
    return ColdSegmentKey(snapshot_.collection_uid, segment.number());
  }
  static std::string Slice(std::string_view bytes, uint64_t offset, uint64_t length) {
    if (offset >= bytes.size()) return "";
    return std::string(bytes.substr(offset, std::min<uint64_t>(length, bytes.size() - offset)));
  }
  static absl::Status NotFound(std::string_view key) {
    return absl::NotFoundError(Cat("snapshot object ", key, " does not exist"));
  }
  static absl::Status ReadOnly(std::string_view key) {
    return absl::FailedPreconditionError(
        Cat("snapshot object ", key, ": an exported snapshot is read-only"));
  }

  const DurableSnapshot snapshot_;  // keeps the segments' files mapped
  ObjectStore* const cold_store_;
  std::map<std::string, std::string, std::less<>> objects_;  // backup.json and MANIFEST
  std::map<std::string, std::shared_ptr<Segment>, std::less<>> segments_;  // by key
};

}  // namespace

absl::StatusOr<std::unique_ptr<ObjectStore>> NewSnapshotStore(const CollectionConfig& config,
                                                              DurableSnapshot snapshot,
                                                              ObjectStore* cold_store,
                                                              std::string backup_id) {
  for (const std::shared_ptr<Segment>& segment : snapshot.segments) {
    if (segment->cold_stub() && cold_store == nullptr) {
      return absl::FailedPreconditionError(
          Cat("collection '", config.name, "': segment ", segment->number(),
              " is in the cold tier, and no object store was given to read it from"));
    }
  }
  auto store = std::make_unique<SnapshotStore>(std::move(snapshot), cold_store);
  PROXIMADB_RETURN_IF_ERROR(store->Describe(config, std::move(backup_id)));
  return store;
}

}  // namespace proximadb
