#include "server/http_server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <optional>
#include <chrono>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "absl/strings/str_cat.h"
#include "common/macros.h"
#include "common/strings.h"
#include "server/auth.h"
#include "server/io_loop.h"
#include "server/request_id.h"

namespace proximadb::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// A request's header (method, path, query, key), without its body.
HttpRequest FromHeader(const http::request_header<>& req) {
  HttpRequest out;
  out.method = std::string(req.method_string());
  const std::string_view target(req.target().data(), req.target().size());
  const size_t q = target.find('?');
  out.path = std::string(target.substr(0, q));  // decoded segment by segment when routed
  if (q != std::string_view::npos) {
    for (std::string_view pair : Split(target.substr(q + 1), '&')) {
      if (pair.empty()) continue;
      const size_t eq = pair.find('=');
      out.query[PercentDecode(pair.substr(0, eq), true)] =
          eq == std::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1), true);
    }
  }
  if (const auto auth = req.find(http::field::authorization); auth != req.end()) {
    out.api_key = BearerKey(std::string_view(auth->value().data(), auth->value().size()));
  } else if (const auto key = req.find("api-key"); key != req.end()) {
    out.api_key = std::string_view(key->value().data(), key->value().size());
  }
  if (const auto id = req.find("x-request-id"); id != req.end()) {
    out.request_id = std::string_view(id->value().data(), id->value().size());
  }
  return out;
}

HttpRequest ToRequest(http::request<http::string_body>&& req) {
  HttpRequest out = FromHeader(req);
  out.body = std::move(req.body());
  return out;
}

HttpResponse MalformedRequest(std::string_view why) {
  HttpResponse bad;
  bad.status = 400;
  bad.body = Cat(R"({"error":{"code":"INVALID_ARGUMENT","message":"malformed HTTP request: )",
                 why, R"(","details":{}}})");
  bad.headers.emplace_back("X-Request-Id", RequestId(""));  // a new one: none could be read
  return bad;
}

// The answer to plaintext HTTP on a TLS port.
const std::string& TlsRequired() {
  static const std::string* const answer = [] {
    constexpr std::string_view kBody =
        R"({"error":{"code":"TLS_REQUIRED","message":"this port speaks HTTPS only: use https://",)"
        R"("details":{}}})";
    return new std::string(Cat("HTTP/1.1 400 Bad Request\r\nServer: proximadb\r\n",
                               "Content-Type: application/json\r\nConnection: close\r\n",
                               "Content-Length: ", kBody.size(), "\r\n\r\n", kBody));
  }();
  return *answer;
}

}  // namespace

// Threading: one io_context per I/O thread, each run by that thread alone, and every connection
// lives on one of them (assigned round-robin at accept). A ready socket is read, handled and
// answered by the thread whose epoll saw it, with no hand-off between threads and no strand;
// under load one wake-up serves every connection that became ready. That is the fast path of
// searches. A request that may wait (a write waiting for its fsync, a flush building a graph)
// would hold up every connection of its thread, so it is posted to the worker pool, and its
// response is posted back to the connection's thread to be written.
//
// The fast path costs one receive and one send per request: a connection waits for readiness
// (async_wait), then reads what the socket holds without blocking, feeds Beast's parser, and
// writes the answer at once; only a send the socket cannot take whole, or a drained socket,
// goes back to the reactor. Deadlines are a time per connection that a sweep on each thread
// checks, not a timer armed per operation. With [server] busy_poll_us a thread polls its
// sockets for that long after its last event before sleeping (io_loop.h).
class HttpServer::Impl {
 public:
  Impl(RestApi* api, const HttpServerOptions& options)
      : api_(api),
        tls_(options.tls),
        body_limit_(options.body_limit),
        timeout_(std::chrono::milliseconds(options.request_timeout_ms)),
        // At most a tenth of the sweep's period: a sweep ends a window too, so an idle thread
        // polls at most a tenth of the time.
        busy_poll_(std::min<std::chrono::microseconds>(
            std::chrono::microseconds(options.busy_poll_us),
            std::chrono::duration_cast<std::chrono::microseconds>(SweepPeriod(timeout_) / 10))),
        max_pending_(options.max_pending),
        workers_(static_cast<size_t>(std::max(1, options.worker_threads))),
        slow_workers_(static_cast<size_t>(std::max(1, options.slow_threads))) {
    for (int i = 0; i < std::max(1, options.io_threads); ++i) {
      loops_.push_back(std::make_unique<Loop>());
    }
    acceptor_.emplace(loops_[0]->ioc);
  }

