// RestApi: the REST API of DESIGN.md §6 as a function from a parsed HTTP request to a response,
// independent of the HTTP library (http_server.h carries the bytes). A route table maps method
// and path to one handler per route (rest_handlers.h); handlers parse and validate the JSON
// body (simdjson) into the engine's types, call the Service shared with gRPC, and turn its
// errors into HTTP statuses and error bodies (docs/api.md). It counts its requests in the
// service's metrics, which GET /metrics reports (metrics.h).
//
// Thread-safe: Handle may run on any number of threads at once.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "proximadb/database.h"
#include "server/service.h"

namespace proximadb::server {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  // Without the query string, as sent: routing splits it at '/' first and then decodes each
  // segment, so an id holding "%2F" is one segment (an id with a '/').
  std::string path;
  std::map<std::string, std::string> query;
  std::string body;
  // The key of `Authorization: Bearer <key>` (or the whole header if not Bearer) or of
  // `api-key: <key>`; empty if neither header came.
  std::string api_key;
  // The client's `X-Request-Id` if it is one (1-128 of A-Z a-z 0-9 . _ : / + = -); else the
  // server makes one. Answered in `X-Request-Id` and in the request's log line.
  std::string request_id;
};

// %XX escapes decoded; in a query string (`plus_is_space`, form encoding) also '+' for a space.
// A '%' not followed by two hex digits stays as it is. (Cursors are web-safe base64: no '+'.)
std::string PercentDecode(std::string_view s, bool plus_is_space);

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // besides the content type
  // The answer to a HEAD: sent as its header only, with the Content-Length of `body`.
  bool head = false;
};

class RequestMetrics;

// Where a request is served. kInline: on the I/O thread that read it (searches, counts, gets,
// scrolls, health, unknown routes). kWorker: on a worker thread, since it may wait on the disk
// (writes and their fsync, collection and key changes). kSlow: on the maintenance workers,
// since it may take minutes (flush, compaction, tier changes, backups, restores, drops, which
// wait for a running compaction), so that the writes never queue behind them.
enum class Served { kInline, kWorker, kSlow };

class RestApi {
 public:
  // Until the service has a database, API routes answer 503 UNAVAILABLE and /ready says so.
  explicit RestApi(Service* service);
  ~RestApi();

  HttpResponse Handle(const HttpRequest& request);
  // For a request whose header alone is in (no body yet): the 401 to answer at once when keys
  // are on and it has none the server knows, so that its body is never read; nullopt to go on.
  // Role and scope are checked by Handle, once the body is in.
  std::optional<HttpResponse> Refuse(const HttpRequest& header);

  // The response for a body over the configured limit (the server stops reading it), with the
  // request's id, logged and counted as Handle's answers are.
  HttpResponse PayloadTooLarge(const HttpRequest& header, size_t limit);
  // The response when `limit` requests already wait for a worker thread (429, counted in
  // /metrics as proximadb_http_rejected_total too), with the request's id.
  HttpResponse Overloaded(const HttpRequest& request, size_t limit);

  // Which threads serve `request` (the route table says).
  static Served ServedBy(const HttpRequest& request);
  // Cluster mode: every route the table serves inline but health, readiness and metrics goes
  // to the worker pool instead.
  static void ServeReadsOnWorkers();

 private:
  // The pattern of the route `request` goes to, or "unknown": the metrics' label.
  static std::string_view RouteLabel(const HttpRequest& request);
  // Counts the answer, gives it the request id and logs it (at debug; 5xx at warning).
  void Finish(const HttpRequest& request, std::string_view route, double seconds,
              HttpResponse* response);
  Service* const service_;
  RequestMetrics* const metrics_;  // the service's
};

}  // namespace proximadb::server
