// HttpServer: HTTP/1.1 with keep-alive on Boost.Beast, serving a RestApi from a small pool of
// threads. Bodies over the limit are refused with 413 without being read; malformed requests
// get 400 and the connection is closed. Beast stays inside http_server.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "server/rest_api.h"

namespace proximadb::server {

class HttpServer {
 public:
  HttpServer(RestApi* api, size_t body_limit, int threads);
  ~HttpServer();

  // Binds and starts serving; fails naming the address if it cannot bind.
  absl::Status Start(const std::string& host, uint16_t port);
  // Stops accepting, lets requests in flight finish (up to `grace_ms`), and joins the threads.
  void Stop(int grace_ms);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace proximadb::server
