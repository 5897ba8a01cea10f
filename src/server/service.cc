#include "server/service.h"

#include "absl/time/time.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <initializer_list>
#include <optional>
#include <random>

#include "absl/strings/escaping.h"
#include "common/errors.h"
#include "common/macros.h"
#include "common/strings.h"
#include "server/metrics.h"

namespace proximadb::server {

namespace {

absl::Status Unavailable() {
  return absl::UnavailableError("the server is still recovering its data; retry shortly");
}

// Attaches `code` to an error of kind `kind` (leaving other errors and OK alone).
absl::Status Tag(absl::Status s, absl::StatusCode kind, const char* code) {
  if (s.code() == kind && ErrorCodeOf(s).empty()) return WithErrorCode(std::move(s), code);
  return s;
}

// Parses `name`, when given, into `out`; the parse error (naming the field) otherwise.
template <typename Parse, typename T>
absl::Status ApplyName(const std::optional<std::string>& name, Parse parse, T* out) {
  if (!name) return absl::OkStatus();
  auto parsed = parse(*name);
  if (!parsed.ok()) return parsed.status();
  *out = *parsed;
  return absl::OkStatus();
}

// The first error of `results`, in order.
absl::Status FirstError(std::initializer_list<absl::Status> results) {
  for (const absl::Status& s : results) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

ApiError ApiErrorOf(const absl::Status& s) {
  // gRPC codes: 3 INVALID_ARGUMENT, 5 NOT_FOUND, 6 ALREADY_EXISTS, 8 RESOURCE_EXHAUSTED,
  // 12 UNIMPLEMENTED, 13 INTERNAL, 14 UNAVAILABLE, 7 PERMISSION_DENIED, 16 UNAUTHENTICATED.
  const std::string code = ErrorCodeOf(s);
  if (code == kDimensionMismatch) return {code, 422, 3};
  if (code == kCollectionNotFound || code == kVectorNotFound) return {code, 404, 5};
  if (code == kPayloadTooLarge) return {code, 413, 8};
  if (code == kMigrationInProgress) return {code, 409, 9};  // gRPC FAILED_PRECONDITION
  if (code == kBackupNotFound) return {code, 404, 5};
  if (code == kObjectStoreNotConfigured) return {code, 409, 9};
  if (code == kObjectStoreUnavailable) return {code, 503, 14};
  if (code == kKeyNotFound) return {code, 404, 5};
  // The engine's ResourceExhausted is a full disk (tagged or not); the API's own 429s are
  // answered before the service (RestApi::Overloaded) or tagged RESOURCE_EXHAUSTED.
  if (code == "RESOURCE_EXHAUSTED") return {code, 429, 8};
  if (code == kInsufficientStorage) return {code, 507, 8};
  if (code == kAuthNotEnabled) return {code, 409, 9};
  // Only the key checks' own errors: a file or object store refusing the server is INTERNAL.
  if (code == kUnauthenticated) return {code, 401, 16};
  if (code == kPermissionDenied) return {code, 403, 7};
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument: return {kInvalidArgumentCode, 400, 3};
    case absl::StatusCode::kNotFound: return {"NOT_FOUND", 404, 5};
    case absl::StatusCode::kAlreadyExists: return {"ALREADY_EXISTS", 409, 6};
    // Cluster mode: a collection changed by another node during a change or drop; retry.
    case absl::StatusCode::kAborted: return {"ABORTED", 409, 10};
    case absl::StatusCode::kResourceExhausted: return {kInsufficientStorage, 507, 8};
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kUnavailable: return {"UNAVAILABLE", 503, 14};
    case absl::StatusCode::kUnimplemented: return {"UNIMPLEMENTED", 501, 12};
    default: return {"INTERNAL", 500, 13};
  }
}

absl::Status ApplyCollectionNames(const CollectionNames& names, CollectionConfig* config) {
  if (names.id_index && *names.id_index != "hashmap") {
    return absl::InvalidArgumentError("id_index: unknown index '" + *names.id_index +
                                      "' (supported: hashmap)");
  }
  return FirstError({
      ApplyName(names.distance_metric, ParseDistanceMetric, &config->metric),
      ApplyName(names.indexing_algorithm, ParseIndexingAlgorithm, &config->indexing_algorithm),
      ApplyName(names.storage_strategy, ParseStorageStrategy, &config->storage_strategy),
      ApplyName(names.quantization, ParseQuantization, &config->quantization.kind),
      ApplyName(names.metadata_compression, ParseMetadataCompression,
                &config->metadata_compression),
  });
}

absl::Status ApplyLayoutNames(const CollectionNames& names, CollectionUpdate* update) {
  return FirstError({
      ApplyName(names.storage_strategy, ParseStorageStrategy, &update->storage_strategy),
      ApplyName(names.indexing_algorithm, ParseIndexingAlgorithm, &update->indexing_algorithm),
      ApplyName(names.quantization, ParseQuantization, &update->quantization),
      ApplyName(names.metadata_compression, ParseMetadataCompression,
                &update->metadata_compression),
  });
}

absl::StatusOr<ReadConsistency> ParseConsistency(std::string_view name, bool empty_is_default) {
  if ((name.empty() && empty_is_default) || name == "strong") return ReadConsistency::kStrong;
  if (name == "eventual") return ReadConsistency::kEventual;
  return absl::InvalidArgumentError(
      Cat("'consistency' must be strong or eventual, got '", name, "'"));
}

Service::Service(const ServerConfig& config)
    : config_(config), metrics_(std::make_unique<RequestMetrics>()) {}
Service::~Service() = default;

void Service::Observe(std::string_view name, std::string_view operation, bool ok,
                      std::chrono::steady_clock::time_point start, uint64_t records) {
  const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - start;
  metrics_->ObserveOperation(name, operation, ok, seconds.count(), ok ? records : 0);
}

CollectionConfig Service::NewCollectionConfig() const {
  CollectionConfig c;
  c.flush = config_.DefaultFlushPolicy();
  return c;
}

std::string Service::NewId() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  const uint64_t hi = (rng() & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  const uint64_t lo = (rng() & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 1
  char buf[37];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(hi >> 32), static_cast<unsigned>((hi >> 16) & 0xffff),
                static_cast<unsigned>(hi & 0xffff), static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

absl::StatusOr<std::shared_ptr<Collection>> Service::Open(std::string_view name,
                                                          ReadConsistency consistency) {
  Database* db = database();
  if (db == nullptr) return Unavailable();
  auto c = consistency == ReadConsistency::kStrong ? db->GetCollection(name)
                                                   : db->GetCollectionForReads(name, consistency);
  if (!c.ok()) return Tag(c.status(), absl::StatusCode::kNotFound, kCollectionNotFound);
  return c;
}

absl::StatusOr<CollectionInfo> Service::CreateCollection(const CollectionConfig& config) {
  Database* db = database();
  if (db == nullptr) return Unavailable();
  auto created = db->CreateCollection(config);
  if (!created.ok()) return created.status();
  metrics_->ForgetCollection(config.name);  // what an operation racing a drop of the name left
  return CollectionInfo{*created, 0};
}

absl::StatusOr<std::vector<CollectionInfo>> Service::ListCollections(const Principal* caller) {
  Database* db = database();
  if (db == nullptr) return Unavailable();
  std::vector<CollectionInfo> out;
  for (CollectionConfig& config : db->ListCollections()) {
    if (caller != nullptr && !caller->Covers(config.name)) continue;
    if (cluster() != nullptr) {
      out.push_back({std::move(config), std::nullopt});
      continue;
    }
    absl::StatusOr<std::shared_ptr<Collection>> c = db->GetCollection(config.name);
    absl::StatusOr<uint64_t> count = c.ok() ? (*c)->Count() : c.status();
    if (absl::IsNotFound(count.status())) continue;  // dropped since it was listed
    if (!count.ok()) return count.status();
    out.push_back({std::move(config), *count});
  }
  return out;
}

absl::StatusOr<CollectionInfo> Service::DescribeCollection(std::string_view name) {
  Database* db = database();
  if (db == nullptr) return Unavailable();
  return OnCollection(name, [&](Collection& c) -> absl::StatusOr<CollectionInfo> {
    // The database's definition: in cluster mode the catalog's, which a settings change made
    // on another node reaches before this node's replicas take it.
    absl::StatusOr<CollectionConfig> config = db->DescribeCollection(name);
    if (!config.ok()) {
      return Tag(config.status(), absl::StatusCode::kNotFound, kCollectionNotFound);
    }
    return CollectionInfo{*std::move(config), c.Stats().vector_count};
  });
}

absl::StatusOr<CollectionInfo> Service::UpdateCollection(std::string_view name,
                                                         const CollectionUpdate& update) {
  auto c = Open(name);
  if (!c.ok()) return c.status();
  auto updated = database()->UpdateCollection(name, update);
  if (!updated.ok()) return Tag(updated.status(), absl::StatusCode::kNotFound, kCollectionNotFound);
  return CollectionInfo{*updated, (*c)->Stats().vector_count};
}

absl::Status Service::DropCollection(std::string_view name) {
  Database* db = database();
  if (db == nullptr) return Unavailable();
  absl::Status dropped = db->DropCollection(name);
  if (dropped.ok()) metrics_->ForgetCollection(name);
  return Tag(std::move(dropped), absl::StatusCode::kNotFound, kCollectionNotFound);
}

absl::StatusOr<CollectionStats> Service::Stats(std::string_view name) {
  return OnCollection(name,
                      [](Collection& c) -> absl::StatusOr<CollectionStats> { return c.Stats(); });
}

absl::StatusOr<CollectionStats> Service::Flush(std::string_view name) {
  return OnCollection(name, [](Collection& c) -> absl::StatusOr<CollectionStats> {
    if (absl::Status s = c.Flush(); !s.ok()) return s;
    return c.Stats();
  });
}

absl::StatusOr<CollectionStats> Service::Compact(std::string_view name) {
  return OnCollection(name, [](Collection& c) -> absl::StatusOr<CollectionStats> {
    if (absl::Status s = c.Compact(); !s.ok()) return s;
    return c.Stats();
  });
}

absl::StatusOr<CollectionStats> Service::ApplyTiering(std::string_view name) {
  return OnCollection(name, [](Collection& c) -> absl::StatusOr<CollectionStats> {
    if (absl::Status s = c.ApplyTiering(); !s.ok()) return s;
    return c.Stats();
  });
}

absl::StatusOr<std::vector<MaintenanceEvent>> Service::History(std::string_view name) {
  return OnCollection(name, [](Collection& c) -> absl::StatusOr<std::vector<MaintenanceEvent>> {
    return c.History();
  });
}

absl::StatusOr<BackupInfo> Service::Backup(std::string_view name) {
  Database* db = database();
  if (db == nullptr) return Unavailable();
  absl::StatusOr<BackupInfo> backup = db->BackupCollection(name);
  if (!backup.ok()) return Tag(backup.status(), absl::StatusCode::kNotFound, kCollectionNotFound);
  return backup;
}

absl::StatusOr<std::vector<BackupInfo>> Service::ListBackups() {
  Database* db = database();
  if (db == nullptr) return Unavailable();
  return db->ListBackups();
}

absl::StatusOr<CollectionInfo> Service::Restore(std::string_view backup_id,
                                                std::string_view target) {
  Database* db = database();
  if (db == nullptr) return Unavailable();
  absl::StatusOr<CollectionConfig> restored = db->RestoreBackup(backup_id, target);
  if (!restored.ok()) {
    return Tag(restored.status(), absl::StatusCode::kNotFound, kBackupNotFound);
  }
  metrics_->ForgetCollection(restored->name);  // as for a created collection
  return DescribeCollection(restored->name);
}

absl::StatusOr<CollectionInfo> Service::RestoreToTime(std::string_view source,
                                                      std::string_view point_in_time,
                                                      std::string_view target) {
  Database* db = database();
  if (db == nullptr) return Unavailable();
  // A missing source is COLLECTION_NOT_FOUND; the engine's other kNotFound (no backup old
  // enough) is BACKUP_NOT_FOUND.
  if (auto source_collection = Open(source); !source_collection.ok()) {
    return source_collection.status();
  }
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, absl::string_view(point_in_time.data(),
                                                              point_in_time.size()),
                       &t, &err)) {
    return absl::InvalidArgumentError(Cat("point_in_time: '", point_in_time,
                                          "' is not an RFC 3339 time (", err, ")"));
  }
  absl::StatusOr<CollectionConfig> restored =
      db->RestoreToTime(source, absl::ToUnixMicros(t), target);
  if (!restored.ok()) {
    return Tag(restored.status(), absl::StatusCode::kNotFound, kBackupNotFound);
  }
  metrics_->ForgetCollection(restored->name);  // as for a created collection
  return DescribeCollection(restored->name);
}

absl::Status Service::DeleteBackup(std::string_view backup_id) {
  Database* db = database();
  if (db == nullptr) return Unavailable();
  return Tag(db->DeleteBackup(backup_id), absl::StatusCode::kNotFound, kBackupNotFound);
}

absl::Status Service::CheckBatchSize(size_t n, std::string_view what) const {
  if (n <= static_cast<size_t>(config_.max_batch_size)) return absl::OkStatus();
  return WithErrorCode(absl::InvalidArgumentError(Cat("batch of ", n, " ", what,
                                                      " exceeds the limit of ",
                                                      config_.max_batch_size)),
                       kPayloadTooLarge);
}

absl::Status Service::Write(std::string_view name, std::vector<Record> records, WriteMode mode) {
  if (absl::Status s = CheckBatchSize(records.size(), "vectors"); !s.ok()) return s;
  const uint64_t n = records.size();
  return Observed(
      name, "write", [&](Collection& c) { return c.Write(std::move(records), mode); }, n);
}

absl::StatusOr<Record> Service::Get(std::string_view name, std::string_view id,
                                    ReadConsistency consistency) {
  return Observed(
      name, "get",
      [&](Collection& c) -> absl::StatusOr<Record> {
        auto r = c.Get(id);
        if (!r.ok()) return Tag(r.status(), absl::StatusCode::kNotFound, kVectorNotFound);
        return r;
      },
      /*records=*/0, consistency);
}

absl::Status Service::PatchMetadata(std::string_view name, std::string_view id,
                                    std::string_view patch) {
  return Observed(
      name, "write",
      [&](Collection& c) {
        return Tag(c.PatchMetadata(id, patch), absl::StatusCode::kNotFound, kVectorNotFound);
      },
      1);
}

absl::Status Service::DeleteOne(std::string_view name, std::string_view id) {
  return Observed(name, "delete", [&](Collection& c) -> absl::Status {
    auto n = c.Delete({std::string(id)});
    if (!n.ok()) return n.status();
    if (*n == 0) {
      return WithErrorCode(
          absl::NotFoundError(Cat("id '", id, "' not found in collection '", name, "'")),
          kVectorNotFound);
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<uint64_t> Service::DeleteIds(std::string_view name,
                                            const std::vector<std::string>& ids) {
  if (absl::Status s = CheckBatchSize(ids.size(), "ids"); !s.ok()) return s;
  return Observed(name, "delete", [&](Collection& c) { return c.Delete(ids); });
}

absl::StatusOr<uint64_t> Service::DeleteWhere(std::string_view name, std::string_view filter) {
  return Observed(name, "delete", [&](Collection& c) { return c.DeleteWhere(filter); });
}

absl::StatusOr<SearchResponse> Service::Search(std::string_view name,
                                               const SearchRequest& request,
                                               ReadConsistency consistency) {
  if (request.k < 1 || request.k > static_cast<uint64_t>(config_.max_k)) {
    return absl::InvalidArgumentError(
        Cat("field 'k' must be between 1 and ", config_.max_k, ", got ", request.k));
  }
  return Observed(
      name, "search", [&](Collection& c) { return c.Search(request); }, 0, consistency);
}

absl::StatusOr<uint64_t> Service::Count(std::string_view name, std::string_view filter,
                                        ReadConsistency consistency) {
  return Observed(name, "count", [&](Collection& c) { return c.Count(filter); }, 0, consistency);
}

absl::StatusOr<Service::Page> Service::Scroll(std::string_view name, std::string_view cursor,
                                              uint32_t limit, std::string_view filter,
                                              bool include_vectors,
                                              ReadConsistency consistency) {
  if (limit < 1 || limit > static_cast<uint64_t>(config_.max_batch_size)) {
    return absl::InvalidArgumentError(
        Cat("'limit' must be an integer from 1 to ", config_.max_batch_size, ", got ", limit));
  }
  std::string after;
  // Unpadded URL-safe base64 only: absl's decoder also skips whitespace, which no cursor holds.
  const bool base64 =
      cursor.size() % 4 != 1 && std::all_of(cursor.begin(), cursor.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '-' || c == '_';
      });
  if (!cursor.empty() &&
      (!base64 ||
       !absl::WebSafeBase64Unescape(absl::string_view(cursor.data(), cursor.size()), &after))) {
    return absl::InvalidArgumentError("'cursor' is not a cursor this server returned");
  }
  auto page = Observed(
      name, "scroll",
      [&](Collection& c) { return c.Scroll(after, limit, filter, include_vectors); }, 0,
      consistency);
  if (!page.ok()) return page.status();
  Page out;
  out.records = std::move(page->records);
  if (!page->next_after.empty()) absl::WebSafeBase64Escape(page->next_after, &out.next_cursor);
  return out;
}

bool Service::NeedsNoKey(Access access) const {
  return keys_ == nullptr || access == Access::kOpen ||
         (access == Access::kMetrics && config_.public_metrics);
}

absl::Status Service::Authenticate(std::string_view key, Access access) const {
  if (NeedsNoKey(access)) return absl::OkStatus();
  return keys_->Authenticate(key).status();
}

absl::StatusOr<std::optional<Principal>> Service::Authorize(std::string_view key, Access access,
                                                            std::string_view collection) const {
  if (NeedsNoKey(access)) return std::optional<Principal>();
  PROXIMADB_ASSIGN_OR_RETURN(Principal who, keys_->Authenticate(key));
  PROXIMADB_RETURN_IF_ERROR(who.Allow(access, collection));
  return std::optional<Principal>(std::move(who));
}

absl::Status Service::AuthEnabled() const {
  if (keys_ != nullptr) return absl::OkStatus();
  return WithErrorCode(
      absl::FailedPreconditionError("keys are only kept while authentication is on ([auth] enabled)"),
      kAuthNotEnabled);
}

absl::StatusOr<std::pair<KeyInfo, std::string>> Service::CreateKey(KeyInfo info) {
  PROXIMADB_RETURN_IF_ERROR(AuthEnabled());
  return keys_->Create(std::move(info));
}

absl::StatusOr<std::vector<KeyInfo>> Service::ListKeys() const {
  PROXIMADB_RETURN_IF_ERROR(AuthEnabled());
  return keys_->List();
}

absl::Status Service::DeleteKey(std::string_view name) {
  PROXIMADB_RETURN_IF_ERROR(AuthEnabled());
  return keys_->Delete(name);
}

}  // namespace proximadb::server
