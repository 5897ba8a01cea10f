// Membership: a node's presence in the cluster, kept in etcd under a lease (docs/cluster.md).
//
// Join writes /proximadb/<cluster>/nodes/<node_id> (its addresses and start time, JSON) attached
// to a lease of ttl_seconds, only if no live node holds that id. A thread renews the lease
// every third of its TTL. If the lease is gone all the same (the node was stopped or cut off
// longer than the TTL, and etcd let it expire), the thread joins again under a new lease, and
// the node's generation goes up by one. A node gone longer than the TTL is out of Nodes().
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "cluster/etcd_client.h"

namespace proximadb::cluster {

struct MembershipOptions {
  std::string cluster = "proximadb";  // the key prefix's name: clusters may share an etcd
  std::string node_id;
  std::string advertise_rest;  // host:port peers use
  std::string advertise_grpc;
  int64_t ttl_seconds = 10;
};

struct NodeInfo {
  std::string id;
  std::string rest;
  std::string grpc;
  int64_t started_unix_ms = 0;
  int64_t generation = 0;  // 1, then one more each time the node joined again
};

class Membership {
 public:
  // kAlreadyExists if a live node holds `node_id` (after waiting up to the TTL, as the key of
  // this node's own previous run, crashed, stays until its lease expires); kInvalidArgument
  // naming a bad option.
  static absl::StatusOr<std::unique_ptr<Membership>> Join(EtcdClient etcd,
                                                          MembershipOptions options);
  // Leaves: stops the renewals and revokes the lease, so peers see the node gone at once.
  ~Membership();
  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;

  // The live nodes, by id.
  absl::StatusOr<std::vector<NodeInfo>> Nodes();
  // This node's generation (1 after Join), and whether its key is held now.
  int64_t generation() const;
  bool joined() const;

 private:
  Membership(EtcdClient etcd, MembershipOptions options);
  std::string Key() const;
  // Takes a new lease and writes the node's key under it as `generation`; returns the lease
  // (kAlreadyExists if a live node holds the key).
  absl::StatusOr<int64_t> Register(int64_t generation);
  void RenewLoop();

  EtcdClient etcd_;
  const MembershipOptions options_;
  const int64_t started_unix_ms_;
  mutable absl::Mutex mu_;
  int64_t lease_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool joined_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread renewer_;
};

}  // namespace proximadb::cluster
