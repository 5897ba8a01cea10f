// proximadb-server: the REST and gRPC APIs over the storage engine. Configuration: flags > environment
// (PROXIMADB_<SECTION>__<KEY>) > config file > defaults (server/config.h). Serves /health at
// once and the API after recovery; SIGTERM or SIGINT stops accepting, lets requests in flight
// finish, closes the database (the WAL is synced) and exits 0.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <tuple>
#include <variant>
#include <vector>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "absl/synchronization/mutex.h"
#include "cluster/cluster_database.h"
#include "common/logging.h"
#include "common/strings.h"
#include "proximadb/database.h"
#include "env/env.h"
#include "server/auth.h"
#include "server/config.h"
#include "server/grpc_server.h"
#include "server/http_server.h"
#include "server/json_log.h"
#include "server/rest_api.h"
#include "server/shard_forwarding.h"
#include "server/version.h"

extern char** environ;

namespace {

using namespace proximadb;
using namespace proximadb::server;

// The configuration from the file, the environment and the flags (in rising precedence), or
// the exit code when there is nothing to serve (--version, --help, a bad flag or setting).
std::variant<ServerConfig, int> Configure(int argc, char** argv) {
  CLI::App app{"ProximaDB vector database server"};
  std::string config_file, data_dir, log_level;
  int rest_port = 0, grpc_port = 0;
  bool version = false;
  app.add_option("--config", config_file, "TOML configuration file")->check(CLI::ExistingFile);
  app.add_option("--data-dir", data_dir, "data directory ([storage] data_directory)");
  app.add_option("--rest-port", rest_port, "REST port ([api] rest_port)");
  app.add_option("--grpc-port", grpc_port, "gRPC port ([api] grpc_port)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, off");
  app.add_flag("--version", version, "print the version and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (version) {
    std::printf("proximadb-server %s\n", kVersion);
    return 0;
  }
  ConfigSources sources;
  sources.file = config_file;
  for (char** e = environ; *e != nullptr; ++e) sources.environ.emplace_back(*e);
  if (!data_dir.empty()) sources.flags.emplace_back("storage.data_directory", data_dir);
  if (rest_port != 0) sources.flags.emplace_back("api.rest_port", std::to_string(rest_port));
  if (grpc_port != 0) sources.flags.emplace_back("api.grpc_port", std::to_string(grpc_port));
  if (!log_level.empty()) sources.flags.emplace_back("server.log_level", log_level);
  absl::StatusOr<ServerConfig> loaded = LoadConfig(sources);
  if (!loaded.ok()) {
    std::fprintf(stderr, "proximadb-server: configuration error: %s\n",
                 std::string(loaded.status().message()).c_str());
    return 2;
  }
  ServerConfig config = *std::move(loaded);
  if (config.dashboard_dir.empty()) {  // beside bin/: build/dashboard, or an install's
    std::error_code ec;
    const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) config.dashboard_dir = (exe.parent_path().parent_path() / "dashboard").string();
  }
  return config;
}

void SetUpLogging(const ServerConfig& config) {
  const spdlog::level::level_enum level = spdlog::level::from_str(config.log_level);
  spdlog::set_level(level);
  SetMinLogLevel(level <= spdlog::level::debug  ? LogLevel::kDebug
                 : level == spdlog::level::info ? LogLevel::kInfo
                 : level == spdlog::level::warn ? LogLevel::kWarning
                 : level == spdlog::level::off  ? LogLevel::kOff
                                                : LogLevel::kError);
  if (config.log_format == "json") {
    spdlog::set_formatter(std::make_unique<JsonLogFormatter>(config.node_id));
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %l %v", spdlog::pattern_time_type::utc);
  }
  SetLogSink([](LogLevel level, std::string_view message) {
    switch (level) {
      case LogLevel::kDebug: spdlog::debug("{}", message); break;
      case LogLevel::kInfo: spdlog::info("{}", message); break;
      case LogLevel::kWarning: spdlog::warn("{}", message); break;
      case LogLevel::kError: spdlog::error("{}", message); break;
      case LogLevel::kOff: break;
    }
  });
}

HttpServerOptions HttpOptionsFor(const ServerConfig& config) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  HttpServerOptions o;
  o.body_limit = static_cast<size_t>(config.max_body_mb) << 20;
  o.io_threads = config.io_threads > 0 ? static_cast<int>(config.io_threads) : cores;
  o.worker_threads =
      config.worker_threads > 0 ? static_cast<int>(config.worker_threads) : std::max(4, 2 * cores);
  o.max_pending = static_cast<size_t>(config.max_pending_requests);
  o.busy_poll_us = static_cast<int>(config.busy_poll_us);
  o.request_timeout_ms = static_cast<int>(config.request_timeout_ms);
  if (config.tls_enabled) o.tls = config.tls;
  return o;
}

