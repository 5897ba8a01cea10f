// GrpcServer: the gRPC API (proto/proximadb/v1/proximadb.proto) on the callback API, over the
// same Service as REST, so both APIs validate, limit and fail the same way. Errors are gRPC
// status codes with the stable error code string in the trailing metadata key
// "proximadb-error-code". gRPC's headers stay inside grpc_server.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "server/service.h"

namespace proximadb::server {

class GrpcServer {
 public:
  explicit GrpcServer(Service* service);
  ~GrpcServer();

  // Binds host:port and starts serving; fails naming the address if it cannot bind. With `tls`,
  // TLS only (the files' PEM text: read by the caller, which names a file it cannot read).
  struct TlsPem {
    std::string cert_chain, private_key, client_ca;  // client_ca "": no client certificates
  };
  absl::Status Start(const std::string& host, uint16_t port, size_t max_message_bytes,
                     const std::optional<TlsPem>& tls = std::nullopt);
  // What the standard health service (grpc.health.v1.Health/Check) answers, for the server ("")
  // and for "proximadb.v1.ProximaDB": NOT_SERVING from Start until SetServing(true), which the
  // server calls once recovery has finished (as GET /ready turns 200).
  void SetServing(bool serving);
  // Stops accepting calls and waits up to `grace_ms` for calls in flight.
  void Stop(int grace_ms);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace proximadb::server
