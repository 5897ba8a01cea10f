#include "server/metrics.h"

#include <unistd.h>

#include <fstream>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "server/fields.h"

namespace proximadb::server {
namespace {

void AppendCollectionStats(Database* db, std::string* out) {
  std::vector<std::pair<std::string, CollectionStats>> stats;
  for (const CollectionConfig& cfg : db->ListCollections()) {
    if (auto c = db->GetCollection(cfg.name); c.ok()) stats.emplace_back(cfg.name, (*c)->Stats());
  }
  for (const StatsField& f : kStatsFields) {
    if (f.metric == nullptr) continue;
    const std::string metric = MetricName(f);
    AppendCat(out, "# HELP ", metric, " ", f.help, "\n# TYPE ", metric, " ",
              f.counter ? "counter" : "gauge", "\n");
    for (const auto& [name, st] : stats) {
      AppendCat(out, metric, "{collection=\"", name, "\"} ");
      std::visit(
          [&](const auto& v) {
            if constexpr (std::is_arithmetic_v<std::decay_t<decltype(v)>>) AppendCat(out, v);
          },
          ValueOf(f, st));
      out->push_back('\n');
    }
  }
}

}  // namespace

void RequestMetrics::Observe(const std::string& method, const std::string& route, int status,
                             double seconds) {
  const std::tuple<std::string_view, std::string_view, int> key(method, route, status);
  absl::MutexLock l(&mu_);
  auto it = series_.find(key);
  if (it == series_.end()) {
    it = series_.emplace(std::make_tuple(method, route, status), Series{}).first;
  }
  Series& s = it->second;
  ++s.count;
  s.sum += seconds;
  for (size_t i = 0; i < kBuckets.size(); ++i) s.buckets[i] += seconds <= kBuckets[i];
}

void RequestMetrics::AppendRequests(std::string* out) const {
  *out += "# HELP proximadb_http_requests_total HTTP requests by method, route and status.\n";
  *out += "# TYPE proximadb_http_requests_total counter\n";
  std::string hist =
      "# HELP proximadb_http_request_duration_seconds HTTP request latency.\n"
      "# TYPE proximadb_http_request_duration_seconds histogram\n";
  absl::MutexLock l(&mu_);
  for (const auto& [key, s] : series_) {
    const auto& [method, route, status] = key;
    const std::string labels =
        Cat("method=\"", method, "\",route=\"", route, "\",status=\"", status, "\"");
    AppendCat(out, "proximadb_http_requests_total{", labels, "} ", s.count, "\n");
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      AppendCat(&hist, "proximadb_http_request_duration_seconds_bucket{", labels, ",le=\"",
                kBuckets[i], "\"} ", s.buckets[i], "\n");
    }
    AppendCat(&hist, "proximadb_http_request_duration_seconds_bucket{", labels, ",le=\"+Inf\"} ",
              s.count, "\n");
    AppendCat(&hist, "proximadb_http_request_duration_seconds_sum{", labels, "} ", s.sum, "\n");
    AppendCat(&hist, "proximadb_http_request_duration_seconds_count{", labels, "} ", s.count,
              "\n");
  }
  *out += hist;
}

std::string RequestMetrics::Text(Database* db) const {
  std::string out;
  AppendRequests(&out);
  AppendCat(&out,
            "# HELP proximadb_http_rejected_total HTTP requests refused with 429 because too "
            "many were waiting.\n# TYPE proximadb_http_rejected_total counter\n"
            "proximadb_http_rejected_total ",
            rejected_.load(std::memory_order_relaxed), "\n");
  if (db != nullptr) AppendCollectionStats(db, &out);
  long pages = 0, resident = 0;
  if (std::ifstream statm("/proc/self/statm"); statm >> pages >> resident) {
    AppendCat(&out,
              "# HELP proximadb_process_resident_memory_bytes Resident memory.\n"
              "# TYPE proximadb_process_resident_memory_bytes gauge\n"
              "proximadb_process_resident_memory_bytes ",
              resident * sysconf(_SC_PAGESIZE), "\n");
  }
  return out;
}

}  // namespace proximadb::server
