#include "engine/backup.h"

#include <algorithm>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/logging.h"
#include "common/macros.h"
#include "common/strings.h"
#include "engine/config_json.h"
#include "storage/digest.h"
#include "storage/file_names.h"
#include "storage/manifest.h"

namespace proximadb {

namespace {

using json = nlohmann::json;

constexpr int kBackupFormat = 1;
constexpr uint64_t kDownloadChunk = 64 << 20;  // a restore holds this much of a segment at once

std::string BackupDir(std::string_view id) { return Cat("backups/", id, "/"); }

std::string NewBackupId(const std::string& collection, absl::Time now) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return Cat(collection, "-", absl::FormatTime("%Y%m%dT%H%M%SZ", now, absl::UTCTimeZone()), "-",
             absl::StrFormat("%06x", static_cast<uint32_t>(rng() & 0xffffff)));
}

struct BackupDoc {
  BackupInfo info;
  CollectionConfig config;
  std::string collection_uid;
  std::vector<std::pair<uint64_t, std::string>> segments;  // (file number, sha256)
};

// Ids are what NewBackupId makes: letters, digits, '_' and '-' (no '/' or "..", which would
// reach other keys).
absl::Status CheckId(std::string_view id) {
  const bool ok = !id.empty() && id.size() <= 128 &&
                  std::all_of(id.begin(), id.end(), [](unsigned char c) {
                    return std::isalnum(c) || c == '_' || c == '-';
                  });
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      Cat("backup_id: '", id, "' is not a backup id (letters, digits, '_' and '-')"));
}

absl::StatusOr<BackupDoc> ReadDoc(ObjectStore& store, std::string_view id) {
  PROXIMADB_RETURN_IF_ERROR(CheckId(id));
  absl::StatusOr<std::string> text = store.Get(BackupDocKey(id));
  if (absl::IsNotFound(text.status())) {
    return absl::NotFoundError(Cat("backup '", id, "' does not exist"));
  }
  if (!text.ok()) return text.status();
  const json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("format", 0) != kBackupFormat) {
    return absl::DataLossError(Cat("backup ", id, ": backup.json is damaged or of an unknown "
                                   "format"));
  }
  BackupDoc doc;
  PROXIMADB_ASSIGN_OR_RETURN(doc.config,
                             ConfigFromJson(j.value("config", json::object()), Cat("backup ", id)));
  try {
    BackupInfo& i = doc.info;
    i.backup_id = j.at("backup_id").get<std::string>();
    i.collection = doc.config.name;
    i.created_at_us = j.at("created_at_us").get<int64_t>();
    doc.collection_uid = j.value("collection_uid", "");
    i.bytes = j.at("bytes").get<uint64_t>();
    i.uploaded_bytes = j.at("uploaded_bytes").get<uint64_t>();
    i.vector_count = j.at("vector_count").get<uint64_t>();
    i.dimension = doc.config.dimension;
    for (const json& s : j.at("segments")) {
      doc.segments.emplace_back(s.at("number").get<uint64_t>(), s.at("sha256").get<std::string>());
    }
    i.segments = static_cast<uint32_t>(doc.segments.size());
  } catch (const json::exception& e) {
    return absl::DataLossError(Cat("backup ", id, ": backup.json is damaged: ", e.what()));
  }
  return doc;
}

// Downloads one segment object into `path` in chunks, checking its SHA-256; durable on OK.
absl::Status DownloadSegment(ObjectStore& store, const std::string& sha256, Env* env,
                             const std::string& path) {
  const std::string key = BackupSegmentKey(sha256);
  PROXIMADB_ASSIGN_OR_RETURN(ObjectInfo info, store.Head(key));
  PROXIMADB_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, env->NewWritableFile(path));
  Sha256 digest;
  for (uint64_t at = 0; at < info.size; at += kDownloadChunk) {
    PROXIMADB_ASSIGN_OR_RETURN(std::string chunk, store.GetRange(key, at, kDownloadChunk));
    if (chunk.empty()) break;
    digest.Update(chunk);
    PROXIMADB_RETURN_IF_ERROR(file->Append(chunk));
  }
  if (file->Size() != info.size || digest.HexDigest() != sha256) {
    return absl::DataLossError(Cat("segment object ", key, " does not match its SHA-256"));
  }
  PROXIMADB_RETURN_IF_ERROR(file->Sync());
  return file->Close();
}

}  // namespace