cluster::ClusterOptions ClusterOptionsFor(const ServerConfig& config) {
  cluster::ClusterOptions o;
  o.cluster_name = config.cluster_name;
  o.node_id = config.cluster_node_id.empty() ? config.node_id : config.cluster_node_id;
  o.advertise_rest = config.advertise_rest.empty()
                         ? Cat(config.bind_address, ":", config.rest_port)
                         : config.advertise_rest;
  o.advertise_grpc = config.advertise_grpc.empty()
                         ? Cat(config.bind_address, ":", config.grpc_port)
                         : config.advertise_grpc;
  o.etcd_endpoints = config.etcd_endpoints;
  o.nats_urls = config.nats_urls;
  o.default_shards = static_cast<uint32_t>(config.default_shards);
  o.replication_factor = static_cast<int>(config.replication_factor);
  o.lease_ttl_seconds = config.lease_ttl_seconds;
  o.replace_after_seconds = static_cast<int>(config.replace_after_seconds);
  o.max_id_bytes = static_cast<size_t>(config.max_id_bytes);
  o.max_metadata_bytes = static_cast<size_t>(config.max_metadata_bytes);
  o.trim_logs = config.trim_logs;
  o.rebalance = config.rebalance;
  return o;
}

// How this node reaches its peers for the shards it holds no replica of, and for copies of
// their replicas: with the admin key under authentication, and over TLS under [tls], checking
// peers against the client CA if one is set (every node then presents its own certificate),
// or else against this node's own certificate chain (the nodes share one).
ForwardingOptions ForwardingOptionsFor(const ServerConfig& config,
                                       const std::optional<GrpcServer::TlsPem>& pem) {
  ForwardingOptions o;
  if (config.auth_enabled) o.key = config.admin_key;
  if (pem) {
    o.tls = ForwardingOptions::Tls{
        .roots = pem->client_ca.empty() ? pem->cert_chain : pem->client_ca,
        .cert_chain = pem->client_ca.empty() ? "" : pem->cert_chain,
        .private_key = pem->client_ca.empty() ? "" : pem->private_key};
  }
  return o;
}

DatabaseOptions DatabaseOptionsFor(const ServerConfig& config) {
  DatabaseOptions o;
  o.data_dir = config.data_directory;
  o.wal_directory = config.wal_directory;
  o.hot_directories = config.hot_directories;
  o.warm_directories = config.warm_directories;
  o.durability = *ParseDurability(config.durability);
  o.async_sync_interval_ms = static_cast<uint32_t>(config.async_sync_interval_ms);
  o.max_id_bytes = static_cast<size_t>(config.max_id_bytes);
  o.max_metadata_bytes = static_cast<size_t>(config.max_metadata_bytes);
  o.background_maintenance = config.compaction_enabled && config.enable_background_flush;
  o.memtable_budget_mb = static_cast<uint64_t>(config.memtable_size_mb);
  return o;
}

// The PEM text of [tls]'s files for gRPC (nullopt without TLS), or which file cannot be read.
absl::StatusOr<std::optional<GrpcServer::TlsPem>> TlsPemOf(const ServerConfig& config) {
  if (!config.tls_enabled) return std::optional<GrpcServer::TlsPem>();
  GrpcServer::TlsPem pem;
  for (auto [key, file, out] : {std::tuple("cert_file", &config.tls.cert_file, &pem.cert_chain),
                                std::tuple("key_file", &config.tls.key_file, &pem.private_key),
                                std::tuple("client_ca_file", &config.tls.client_ca_file,
                                           &pem.client_ca)}) {
    if (file->empty()) continue;
    absl::StatusOr<std::string> text = Env::Default()->ReadFile(*file);
    if (!text.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("[tls] ", key, " ", *file, ": ", text.status().message()));
    }
    *out = *std::move(text);
  }
  return std::optional<GrpcServer::TlsPem>(std::move(pem));
}

