// Server configuration: defaults, then config.toml, then PROXIMADB_<SECTION>__<KEY> environment
// variables, then command-line flags, each overriding the one before. Every key of every source
// is checked: an unknown key or a bad value is an error naming the key and where it came from,
// and the server refuses to start. config/proximadb.toml documents every key.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proximadb/types.h"
#include "storage/object_store.h"

namespace proximadb::server {

// PEM files of TLS (docs/security.md#tls).
struct TlsFiles {
  std::string cert_file;       // the server's certificate chain
  std::string key_file;        // its private key
  std::string client_ca_file;  // given: clients must present a certificate it signed
};

struct ServerConfig {
  // [server]
  std::string node_id = "node-1";
  std::string bind_address = "127.0.0.1";  // host only; ports are in [api]
  bool dashboard_enabled = false;           // the web dashboard at /dashboard
  std::string dashboard_dir;                // its built files; "": <executable's dir>/../dashboard
  std::string log_level = "info";           // trace, debug, info, warn, error, off
  std::string log_format = "text";          // text, or json: one JSON object per line
  int64_t io_threads = 0;      // REST threads that read, search and answer; 0: one per core
  int64_t worker_threads = 0;  // REST threads for writes and maintenance; 0: 2 per core, >= 4
  int64_t busy_poll_us = 0;    // how long an I/O thread polls before sleeping; 0: never

  // [storage]
  std::string data_directory = "./data";
  std::string wal_directory;                  // "": in data_directory
  std::vector<std::string> hot_directories;   // new segments; empty: data_directory
  std::vector<std::string> warm_directories;
  // The memory budget of all memtables: past it the largest are flushed, past twice it writes
  // get 429 until flushes catch up (engine/memory_budget.h).
  int64_t memtable_size_mb = 1024;
  bool compaction_enabled = true;  // background flush and compaction
  std::string durability = "sync";
  int64_t async_sync_interval_ms = 100;

  // [object_store]: the cold tier and where backups go; an empty endpoint means none
  // (docs/storage.md#the-cold-tier, docs/backups.md)
  ObjectStoreOptions object_store;
  bool wal_archive = false;  // [object_store] wal_archive: for point-in-time restore
  std::string cache_directory;     // cold segments' cache; "": <data_directory>/cache
  int64_t cache_size_mb = 10240;
  // [api]
  int64_t rest_port = 8080;
  int64_t grpc_port = 5678;
  int64_t request_timeout_ms = 30000;
  int64_t max_pending_requests = 256;  // REST writes waiting for a worker thread (else 429)
  int64_t max_body_mb = 64;
  int64_t max_batch_size = 10000;   // records per batch write, queries per batch search
  int64_t max_k = 10000;
  int64_t max_id_bytes = 512;
  int64_t max_metadata_bytes = 65536;

  // [flush]: defaults for collections created without their own
  double max_wal_age_hours = 24.0;
  double max_wal_size_mb = 128.0;
  int64_t max_vector_count = 1000000;
  int64_t flush_priority = 50;
  bool enable_background_flush = true;

  // [auth] (docs/security.md)
  bool auth_enabled = false;
  std::string admin_key;         // the bootstrap admin key; normally PROXIMADB_AUTH__ADMIN_KEY
  bool public_metrics = false;   // /metrics without a key

  // [tls] (docs/security.md#tls): REST and gRPC on the same ports, TLS only
  bool tls_enabled = false;
  TlsFiles tls;

  // [cluster] (docs/cluster.md): off, a single node
  bool cluster_enabled = false;
  std::string cluster_name = "proximadb";   // clusters sharing an etcd keep apart by it
  std::string cluster_node_id;              // "": [server] node_id
  std::string advertise_rest;               // host:port peers and clients reach; "": bound
  std::string advertise_grpc;
  std::vector<std::string> etcd_endpoints;  // "http://host:port"
  std::vector<std::string> nats_urls;       // "nats://host:port"
  int64_t default_shards = 4;
  int64_t replication_factor = 3;           // copies of each shard's log
  int64_t lease_ttl_seconds = 10;           // a node silent this long is out of the cluster
  int64_t replace_after_seconds = 60;       // ... and this long more has its replicas re-placed
  bool trim_logs = false;  // trim each shard's log below what every replica has flushed
  bool rebalance = true;   // move replicas from the most loaded live node to the least

  // [monitoring]
  bool metrics_enabled = true;
  int64_t health_check_interval_ms = 5000;

  // The flush policy [flush] gives new collections.
  FlushPolicy DefaultFlushPolicy() const;
};

// Where settings come from, lowest precedence first. `flags` holds --section.key=value pairs
// already mapped from the command line (e.g. {"api.rest_port", "9000"}).
struct ConfigSources {
  std::string file;                  // a TOML file; empty for none
  std::vector<std::string> environ;  // "NAME=value" entries; only PROXIMADB_*__* are read
  std::vector<std::pair<std::string, std::string>> flags;
};

absl::StatusOr<ServerConfig> LoadConfig(const ConfigSources& sources);

}  // namespace proximadb::server
