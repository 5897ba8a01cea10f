// HttpServer: HTTP/1.1 with keep-alive on Boost.Beast, serving a RestApi. I/O threads (one per
// core) read requests and answer reads (searches, gets) themselves; requests that may wait on
// the disk go to a pool of worker threads, and maintenance that may take minutes to a pool of
// its own (RestApi::ServedBy), and when `max_pending` of those are already waiting a new one
// gets 429. Bodies over the limit are refused with 413 without being read; malformed requests
// get 400 and the connection is closed. Beast stays inside http_server.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "server/config.h"
#include "server/rest_api.h"

namespace proximadb::server {

struct HttpServerOptions {
  size_t body_limit = 64 << 20;  // bytes
  int io_threads = 2;
  int worker_threads = 4;
  int slow_threads = 4;      // for Served::kSlow; more of those wait for a thread
  size_t max_pending = 256;  // requests queued for or running on either pool
  // How long a request may take to arrive, a keep-alive connection may stay idle, and a
  // response may wait for the client to take it; past it the connection is closed.
  int request_timeout_ms = 30000;
  // After handling anything, an I/O thread keeps polling its sockets for this long before it
  // sleeps in epoll: a request arriving meanwhile is served without a wake-up (tens of
  // microseconds on a VM) at the cost of a busy core. 0: it sleeps at once. At most a tenth of
  // the deadline sweep's period (a quarter of request_timeout_ms, 10 ms to 1 s), since a
  // sweep opens a window too.
  int busy_poll_us = 0;
  // With a cert_file: TLS only (a plaintext request gets a 400 saying so, then the connection
  // is closed); with a client_ca_file too, only clients presenting a certificate it signed.
  TlsFiles tls;
};

class HttpServer {
 public:
  HttpServer(RestApi* api, const HttpServerOptions& options);
  ~HttpServer();

  // Binds and starts serving; fails naming the address if it cannot bind, or the TLS file it
  // cannot use.
  absl::Status Start(const std::string& host, uint16_t port);
  // Stops accepting, lets requests in flight finish (up to `grace_ms`), and joins the threads.
  void Stop(int grace_ms);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace proximadb::server
