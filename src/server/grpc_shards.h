// The gRPC service between the nodes of a cluster (proto/proximadb/v1/shards.proto): requests
// for one shard that another node forwarded here, served from this node's replica of it
// (docs/cluster.md#placement). Only gRPC files include this header.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "server/service.h"

namespace proximadb::server {

// The API key of a call's metadata: "authorization" ("Bearer <key>", or the whole value if not
// Bearer) or "api-key"; "" without either.
std::string GrpcKeyOf(const grpc::ServerContextBase& ctx);

// Serves forwarded shard requests once `service` is in cluster mode (UNAVAILABLE with error code
// SHARD_NOT_HERE in the reply before). A call needs an admin key while authentication is on.
std::unique_ptr<grpc::Service> NewShardsService(Service* service);

}  // namespace proximadb::server
