// bench/server_load: proximadb-server under load on loopback, through REST and gRPC.
//
// Starts build/bin/proximadb-server (sync durability) on free ports with a fresh data directory,
// then on one data set:
//   1. ingest in batches of 1,000: gRPC StreamUpsert, gRPC BatchWrite and REST batch, each into
//      its own collection: vectors/s;
//   2. flush the streamed collection (its segment gets the HNSW graph), measure recall@10 of
//      the search (ef 64 unless --ef) against exact search through the API;
//   3. search QPS and p50/p99 latency through gRPC and REST with 1, 4 and 16 clients (closed
//      loops driven by one thread each: epoll for REST, a completion queue for gRPC), each row
//      measured right after a run of the in-process index's 2-thread search on the same vectors
//      (the reference of the server issue's target), over --rounds rounds, with medians;
//   4. the same collection searched in-process through the engine's API, 2 threads, in runs
//      interleaved with the bare index's (at least 3 pairs);
//   5. peak RSS of the server and of this process.
//
//   proximadb-server-load-bench [--dataset clustered|fashion-mnist] [--n N] [--dim D]
//                               [--seconds S] [--clients 1,4,16] [--search-only 1]
//                               [--client-nice N] [--apis grpc,rest,rest8,grpc-sync]
//                               [--rounds R] [--ef EF]
//
// --search-only loads the vectors through gRPC streaming only and skips the other ingest paths (for
// profiling the search phase). --client-nice sets the load client's nice value (not the server's):
// positive, it runs on what the server leaves idle (slower: 58-62% of the index at nice 19);
// negative (root only), its thread is never kept waiting behind the server's, as a client on
// another machine is not, so its own scheduling delays leave the latencies (p99 at 16 clients
// 3.7-4.0 ms at nice -10 against 4.8-5.7 ms at 0). --apis picks the rows of the search table
// (grpc-sync: a thread per client in the synchronous stub, what a simple application does). --ef
// sets the search's ef for the reference index and every served search (the recall printed is at
// it). --rounds repeats the search table (the machine is shared and noisy).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "index/dataset.h"
#include "index/hnsw.h"
#include "proximadb/database.h"
#include "proximadb/v1/proximadb.grpc.pb.h"

namespace {

namespace v1 = ::proximadb::v1;
using Clock = std::chrono::steady_clock;
using proximadb::index::Dataset;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// A keep-alive HTTP/1.1 client for the load (one connection, one request at a time).
class HttpClient {
 public:
  explicit HttpClient(int port) : port_(port) {}
  ~HttpClient() { Close(); }
  // (status, body); status 0 if the connection failed.
  std::pair<int, std::string> Request(const std::string& method, const std::string& path,
                                      const std::string& body) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (fd_ < 0 && !Connect()) return {0, ""};
      std::string req = method + " " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: " +
                        "application/json\r\nContent-Length: " + std::to_string(body.size()) +
                        "\r\n\r\n" + body;
      if (!WriteAll(req)) {
        Close();
        continue;
      }
      auto r = ReadResponse();
      if (r.first != 0) return r;
      Close();
    }
    return {0, ""};
  }

 private:
  bool Connect() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      Close();
      return false;
    }
    buffer_.clear();
    return true;
  }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  bool WriteAll(const std::string& s) {
    for (size_t sent = 0; sent < s.size();) {
      const ssize_t n = write(fd_, s.data() + sent, s.size() - sent);
      if (n <= 0) return false;
      sent += n;
    }
    return true;
  }
  std::pair<int, std::string> ReadResponse() {
    size_t header_end;
    while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return {0, ""};
    }
    const std::string headers = buffer_.substr(0, header_end);
    const int status = std::atoi(headers.c_str() + headers.find(' ') + 1);
    size_t length = 0;
    for (const char* key : {"Content-Length: ", "content-length: "}) {
      if (size_t p = headers.find(key); p != std::string::npos) {
        length = std::strtoull(headers.c_str() + p + std::strlen(key), nullptr, 10);
      }
    }
    while (buffer_.size() < header_end + 4 + length) {
      if (!Fill()) return {0, ""};
    }
    std::string body = buffer_.substr(header_end + 4, length);
    buffer_.erase(0, header_end + 4 + length);
    return {status, body};
  }
  bool Fill() {
    char buf[65536];
    const ssize_t n = read(fd_, buf, sizeof(buf));
    if (n <= 0) return false;
    buffer_.append(buf, n);
    return true;
  }

  const int port_;
  int fd_ = -1;
  std::string buffer_;
};

