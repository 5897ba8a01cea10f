// The Prometheus text of GET /metrics: REST request counts and latency histograms by method,
// route and status, gRPC calls' by method and code, each collection's operations (through
// either API) by kind and outcome with the records written, requests refused as overload,
// every collection's exported statistics (server/fields.h lists them) with its flush policy's
// WAL age and whether it has a background error, whether the server is ready, its version and
// start time, the process's resident memory, and the free and total bytes of the file systems
// it writes to.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "proximadb/database.h"
#include "server/histograms.h"
#include "server/service.h"

namespace proximadb::server {

// Cluster mode's series (cluster_metrics.cc): live nodes, and each shard's log and this node's
// replica of it. Network calls to etcd and NATS: /metrics is served on a worker then.
void AppendClusterMetrics(const Service& service, std::string* out);

class RequestMetrics {
 public:
  RequestMetrics();

  // One REST request of `method` on `route` (a route pattern, "unknown" for none) that
  // answered `status` after `seconds`.
  void Observe(std::string_view method, std::string_view route, int status, double seconds);
  // One gRPC call of `method` (the RPC's name, e.g. "Search") that ended with `code` (a
  // status code's name, e.g. "OK") and `error` (the API's error code, "" for none) after
  // `seconds`.
  void ObserveGrpc(std::string_view method, std::string_view code, std::string_view error,
                   double seconds);
  // One operation ("search", "write", "get", "delete", "count", "scroll") on an existing
  // collection, through either API, that took `seconds` in the engine; `records` written.
  void ObserveOperation(std::string_view collection, std::string_view operation, bool ok,
                        double seconds, uint64_t records = 0) ABSL_LOCKS_EXCLUDED(mu_);
  // The collection was dropped: its series go.
  void ForgetCollection(std::string_view collection) ABSL_LOCKS_EXCLUDED(mu_);
  // One request refused because too many were waiting (429).
  void Rejected() { rejected_.fetch_add(1, std::memory_order_relaxed); }

  // The whole /metrics text (no collection series while the server recovers).
  std::string Text(const Service& service) const;

 private:
  void AppendCollections(Database* db, std::string* out) const ABSL_LOCKS_EXCLUDED(mu_);

  const int64_t start_time_seconds_;  // Unix time of construction: the process's start
  LatencyHistograms http_, grpc_, operations_;
  mutable absl::Mutex mu_;
  // Records written, by collection (unescaped).
  std::map<std::string, uint64_t, std::less<>> written_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> rejected_{0};  // relaxed: a counter
};

}  // namespace proximadb::server