  absl::Status Start(const std::string& host, uint16_t port) {
    beast::error_code ec;
    const auto address = asio::ip::make_address(host, ec);
    if (ec) return absl::InvalidArgumentError(Cat("bad bind address '", host, "'"));
    if (!tls_.cert_file.empty()) PROXIMADB_RETURN_IF_ERROR(MakeSslContext(tls_));
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
    for (auto& loop : loops_) {
      Sweep(loop.get());
      work_.push_back(asio::make_work_guard(loop->ioc));
      pool_.emplace_back([this, loop = loop.get()] { RunIoLoop(loop->ioc, busy_poll_); });
    }
    return absl::OkStatus();
  }

  void Stop(int grace_ms) {
    asio::post(acceptor_->get_executor(), [this] {
      beast::error_code ec;
      acceptor_->close(ec);
    });
    const auto deadline = Clock::now() + std::chrono::milliseconds(grace_ms);
    while (in_flight_.load() > 0 && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    work_.clear();
    for (auto& loop : loops_) loop->ioc.stop();
    for (auto& t : pool_) t.join();
    pool_.clear();
    for (asio::thread_pool* pool : {&workers_, &slow_workers_}) {
      pool->stop();
      pool->join();
    }
  }

 private:
  using Clock = std::chrono::steady_clock;
  class Session;

  struct Loop {
    asio::io_context ioc{1};
    asio::steady_timer sweep{ioc};
    std::vector<std::weak_ptr<Session>> sessions;  // only touched by ioc's thread
  };

  static constexpr size_t kReadSize = 64 << 10;  // bytes asked of the socket per read
  static constexpr int kInlineRequests = 16;     // pipelined requests served per wake-up

  class Session : public std::enable_shared_from_this<Session> {
   public:
    Session(Impl* server, Loop* loop, tcp::socket socket)
        : server_(server), loop_(loop), socket_(std::move(socket)) {}

    // On the loop's thread.
    void Start() {
      loop_->sessions.push_back(weak_from_this());
      beast::error_code ec;
      socket_.non_blocking(true, ec);
      if (!ec) socket_.set_option(tcp::no_delay(true), ec);
      if (ec) return;
      Reset();
      Run();
    }

    // Closes the connection if its deadline has passed (the sweep).
    void Expire(Clock::time_point now) {
      if (now < deadline_) return;
      beast::error_code ec;
      socket_.close(ec);  // pending waits end with operation_aborted
    }

   private:
    // Makes ready for the next request; its deadline starts now.
    void Reset() {
      parser_.emplace();
      parser_->body_limit(server_->body_limit_);
      parser_->eager(true);
      header_checked_ = false;
      deadline_ = Clock::now() + server_->timeout_;
    }

    // Goes on after the loop's reactor may have run: it may have seen the socket become
    // readable (edge-triggered, reported once) while nothing here waited, so read first.
    void Resume() {
      may_hold_bytes_ = true;
      Run();
    }

    void WaitToRead() {
      socket_.async_wait(tcp::socket::wait_read,
                         [self = shared_from_this()](beast::error_code ec) {
                           if (!ec) self->Resume();
                         });
    }

    // Serves requests while bytes are at hand, from the buffer and then the socket, until the
    // socket has nothing more for now (wait for readiness), a response must wait (a worker, a
    // slow reader), or the connection ends. A loop and not a chain of calls, so that pipelined
    // requests do not grow the stack; after kInlineRequests of them it yields to the loop's
    // other connections.
    void Run() {
      for (int served = 0;;) {
        if (buffer_.size() > 0) {
          beast::error_code ec;
          const size_t used = parser_->put(buffer_.data(), ec);
          buffer_.consume(used);
          if (ec == http::error::body_limit) return TooLarge();
          if (ec && ec != http::error::need_more) return Malformed(ec);
          if (parser_->is_done()) {
            if (!Serve()) return;  // answered later, or the connection is ending
            if (++served == kInlineRequests) {
              asio::post(socket_.get_executor(), [self = shared_from_this()] { self->Resume(); });
              return;
            }
            continue;
          }
          if (parser_->is_header_done() && !header_checked_ && !HeaderDone()) return;
          if (used > 0 && !ec) continue;  // the header ended; the body follows
        }
        if (!may_hold_bytes_) return WaitToRead();
        beast::error_code ec;
        const size_t n = socket_.read_some(buffer_.prepare(kReadSize), ec);
        if (ec == asio::error::would_block) return WaitToRead();
        if (ec) return Close();  // end of stream or reset: the client is gone
        buffer_.commit(n);
        // A short read emptied the socket: what arrives next is reported. A full one may have
        // left bytes behind.
        may_hold_bytes_ = n == kReadSize;
      }
    }

    // Once the request's header is in: a request without a valid key (when keys are on) is
    // answered 401 now, its body unread; a client that sent "Expect: 100-continue" (curl does
    // for bodies over 1 MiB) gets the interim answer it waits for before sending the body.
    // False if the connection is ending.
    bool HeaderDone() {
      header_checked_ = true;
      const auto& header = parser_->get();
      if (std::optional<HttpResponse> refused = server_->api_->Refuse(FromHeader(header))) {
        draining_ = true;  // the body stays unread: drop it rather than reset
        Send(std::move(*refused), header.version(), false);
        return false;
      }
      if (header.version() < 11 || !beast::iequals(header[http::field::expect], "100-continue")) {
        return true;
      }
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      beast::error_code ec;
      // 25 bytes: a socket refuses them only to a client that pipelines without reading.
      const size_t n = socket_.write_some(asio::buffer(kContinue.data(), kContinue.size()), ec);
      if (!ec && n == kContinue.size()) return true;
      Close();
      return false;
    }

    // Serves the parsed request: true if its answer went out whole and the next request may
    // follow at once; false if the answer comes later (a worker, a slow reader) or the
    // connection is ending.
    bool Serve() {
      http::request<http::string_body> req = parser_->release();
      const unsigned version = req.version();
      const bool keep_alive = req.keep_alive();
      std::optional<HttpResponse> now = server_->Dispatch(
          ToRequest(std::move(req)), socket_.get_executor(),
          [self = shared_from_this(), version, keep_alive](HttpResponse response) {
            if (self->Send(std::move(response), version, keep_alive)) self->Resume();
          });
      if (now) return Send(std::move(*now), version, keep_alive);
      deadline_ = Clock::time_point::max();  // the wait is the server's, not the client's
      return false;
    }

    // Answer at once, then read and drop the rest (for a while) so that a client still sending
    // gets to read the answer instead of a reset.
    void TooLarge() {
      draining_ = true;
      Send(server_->TooLarge(parser_->get()), 11, false);
    }

    void Malformed(beast::error_code ec) {
      draining_ = true;  // what follows the bad bytes is unread: drop it rather than reset
      Send(MalformedRequest(ec.message()), 11, false);
    }

    // Writes the response now, or as much as the socket takes and the rest when it can; true
    // if it went out whole and the connection is ready for the next request.
    bool Send(HttpResponse r, unsigned version, bool keep_alive) {
      const auto reason = http::obsolete_reason(static_cast<http::status>(r.status));
      head_.clear();
      AppendCat(&head_, version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ", r.status, " ",
                std::string_view(reason.data(), reason.size()),
                "\r\nServer: proximadb\r\nContent-Type: ", r.content_type,
                "\r\nContent-Length: ", r.body.size(), "\r\n");
      for (const auto& [name, value] : r.headers) AppendCat(&head_, name, ": ", value, "\r\n");
      if (!keep_alive) head_ += "Connection: close\r\n";
      else if (version == 10) head_ += "Connection: keep-alive\r\n";
      head_ += "\r\n";
      body_ = r.head ? std::string() : std::move(r.body);  // HEAD: GET's length, no body
      out_.emplace(std::array<asio::const_buffer, 2>{asio::buffer(head_), asio::buffer(body_)});
      beast::error_code ec;
      out_->consume(socket_.write_some(*out_, ec));
      if (ec && ec != asio::error::would_block) {
        Close();
        return false;
      }
      if (beast::buffer_bytes(*out_) == 0) return Sent(keep_alive);
      deadline_ = Clock::now() + server_->timeout_;
      asio::async_write(socket_, *out_,
                        [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                          if (ec) return self->Close();
                          if (self->Sent(keep_alive)) self->Resume();
                        });
      return false;
    }

    // After a response went out: true (and ready for it) if the next request may follow.
    bool Sent(bool keep_alive) {
      if (draining_) {
        // Our side ends here; the client's bytes are read and dropped until it closes or 5 s
        // pass, so that its unread bytes do not make the kernel reset the connection before
        // the client has read the answer.
        Close();
        deadline_ = Clock::now() + std::chrono::seconds(5);
        Drain();
        return false;
      }
      if (!keep_alive) {
        Close();
        return false;
      }
      Reset();
      return true;
    }

    void Drain() {
      for (;;) {
        beast::error_code ec;
        socket_.read_some(buffer_.prepare(kReadSize), ec);
        if (ec == asio::error::would_block) break;
        if (ec) return Close();
      }
      socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](beast::error_code ec) {
        if (!ec) self->Drain();
      });
    }

