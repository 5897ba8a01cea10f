// Copies of shard replicas between the nodes of a cluster (docs/cluster.md#copying-a-replica),
// over shards.proto's EXPORT calls. The serving side keeps the exports that other nodes are
// reading (ShardExports, for grpc_shards.cc only); the reading side is the cluster's
// PeerExports (shard_forwarding.h's NewPeerExports): an ObjectStore whose every read is a call
// to the exporting node.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cluster/cluster_database.h"
#include "cluster/shard.h"
#include "proximadb/v1/shards.pb.h"

namespace proximadb::server {

// Whether `op` is one of the EXPORT calls.
bool IsExportCall(v1::ShardCall::Op op);

class ShardExports {
 public:
  // Serves an EXPORT call with `db`'s replicas (null: not in cluster mode, SHARD_NOT_HERE).
  absl::Status Serve(cluster::ClusterDatabase* db, const v1::ShardCall& call,
                     v1::ShardReply* reply);

 private:
  struct Export {
    CollectionExport exported;
    absl::Time used;
  };
  absl::Status Open(cluster::ClusterDatabase* db, const v1::ShardCall& call,
                    v1::ShardReply* reply);
  absl::StatusOr<std::shared_ptr<Export>> Find(const std::string& id);

  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Export>> open_ ABSL_GUARDED_BY(mu_);  // by id
};

}  // namespace proximadb::server
