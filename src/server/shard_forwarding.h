// The forwarding side of placement (docs/cluster.md#placement): the Shards of a cluster's
// collections that this node holds no replica of, reached over gRPC (shards.proto) at the
// nodes that hold one; and the copies of other nodes' replicas
// (docs/cluster.md#copying-a-replica).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "cluster/shard.h"

namespace proximadb::server {

struct ForwardingOptions {
  // Sent as the key of every forwarded call ([auth] admin_key; "" while authentication is off).
  std::string key;
  // TLS: the PEM text of the roots that peers' certificates are checked against, and this
  // node's certificate chain and key, presented when peers ask for one. nullopt: plaintext.
  struct Tls {
    std::string roots, cert_chain, private_key;
  };
  std::optional<Tls> tls;
  int timeout_ms = 65000;  // above a write's and a barrier's wait for its apply (30 s)
};

class ShardChannels;  // shard_channels.h: one gRPC channel per node address

std::shared_ptr<ShardChannels> NewShardChannels(ForwardingOptions options);
// Makes a forwarder per shard, through `channels`.
cluster::RemoteShardFactory NewShardForwarding(std::shared_ptr<ShardChannels> channels);
// Opens exports on the node at a holder's address, and reads them through `channels`
// (shard_exports.cc).
cluster::PeerExports NewPeerExports(std::shared_ptr<ShardChannels> channels);

}  // namespace proximadb::server
