// FaultProxy: an HTTP proxy on a free loopback port, in front of a real S3 server, that fails
// the requests a test chooses: for tests of the S3 client's retries. For tests only.
//
// Each connection's first request is read whole (headers and Content-Length body). Then, while
// faults remain, the next fault is applied to it; once none remain, the request and the rest of
// the connection are relayed to the upstream server both ways. Answers must carry a
// Content-Length (moto's do).
#pragma once

#include <atomic>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace proximadb {

class FaultProxy {
 public:
  enum class Fault {
    k500,         // answers HTTP 500 with an S3 error body
    kSlow,        // waits `slow_ms`, then relays (the client should have timed out)
    kCutRequest,  // closes the connection after reading half the request's body
    // One request each, then the connection is closed (so that every request of a client
    // meets the next fault in turn):
    kPass,        // relayed, and its answer too
    kLoseAnswer,  // relayed, but its answer dropped: the store acted, the client never hears
  };

  // Starts listening; relays to 127.0.0.1:`upstream_port`.
  explicit FaultProxy(int upstream_port, int slow_ms = 3000);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  std::string endpoint() const;
  // Appends faults for the next requests, in order.
  void Add(Fault fault, int times = 1);
  // Requests seen so far (faulted or relayed).
  int requests() const { return requests_.load(std::memory_order_relaxed); }

 private:
  void Serve(int client);
  bool NextFault(Fault* fault);

  const int upstream_port_;
  const int slow_ms_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::mutex mu_;
  std::deque<Fault> faults_;           // guarded by mu_
  std::vector<std::thread> sessions_;  // guarded by mu_
  std::thread acceptor_;
};

}  // namespace proximadb
