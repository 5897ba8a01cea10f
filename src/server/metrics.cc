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

void AppendCollectionStats(Database* db, const std::vector<CollectionConfig>& configs,
                           std::string* out) {
  std::vector<CollectionSample> stats;
  for (const CollectionConfig& cfg : configs) {
    if (auto c = db->GetCollection(cfg.name); c.ok()) {
      stats.push_back({EscapeLabel(cfg.name), cfg, (*c)->Stats()});
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
    const std::string label = EscapeLabel(d);
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

// HTTP methods by name; any other token counts as "other", so that odd requests cannot add
// series without bound.
std::string_view MethodLabel(std::string_view method) {
  for (std::string_view known : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    if (method == known) return known;
  }
  return "other";
}

}  // namespace

RequestMetrics::RequestMetrics()
    : start_time_seconds_(absl::ToUnixSeconds(absl::Now())),
      http_("proximadb_http_request_duration_seconds", "HTTP request latency.",
            {"method", "route", "status"}, "proximadb_http_requests_total",
            "HTTP requests by method, route and status."),
      grpc_("proximadb_grpc_request_duration_seconds", "gRPC call latency.",
            {"method", "code", "error"}, "proximadb_grpc_requests_total",
            "gRPC calls by method, status code and the API's error code."),
      operations_("proximadb_collection_operation_duration_seconds",
                  "Operations on a collection through either API (engine time), by kind and "
                  "outcome.",
                  {"collection", "operation", "outcome"}) {}

void RequestMetrics::Observe(std::string_view method, std::string_view route, int status,
                             double seconds) {
  http_.Observe({MethodLabel(method), route, Cat(status)}, seconds);
}

void RequestMetrics::ObserveGrpc(std::string_view method, std::string_view code,
                                 std::string_view error, double seconds) {
  grpc_.Observe({method, code, error}, seconds);
}

void RequestMetrics::ObserveOperation(std::string_view collection, std::string_view operation,
                                      bool ok, double seconds, uint64_t records) {
  operations_.Observe({collection, operation, ok ? "ok" : "error"}, seconds);
  if (records == 0) return;
  absl::MutexLock l(&mu_);
  auto it = written_.find(collection);
  if (it == written_.end()) it = written_.emplace(std::string(collection), 0).first;
  it->second += records;
}

void RequestMetrics::ForgetCollection(std::string_view collection) {
  operations_.Forget(collection);
  absl::MutexLock l(&mu_);
  if (auto it = written_.find(collection); it != written_.end()) written_.erase(it);
}

// The collections' statistics, and their operations: only of collections that exist now (an
// operation that raced a drop leaves a series, which stays hidden).
void RequestMetrics::AppendCollections(Database* db, std::string* out) const {
  const std::vector<CollectionConfig> configs = db->ListCollections();
  AppendCollectionStats(db, configs, out);
  std::set<std::string, std::less<>> names;
  for (const CollectionConfig& c : configs) names.insert(c.name);
  auto exists = [&](std::string_view name) { return names.contains(name); };
  operations_.Append(out, exists);
  AppendHeader(out, "proximadb_collection_records_written_total", "counter",
               "Records written (inserted, upserted or patched) through either API.");
  absl::MutexLock l(&mu_);
  for (const auto& [name, records] : written_) {
    if (!exists(name)) continue;
    AppendCat(out, "proximadb_collection_records_written_total{collection=\"",
              EscapeLabel(name), "\"} ", records, "\n");
  }
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
  http_.Append(&out);
  grpc_.Append(&out);
  AppendCat(&out,
            "# HELP proximadb_http_rejected_total HTTP requests refused with 429 because too "
            "many were waiting.\n# TYPE proximadb_http_rejected_total counter\n"
            "proximadb_http_rejected_total ",
            rejected_.load(std::memory_order_relaxed), "\n");
  if (Database* db = service.database()) AppendCollections(db, &out);
  AppendClusterMetrics(service, &out);
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
