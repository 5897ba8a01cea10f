#include "storage/fault_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string_view>

#include "common/child_process.h"

namespace proximadb {

namespace {

int Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads one request's headers and as much of its body as `body_wanted` (-1: all of it) into
// `out`; false if the connection ended first.
bool ReadRequest(int fd, std::string* out, double body_fraction) {
  char buf[65536];
  size_t header_end = std::string::npos;
  size_t length = 0;
  while (true) {
    if (header_end == std::string::npos) {
      header_end = out->find("\r\n\r\n");
      if (header_end != std::string::npos) {
        header_end += 4;
        // Content-Length, any case.
        std::string lower = out->substr(0, header_end);
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const size_t at = lower.find("\r\ncontent-length:");
        if (at != std::string::npos) length = std::strtoull(lower.c_str() + at + 17, nullptr, 10);
      }
    }
    if (header_end != std::string::npos &&
        out->size() >= header_end + static_cast<size_t>(length * body_fraction)) {
      return true;
    }
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    out->append(buf, static_cast<size_t>(n));
  }
}

// Reads one answer (headers and Content-Length body; none for a HEAD) from `fd` into `out`.
bool ReadAnswer(int fd, std::string* out, bool head) {
  const size_t body_start = [&]() -> size_t {
    char buf[65536];
    while (out->find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) return std::string::npos;
      out->append(buf, static_cast<size_t>(n));
    }
    return out->find("\r\n\r\n") + 4;
  }();
  if (body_start == std::string::npos) return false;
  std::string lower = out->substr(0, body_start);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const size_t at = lower.find("\r\ncontent-length:");
  const size_t length =
      head || at == std::string::npos ? 0 : std::strtoull(lower.c_str() + at + 17, nullptr, 10);
  char buf[65536];
  while (out->size() < body_start + length) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    out->append(buf, static_cast<size_t>(n));
  }
  return true;
}

// Copies bytes both ways until either side closes.
void Relay(int a, int b) {
  char buf[65536];
  pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
  while (::poll(fds, 2, 30000) > 0) {
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = ::recv(fds[i].fd, buf, sizeof(buf), 0);
      if (n <= 0 || !SendAll(fds[1 - i].fd, std::string_view(buf, static_cast<size_t>(n)))) {
        return;
      }
    }
  }
}

}  // namespace

FaultProxy::FaultProxy(int upstream_port, int slow_ms)
    : upstream_port_(upstream_port), slow_ms_(slow_ms) {
  listener_ = LoopbackListener(&port_);
  acceptor_ = std::thread([this] {
    while (!stop_.load()) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const int client = ::accept(listener_, nullptr, nullptr);
      if (client < 0) continue;
      std::lock_guard<std::mutex> lock(mu_);
      sessions_.emplace_back([this, client] { Serve(client); });
    }
  });
}

FaultProxy::~FaultProxy() {
  stop_.store(true);
  acceptor_.join();
  ::close(listener_);
  std::lock_guard<std::mutex> lock(mu_);
  for (std::thread& t : sessions_) t.join();
}

std::string FaultProxy::endpoint() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

void FaultProxy::Add(Fault fault, int times) {
  std::lock_guard<std::mutex> lock(mu_);
  for (int i = 0; i < times; ++i) faults_.push_back(fault);
}

bool FaultProxy::NextFault(Fault* fault) {
  std::lock_guard<std::mutex> lock(mu_);
  if (faults_.empty()) return false;
  *fault = faults_.front();
  faults_.pop_front();
  return true;
}

void FaultProxy::Serve(int client) {
  std::string request;
  Fault fault{};
  const bool faulty = NextFault(&fault);
  const bool cut = faulty && fault == Fault::kCutRequest;
  if (!ReadRequest(client, &request, cut ? 0.5 : 1.0)) {
    ::close(client);
    return;
  }
  requests_.fetch_add(1, std::memory_order_relaxed);
  if (faulty && (fault == Fault::k500 || fault == Fault::kCutRequest)) {
    if (fault == Fault::k500) {
      static constexpr std::string_view kBody =
          "<Error><Code>InternalError</Code><Message>injected</Message></Error>";
      SendAll(client, "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/xml\r\n"
                      "Connection: close\r\nContent-Length: " +
                          std::to_string(kBody.size()) + "\r\n\r\n" + std::string(kBody));
    }
    ::close(client);  // a cut request: the connection ends mid-body
    return;
  }
  if (faulty && fault == Fault::kSlow) {  // the client times out meanwhile
    for (int waited = 0; waited < slow_ms_ && !stop_.load(); waited += 50) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  const int upstream = Connect(upstream_port_);
  if (faulty && (fault == Fault::kPass || fault == Fault::kLoseAnswer)) {
    std::string answer;
    const bool head = request.compare(0, 5, "HEAD ") == 0;
    if (upstream >= 0 && SendAll(upstream, request) && ReadAnswer(upstream, &answer, head) &&
        fault == Fault::kPass) {
      // Told to close, the client opens a new connection (and meets the next fault).
      answer.insert(answer.find("\r\n") + 2, "Connection: close\r\n");
      SendAll(client, answer);
    }
    if (upstream >= 0) ::close(upstream);
    ::close(client);
    return;
  }
  if (upstream >= 0 && SendAll(upstream, request)) Relay(client, upstream);
  if (upstream >= 0) ::close(upstream);
  ::close(client);
}

}  // namespace proximadb
