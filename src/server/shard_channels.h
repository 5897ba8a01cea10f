// The gRPC channels from this node to the other nodes of its cluster (shards.proto), shared by
// the forwarded shards (shard_forwarding.cc) and the copies of replicas (shard_exports.cc).
// Only those include this header.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "proximadb/v1/shards.grpc.pb.h"
#include "server/shard_forwarding.h"

namespace proximadb::server {

// One channel per peer address.
class ShardChannels {
 public:
  explicit ShardChannels(ForwardingOptions options) : options_(std::move(options)) {}

  // Sends `call` to the node at `address` once connected to it. kUnavailable naming the node
  // if it cannot be connected to within 2 s (`*sent` false: the call went nowhere); the call's
  // gRPC status, naming the node, if it failed (`*sent` true: it may have arrived, and
  // kUnavailable if it broke on the way); else the node's reply, whatever it answered.
  absl::StatusOr<v1::ShardReply> Call(const std::string& address, const v1::ShardCall& call,
                                      bool* sent);

 private:
  struct Peer {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<v1::ProximaDBShards::Stub> stub;
  };
  Peer& Of(const std::string& address);
  std::shared_ptr<grpc::ChannelCredentials> Credentials() const;

  const ForwardingOptions options_;
  absl::Mutex mu_;
  std::map<std::string, Peer> peers_ ABSL_GUARDED_BY(mu_);  // by address
};

}  // namespace proximadb::server