BackupFiles DescribeBackup(BackupInfo& info, const CollectionConfig& config,
                           const DurableSnapshot& snapshot,
                           const std::vector<SegmentDigest>& digests) {
  json segments = json::array();
  info.bytes = 0;
  for (size_t i = 0; i < digests.size(); ++i) {
    info.bytes += digests[i].bytes;
    segments.push_back({{"number", snapshot.segments[i]->number()},
                        {"sha256", digests[i].sha256},
                        {"bytes", digests[i].bytes}});
  }
  info.segments = static_cast<uint32_t>(digests.size());
  Manifest manifest = snapshot.manifest;  // restored segments are local, whatever their tier
  for (ManifestSegment& s : manifest.segments) s.cold_bytes = 0;
  const json doc = {{"format", kBackupFormat},
                    {"backup_id", info.backup_id},
                    {"created_at_us", info.created_at_us},
                    {"collection_uid", snapshot.collection_uid},
                    {"config", ConfigToJson(config)},
                    {"covered_seq", snapshot.manifest.covered_seq},
                    {"bytes", info.bytes},
                    {"uploaded_bytes", info.uploaded_bytes},
                    {"vector_count", info.vector_count},
                    {"segments", segments}};
  return {.doc = doc.dump(2), .manifest = EncodeManifest(manifest)};
}

std::string BackupDocKey(std::string_view backup_id) {
  return Cat(BackupDir(backup_id), "backup.json");
}
std::string BackupManifestKey(std::string_view backup_id) {
  return Cat(BackupDir(backup_id), "MANIFEST");
}
std::string BackupSegmentKey(std::string_view sha256) { return Cat("segments/", sha256, ".pxs"); }

absl::StatusOr<BackupInfo> UploadBackup(ObjectStore& store, const CollectionConfig& config,
                                        const DurableSnapshot& snapshot) {
  const absl::Time now = absl::Now();
  BackupInfo info{.backup_id = NewBackupId(config.name, now),
                  .collection = config.name,
                  .created_at_us = absl::ToUnixMicros(now),
                  .vector_count = snapshot.live_rows,
                  .dimension = config.dimension};
  std::vector<SegmentDigest> digests;
  for (const std::shared_ptr<Segment>& segment : snapshot.segments) {
    std::string fetched;  // a cold segment's whole file, which is not on local disk
    if (segment->cold_stub()) {
      PROXIMADB_ASSIGN_OR_RETURN(
          fetched, store.Get(ColdSegmentKey(snapshot.collection_uid, segment->number())));
    }
    const std::string_view bytes = segment->cold_stub() ? fetched : segment->file_bytes();
    const std::string sha256 = Sha256Hex(bytes);
    const std::string key = BackupSegmentKey(sha256);
    absl::StatusOr<ObjectInfo> stored = store.Head(key);
    if (!stored.ok() && !absl::IsNotFound(stored.status())) return stored.status();
    if (!stored.ok() || stored->size != bytes.size()) {
      PROXIMADB_RETURN_IF_ERROR(store.Put(key, bytes));
      info.uploaded_bytes += bytes.size();
    }
    digests.push_back({.sha256 = sha256, .bytes = bytes.size()});
  }
  const BackupFiles files = DescribeBackup(info, config, snapshot, digests);
  PROXIMADB_RETURN_IF_ERROR(store.Put(BackupManifestKey(info.backup_id), files.manifest));
  PROXIMADB_RETURN_IF_ERROR(store.Put(BackupDocKey(info.backup_id), files.doc));
  return info;
}

