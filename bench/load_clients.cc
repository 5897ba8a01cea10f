#include "load_clients.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <grpcpp/grpcpp.h>

namespace proximadb::bench {

std::pair<int, std::string> HttpClient::Request(const std::string& method,
                                                const std::string& path,
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

bool HttpClient::Connect() {
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

void HttpClient::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

bool HttpClient::WriteAll(const std::string& s) {
  for (size_t sent = 0; sent < s.size();) {
    const ssize_t n = write(fd_, s.data() + sent, s.size() - sent);
    if (n <= 0) return false;
    sent += n;
  }
  return true;
}

std::pair<int, std::string> HttpClient::ReadResponse() {
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

bool HttpClient::Fill() {
  char buf[65536];
  const ssize_t n = read(fd_, buf, sizeof(buf));
  if (n <= 0) return false;
  buffer_.append(buf, n);
  return true;
}

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

}  // namespace proximadb::bench
