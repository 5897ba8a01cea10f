#include "server/shard_channels.h"

#include <chrono>

#include "common/strings.h"

namespace proximadb::server {

namespace {

constexpr int kConnectMs = 2000;  // how long a node is given to accept a connection

}  // namespace

ShardChannels::Peer& ShardChannels::Of(const std::string& address) {
  absl::MutexLock l(&mu_);
  Peer& peer = peers_[address];
  if (peer.channel == nullptr) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);  // a page of records with their vectors, say
    // A node that restarts is connected to again within seconds, not after gRPC's default
    // backoff of up to 2 minutes.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
    peer.channel = grpc::CreateCustomChannel(address, Credentials(), args);
    peer.stub = v1::ProximaDBShards::NewStub(peer.channel);
  }
  return peer;
}

std::shared_ptr<grpc::ChannelCredentials> ShardChannels::Credentials() const {
  if (!options_.tls) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = options_.tls->roots;
  ssl.pem_cert_chain = options_.tls->cert_chain;
  ssl.pem_private_key = options_.tls->private_key;
  return grpc::SslCredentials(ssl);
}

absl::StatusOr<v1::ShardReply> ShardChannels::Call(const std::string& address,
                                                   const v1::ShardCall& call, bool* sent) {
  *sent = false;
  Peer& peer = Of(address);
  const auto now = std::chrono::system_clock::now();
  if (!peer.channel->WaitForConnected(now + std::chrono::milliseconds(kConnectMs))) {
    return absl::UnavailableError(Cat("node ", address, " cannot be connected to"));
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(now + std::chrono::milliseconds(options_.timeout_ms));
  if (!options_.key.empty()) ctx.AddMetadata("api-key", options_.key);
  v1::ShardReply reply;
  *sent = true;
  const grpc::Status s = peer.stub->Call(&ctx, call, &reply);
  if (!s.ok()) {  // gRPC's codes are absl's
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        Cat("node ", address, ": ", s.error_message()));
  }
  return reply;
}

}  // namespace proximadb::server