namespace {

// The backups among `listed` (objects under backups/), oldest first. A backup.json this
// version cannot read (damaged, or newer) is left out and its key added to `unreadable`.
absl::StatusOr<std::vector<BackupDoc>> ReadDocs(ObjectStore& store,
                                                const std::vector<ObjectInfo>& listed,
                                                std::vector<std::string>* unreadable) {
  std::vector<BackupDoc> docs;
  for (const ObjectInfo& o : listed) {
    constexpr std::string_view kDoc = "/backup.json";
    if (o.key.size() <= kDoc.size() + 8 || !o.key.ends_with(kDoc)) continue;
    const std::string id = o.key.substr(8, o.key.size() - 8 - kDoc.size());  // "backups/" id
    absl::StatusOr<BackupDoc> doc = ReadDoc(store, id);
    if (absl::IsNotFound(doc.status())) continue;  // deleted since the listing
    if (absl::IsDataLoss(doc.status()) || absl::IsInvalidArgument(doc.status())) {
      Log(LogLevel::kWarning, Cat("backup ", o.key, " is unreadable: ", doc.status().ToString()));
      unreadable->push_back(o.key);
      continue;
    }
    if (!doc.ok()) return doc.status();
    docs.push_back(*std::move(doc));
  }
  std::sort(docs.begin(), docs.end(), [](const BackupDoc& a, const BackupDoc& b) {
    return a.info.created_at_us != b.info.created_at_us
               ? a.info.created_at_us < b.info.created_at_us
               : a.info.backup_id < b.info.backup_id;
  });
  return docs;
}

absl::StatusOr<std::vector<BackupDoc>> ListDocs(ObjectStore& store,
                                                std::vector<std::string>* unreadable) {
  PROXIMADB_ASSIGN_OR_RETURN(std::vector<ObjectInfo> listed, store.List("backups/"));
  return ReadDocs(store, listed, unreadable);
}

}  // namespace

absl::StatusOr<std::vector<BackupInfo>> ListBackups(ObjectStore& store) {
  // An unreadable backup must not hide the others: it is left out (and logged).
  std::vector<std::string> unreadable;
  PROXIMADB_ASSIGN_OR_RETURN(std::vector<BackupDoc> docs, ListDocs(store, &unreadable));
  std::vector<BackupInfo> out;
  for (const BackupDoc& doc : docs) out.push_back(doc.info);
  return out;
}

absl::StatusOr<CollectionConfig> DownloadBackup(ObjectStore& store, std::string_view backup_id,
                                                Env* env, const std::string& dir,
                                                const std::string& segment_dir,
                                                Manifest* as_backed_up) {
  PROXIMADB_ASSIGN_OR_RETURN(BackupDoc doc, ReadDoc(store, backup_id));
  // From here on a missing object means a damaged backup, not a missing one.
  auto damaged = [&](const absl::Status& s) {
    return absl::IsNotFound(s) ? absl::DataLossError(Cat("backup ", backup_id, " is damaged: ",
                                                         s.message()))
                               : s;
  };
  absl::StatusOr<std::string> manifest_bytes = store.Get(BackupManifestKey(backup_id));
  if (!manifest_bytes.ok()) return damaged(manifest_bytes.status());
  PROXIMADB_ASSIGN_OR_RETURN(Manifest manifest,
                             DecodeManifest(*manifest_bytes, Cat("backup ", backup_id)));
  if (manifest.segments.size() != doc.segments.size()) {
    return absl::DataLossError(Cat("backup ", backup_id, ": its manifest and backup.json list ",
                                   "different segments"));
  }
  for (size_t i = 0; i < doc.segments.size(); ++i) {
    const auto& [number, sha256] = doc.segments[i];
    if (manifest.segments[i].number != number) {
      return absl::DataLossError(Cat("backup ", backup_id, ": segment ", number,
                                     " is not in its manifest's place"));
    }
    absl::Status s =
        DownloadSegment(store, sha256, env, JoinPath(segment_dir, SegmentFileName(number)));
    if (!s.ok()) return damaged(s);
  }
  if (as_backed_up != nullptr) *as_backed_up = manifest;
  // Everything the manifest covers is in the segments: no WAL file is needed or expected.
  manifest.wal_start = manifest.next_file_number;
  PROXIMADB_RETURN_IF_ERROR(env->SyncDir(segment_dir));
  bool installed = false;
  PROXIMADB_RETURN_IF_ERROR(WriteManifest(env, dir, manifest, &installed));
  return doc.config;
}

