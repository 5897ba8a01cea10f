// The load clients of bench/server_load: closed loops over REST (one epoll thread, as wrk) and
// gRPC (one completion queue, as ghz), threads calling a function, an HTTP/1.1 client for the
// set-up calls, and latency and CPU figures.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "proximadb/v1/proximadb.grpc.pb.h"

namespace proximadb::bench {

namespace v1 = ::proximadb::v1;
using Clock = std::chrono::steady_clock;

inline double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// A keep-alive HTTP/1.1 client for the load (one connection, one request at a time).
class HttpClient {
 public:
  explicit HttpClient(int port) : port_(port) {}
  ~HttpClient() { Close(); }
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  // (status, body); status 0 if the connection failed.
  std::pair<int, std::string> Request(const std::string& method, const std::string& path,
                                      const std::string& body);

 private:
  bool Connect();
  void Close();
  bool WriteAll(const std::string& s);
  std::pair<int, std::string> ReadResponse();
  bool Fill();

  const int port_;
  int fd_ = -1;
  std::string buffer_;
};

// Appends `v` as a JSON array of numbers (the shortest text that reads back the same float).
void AppendFloats(std::string* out, const float* v, uint32_t dim);

struct LoadResult {
  double qps = 0, p50_us = 0, p99_us = 0;
  uint64_t errors = 0;
  uint64_t calls = 0;
};

// Calls per second and latency percentiles from every call's latency (us).
LoadResult Summarize(std::vector<double> lat, double elapsed, uint64_t errors);

// CPU seconds (user + system) a process has used so far.
double CpuSeconds(pid_t pid);

// `threads` clients calling `one(thread, i)` for `seconds`; latency percentiles over all calls.
template <typename Fn>
LoadResult RunLoad(int threads, double seconds, Fn&& make_client) {
  std::vector<std::vector<double>> lat(threads);
  std::atomic<uint64_t> errors{0};
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> pool;
  const auto t0 = Clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      auto call = make_client(t);
      for (uint64_t i = 0; Clock::now() < end; ++i) {
        const auto s = Clock::now();
        if (!call(i)) errors.fetch_add(1);
        lat[t].push_back(Seconds(Clock::now() - s) * 1e6);
      }
    });
  }
  for (auto& th : pool) th.join();
  const double elapsed = Seconds(Clock::now() - t0);
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  return Summarize(std::move(all), elapsed, errors.load());
}

// A closed-loop REST load like wrk's: `connections` keep-alive connections driven by one thread
// with epoll, each sending a request, waiting for the whole response, then sending the next.
// One thread serving every connection costs far less CPU per call than a thread per connection
// (fewer wake-ups), which matters when the load client shares the machine's cores with the
// server. `requests` are whole HTTP/1.1 requests, used round-robin.
LoadResult RunEventLoad(int port, int connections, double seconds,
                        const std::vector<std::string>& requests);

// The same closed loop through gRPC: `connections` channels (each its own TCP connection), each
// with one search in flight, driven by one thread on one completion queue, as ghz and gRPC's
// own benchmark clients do. A thread per channel blocking in the synchronous stub costs the
// client 150-200 us of CPU per call on this machine, which the server then lacks.
LoadResult RunGrpcLoad(int port, int connections, double seconds,
                       const std::vector<v1::SearchRequest>& requests);

}  // namespace proximadb::bench
