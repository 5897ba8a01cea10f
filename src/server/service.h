// Service: the API's operations over the engine, shared by the REST and gRPC transports so that
// the two cannot drift. It owns what is API policy rather than engine behaviour: the configured
// limits (batch size, k, id and metadata size, scroll page), ids generated for records without
// one, defaults for new collections from [flush], opaque scroll cursors, and the stable error
// codes: every error is an absl::Status carrying its API code (common/errors.h), which
// ApiErrorOf turns into the HTTP status and gRPC code of docs/api.md.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "proximadb/database.h"
#include "server/auth.h"
#include "server/config.h"

namespace proximadb::server {

// The stable error codes of docs/api.md.
inline constexpr char kInvalidArgumentCode[] = "INVALID_ARGUMENT";
inline constexpr char kCollectionNotFound[] = "COLLECTION_NOT_FOUND";
inline constexpr char kVectorNotFound[] = "VECTOR_NOT_FOUND";
inline constexpr char kPayloadTooLarge[] = "PAYLOAD_TOO_LARGE";
inline constexpr char kBackupNotFound[] = "BACKUP_NOT_FOUND";

struct ApiError {
  std::string code;  // e.g. "DIMENSION_MISMATCH"
  int http_status;   // e.g. 422
  int grpc_code;     // a grpc::StatusCode value, e.g. 3 (INVALID_ARGUMENT)
};
// The API error for a non-OK status: its attached code, or one derived from its absl code.
ApiError ApiErrorOf(const absl::Status& status);

// The named settings of a new collection as the APIs carry them (absent: the default), parsed
// into `config` here, once for both APIs; INVALID_ARGUMENT naming the field.
struct CollectionNames {
  std::optional<std::string> distance_metric, indexing_algorithm, storage_strategy, quantization,
      metadata_compression, id_index;
};
absl::Status ApplyCollectionNames(const CollectionNames& names, CollectionConfig* config);
// The layout names of a PATCH (storage_strategy, indexing_algorithm, quantization,
// metadata_compression) into `update`.
absl::Status ApplyLayoutNames(const CollectionNames& names, CollectionUpdate* update);
// A read's `consistency` as the APIs name it: "strong" or "eventual"; "" (gRPC's unset
// string) is the default, strong, when `empty_is_default`; INVALID_ARGUMENT naming the field
// otherwise.
absl::StatusOr<ReadConsistency> ParseConsistency(std::string_view name,
                                                 bool empty_is_default = true);

struct CollectionInfo {
  CollectionConfig config;
  std::optional<uint64_t> vector_count;  // unknown in a cluster's list
};

class RequestMetrics;

}  // namespace proximadb::server

namespace proximadb::cluster {
class ClusterDatabase;
}  // namespace proximadb::cluster

namespace proximadb::server {

class Service {
 public:
  explicit Service(const ServerConfig& config);
  ~Service();

  // Until set, every operation fails with UNAVAILABLE ("recovery is still running").
  void SetDatabase(Database* db) { db_.store(db, std::memory_order_release); }
  bool ready() const { return db_.load(std::memory_order_acquire) != nullptr; }
  Database* database() const { return db_.load(std::memory_order_acquire); }
  // Cluster mode: the database set is this cluster's (docs/cluster.md); set with it.
  void SetCluster(cluster::ClusterDatabase* cluster) {
    cluster_.store(cluster, std::memory_order_release);
  }
  cluster::ClusterDatabase* cluster() const { return cluster_.load(std::memory_order_acquire); }
  const ServerConfig& config() const { return config_; }
  // What GET /metrics reports: the transports' requests, and the collections' operations,
  // which the service observes itself.
  RequestMetrics& metrics() const { return *metrics_; }

  // Turns authentication on ([auth] enabled): every operation but /health and /ready then
  // needs a key that `keys` knows. Set before serving; `keys` outlives the service.
  void SetKeyStore(KeyStore* keys) { keys_ = keys; }
  // OK if authentication is off, `access` needs no key, or `key` is one the server knows;
  // UNAUTHENTICATED otherwise. (Authorize checks the role and scope too.)
  absl::Status Authenticate(std::string_view key, Access access) const;
  // Who may do `access` on `collection` ("" for none) with the presented `key`: nullopt when
  // authentication is off (everything is allowed); UNAUTHENTICATED or PERMISSION_DENIED.
  absl::StatusOr<std::optional<Principal>> Authorize(std::string_view key, Access access,
                                                     std::string_view collection) const;
  // Key management (admin; AUTH_NOT_ENABLED while authentication is off). CreateKey answers
  // the new key's secret once.
  absl::StatusOr<std::pair<KeyInfo, std::string>> CreateKey(KeyInfo info);
  absl::StatusOr<std::vector<KeyInfo>> ListKeys() const;
  absl::Status DeleteKey(std::string_view name);

  // A configuration for a new collection with the server's defaults (flush policy from [flush]).
  CollectionConfig NewCollectionConfig() const;
  // A random UUID (version 4), for records written without an id.
  static std::string NewId();