void AppendFloats(std::string* out, const float* v, uint32_t dim) {
  out->push_back('[');
  char buf[32];
  for (uint32_t i = 0; i < dim; ++i) {
    if (i) out->push_back(',');
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v[i]);
    out->append(buf, end);
  }
  out->push_back(']');
}

struct LoadResult {
  double qps = 0, p50_us = 0, p99_us = 0;
  uint64_t errors = 0;
  uint64_t calls = 0;
};

// Calls per second and latency percentiles from every call's latency (us).
LoadResult Summarize(std::vector<double> lat, double elapsed, uint64_t errors) {
  std::sort(lat.begin(), lat.end());
  LoadResult r;
  r.calls = lat.size();
  r.qps = lat.size() / elapsed;
  r.p50_us = lat.empty() ? 0 : lat[lat.size() / 2];
  r.p99_us = lat.empty() ? 0 : lat[std::min(lat.size() - 1, lat.size() * 99 / 100)];
  r.errors = errors;
  return r;
}

// CPU seconds (user + system) a process has used so far.
double CpuSeconds(pid_t pid) {
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (f == nullptr) return 0;
  char buf[4096];
  const size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = 0;
  // Fields after the command name (which ends with ')'): state is field 3, utime 14, stime 15.
  const char* p = std::strrchr(buf, ')');
  unsigned long utime = 0, stime = 0;
  if (p == nullptr ||
      std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
                  &stime) != 2) {
    return 0;
  }
  return double(utime + stime) / sysconf(_SC_CLK_TCK);
}

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
                        const std::vector<std::string>& requests) {
  struct Conn {
    int fd = -1;
    std::string in;
    Clock::time_point start;
  };
  std::vector<Conn> conns(connections);
  const int ep = epoll_create1(0);
  uint64_t next = 0, errors = 0;
  std::vector<double> lat;
  auto send_next = [&](Conn& c) {
    const std::string& r = requests[next++ % requests.size()];
    c.start = Clock::now();
    for (size_t sent = 0; sent < r.size();) {
      const ssize_t n = write(c.fd, r.data() + sent, r.size() - sent);
      if (n > 0) sent += n;
      else if (n < 0 && errno != EAGAIN) return false;
    }
    return true;
  };
  for (int i = 0; i < connections; ++i) {
    Conn& c = conns[i];
    c.fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return {};
    fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
  }
  const auto t0 = Clock::now();
  const auto end = t0 + std::chrono::duration<double>(seconds);
  for (Conn& c : conns) send_next(c);
  std::array<epoll_event, 64> events;
  char buf[65536];
  while (Clock::now() < end) {
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    for (int e = 0; e < n; ++e) {
      Conn& c = conns[events[e].data.u32];
      // One read per readiness, as wrk does: the registration is level-triggered, so bytes
      // left behind are reported again, and a read that would only say EAGAIN is saved.
      const ssize_t got = read(c.fd, buf, sizeof(buf));
      if (got > 0) c.in.append(buf, got);
      const size_t header_end = c.in.find("\r\n\r\n");
      if (header_end == std::string::npos) continue;
      const size_t p = c.in.find("ontent-Length: ");
      if (p == std::string::npos || p > header_end) continue;
      const size_t length = std::strtoull(c.in.c_str() + p + 15, nullptr, 10);
      if (c.in.size() < header_end + 4 + length) continue;
      const auto now = Clock::now();
      lat.push_back(Seconds(now - c.start) * 1e6);
      errors += std::atoi(c.in.c_str() + c.in.find(' ') + 1) != 200;
      c.in.erase(0, header_end + 4 + length);
      if (now < end && !send_next(c)) ++errors;
    }
  }
  const double elapsed = Seconds(Clock::now() - t0);
  for (Conn& c : conns) close(c.fd);
  close(ep);
  return Summarize(std::move(lat), elapsed, errors);
}