absl::Status DeleteBackup(ObjectStore& store, std::string_view backup_id) {
  PROXIMADB_RETURN_IF_ERROR(CheckId(backup_id));
  const std::string doc_key = BackupDocKey(backup_id);
  if (absl::Status s = store.Head(doc_key).status(); !s.ok()) {  // damaged ones may go too
    return absl::IsNotFound(s) ? absl::NotFoundError(Cat("backup '", backup_id,
                                                         "' does not exist"))
                               : s;
  }
  // backup.json first: once it is gone the backup is, whatever happens to the rest.
  PROXIMADB_RETURN_IF_ERROR(store.Delete(doc_key));
  PROXIMADB_RETURN_IF_ERROR(store.Delete(BackupManifestKey(backup_id)));
  return CollectGarbage(store);
}

absl::Status CollectGarbage(ObjectStore& store) {
  // What no backup names: segments, and the MANIFEST of a backup whose backup.json was never
  // written (a backup interrupted by a crash) or is gone. A backup.json this version cannot
  // read (damaged, or newer) stops the collection: its segments might be among them.
  PROXIMADB_ASSIGN_OR_RETURN(std::vector<ObjectInfo> listed, store.List("backups/"));
  std::vector<std::string> unreadable;
  absl::StatusOr<std::vector<BackupDoc>> docs = ReadDocs(store, listed, &unreadable);
  if (!docs.ok() || !unreadable.empty()) {
    Log(LogLevel::kWarning,
        Cat("not collecting unreferenced objects: ",
            docs.ok() ? Cat(unreadable.front(), " is unreadable") : docs.status().ToString()));
    return absl::OkStatus();
  }
  std::set<std::string> referenced, with_doc;
  for (const BackupDoc& doc : *docs) {
    with_doc.insert(doc.info.backup_id);
    for (const auto& [number, sha256] : doc.segments) referenced.insert(BackupSegmentKey(sha256));
  }
  for (const ObjectInfo& o : listed) {
    constexpr std::string_view kManifest = "/MANIFEST";
    if (!o.key.ends_with(kManifest)) continue;
    const std::string id = o.key.substr(8, o.key.size() - 8 - kManifest.size());
    if (!with_doc.contains(id)) PROXIMADB_RETURN_IF_ERROR(store.Delete(o.key));
  }
  PROXIMADB_ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, store.List("segments/"));
  for (const ObjectInfo& o : objects) {
    if (!referenced.contains(o.key)) PROXIMADB_RETURN_IF_ERROR(store.Delete(o.key));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> LatestBackupBefore(ObjectStore& store,
                                               std::string_view collection_uid, int64_t time_us) {
  std::vector<std::string> unreadable;
  PROXIMADB_ASSIGN_OR_RETURN(std::vector<BackupDoc> docs, ListDocs(store, &unreadable));
  for (auto it = docs.rbegin(); it != docs.rend(); ++it) {  // newest first
    if (it->info.created_at_us <= time_us && it->collection_uid == collection_uid) {
      return it->info.backup_id;
    }
  }
  return absl::NotFoundError("no backup of the collection was taken at or before that time");
}

}  // namespace proximadb
