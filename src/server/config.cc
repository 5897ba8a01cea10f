#include "server/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>
#include <variant>

#include <toml++/toml.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace proximadb::server {

FlushPolicy ServerConfig::DefaultFlushPolicy() const {
  FlushPolicy p;
  p.max_wal_age_hours = max_wal_age_hours;
  p.max_wal_size_mb = max_wal_size_mb;
  p.max_vector_count = static_cast<uint64_t>(max_vector_count);
  p.flush_priority = static_cast<int>(flush_priority);
  return p;
}

namespace {

using Field = std::variant<std::string*, int64_t*, double*, bool*, std::vector<std::string>*>;

struct Key {
  const char* name;  // "section.key"
  Field field;
  int64_t min = INT64_MIN, max = INT64_MAX;  // for integers
};

std::vector<Key> Keys(ServerConfig& c) {
  return {
      {"server.node_id", &c.node_id},
      {"server.bind_address", &c.bind_address},
      {"server.dashboard_enabled", &c.dashboard_enabled},
      {"server.dashboard_dir", &c.dashboard_dir},
      {"server.log_level", &c.log_level},
      {"server.log_format", &c.log_format},
      {"server.io_threads", &c.io_threads, 0, 1024},
      {"server.worker_threads", &c.worker_threads, 0, 1024},
      {"server.busy_poll_us", &c.busy_poll_us, 0, 10000},
      {"storage.data_directory", &c.data_directory},
      {"storage.wal_directory", &c.wal_directory},
      {"storage.hot_directories", &c.hot_directories},
      {"storage.warm_directories", &c.warm_directories},
      {"storage.memtable_size_mb", &c.memtable_size_mb, 1, 1 << 20},
      {"storage.compaction_enabled", &c.compaction_enabled},
      {"storage.durability", &c.durability},
      {"storage.async_sync_interval_ms", &c.async_sync_interval_ms, 1, 3600000},
      {"object_store.endpoint", &c.object_store.endpoint},
      {"object_store.bucket", &c.object_store.bucket},
      {"object_store.region", &c.object_store.region},
      {"object_store.prefix", &c.object_store.prefix},
      {"object_store.access_key_id", &c.object_store.access_key_id},
      {"object_store.secret_access_key", &c.object_store.secret_access_key},
      {"object_store.wal_archive", &c.wal_archive},
      {"object_store.cache_directory", &c.cache_directory},
      {"object_store.cache_size_mb", &c.cache_size_mb, 1, int64_t{1} << 30},
      {"api.rest_port", &c.rest_port, 1, 65535},
      {"api.grpc_port", &c.grpc_port, 1, 65535},
      {"api.request_timeout_ms", &c.request_timeout_ms, 1, 3600000},
      {"api.max_pending_requests", &c.max_pending_requests, 1, 1000000},
      {"api.max_body_mb", &c.max_body_mb, 1, 4096},
      {"api.max_batch_size", &c.max_batch_size, 1, 10000000},
      {"api.max_k", &c.max_k, 1, 1000000},
      {"api.max_id_bytes", &c.max_id_bytes, 1, 512},
      {"api.max_metadata_bytes", &c.max_metadata_bytes, 2, 64 * 1024},
      {"flush.max_wal_age_hours", &c.max_wal_age_hours},
      {"flush.max_wal_size_mb", &c.max_wal_size_mb},
      {"flush.max_vector_count", &c.max_vector_count, 1, INT64_MAX},
      {"flush.flush_priority", &c.flush_priority, 1, 100},
      {"flush.enable_background_flush", &c.enable_background_flush},
      {"auth.enabled", &c.auth_enabled},
      {"auth.admin_key", &c.admin_key},
      {"auth.public_metrics", &c.public_metrics},
      {"tls.enabled", &c.tls_enabled},
      {"tls.cert_file", &c.tls.cert_file},
      {"tls.key_file", &c.tls.key_file},
      {"tls.client_ca_file", &c.tls.client_ca_file},
      {"cluster.enabled", &c.cluster_enabled},
      {"cluster.name", &c.cluster_name},
      {"cluster.node_id", &c.cluster_node_id},
      {"cluster.advertise_rest", &c.advertise_rest},
      {"cluster.advertise_grpc", &c.advertise_grpc},
      {"cluster.etcd_endpoints", &c.etcd_endpoints},
      {"cluster.nats_urls", &c.nats_urls},
      {"cluster.default_shards", &c.default_shards, 1, 256},
      {"cluster.replication_factor", &c.replication_factor, 1, 5},
      {"cluster.lease_ttl_seconds", &c.lease_ttl_seconds, 2, 3600},
      {"cluster.replace_after_seconds", &c.replace_after_seconds, 1, 86400 * 30},
      {"cluster.trim_logs", &c.trim_logs},
      {"cluster.rebalance", &c.rebalance},
      {"monitoring.metrics_enabled", &c.metrics_enabled},
      {"monitoring.health_check_interval_ms", &c.health_check_interval_ms, 1, 3600000},
  };
}

absl::Status Bad(const std::string& where, const std::string& what) {
  return absl::InvalidArgumentError(Cat(where, ": ", what));
}

absl::Status CheckRange(const Key& k, int64_t v, const std::string& where) {
  if (v < k.min || v > k.max) {
    return Bad(where, Cat("must be between ", k.min, " and ", k.max, ", got ", v));
  }
  return absl::OkStatus();
}

// Sets a key from text (environment variables and flags).
absl::Status SetFromText(const Key& k, const std::string& text, const std::string& where) {
  if (auto* s = std::get_if<std::string*>(&k.field)) {
    **s = text;
    return absl::OkStatus();
  }
  if (auto* list = std::get_if<std::vector<std::string>*>(&k.field)) {  // comma-separated
    (*list)->clear();
    for (std::string_view item : Split(text, ',')) {
      if (item.empty()) return Bad(where, "expects a comma-separated list, one item is empty");
      (*list)->emplace_back(item);
    }
    return absl::OkStatus();
  }
  if (auto* i = std::get_if<int64_t*>(&k.field)) {
    int64_t v;
    if (!absl::SimpleAtoi(text, &v)) return Bad(where, Cat("expects an integer, got '", text, "'"));
    if (auto s = CheckRange(k, v, where); !s.ok()) return s;
    **i = v;
    return absl::OkStatus();
  }
  if (auto* d = std::get_if<double*>(&k.field)) {
    double v;
    if (!absl::SimpleAtod(text, &v)) return Bad(where, Cat("expects a number, got '", text, "'"));
    **d = v;
    return absl::OkStatus();
  }
  bool v;
  if (!absl::SimpleAtob(text, &v)) return Bad(where, Cat("expects true or false, got '", text, "'"));
  *std::get<bool*>(k.field) = v;
  return absl::OkStatus();
}

absl::Status SetFromToml(const Key& k, const toml::node& node, const std::string& where) {
  if (auto* s = std::get_if<std::string*>(&k.field)) {
    if (!node.is_string()) return Bad(where, "expects a string");
    **s = *node.value<std::string>();
    return absl::OkStatus();
  }
  if (auto* list = std::get_if<std::vector<std::string>*>(&k.field)) {
    const toml::array* array = node.as_array();
    if (array == nullptr) return Bad(where, "expects an array of paths");
    (*list)->clear();
    for (const toml::node& item : *array) {
      if (!item.is_string() || item.value<std::string>()->empty()) {
        return Bad(where, "expects an array of non-empty strings");
      }
      (*list)->push_back(*item.value<std::string>());
    }
    return absl::OkStatus();
  }
  if (auto* i = std::get_if<int64_t*>(&k.field)) {
    if (!node.is_integer()) return Bad(where, "expects an integer");
    const int64_t v = *node.value<int64_t>();
    if (auto s = CheckRange(k, v, where); !s.ok()) return s;
    **i = v;
    return absl::OkStatus();
  }
  if (auto* d = std::get_if<double*>(&k.field)) {
    if (!node.is_number()) return Bad(where, "expects a number");
    **d = *node.value<double>();
    return absl::OkStatus();
  }
  if (!node.is_boolean()) return Bad(where, "expects true or false");
  *std::get<bool*>(k.field) = *node.value<bool>();
  return absl::OkStatus();
}

const Key* Find(const std::vector<Key>& keys, const std::string& name) {
  for (const Key& k : keys) {
    if (name == k.name) return &k;
  }
  return nullptr;
}

absl::Status Validate(const ServerConfig& c) {
  static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
  if (std::find(std::begin(kLevels), std::end(kLevels), c.log_level) == std::end(kLevels)) {
    return Bad("server.log_level", Cat("must be one of trace, debug, info, warn, "
                                                "error, off; got '", c.log_level, "'"));
  }
  if (c.log_format != "text" && c.log_format != "json") {
    return Bad("server.log_format", Cat("must be text or json; got '", c.log_format, "'"));
  }
  if (!ParseDurability(c.durability).ok()) {
    return Bad("storage.durability", Cat("must be sync or async, got '", c.durability, "'"));
  }
  if (c.bind_address.empty()) return Bad("server.bind_address", "must not be empty");
  if (c.data_directory.empty()) return Bad("storage.data_directory", "must not be empty");
  if (!(c.max_wal_age_hours > 0)) return Bad("flush.max_wal_age_hours", "must be positive");
  if (!(c.max_wal_size_mb > 0)) return Bad("flush.max_wal_size_mb", "must be positive");
  if (!c.object_store.endpoint.empty()) {
    if (absl::Status s = ValidateObjectStoreOptions(c.object_store); !s.ok()) return s;
  } else if (c.wal_archive) {
    return Bad("object_store.wal_archive", "needs object_store.endpoint");
  }
  if (c.auth_enabled && c.admin_key.size() < 16) {
    return Bad("auth.admin_key", c.admin_key.empty()
                                     ? "is needed when auth.enabled is true"
                                     : "must be at least 16 characters long");
  }
  if (c.tls_enabled && (c.tls.cert_file.empty() || c.tls.key_file.empty())) {
    return Bad(c.tls.cert_file.empty() ? "tls.cert_file" : "tls.key_file",
               "is needed when tls.enabled is true");
  }
  if (c.rest_port == c.grpc_port) {
    return Bad("api.rest_port", Cat("equals api.grpc_port (", c.grpc_port, ")"));
  }
  if (c.cluster_enabled && c.etcd_endpoints.empty()) {
    return Bad("cluster.etcd_endpoints", "is needed when cluster.enabled is true");
  }
  if (c.cluster_enabled && c.nats_urls.empty()) {
    return Bad("cluster.nats_urls", "is needed when cluster.enabled is true");
  }
  // Peers forward requests to advertise_grpc (by default bind_address:grpc_port), and a
  // wildcard address names no node.
  const bool wildcard = c.bind_address == "0.0.0.0" || c.bind_address == "::";
  if (c.cluster_enabled && wildcard && c.advertise_grpc.empty()) {
    return Bad("cluster.advertise_grpc",
               Cat("is needed when server.bind_address is ", c.bind_address,
                   ": the address other nodes reach this one's gRPC port at"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ServerConfig> LoadConfig(const ConfigSources& sources) {
  ServerConfig c;
  const std::vector<Key> keys = Keys(c);

  if (!sources.file.empty()) {
    toml::table table;
    try {
      table = toml::parse_file(sources.file);
    } catch (const toml::parse_error& e) {
      return absl::InvalidArgumentError(Cat(
          sources.file, ":", e.source().begin.line, ":", e.source().begin.column, ": ",
          std::string(e.description())));
    }
    for (auto&& [section, node] : table) {
      const std::string sec(section.str());
      const toml::table* entries = node.as_table();
      if (entries == nullptr) {
        return Bad(Cat(sources.file, ": ", sec), "expects a [section] of keys");
      }
      for (auto&& [key, value] : *entries) {
        const std::string name = Cat(sec, ".", std::string(key.str()));
        const std::string where = Cat(sources.file, ": [", sec, "] ", key.str());
        const Key* k = Find(keys, name);
        if (k == nullptr) return Bad(where, "unknown key");
        if (auto s = SetFromToml(*k, value, where); !s.ok()) return s;
      }
    }
  }

  for (const std::string& entry : sources.environ) {
    const size_t eq = entry.find('=');
    const std::string var = entry.substr(0, eq);
    constexpr std::string_view kPrefix = "PROXIMADB_";
    const size_t sep = var.find("__");
    if (var.rfind(kPrefix, 0) != 0 || sep == std::string::npos || eq == std::string::npos) {
      continue;  // not a configuration variable (e.g. PROXIMADB_SIMD)
    }
    const std::string name = absl::AsciiStrToLower(Cat(
        var.substr(kPrefix.size(), sep - kPrefix.size()), ".", var.substr(sep + 2)));
    const Key* k = Find(keys, name);
    if (k == nullptr) return Bad(Cat("environment variable ", var), "unknown key");
    if (auto s = SetFromText(*k, entry.substr(eq + 1), Cat("environment variable ", var));
        !s.ok()) {
      return s;
    }
  }

  for (const auto& [name, value] : sources.flags) {
    const Key* k = Find(keys, name);
    if (k == nullptr) return Bad(Cat("flag for ", name), "unknown key");
    if (auto s = SetFromText(*k, value, Cat("flag for ", name)); !s.ok()) return s;
  }

  // The seed README writes bind_address with a port ("0.0.0.0:5678"); ports live in [api].
  if (const size_t colon = c.bind_address.rfind(':');
      colon != std::string::npos && c.bind_address.find(':') == colon) {
    c.bind_address.resize(colon);
  }
  if (auto s = Validate(c); !s.ok()) return s;
  return c;
}

}  // namespace proximadb::server
