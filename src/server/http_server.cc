#include "server/http_server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <optional>
#include <chrono>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace proximadb::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

HttpRequest ToRequest(http::request<http::string_body>&& req) {
  HttpRequest out;
  out.method = std::string(req.method_string());
  const std::string_view target(req.target().data(), req.target().size());
  const size_t q = target.find('?');
  out.path = PercentDecode(target.substr(0, q));
  if (q != std::string_view::npos) {
    for (std::string_view pair : Split(target.substr(q + 1), '&')) {
      if (pair.empty()) continue;
      const size_t eq = pair.find('=');
      out.query[PercentDecode(pair.substr(0, eq))] =
          eq == std::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1));
    }
  }
  out.body = std::move(req.body());
  return out;
}

}  // namespace

// Threading: one io_context per I/O thread, each run by that thread alone, and every connection
// lives on one of them (assigned round-robin at accept). A ready socket is read, handled and
// answered by the thread whose epoll saw it, with no hand-off between threads and no strand;
// under load one wake-up serves every connection that became ready. That is the fast path of
// searches. A request that may wait (a write waiting for its fsync, a flush building a graph)
// would hold up every connection of its thread, so it is posted to the worker pool, and its
// response is posted back to the connection's thread to be written.
class HttpServer::Impl {
 public:
  Impl(RestApi* api, const HttpServerOptions& options)
      : api_(api),
        body_limit_(options.body_limit),
        timeout_(std::chrono::milliseconds(options.request_timeout_ms)),
        max_pending_(options.max_pending),
        workers_(static_cast<size_t>(std::max(1, options.worker_threads))) {
    for (int i = 0; i < std::max(1, options.io_threads); ++i) {
      contexts_.push_back(std::make_unique<asio::io_context>(1));
    }
    acceptor_.emplace(*contexts_[0]);
  }

