// The Prometheus text of GET /metrics: REST request counts and latency histograms by method,
// route and status, requests refused as overload, every collection's exported statistics
// (server/fields.h lists them) with its flush policy's WAL age and whether it has a background
// error, whether the server is ready, its version and start time, the process's resident
// memory, and the free and total bytes of the file systems it writes to.
//
// Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "proximadb/database.h"
#include "server/service.h"

namespace proximadb::server {

class RequestMetrics {
 public:
  RequestMetrics();

  // One request of `method` on `route` (a route pattern, "unknown" for none) that answered
  // `status` after `seconds`.
  void Observe(const std::string& method, const std::string& route, int status, double seconds);
  // One request refused because too many were waiting (429).
  void Rejected() { rejected_.fetch_add(1, std::memory_order_relaxed); }

  // The whole /metrics text (no collection series while the server recovers).
  std::string Text(const Service& service) const;

 private:
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1,    2.5};
  struct Series {
    uint64_t count = 0;
    double sum = 0;
    std::array<uint64_t, kBuckets.size()> buckets{};
  };
  void AppendRequests(std::string* out) const;

  const int64_t start_time_seconds_;  // Unix time of construction: the process's start

  // Orders (method, route, status) keys of strings and of string_views alike, so that a
  // lookup copies no string.
  struct KeyLess {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return View(a) < View(b);
    }
    template <typename T>
    static std::tuple<std::string_view, std::string_view, int> View(const T& key) {
      return {std::get<0>(key), std::get<1>(key), std::get<2>(key)};
    }
  };

  mutable absl::Mutex mu_;
  // (method, route, status) -> series.
  std::map<std::tuple<std::string, std::string, int>, Series, KeyLess> series_
      ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> rejected_{0};  // relaxed: a counter
};

}  // namespace proximadb::server