// Starts REST and gRPC (answering UNAVAILABLE), recovers the data, serves until SIGTERM or
// SIGINT arrives in `stop_signals`, and stops gracefully. Returns the exit code.
int Serve(const ServerConfig& config, const sigset_t& stop_signals) {
  const HttpServerOptions http_options = HttpOptionsFor(config);
  Service service(config);
  std::unique_ptr<KeyStore> keys;
  if (config.auth_enabled) {
    const std::string path = JoinPath(JoinPath(config.data_directory, "auth"), "keys.json");
    absl::StatusOr<std::unique_ptr<KeyStore>> opened =
        KeyStore::Open(Env::Default(), path, config.admin_key);
    if (!opened.ok()) {
      spdlog::critical("{}", opened.status().ToString());
      return 1;
    }
    keys = *std::move(opened);
    service.SetKeyStore(keys.get());
    spdlog::info("authentication on: {} stored keys and the admin key", keys->List().size());
  }
  RestApi api(&service);
  HttpServer http(&api, http_options);
  if (absl::Status s = http.Start(config.bind_address, static_cast<uint16_t>(config.rest_port));
      !s.ok()) {
    spdlog::critical("{}", std::string(s.message()));
    return 1;
  }
  spdlog::info("proximadb-server {} node {}: REST{} on {}:{} ({} I/O + {} worker threads), "
               "recovering {}",
               kVersion, config.node_id, config.tls_enabled ? " (TLS)" : "",
               config.bind_address, config.rest_port,
               http_options.io_threads, http_options.worker_threads, config.data_directory);
  GrpcServer grpc(&service);
  absl::StatusOr<std::optional<GrpcServer::TlsPem>> pem = TlsPemOf(config);
  if (!pem.ok()) {
    spdlog::critical("{}", std::string(pem.status().message()));
    http.Stop(0);
    return 1;
  }
  if (absl::Status s = grpc.Start(config.bind_address, static_cast<uint16_t>(config.grpc_port),
                                  static_cast<size_t>(config.max_body_mb) << 20, *pem);
      !s.ok()) {
    spdlog::critical("{}", std::string(s.message()));
    http.Stop(0);
    return 1;
  }
  spdlog::info("gRPC{} on {}:{}", config.tls_enabled ? " (TLS)" : "", config.bind_address,
               config.grpc_port);
  if (config.dashboard_enabled) {
    const std::filesystem::path index = std::filesystem::path(config.dashboard_dir) / "index.html";
    if (std::error_code ec; std::filesystem::is_regular_file(index, ec)) {
      spdlog::info("dashboard at /dashboard/ from {}", config.dashboard_dir);
    } else {
      spdlog::warn("dashboard_enabled, but {} is missing: build the dashboard (make run does)",
                   index.string());
    }
  }

  // For tests of the not-ready state: hold recovery back this long.
  if (const char* delay = std::getenv("PROXIMADB_TEST_DELAY_OPEN_MS")) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(delay)));
  }
  DatabaseOptions db_options = DatabaseOptionsFor(config);
  if (!config.object_store.endpoint.empty()) {
    absl::StatusOr<std::unique_ptr<ObjectStore>> store = NewS3ObjectStore(config.object_store);
    if (!store.ok()) {  // LoadConfig validated the options: not expected
      spdlog::critical("object store: {}", store.status().ToString());
      http.Stop(0);
      grpc.Stop(0);
      return 1;
    }
    db_options.object_store = std::move(*store);
    db_options.wal_archive = config.wal_archive;
    db_options.cache_directory = config.cache_directory;
    db_options.cache_size_mb = static_cast<uint64_t>(config.cache_size_mb);
    spdlog::info("object store: bucket {} at {}", config.object_store.bucket,
                 config.object_store.endpoint);
  }
  absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(db_options);
  if (!db.ok()) {
    spdlog::critical("cannot open data directory {}: {}", config.data_directory,
                     db.status().ToString());
    http.Stop(0);
    grpc.Stop(0);
    return 1;
  }
  std::unique_ptr<Database> database = *std::move(db);
  if (config.cluster_enabled) {
    RestApi::ServeReadsOnWorkers();
    cluster::ClusterOptions options = ClusterOptionsFor(config);
    std::shared_ptr<ShardChannels> channels =
        NewShardChannels(ForwardingOptionsFor(config, *pem));
    options.remote_shards = NewShardForwarding(channels);
    options.peer_exports = NewPeerExports(channels);
    absl::StatusOr<std::unique_ptr<cluster::ClusterDatabase>> joined =
        cluster::ClusterDatabase::Open(std::move(database), std::move(options));
    if (!joined.ok()) {
      spdlog::critical("cannot join cluster {}: {}", config.cluster_name,
                       joined.status().ToString());
      http.Stop(0);
      grpc.Stop(0);
      return 1;
    }
    service.SetCluster(joined->get());
    database = *std::move(joined);
    spdlog::info("cluster {}: joined as {}", config.cluster_name,
                 ClusterOptionsFor(config).node_id);
  }
  service.SetDatabase(database.get());
  grpc.SetServing(true);
  spdlog::info("ready: {} collections", database->ListCollections().size());

  int signal = 0;
  sigwait(&stop_signals, &signal);
  spdlog::info("{} received: stopping", signal == SIGTERM ? "SIGTERM" : "SIGINT");
  database->BeginShutdown();  // a compaction, even one a request runs, is not waited for
  grpc.SetServing(false);
  http.Stop(static_cast<int>(config.request_timeout_ms));
  grpc.Stop(static_cast<int>(config.request_timeout_ms));
  service.SetDatabase(nullptr);
  service.SetCluster(nullptr);
  database.reset();  // leaves the cluster; syncs and closes every collection's WAL
  spdlog::info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::variant<ServerConfig, int> configured = Configure(argc, argv);
  if (const int* exit_code = std::get_if<int>(&configured)) return *exit_code;
  const ServerConfig& config = std::get<ServerConfig>(configured);
  SetUpLogging(config);

  // Signals go to the thread that waits for them, not to the server's threads.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

#ifdef NDEBUG
  // Debian's Abseil is built with Mutex deadlock detection on, which sends every lock through
  // its slow path to update a lock graph. Release servers turn it off; tests keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  return Serve(config, stop_signals);
}