    void Close() {
      beast::error_code ec;
      socket_.shutdown(tcp::socket::shutdown_send, ec);
    }

    Impl* const server_;
    Loop* const loop_;
    tcp::socket socket_;
    beast::flat_buffer buffer_;  // bytes read and not yet parsed
    std::optional<http::request_parser<http::string_body>> parser_;
    // The response being written: head, body, and what of them the socket has yet to take.
    std::string head_, body_;
    std::optional<beast::buffers_suffix<std::array<asio::const_buffer, 2>>> out_;
    Clock::time_point deadline_ = Clock::time_point::max();  // closed by the sweep after it
    bool draining_ = false;
    bool header_checked_ = false;  // the current request's header was checked (HeaderDone)
    // Whether the socket may hold bytes that epoll will not report again (see Run).
    bool may_hold_bytes_ = true;
  };

  class TlsSession;

  // Handles `request`: at once if it cannot wait (the answer is returned), or on a worker, and
  // then `reply(answer)` runs on `executor` (the connection's thread, so that the connection is
  // only ever released there) and nullopt is returned. 429 when max_pending_ already wait.
  template <typename Reply>
  std::optional<HttpResponse> Dispatch(HttpRequest request, asio::any_io_executor executor,
                                       Reply reply) {
    const Served served = RestApi::ServedBy(request);
    if (served == Served::kInline) {
      in_flight_.fetch_add(1, std::memory_order_relaxed);
      HttpResponse response = api_->Handle(request);
      in_flight_.fetch_sub(1, std::memory_order_relaxed);
      return response;
    }
    // acq_rel: the count is a limit, not a guard of data; any order that keeps it exact works.
    if (pending_.fetch_add(1, std::memory_order_acq_rel) >= max_pending_) {
      pending_.fetch_sub(1, std::memory_order_acq_rel);
      HttpResponse overloaded = api_->Overloaded(request, max_pending_);
      overloaded.head = request.method == "HEAD";
      return overloaded;
    }
    in_flight_.fetch_add(1, std::memory_order_relaxed);
    asio::thread_pool& pool = served == Served::kSlow ? slow_workers_ : workers_;
    asio::post(pool, [this, request = std::move(request), executor = std::move(executor),
                      reply = std::move(reply)]() mutable {
      HttpResponse response = api_->Handle(request);
      pending_.fetch_sub(1, std::memory_order_acq_rel);
      asio::post(executor, [this, response = std::move(response),
                            reply = std::move(reply)]() mutable {
        in_flight_.fetch_sub(1, std::memory_order_relaxed);
        reply(std::move(response));
      });
    });
    return std::nullopt;
  }

  absl::Status MakeSslContext(const TlsFiles& tls);

  // The answer to a request whose body is over the limit (Beast knows from its header): 413,
  // or 401 if it has no valid key, which comes first.
  HttpResponse TooLarge(const http::request_header<>& header) {
    const HttpRequest request = FromHeader(header);
    std::optional<HttpResponse> refused = api_->Refuse(request);
    HttpResponse r = refused ? *std::move(refused) : api_->PayloadTooLarge(request, body_limit_);
    r.head = header.method() == http::verb::head;
    return r;
  }

  void Accept();

  // Every quarter of the timeout (within 10 ms to 1 s), closes the loop's connections whose
  // deadline has passed and forgets those already gone.
  static Clock::duration SweepPeriod(std::chrono::milliseconds timeout) {
    return std::clamp<Clock::duration>(timeout / 4, std::chrono::milliseconds(10),
                                       std::chrono::seconds(1));
  }

  void Sweep(Loop* loop) {
    loop->sweep.expires_after(SweepPeriod(timeout_));
    loop->sweep.async_wait([this, loop](beast::error_code ec) {
      if (ec) return;
      const auto now = Clock::now();
      auto& sessions = loop->sessions;
      sessions.erase(std::remove_if(sessions.begin(), sessions.end(),
                                    [now](const std::weak_ptr<Session>& w) {
                                      auto s = w.lock();
                                      if (s == nullptr) return true;
                                      s->Expire(now);
                                      return false;
                                    }),
                     sessions.end());
      Sweep(loop);
    });
  }

  RestApi* const api_;
  const TlsFiles tls_;
  std::optional<asio::ssl::context> ssl_;  // TLS only, when set (before the sessions using it)
  const size_t body_limit_;
  const std::chrono::milliseconds timeout_;
  const std::chrono::microseconds busy_poll_;
  const size_t max_pending_;
  std::vector<std::unique_ptr<Loop>> loops_;
  // After loops_: its queued work holds connections, destroyed before their loops.
  asio::thread_pool workers_;
  asio::thread_pool slow_workers_;  // Served::kSlow: maintenance, which must not hold up writes
  std::atomic<size_t> pending_{0};  // requests posted to either pool and not yet handled
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::optional<tcp::acceptor> acceptor_;  // on loops_[0]
  size_t next_loop_ = 0;                   // only touched by loops_[0]'s thread
  std::vector<std::thread> pool_;
  std::atomic<int> in_flight_{0};
};