  absl::StatusOr<CollectionInfo> CreateCollection(const CollectionConfig& config);
  // The collections `caller`'s key covers (every one for nullptr). On a single node each has
  // its vector_count, and one dropped meanwhile is left out. In cluster mode none has: a count
  // there is a fan-out to every shard, which DescribeCollection makes for one collection.
  absl::StatusOr<std::vector<CollectionInfo>> ListCollections(const Principal* caller);
  absl::StatusOr<CollectionInfo> DescribeCollection(std::string_view name);
  absl::StatusOr<CollectionInfo> UpdateCollection(std::string_view name,
                                                  const CollectionUpdate& update);
  absl::Status DropCollection(std::string_view name);
  absl::StatusOr<CollectionStats> Stats(std::string_view name);
  absl::StatusOr<CollectionStats> Flush(std::string_view name);
  absl::StatusOr<CollectionStats> Compact(std::string_view name);
  absl::StatusOr<CollectionStats> ApplyTiering(std::string_view name);
  // The collection's last flushes, compactions and migrations, newest first.
  absl::StatusOr<std::vector<MaintenanceEvent>> History(std::string_view name);

  // Writes the records as one batch (the engine checks each against the record limits, which
  // the server gives it from [api]).
  absl::Status Write(std::string_view name, std::vector<Record> records, WriteMode mode);
  // Reads take a consistency (docs/cluster.md#reads; a single node's reads are strong).
  absl::StatusOr<Record> Get(std::string_view name, std::string_view id,
                             ReadConsistency consistency = ReadConsistency::kStrong);
  absl::Status PatchMetadata(std::string_view name, std::string_view id, std::string_view patch);
  // VECTOR_NOT_FOUND if the id is not live.
  absl::Status DeleteOne(std::string_view name, std::string_view id);
  absl::StatusOr<uint64_t> DeleteIds(std::string_view name, const std::vector<std::string>& ids);
  absl::StatusOr<uint64_t> DeleteWhere(std::string_view name, std::string_view filter);

  // k must be 1..max_k.
  absl::StatusOr<SearchResponse> Search(std::string_view name, const SearchRequest& request,
                                        ReadConsistency consistency = ReadConsistency::kStrong);
  absl::StatusOr<uint64_t> Count(std::string_view name, std::string_view filter,
                                 ReadConsistency consistency = ReadConsistency::kStrong);
  // `cursor` is "" or a next_cursor returned before; the page's next_cursor is "" at the end.
  struct Page {
    std::vector<Record> records;
    std::string next_cursor;
  };
  absl::StatusOr<Page> Scroll(std::string_view name, std::string_view cursor, uint32_t limit,
                              std::string_view filter, bool include_vectors,
                              ReadConsistency consistency = ReadConsistency::kStrong);

  // Backups in the object store (docs/backups.md); OBJECT_STORE_NOT_CONFIGURED without one,
  // OBJECT_STORE_UNAVAILABLE when it cannot be reached.
  absl::StatusOr<BackupInfo> Backup(std::string_view name);
  absl::StatusOr<std::vector<BackupInfo>> ListBackups();
  // The new collection `target` with its vector_count.
  absl::StatusOr<CollectionInfo> Restore(std::string_view backup_id, std::string_view target);
  // `point_in_time` is RFC 3339 (INVALID_ARGUMENT naming the field otherwise).
  absl::StatusOr<CollectionInfo> RestoreToTime(std::string_view source,
                                               std::string_view point_in_time,
                                               std::string_view target);
  absl::Status DeleteBackup(std::string_view backup_id);

  // PAYLOAD_TOO_LARGE unless n <= max_batch_size; `what` is "vectors" or "queries".
  absl::Status CheckBatchSize(size_t n, std::string_view what) const;

 private:
  absl::StatusOr<std::shared_ptr<Collection>> Open(
      std::string_view name, ReadConsistency consistency = ReadConsistency::kStrong);
  // fn(collection) for the named collection, or why there is none to call it on
  // (COLLECTION_NOT_FOUND, UNAVAILABLE). fn returns absl::Status or absl::StatusOr.
  template <typename Fn>
  auto OnCollection(std::string_view name, Fn fn) {
    using Result = decltype(fn(std::declval<Collection&>()));
    auto c = Open(name);
    if (!c.ok()) return Result(c.status());
    return Result(fn(**c));
  }
  // OnCollection, observing how long fn took as an `operation` of the collection (metrics.h)
  // that wrote `records` (a read: 0, with its consistency).
  template <typename Fn>
  auto Observed(std::string_view name, std::string_view operation, Fn fn, uint64_t records = 0,
                ReadConsistency consistency = ReadConsistency::kStrong) {
    using Result = decltype(fn(std::declval<Collection&>()));
    auto c = Open(name, consistency);
    if (!c.ok()) return Result(c.status());
    const auto start = std::chrono::steady_clock::now();
    Result result(fn(**c));
    Observe(name, operation, result.ok(), start, records);
    return result;
  }
  void Observe(std::string_view name, std::string_view operation, bool ok,
               std::chrono::steady_clock::time_point start, uint64_t records);

  absl::Status AuthEnabled() const;
  // Whether `access` is allowed without a key (authentication off, or an open route).
  bool NeedsNoKey(Access access) const;

  const ServerConfig config_;
  std::atomic<Database*> db_{nullptr};
  std::atomic<cluster::ClusterDatabase*> cluster_{nullptr};
  KeyStore* keys_ = nullptr;
  const std::unique_ptr<RequestMetrics> metrics_;
};

}  // namespace proximadb::server
