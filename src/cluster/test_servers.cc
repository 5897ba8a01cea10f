#include "cluster/test_servers.h"

#include <curl/curl.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <set>
#include <thread>

#include "cluster/etcd_client.h"
#include "common/strings.h"
#include "nlohmann/json.hpp"

namespace proximadb::cluster {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kStartTimeout = std::chrono::seconds(30);

size_t OnBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// The body of GET `url`, or "" when it cannot be had.
std::string HttpGet(const std::string& url) {
  CURL* h = curl_easy_init();
  std::string body;
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 2000L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
  if (curl_easy_perform(h) != CURLE_OK) body.clear();
  curl_easy_cleanup(h);
  return body;
}

}  // namespace

absl::StatusOr<std::unique_ptr<EtcdTestServer>> EtcdTestServer::Start() {
  std::unique_ptr<EtcdTestServer> server(new EtcdTestServer());
  server->client_port_ = FreeLoopbackPort();
  const std::string client = server->endpoint();
  const std::string peer = Cat("http://127.0.0.1:", FreeLoopbackPort());
  absl::StatusOr<ChildProcess> process = ChildProcess::Start(
      {"etcd", "--name", "e0", "--data-dir", server->dir_.path() + "/data",
       "--listen-client-urls", client, "--advertise-client-urls", client,
       "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
       "--initial-cluster", Cat("e0=", peer), "--log-level", "warn"},
      server->dir_.path() + "/etcd.log");
  if (!process.ok()) return process.status();
  server->process_ = *std::move(process);
  absl::StatusOr<EtcdClient> client_or =
      EtcdClient::Create({.endpoints = {client}, .request_timeout_ms = 2000});
  if (!client_or.ok()) return client_or.status();
  const auto deadline = Clock::now() + kStartTimeout;
  while (Clock::now() < deadline) {
    if (server->process_.Exited()) {
      return absl::InternalError(Cat("etcd exited while starting (installed by "
                                     "scripts/install-test-servers.sh): ",
                                     server->process_.LogTail()));
    }
    if (client_or->Get("/probe").ok()) return server;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // not serving yet
  }
  return absl::DeadlineExceededError(Cat("etcd did not start: ", server->process_.LogTail()));
}

std::string EtcdTestServer::endpoint() const { return Cat("http://127.0.0.1:", client_port_); }

absl::StatusOr<std::unique_ptr<NatsTestCluster>> NatsTestCluster::Start(int nodes) {
  std::unique_ptr<NatsTestCluster> cluster(new NatsTestCluster());
  cluster->nodes_.resize(static_cast<size_t>(nodes));
  for (Node& node : cluster->nodes_) {
    node.client_port = FreeLoopbackPort();
    node.route_port = FreeLoopbackPort();
    node.monitor_port = FreeLoopbackPort();
  }
  for (int i = 0; i < nodes; ++i) {
    if (absl::Status s = cluster->Launch(i); !s.ok()) return s;
  }
  if (absl::Status s = cluster->WaitMetaLeader(); !s.ok()) return s;
  return cluster;
}

NatsTestCluster::~NatsTestCluster() = default;

std::string NatsTestCluster::Name(int node) { return Cat("n", node); }

std::string NatsTestCluster::url(int node) const {
  return Cat("nats://127.0.0.1:", nodes_[static_cast<size_t>(node)].client_port);
}

std::vector<std::string> NatsTestCluster::urls() const {
  std::vector<std::string> out;
  for (int i = 0; i < size(); ++i) out.push_back(url(i));
  return out;
}

absl::Status NatsTestCluster::Launch(int i) {
  Node& node = nodes_[static_cast<size_t>(i)];
  const std::string dir = Cat(dir_.path(), "/", Name(i));
  ::mkdir(dir.c_str(), 0755);
  std::ofstream conf(dir + "/nats.conf");
  conf << "server_name: " << Name(i) << "\n"
       << "listen: 127.0.0.1:" << node.client_port << "\n"
       << "http: 127.0.0.1:" << node.monitor_port << "\n"
       << "jetstream { store_dir: \"" << dir << "/store\", max_mem_store: 64MB, "
       << "max_file_store: 1GB }\n";
  if (size() > 1) {
    conf << "cluster {\n  name: proximadb\n  listen: 127.0.0.1:" << node.route_port
         << "\n  routes: [\n";
    for (const Node& peer : nodes_) {
      conf << "    nats-route://127.0.0.1:" << peer.route_port << "\n";
    }
    conf << "  ]\n}\n";
  }
  conf.close();
  absl::StatusOr<ChildProcess> process =
      ChildProcess::Start({"nats-server", "-c", dir + "/nats.conf"}, dir + "/nats.log");
  if (!process.ok()) return process.status();
  node.process = *std::move(process);
  return absl::OkStatus();
}

// JetStream can place streams on every node once each running node follows one meta leader;
// one server leads itself.
absl::Status NatsTestCluster::WaitMetaLeader() {
  const auto deadline = Clock::now() + kStartTimeout;
  while (Clock::now() < deadline) {
    std::set<std::string> leaders;  // as each running node sees it ("" for none yet)
    for (Node& node : nodes_) {
      if (!node.process.running()) continue;  // killed by the test
      if (node.process.Exited()) {
        return absl::InternalError(Cat("nats-server exited while starting (installed by "
                                       "scripts/install-test-servers.sh): ",
                                       node.process.LogTail()));
      }
      const std::string body = HttpGet(Cat("http://127.0.0.1:", node.monitor_port, "/jsz"));
      const nlohmann::json jsz = nlohmann::json::parse(body, nullptr, false);
      std::string leader;
      if (jsz.is_object() && size() == 1 && jsz.contains("config")) leader = "itself";
      if (jsz.is_object() && jsz.contains("meta_cluster") && jsz["meta_cluster"].is_object()) {
        leader = jsz["meta_cluster"].value("leader", "");
      }
      leaders.insert(leader);
    }
    if (leaders.size() == 1 && !leaders.begin()->empty()) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polled, with a deadline
  }
  std::string logs;
  for (const Node& node : nodes_) AppendCat(&logs, "\n", node.process.LogTail());
  return absl::DeadlineExceededError(Cat("the NATS servers agreed on no meta leader:", logs));
}

void NatsTestCluster::Kill(int node) { nodes_[static_cast<size_t>(node)].process.Kill(); }

absl::Status NatsTestCluster::Restart(int node) {
  nodes_[static_cast<size_t>(node)].process.Kill();
  if (absl::Status s = Launch(node); !s.ok()) return s;
  return WaitMetaLeader();
}

void NatsTestCluster::Signal(int node, int signal) const {
  nodes_[static_cast<size_t>(node)].process.Signal(signal);
}

}  // namespace proximadb::cluster