// A connection on a TLS port: Beast's SSL stream and its composed operations (handshake, then
// read a request, answer it, and again), with a timer per operation. Simpler than the plaintext
// path above, whose savings are small beside TLS's own cost. A client whose first bytes are
// not a TLS handshake gets a plaintext 400 TLS_REQUIRED; a failed handshake (no or a bad
// client certificate when one is required) ends the connection.
class HttpServer::Impl::TlsSession : public std::enable_shared_from_this<TlsSession> {
 public:
  TlsSession(Impl* server, tcp::socket socket)
      : server_(server), stream_(beast::tcp_stream(std::move(socket)), *server->ssl_) {}

  void Start() {
    beast::error_code ec;
    stream_.next_layer().socket().set_option(tcp::no_delay(true), ec);
    stream_.next_layer().expires_after(server_->timeout_);
    beast::async_detect_ssl(
        stream_.next_layer(), buffer_,
        [self = shared_from_this()](beast::error_code ec, bool tls) {
          if (ec) return;
          if (!tls) return self->RefusePlaintext();
          self->stream_.async_handshake(
              asio::ssl::stream_base::server, self->buffer_.data(),
              [self](beast::error_code ec, size_t used) {
                if (ec) return;
                self->buffer_.consume(used);
                self->Read();
              });
        });
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(server_->body_limit_);
    stream_.next_layer().expires_after(server_->timeout_);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->Failed(ec);
                              self->Continue();
                            });
  }

  // The body, after the key check of the header and the interim 100 Continue its client may
  // wait for.
  void Continue() {
    auto read_body = [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Failed(ec);
      http::async_read(self->stream_, self->buffer_, *self->parser_,
                       [self](beast::error_code ec, size_t) {
                         if (ec) return self->Failed(ec);
                         self->Serve();
                       });
    };
    const auto& header = parser_->get();
    if (std::optional<HttpResponse> refused = server_->api_->Refuse(FromHeader(header))) {
      return Send(std::move(*refused), header.version(), false, /*unread=*/true);
    }
    if (header.version() < 11 || !beast::iequals(header[http::field::expect], "100-continue")) {
      return read_body({}, 0);
    }
    continue_.emplace(http::status::continue_, header.version());
    http::async_write(stream_, *continue_, std::move(read_body));
  }

  void Failed(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return Send(server_->TooLarge(parser_->get()), 11, false, true);
    }
    if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      return Send(MalformedRequest(ec.message()), 11, false, true);
    }
    // The client left, timed out, or broke the TLS stream: nothing to answer.
  }

  void Serve() {
    http::request<http::string_body> req = parser_->release();
    const unsigned version = req.version();
    const bool keep_alive = req.keep_alive();
    std::optional<HttpResponse> now = server_->Dispatch(
        ToRequest(std::move(req)), stream_.get_executor(),
        [self = shared_from_this(), version, keep_alive](HttpResponse response) {
          self->Send(std::move(response), version, keep_alive);
        });
    if (now) return Send(std::move(*now), version, keep_alive);
    stream_.next_layer().expires_never();  // the wait is the server's, not the client's
  }

  // Writes the answer; then reads the next request, or ends the connection. After an answer
  // given with the request (partly) `unread`, the rest is read and dropped (Linger).
  void Send(HttpResponse r, unsigned version, bool keep_alive, bool unread = false) {
    response_.emplace(static_cast<http::status>(r.status), version);
    response_->set(http::field::server, "proximadb");
    response_->set(http::field::content_type, r.content_type);
    for (const auto& [name, value] : r.headers) response_->set(name, value);
    response_->keep_alive(keep_alive);
    const size_t length = r.body.size();
    if (!r.head) response_->body() = std::move(r.body);  // HEAD: GET's length, no body
    response_->content_length(length);
    stream_.next_layer().expires_after(server_->timeout_);
    http::async_write(stream_, *response_, [self = shared_from_this(), keep_alive,
                                            unread](beast::error_code ec, size_t) {
      if (ec) return;
      if (keep_alive) return self->Read();
      if (unread) return self->Linger(Clock::now() + std::chrono::seconds(5));
      self->stream_.next_layer().expires_after(self->server_->timeout_);
      self->stream_.async_shutdown([self](beast::error_code) {});
    });
  }

  // Ends a connection whose client may still be sending: the TCP stream is half-closed, and
  // what arrives is dropped until the client closes or `deadline` passes, so that its unread
  // bytes do not make the kernel reset the connection before the client has read the answer.
  void Linger(Clock::time_point deadline) {
    beast::error_code ec;
    stream_.next_layer().socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.next_layer().expires_at(deadline);
    stream_.next_layer().async_read_some(
        asio::buffer(scratch_), [self = shared_from_this(), deadline](beast::error_code ec, size_t) {
          if (!ec) self->Linger(deadline);
        });
  }

  void RefusePlaintext() {
    asio::async_write(stream_.next_layer(), asio::buffer(TlsRequired()),
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (!ec) self->Linger(Clock::now() + std::chrono::seconds(5));
                      });
  }

  Impl* const server_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::empty_body>> continue_;
  std::optional<http::response<http::string_body>> response_;
  std::array<char, 4096> scratch_;  // what Linger drops
};