  absl::Status Start(const std::string& host, uint16_t port) {
    beast::error_code ec;
    const auto address = asio::ip::make_address(host, ec);
    if (ec) return absl::InvalidArgumentError(Cat("bad bind address '", host, "'"));
    const tcp::endpoint endpoint(address, port);
    acceptor_->open(endpoint.protocol(), ec);
    if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_->bind(endpoint, ec);
    if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(
          Cat("cannot listen on ", host, ":", port, ": ", ec.message()));
    }
    Accept();
    for (auto& ioc : contexts_) {
      work_.push_back(asio::make_work_guard(*ioc));
      pool_.emplace_back([ioc = ioc.get()] { ioc->run(); });
    }
    return absl::OkStatus();
  }

  void Stop(int grace_ms) {
    asio::post(acceptor_->get_executor(), [this] {
      beast::error_code ec;
      acceptor_->close(ec);
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
    while (in_flight_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    work_.clear();
    for (auto& ioc : contexts_) ioc->stop();
    for (auto& t : pool_) t.join();
    pool_.clear();
    workers_.stop();
    workers_.join();
  }

 private:
  class Session : public std::enable_shared_from_this<Session> {
   public:
    Session(Impl* server, tcp::socket socket) : server_(server), stream_(std::move(socket)) {}
    auto executor() { return stream_.get_executor(); }
    void Read() {
      parser_.emplace();
      parser_->body_limit(server_->body_limit_);
      stream_.expires_after(server_->timeout_);
      http::async_read(stream_, buffer_, *parser_,
                       [self = shared_from_this()](beast::error_code ec, size_t) {
                         self->OnRead(ec);
                       });
    }

   private:
    void OnRead(beast::error_code ec) {
      if (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
          ec == asio::error::operation_aborted) {
        return Close();
      }
      if (ec == beast::error::timeout) return;  // the stream closed the socket itself
      if (ec == http::error::body_limit) {
        // Answer at once, then read and drop the rest of the body (for a while) so that a
        // client still sending it gets to read the answer instead of a reset.
        draining_ = true;
        return Send(server_->api_->PayloadTooLarge(server_->body_limit_), 11, false);
      }
      if (ec) {
        HttpResponse bad;
        bad.status = 400;
        bad.body = Cat(R"({"error":{"code":"INVALID_ARGUMENT","message":"malformed HTTP request: )",
                                ec.message(), R"(","details":{}}})");
        return Send(std::move(bad), 11, false);
      }
      http::request<http::string_body> req = parser_->release();
      const unsigned version = req.version();
      const bool keep_alive = req.keep_alive();
      HttpRequest request = ToRequest(std::move(req));
      if (!RestApi::MayWait(request)) {
        server_->in_flight_.fetch_add(1, std::memory_order_relaxed);
        HttpResponse response = server_->api_->Handle(request);
        server_->in_flight_.fetch_sub(1, std::memory_order_relaxed);
        return Send(std::move(response), version, keep_alive);
      }
      // acq_rel: the count is a limit, not a guard of data; any order that keeps it exact works.
      if (server_->pending_.fetch_add(1, std::memory_order_acq_rel) >= server_->max_pending_) {
        server_->pending_.fetch_sub(1, std::memory_order_acq_rel);
        return Send(server_->api_->Overloaded(server_->max_pending_), version, keep_alive);
      }
      server_->in_flight_.fetch_add(1, std::memory_order_relaxed);
      asio::post(server_->workers_, [self = shared_from_this(), request = std::move(request),
                                     version, keep_alive]() mutable {
        HttpResponse response = self->server_->api_->Handle(request);
        self->server_->pending_.fetch_sub(1, std::memory_order_acq_rel);
        asio::post(self->stream_.get_executor(), [self, response = std::move(response), version,
                                                  keep_alive]() mutable {
          self->server_->in_flight_.fetch_sub(1, std::memory_order_relaxed);
          self->Send(std::move(response), version, keep_alive);
        });
      });
    }

    void Send(HttpResponse r, unsigned version, bool keep_alive) {
      response_.emplace(static_cast<http::status>(r.status), version);
      response_->set(http::field::server, "proximadb");
      response_->set(http::field::content_type, r.content_type);
      for (const auto& [name, value] : r.headers) response_->set(name, value);
      response_->keep_alive(keep_alive);
      response_->body() = std::move(r.body);
      response_->prepare_payload();
      stream_.expires_after(server_->timeout_);
      http::async_write(stream_, *response_,
                        [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                          if (!ec && self->draining_) return self->Drain();
                          if (ec || !keep_alive) return self->Close();
                          self->Read();
                        });
    }

    void Drain() {
      stream_.expires_after(std::chrono::seconds(5));
      stream_.async_read_some(asio::buffer(discard_),
                              [self = shared_from_this()](beast::error_code ec, size_t) {
                                if (ec) return self->Close();
                                self->Drain();
                              });
    }

    void Close() {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    }

    Impl* server_;
    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::optional<http::response<http::string_body>> response_;  // the one being written
    bool draining_ = false;
    std::array<char, 65536> discard_;
  };

  void Accept() {
    asio::io_context& target = *contexts_[next_context_++ % contexts_.size()];
    acceptor_->async_accept(target, [this](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted || !acceptor_->is_open()) return;
      if (!ec) {
        // Started on the connection's own thread: its socket and timer belong to that context.
        auto session = std::make_shared<Session>(this, std::move(s));
        asio::post(session->executor(), [session] { session->Read(); });
      }
      Accept();
    });
  }

  RestApi* const api_;
  const size_t body_limit_;
  const std::chrono::milliseconds timeout_;
  const size_t max_pending_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  // After contexts_: its queued work holds connections, destroyed before their contexts.
  asio::thread_pool workers_;
  std::atomic<size_t> pending_{0};  // requests posted to workers_ and not yet handled
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::optional<tcp::acceptor> acceptor_;  // on contexts_[0]
  size_t next_context_ = 0;                // only touched by contexts_[0]'s thread
  std::vector<std::thread> pool_;
  std::atomic<int> in_flight_{0};
};

HttpServer::HttpServer(RestApi* api, const HttpServerOptions& options)
    : impl_(std::make_unique<Impl>(api, options)) {}
HttpServer::~HttpServer() = default;

absl::Status HttpServer::Start(const std::string& host, uint16_t port) {
  return impl_->Start(host, port);
}
void HttpServer::Stop(int grace_ms) { impl_->Stop(grace_ms); }

}  // namespace proximadb::server
