// EtcdClient: the part of etcd's v3 API that cluster mode needs (keys, transactions on one key,
// leases), spoken through etcd's JSON gateway (POST /v3/...) over libcurl. etcd ships no C++
// client; the gateway is documented and stable, and the traffic is low-rate metadata.
//
// Endpoints are tried in turn: a request goes to the endpoint that answered last, and moves to
// the next one when it could not connect (so the request was not sent, and trying again
// elsewhere cannot apply it twice); a read also when it got no answer, twice round the
// endpoints (so a read may take 2 x endpoints x request_timeout_ms). Any other transport
// failure is kUnavailable: a write may or may not have happened, as with any etcd client.
//
// Errors: etcd's own (its gRPC code, e.g. a lease that does not exist is kNotFound) keep their
// code, with etcd's message. Thread-safety: safe from many threads (a handle per request).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json_fwd.hpp"

namespace proximadb::cluster {

struct EtcdOptions {
  std::vector<std::string> endpoints;  // "http://host:port"
  int connect_timeout_ms = 1000;
  int request_timeout_ms = 5000;
};

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;  // the revision of its last change: the token of CompareAndSwap
  int64_t version = 0;
  int64_t lease = 0;  // 0: none
};

class EtcdClient {
 public:
  // Checks the options (kInvalidArgument naming the field); does not connect.
  static absl::StatusOr<EtcdClient> Create(EtcdOptions options);
  EtcdClient(EtcdClient&& other) noexcept;

  // Sets `key` (attached to `lease` when not 0); returns the revision it was written at.
  absl::StatusOr<int64_t> Put(std::string_view key, std::string_view value, int64_t lease = 0);
  // The key, or nullopt when it does not exist.
  absl::StatusOr<std::optional<KeyValue>> Get(std::string_view key);
  // Every key that starts with `prefix`, in key order.
  absl::StatusOr<std::vector<KeyValue>> GetPrefix(std::string_view prefix);
  // Deletes `key`; returns whether it existed.
  absl::StatusOr<bool> Delete(std::string_view key);
  // Deletes every key that starts with `prefix`; returns how many there were.
  absl::StatusOr<int64_t> DeletePrefix(std::string_view prefix);

  // Transactions on one key: true when written, false when the condition did not hold (the
  // key exists / changed since `mod_revision`), and nothing was written.
  absl::StatusOr<bool> CreateIfAbsent(std::string_view key, std::string_view value,
                                      int64_t lease = 0);
  absl::StatusOr<bool> CompareAndSwap(std::string_view key, std::string_view value,
                                      int64_t mod_revision);
  absl::StatusOr<bool> CompareAndDelete(std::string_view key, int64_t mod_revision);

  // A lease of `ttl_seconds` (etcd may raise it to its minimum); returns its id.
  absl::StatusOr<int64_t> GrantLease(int64_t ttl_seconds);
  // Renews the lease; returns its TTL, or kNotFound when it has expired or was revoked.
  absl::StatusOr<int64_t> KeepAlive(int64_t lease);
  // Ends the lease and deletes the keys attached to it.
  absl::Status RevokeLease(int64_t lease);

 private:
  explicit EtcdClient(EtcdOptions options) : options_(std::move(options)) {}
  // POSTs `body` to `path` ("/v3/kv/put"); the answer's JSON, or the error it carries. A
  // request that got no answer is tried on the next endpoint if it was never sent, or if it is
  // a `read` (twice round the endpoints): a write that may have been applied is not repeated.
  absl::StatusOr<nlohmann::json> Call(std::string_view path, const nlohmann::json& body,
                                      bool read = false);
  absl::StatusOr<bool> Txn(const nlohmann::json& compare, const nlohmann::json& success);

  EtcdOptions options_;
  std::atomic<size_t> current_{0};  // the endpoint that answered last
};

}  // namespace proximadb::cluster