void HttpServer::Impl::Accept() {
  Loop* target = loops_[next_loop_++ % loops_.size()].get();
  acceptor_->async_accept(target->ioc, [this, target](beast::error_code ec, tcp::socket s) {
    if (ec == asio::error::operation_aborted || !acceptor_->is_open()) return;
    if (!ec) {
      // Started on the connection's own thread: its socket belongs to that context.
      // Moved into the handler: released, if Start ends it at once, on that thread too.
      if (ssl_) {
        auto session = std::make_shared<TlsSession>(this, std::move(s));
        asio::post(target->ioc, [session = std::move(session)] { session->Start(); });
      } else {
        auto session = std::make_shared<Session>(this, target, std::move(s));
        asio::post(target->ioc, [session = std::move(session)] { session->Start(); });
      }
    }
    Accept();
  });
}

absl::Status HttpServer::Impl::MakeSslContext(const TlsFiles& tls) {
  namespace ssl = asio::ssl;
  ssl_.emplace(ssl::context::tls_server);
  beast::error_code ec;
  auto failed = [&](std::string_view key, const std::string& file) {
    return absl::InvalidArgumentError(Cat("[tls] ", key, " ", file, ": ", ec.message()));
  };
  // TLS 1.2 and 1.3 only.
  ssl_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                        ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                        ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                    ec);
  if (ssl_->use_certificate_chain_file(tls.cert_file, ec); ec) {
    return failed("cert_file", tls.cert_file);
  }
  // OpenSSL checks here that the key is the certificate's.
  if (ssl_->use_private_key_file(tls.key_file, ssl::context::pem, ec); ec) {
    return failed("key_file", tls.key_file);
  }
  if (!tls.client_ca_file.empty()) {
    if (ssl_->load_verify_file(tls.client_ca_file, ec); ec) {
      return failed("client_ca_file", tls.client_ca_file);
    }
    ssl_->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
  }
  return absl::OkStatus();
}

HttpServer::HttpServer(RestApi* api, const HttpServerOptions& options)
    : impl_(std::make_unique<Impl>(api, options)) {}
HttpServer::~HttpServer() = default;

absl::Status HttpServer::Start(const std::string& host, uint16_t port) {
  return impl_->Start(host, port);
}
void HttpServer::Stop(int grace_ms) { impl_->Stop(grace_ms); }

}  // namespace proximadb::server
