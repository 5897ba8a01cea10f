// The distributed engines of cluster mode, started on free loopback ports for a test and
// stopped with the object: one etcd, and a NATS cluster with JetStream. Debian's `etcd` and
// `nats-server`, which scripts/install-test-servers.sh installs. For tests only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/child_process.h"
#include "common/scoped_temp_dir.h"

namespace proximadb::cluster {

class EtcdTestServer {
 public:
  // Starts a one-member etcd and waits until it serves requests.
  static absl::StatusOr<std::unique_ptr<EtcdTestServer>> Start();
  std::string endpoint() const;

 private:
  EtcdTestServer() = default;
  ScopedTempDir dir_;
  int client_port_ = 0;
  ChildProcess process_;
};

class NatsTestCluster {
 public:
  // Starts `nodes` nats-servers with JetStream, routed to each other when more than one, and
  // waits until JetStream has a meta leader (the cluster can create streams).
  static absl::StatusOr<std::unique_ptr<NatsTestCluster>> Start(int nodes);
  ~NatsTestCluster();

  std::vector<std::string> urls() const;  // every node's client URL
  std::string url(int node) const;
  int size() const { return static_cast<int>(nodes_.size()); }

  void Kill(int node);  // SIGKILL (a crash); its store stays
  absl::Status Restart(int node);  // starts it again on the same ports and store
  void Signal(int node, int signal) const;
  // The node's server_name ("n0"...), as JetStream names stream leaders and replicas.
  static std::string Name(int node);

 private:
  struct Node {
    int client_port = 0, route_port = 0, monitor_port = 0;
    ChildProcess process;
  };
  NatsTestCluster() = default;
  absl::Status Launch(int node);
  absl::Status WaitMetaLeader();

  ScopedTempDir dir_;
  std::vector<Node> nodes_;
};

}  // namespace proximadb::cluster