// The same closed loop through gRPC: `connections` channels (each its own TCP connection), each
// with one search in flight, driven by one thread on one completion queue, as ghz and gRPC's
// own benchmark clients do. A thread per channel blocking in the synchronous stub costs the
// client 150-200 us of CPU per call on this machine, which the server then lacks.
LoadResult RunGrpcLoad(int port, int connections, double seconds,
                       const std::vector<v1::SearchRequest>& requests) {
  struct Call {
    std::unique_ptr<v1::ProximaDB::Stub> stub;
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<grpc::ClientAsyncResponseReader<v1::SearchResponse>> reader;
    v1::SearchResponse response;
    grpc::Status status;
    Clock::time_point start;
  };
  grpc::CompletionQueue cq;
  std::vector<Call> calls(connections);
  uint64_t next = 0, errors = 0;
  std::vector<double> lat;
  auto start = [&](size_t i) {
    Call& c = calls[i];
    c.reader.reset();  // before its context: the reader lives in the old call's arena
    c.ctx = std::make_unique<grpc::ClientContext>();
    // A stalled server fails the call instead of hanging the drain below.
    c.ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    c.response.Clear();
    c.start = Clock::now();
    c.reader = c.stub->AsyncSearch(c.ctx.get(), requests[next++ % requests.size()], &cq);
    c.reader->Finish(&c.response, &c.status, reinterpret_cast<void*>(i));
  };
  for (int i = 0; i < connections; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("proximadb.client", i);  // distinct arguments: a connection per channel
    auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                             grpc::InsecureChannelCredentials(), args);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5))) {
      std::fprintf(stderr, "gRPC channel %d did not connect\n", i);
      return {};
    }
    calls[i].stub = v1::ProximaDB::NewStub(channel);
  }
  const auto t0 = Clock::now();
  const auto end = t0 + std::chrono::duration<double>(seconds);
  for (int i = 0; i < connections; ++i) start(i);
  for (int outstanding = connections; outstanding > 0;) {
    void* tag;
    bool ok;
    if (!cq.Next(&tag, &ok)) break;
    const size_t i = reinterpret_cast<size_t>(tag);
    const auto now = Clock::now();
    if (now >= end) {  // calls still in flight at the end are waited for, not counted
      --outstanding;
      continue;
    }
    lat.push_back(Seconds(now - calls[i].start) * 1e6);
    errors += !ok || !calls[i].status.ok();
    start(i);
  }
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
  return Summarize(std::move(lat), seconds, errors);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dataset = "clustered";
  uint32_t n = 100000, dim = 128;
  double seconds = 5;
  std::vector<int> client_counts = {1, 4, 16};
  bool search_only = false;
  int client_nice = 0;
  int rounds = 1;
  std::string apis = "grpc,rest,rest8";
  int ef = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--dataset") dataset = argv[i + 1];
    else if (a == "--n") n = std::stoul(argv[i + 1]);
    else if (a == "--dim") dim = std::stoul(argv[i + 1]);
    else if (a == "--seconds") seconds = std::stod(argv[i + 1]);
    else if (a == "--search-only") search_only = std::string(argv[i + 1]) != "0";
    else if (a == "--client-nice") client_nice = std::stoi(argv[i + 1]);
    else if (a == "--apis") apis = argv[i + 1];
    else if (a == "--rounds") rounds = std::stoi(argv[i + 1]);
    else if (a == "--ef") ef = std::stoi(argv[i + 1]);
    else if (a == "--clients") {
      client_counts.clear();
      for (const char* p = argv[i + 1]; *p != 0;) {
        char* end;
        client_counts.push_back(static_cast<int>(std::strtol(p, &end, 10)));
        p = *end == ',' ? end + 1 : end;
      }
    }
    else {
      std::fprintf(stderr, "unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  if (ef < 1 || ef > 100000) {  // the range the REST API accepts
    std::fprintf(stderr, "--ef must be within 1..100000\n");
    return 2;
  }
  Dataset d;
  if (dataset == "fashion-mnist") {
    auto loaded = proximadb::index::LoadFashionMnist();
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str());
      return 1;
    }
    d = *std::move(loaded);
  } else {
    d = proximadb::index::MakeClustered(n, 1000, dim, 100, 42);
  }
  const uint32_t rows = d.base_rows();
  const std::string server = std::filesystem::path(argv[0]).parent_path() / "proximadb-server";
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("proximadb-load-" + std::to_string(getpid())))
          .string();
  const int rest_port = FreePort(), grpc_port = FreePort();
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string rp = std::to_string(rest_port), gp = std::to_string(grpc_port);
    execl(server.c_str(), server.c_str(), "--data-dir", dir.c_str(), "--rest-port", rp.c_str(),
          "--grpc-port", gp.c_str(), "--log-level", "warn", static_cast<char*>(nullptr));
    _exit(127);
  }
  // After the fork: the server keeps its priority, this thread and those it starts take the
  // lower one.
  if (client_nice != 0) setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), client_nice);
  HttpClient admin(rest_port);
  for (int i = 0; i < 500 && admin.Request("GET", "/ready", "").first != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::ProximaDB::NewStub(channel);
  std::printf("proximadb-server on loopback, %s: %u x %u, sync durability, batches of 1000\n",
              d.name.c_str(), rows, d.dim);
  for (const char* name : {"streamed", "batched", "rest"}) {
    admin.Request("POST", "/api/v1/collections",
                  nlohmann::json{{"name", name}, {"dimension", d.dim}, {"distance_metric", "l2"}}
                      .dump());
  }
  auto make_batch = [&](const char* collection, uint32_t b) {
    v1::BatchWriteRequest batch;
    batch.set_collection(collection);
    batch.set_upsert(true);
    for (uint32_t r = b; r < std::min(b + 1000, rows); ++r) {
      v1::VectorInput* in = batch.add_vectors();
      in->set_id(std::to_string(r));
      in->mutable_vector()->Add(d.base.data() + size_t{r} * d.dim,
                                d.base.data() + size_t{r + 1} * d.dim);
    }
    return batch;
  };

  // 1. Ingest.
  auto t0 = Clock::now();
  {
    grpc::ClientContext ctx;
    v1::StreamUpsertResponse resp;
    auto writer = stub->StreamUpsert(&ctx, &resp);
    for (uint32_t b = 0; b < rows; b += 1000) writer->Write(make_batch("streamed", b));
    writer->WritesDone();
    if (!writer->Finish().ok()) std::fprintf(stderr, "stream failed\n");
  }
  const double stream_s = Seconds(Clock::now() - t0);
  t0 = Clock::now();
  for (uint32_t b = 0; !search_only && b < rows; b += 1000) {
    grpc::ClientContext ctx;
    v1::BatchWriteResponse resp;
    if (!stub->BatchWrite(&ctx, make_batch("batched", b), &resp).ok()) {
      std::fprintf(stderr, "batch failed\n");
    }
  }
  const double batch_s = Seconds(Clock::now() - t0);
  std::vector<std::string> rest_bodies;
  for (uint32_t b = 0; !search_only && b < rows; b += 1000) {
    std::string body = "{\"upsert\":true,\"vectors\":[";
    for (uint32_t r = b; r < std::min(b + 1000, rows); ++r) {
      if (r != b) body.push_back(',');
      body += "{\"id\":\"" + std::to_string(r) + "\",\"vector\":";
      AppendFloats(&body, d.base.data() + size_t{r} * d.dim, d.dim);
      body.push_back('}');
    }
    body += "]}";
    rest_bodies.push_back(std::move(body));
  }
  t0 = Clock::now();
  for (const std::string& body : rest_bodies) {
    if (admin.Request("POST", "/api/v1/collections/rest/vectors/batch", body).first != 200) {
      std::fprintf(stderr, "REST batch failed\n");
    }
  }
  const double rest_s = Seconds(Clock::now() - t0);
  if (search_only) {
    std::printf("ingest vectors/s: gRPC stream %.0f\n", rows / stream_s);
  } else {
    std::printf("ingest vectors/s: gRPC stream %.0f, gRPC batch %.0f, REST batch %.0f\n",
                rows / stream_s, rows / batch_s, rows / rest_s);
  }

  // The other two collections served their purpose; dropped, their memtables stop keeping the
  // background indexer busy during the search load.
  admin.Request("DELETE", "/api/v1/collections/batched", "");
  admin.Request("DELETE", "/api/v1/collections/rest", "");

  // 2. Flush (builds the graph) and recall of the search at --ef against exact.
  t0 = Clock::now();
  admin.Request("POST", "/api/v1/collections/streamed/flush", "");
  std::printf("flush with graph build: %.1f s\n", Seconds(Clock::now() - t0));
  const uint32_t nq = std::min<uint32_t>(d.query_rows(), 1000);
  std::vector<v1::SearchRequest> grpc_queries(nq);
  for (uint32_t q = 0; q < nq; ++q) {
    v1::SearchRequest& req = grpc_queries[q];
    req.set_collection("streamed");
    req.mutable_vector()->Add(d.queries.data() + size_t{q} * d.dim,
                              d.queries.data() + size_t{q + 1} * d.dim);
    req.set_k(10);
    req.set_include_metadata(false);
    req.set_ef(ef);
  }
  auto search = [&](v1::ProximaDB::Stub* s, uint32_t q, bool exact, v1::SearchResponse* out) {
    grpc::ClientContext ctx;
    v1::SearchRequest req = grpc_queries[q];
    req.set_exact(exact);
    const grpc::Status status = s->Search(&ctx, req, out);
    static std::atomic<bool> reported{false};
    if (!status.ok() && !reported.exchange(true)) {
      std::fprintf(stderr, "gRPC search failed (first failure reported): %d %s\n",
                   static_cast<int>(status.error_code()), status.error_message().c_str());
    }
    return status.ok();
  };
  double found = 0;
  for (uint32_t q = 0; q < nq; ++q) {
    v1::SearchResponse exact, graph;
    search(stub.get(), q, true, &exact);
    search(stub.get(), q, false, &graph);
    std::set<std::string> want;
    for (const auto& h : exact.results()) want.insert(h.id());
    for (const auto& h : graph.results()) found += want.count(h.id());
  }
  std::printf("recall@10 of the search (ef %d) against exact, %u queries: %.4f\n", ef, nq,
              found / (10.0 * nq));

  // 3. Search load.
  std::vector<std::string> rest_queries;
  for (uint32_t q = 0; q < nq; ++q) {
    std::string body = "{\"k\":10,\"include_metadata\":false,\"ef\":" + std::to_string(ef) +
                       ",\"vector\":";
    AppendFloats(&body, d.queries.data() + size_t{q} * d.dim, d.dim);
    body.push_back('}');
    rest_queries.push_back(std::move(body));
  }
  auto http_post = [](const std::string& path, const std::string& body) {
    return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  std::vector<std::string> rest_requests, rest_batch_requests;
  for (const std::string& body : rest_queries) {
    rest_requests.push_back(http_post("/api/v1/collections/streamed/search", body));
  }
  // Batch search, kBatch queries per request: what a client that has several queries at hand
  // gets, with the per-request cost (loopback TCP, HTTP) shared by the batch.
  constexpr uint32_t kBatch = 8;
  for (uint32_t q = 0; q + kBatch <= nq; q += kBatch) {
    std::string body = "{\"queries\":[";
    for (uint32_t i = q; i < q + kBatch; ++i) body += (i == q ? "" : ",") + rest_queries[i];
    rest_batch_requests.push_back(
        http_post("/api/v1/collections/streamed/search/batch", body + "]}"));
  }
  // The reference: the bare in-process index on the same vectors, searched by 2 threads while
  // the server idles. Built here, before the load, so that each row can be measured next to a
  // run of it: the machine is shared and its speed drifts, so a row is compared with the
  // reference run just before it, and --rounds repeats the table to take medians.
  proximadb::index::Hnsw graph(d.base.data(), d.dim, proximadb::DistanceMetric::kL2, rows, {});
  {
    std::atomic<uint32_t> next{0};
    auto insert = [&] {
      for (uint32_t r; (r = next.fetch_add(1)) < rows;) graph.Insert(r);
    };
    std::thread helper(insert);
    insert();
    helper.join();
  }
  auto reference = [&] {
    return RunLoad(2, seconds, [&](int t) {
      return [&, t](uint64_t i) {
        const uint32_t q = static_cast<uint32_t>((i * 2 + t) % nq);
        return !graph.Search(d.queries.data() + size_t{q} * d.dim, 10, ef).empty();
      };
    });
  };

  // The load client shares the machine's cores with the server, so besides QPS the table gives
  // the server's own CPU time per query (from /proc): queries per server core-second, and the
  // load client's CPU time per query. REST-8 rows send batch searches of 8 queries (qps counts
  // queries, latencies are per request). "vs index" is the row's QPS over the in-process index's
  // 2-thread QPS measured just before it; "per core" compares queries per server CPU-second
  // with the index's queries per CPU-second (the client's share of the cores left out).
  std::printf("%-6s %8s %10s %9s %9s %7s %16s %15s %9s %9s\n", "api", "clients", "qps", "p50_us",
              "p99_us", "errors", "qps/server-core", "client-cpu-us", "vs index", "per core");
  auto wanted = [&](std::string_view api) {
    for (std::string_view rest = apis; !rest.empty();) {
      const size_t comma = rest.find(',');
      if (rest.substr(0, comma) == api) return true;
      rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
    }
    return false;
  };
  // Ratios per row name over the rounds, for the medians at the end.
  std::map<std::string, std::vector<std::pair<double, double>>> ratios;
  std::vector<double> reference_qps;
  // One row: `load` runs the clients; `per_call` queries per call (batch rows).
  auto row = [&](const char* api, int clients, uint32_t per_call, auto&& load) {
    const LoadResult ref = reference();
    reference_qps.push_back(ref.qps);
    const double cpu0 = CpuSeconds(pid), self0 = CpuSeconds(getpid());
    const LoadResult r = load();
    const double cpu = CpuSeconds(pid) - cpu0, self = CpuSeconds(getpid()) - self0;
    const double queries = static_cast<double>(r.calls) * per_call;
    const double qps = r.qps * per_call, per_core = queries / cpu;
    std::printf("%-6s %8d %10.0f %9.0f %9.0f %7llu %16.0f %15.1f %8.0f%% %8.0f%%\n", api,
                clients, qps, r.p50_us, r.p99_us, static_cast<unsigned long long>(r.errors),
                per_core, self * 1e6 / queries, 100 * qps / ref.qps,
                100 * per_core / (ref.qps / 2));
    std::fflush(stdout);
    ratios[std::string(api) + " " + std::to_string(clients)].push_back(
        {qps / ref.qps, per_core / (ref.qps / 2)});
  };
  for (int round = 0; round < rounds; ++round) {
    for (int clients : client_counts) {
      if (wanted("grpc")) {
        row("gRPC", clients, 1,
            [&] { return RunGrpcLoad(grpc_port, clients, seconds, grpc_queries); });
      }
      if (wanted("grpc-sync")) {
        row("gRPC-s", clients, 1, [&] {
          return RunLoad(clients, seconds, [&](int t) {
            auto s = v1::ProximaDB::NewStub(grpc::CreateCustomChannel(
                "127.0.0.1:" + std::to_string(grpc_port), grpc::InsecureChannelCredentials(),
                [t] {
                  grpc::ChannelArguments args;
                  args.SetInt("proximadb.client", t);  // a connection per client
                  return args;
                }()));
            return [&, s = std::shared_ptr<v1::ProximaDB::Stub>(std::move(s)), t](uint64_t i) {
              v1::SearchResponse r;
              return search(s.get(), static_cast<uint32_t>((i * 16 + t) % nq), false, &r);
            };
          });
        });
      }
      if (wanted("rest")) {
        row("REST", clients, 1,
            [&] { return RunEventLoad(rest_port, clients, seconds, rest_requests); });
      }
      if (wanted("rest8")) {
        row("REST-8", clients, kBatch,
            [&] { return RunEventLoad(rest_port, clients, seconds, rest_batch_requests); });
      }
    }
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2]
                                        : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  };
  std::printf("in-process index, 2 threads, ef %d: median %.0f QPS over %zu runs\n", ef,
              median(reference_qps), reference_qps.size());
  if (rounds > 1) {
    std::printf("medians over %d rounds, against the index run before each row:\n", rounds);
    for (const auto& [name, values] : ratios) {
      std::vector<double> vs, core;
      for (const auto& [a, b] : values) {
        vs.push_back(a);
        core.push_back(b);
      }
      std::printf("  %-10s vs index %.0f%% (%.0f-%.0f%%), per server core %.0f%%\n",
                  name.c_str(), 100 * median(vs), 100 * *std::min_element(vs.begin(), vs.end()),
                  100 * *std::max_element(vs.begin(), vs.end()), 100 * median(core));
    }
  }

  // The same collection searched in this process through the engine's API (the server's data
  // directory, reopened once the server is gone), 2 threads: what the server adds beyond the
  // engine, and what the engine adds beyond the bare index.
  kill(pid, SIGTERM);
  rusage server_usage{};
  wait4(pid, nullptr, 0, &server_usage);
  std::printf("server peak RSS (ingest of all collections, flush, search load): %.0f MB\n",
              server_usage.ru_maxrss / 1024.0);
  {
    auto db = proximadb::Database::Open({.data_dir = dir});
    auto collection = db.ok() ? (*db)->GetCollection("streamed")
                              : absl::StatusOr<std::shared_ptr<proximadb::Collection>>(db.status());
    if (!collection.ok()) {
      std::fprintf(stderr, "reopening the server's data: %s\n",
                   collection.status().ToString().c_str());
      return 1;
    }
    // Interleaved with runs of the bare index, as the rows above are.
    std::vector<double> engine_qps, index_qps;
    for (int round = 0; round < std::max(rounds, 3); ++round) {
      index_qps.push_back(reference().qps);
      engine_qps.push_back(RunLoad(2, seconds, [&](int t) {
                             return [&, t](uint64_t i) {
                               const uint32_t q = static_cast<uint32_t>((i * 2 + t) % nq);
                               proximadb::SearchRequest req;
                               req.vector = std::span<const float>(
                                   d.queries.data() + size_t{q} * d.dim, d.dim);
                               req.k = 10;
                               req.ef = ef;
                               req.include_metadata = false;
                               auto r = (*collection)->Search(req);
                               return r.ok() && !r->hits.empty();
                             };
                           }).qps);
    }
    std::printf("in-process collection, 2 threads, ef %d: median %.0f QPS against the index's %.0f "
                "in %zu interleaved runs each (collection/index:",
                ef, median(engine_qps), median(index_qps), engine_qps.size());
    for (size_t i = 0; i < engine_qps.size(); ++i) {
      std::printf(" %.0f/%.0f", engine_qps[i], index_qps[i]);
    }
    std::printf(")\n");
  }
  rusage self_usage{};
  getrusage(RUSAGE_SELF, &self_usage);
  std::printf("load client peak RSS (data set, reference index, collection reopened): %.0f MB\n",
              self_usage.ru_maxrss / 1024.0);
  std::filesystem::remove_all(dir);
  return 0;
}
