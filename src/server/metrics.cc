#include "server/metrics.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/strings.h"
#include "server/fields.h"
#include "server/version.h"

namespace proximadb::server {
namespace {

// A label value as the text format writes it: backslash, double quote and newline escaped.
std::string Label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void AppendHeader(std::string* out, std::string_view metric, std::string_view type,
                  std::string_view help) {
  AppendCat(out, "# HELP ", metric, " ", help, "\n# TYPE ", metric, " ", type, "\n");
}

struct CollectionSample {
  std::string label;  // the collection's name, escaped
  CollectionConfig config;
  CollectionStats stats;
};

// What the alert rules of deploy/prometheus compare with the stats: the flush policy's WAL
// age, and whether a background failure stopped writes.
void AppendCollectionState(const std::vector<CollectionSample>& samples, std::string* out) {
  AppendHeader(out, "proximadb_collection_max_wal_age_seconds", "gauge",
               "The flush policy's oldest unflushed write (max_wal_age_hours).");
  for (const CollectionSample& c : samples) {
    AppendCat(out, "proximadb_collection_max_wal_age_seconds{collection=\"", c.label, "\"} ",
              c.config.flush.max_wal_age_hours * 3600, "\n");
  }
  AppendHeader(out, "proximadb_collection_background_error", "gauge",
               "1 when a background failure stopped the collection's writes (see its stats).");
  for (const CollectionSample& c : samples) {
    AppendCat(out, "proximadb_collection_background_error{collection=\"", c.label, "\"} ",
              c.stats.background_error.empty() ? 0 : 1, "\n");
  }
}

void AppendCollectionStats(Database* db, std::string* out) {
  std::vector<CollectionSample> stats;
  for (const CollectionConfig& cfg : db->ListCollections()) {
    if (auto c = db->GetCollection(cfg.name); c.ok()) {
      stats.push_back({Label(cfg.name), cfg, (*c)->Stats()});
    }
  }
  for (const StatsField& f : kStatsFields) {
    if (f.metric == nullptr) continue;
    const std::string metric = MetricName(f);
    AppendCat(out, "# HELP ", metric, " ", f.help, "\n# TYPE ", metric, " ",
              f.counter ? "counter" : "gauge", "\n");
    for (const auto& [name, cfg, st] : stats) {
      AppendCat(out, metric, "{collection=\"", name, "\"} ");
      std::visit(
          [&](const auto& v) {
            if constexpr (std::is_arithmetic_v<std::decay_t<decltype(v)>>) AppendCat(out, v);
          },
          ValueOf(f, st));
      out->push_back('\n');
    }
  }
  AppendCollectionState(stats, out);
}

// Free and total bytes of each file system the server writes to (data, WAL, hot, warm and
// cache directories), by directory.
void AppendFileSystems(const ServerConfig& config, std::string* out) {
  std::set<std::string> dirs = {config.data_directory};
  for (const std::string& d : {config.wal_directory, config.cache_directory}) {
    if (!d.empty()) dirs.insert(d);
  }
  dirs.insert(config.hot_directories.begin(), config.hot_directories.end());
  dirs.insert(config.warm_directories.begin(), config.warm_directories.end());
  std::string free_text, size_text;
  for (const std::string& d : dirs) {
    struct statvfs fs;
    if (statvfs(d.c_str(), &fs) != 0) continue;  // not made yet
    const std::string label = Label(d);
    AppendCat(&free_text, "proximadb_filesystem_free_bytes{directory=\"", label, "\"} ",
              static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize, "\n");
    AppendCat(&size_text, "proximadb_filesystem_size_bytes{directory=\"", label, "\"} ",
              static_cast<uint64_t>(fs.f_blocks) * fs.f_frsize, "\n");
  }
  AppendHeader(out, "proximadb_filesystem_free_bytes", "gauge",
               "Bytes free for the server on the file system of a directory it writes to.");
  *out += free_text;
  AppendHeader(out, "proximadb_filesystem_size_bytes", "gauge",
               "Size of the file system of a directory the server writes to.");
  *out += size_text;
}

}  // namespace

RequestMetrics::RequestMetrics() : start_time_seconds_(absl::ToUnixSeconds(absl::Now())) {}

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

std::string RequestMetrics::Text(const Service& service) const {
  std::string out;
  AppendHeader(&out, "proximadb_build_info", "gauge", "The server's version (the value is 1).");
  AppendCat(&out, "proximadb_build_info{version=\"", kVersion, "\"} 1\n");
  AppendHeader(&out, "proximadb_ready", "gauge",
               "1 once recovery finished and requests are served (GET /ready), else 0.");
  AppendCat(&out, "proximadb_ready ", service.ready() ? 1 : 0, "\n");
  AppendHeader(&out, "proximadb_process_start_time_seconds", "gauge",
               "Start of the process, in seconds since the Unix epoch.");
  AppendCat(&out, "proximadb_process_start_time_seconds ", start_time_seconds_, "\n");
  AppendRequests(&out);
  AppendCat(&out,
            "# HELP proximadb_http_rejected_total HTTP requests refused with 429 because too "
            "many were waiting.\n# TYPE proximadb_http_rejected_total counter\n"
            "proximadb_http_rejected_total ",
            rejected_.load(std::memory_order_relaxed), "\n");
  if (Database* db = service.database()) AppendCollectionStats(db, &out);
  AppendFileSystems(service.config(), &out);
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
