#include "server/rest_api.h"

#include <atomic>
#include <chrono>

#include "absl/container/inlined_vector.h"

#include "absl/strings/escaping.h"
#include "common/logging.h"
#include "common/strings.h"
#include "server/dashboard.h"
#include "server/metrics.h"
#include "server/request_id.h"
#include "server/rest_body.h"
#include "server/rest_handlers.h"

namespace proximadb::server {
namespace {

struct Route {
  const char* method;
  const char* pattern;  // segments; "{name}" and "{id}" match any one segment
  RestHandler handler;
  Served served;
  Access access;  // what the caller's key must allow (docs/security.md#roles)
};

constexpr char kCollection[] = "/api/v1/collections/{name}";

// Every route of the API (docs/api.md, docs/openapi.yaml).
using enum Served;
const Route kRoutes[] = {
    {"GET", "/health", Health, kInline, Access::kOpen},
    {"GET", "/ready", Ready, kInline, Access::kOpen},
    {"GET", "/metrics", Metrics, kInline, Access::kMetrics},
    {"GET", "/api/v1/cluster", ClusterInfo, kWorker, Access::kServerAdmin},
    {"GET", "/api/v1/collections", ListCollections, kInline, Access::kRead},
    {"POST", "/api/v1/collections", CreateCollection, kWorker, Access::kAdmin},
    {"GET", kCollection, DescribeCollection, kInline, Access::kRead},
    {"PATCH", kCollection, UpdateCollection, kWorker, Access::kAdmin},
    {"DELETE", kCollection, DropCollection, kSlow, Access::kAdmin},
    {"GET", "/api/v1/collections/{name}/stats", StatsOfCollection, kInline, Access::kRead},
    {"GET", "/api/v1/collections/{name}/history", HistoryOfCollection, kInline, Access::kRead},
    {"POST", "/api/v1/collections/{name}/flush", FlushCollection, kSlow, Access::kWrite},
    {"POST", "/api/v1/collections/{name}/compact", CompactCollection, kSlow, Access::kAdmin},
    {"POST", "/api/v1/collections/{name}/tiering", ApplyTiering, kSlow, Access::kAdmin},
    {"POST", "/api/v1/collections/{name}/backups", CreateBackup, kSlow, Access::kAdmin},
    {"GET", "/api/v1/backups", ListBackups, kWorker, Access::kServerAdmin},
    {"DELETE", "/api/v1/backups/{id}", DeleteBackup, kSlow, Access::kServerAdmin},
    {"POST", "/api/v1/restore", RestoreBackup, kSlow, Access::kServerAdmin},
    {"POST", "/api/v1/keys", CreateKey, kWorker, Access::kServerAdmin},
    {"GET", "/api/v1/keys", ListKeys, kInline, Access::kServerAdmin},
    {"DELETE", "/api/v1/keys/{name}", DeleteKey, kWorker, Access::kServerAdmin},
    {"POST", "/api/v1/collections/{name}/count", Count, kInline, Access::kRead},
    {"POST", "/api/v1/collections/{name}/search", Search, kInline, Access::kRead},
    {"POST", "/api/v1/collections/{name}/search/batch", SearchBatch, kInline, Access::kRead},
    {"GET", "/api/v1/collections/{name}/vectors", ScrollRecords, kInline, Access::kRead},
    {"POST", "/api/v1/collections/{name}/vectors", InsertRecord, kWorker, Access::kWrite},
    {"POST", "/api/v1/collections/{name}/vectors/batch", WriteBatch, kWorker, Access::kWrite},
    {"POST", "/api/v1/collections/{name}/vectors/delete", DeleteRecords, kWorker, Access::kWrite},
    {"GET", "/api/v1/collections/{name}/vectors/{id}", GetRecord, kInline, Access::kRead},
    {"PUT", "/api/v1/collections/{name}/vectors/{id}", PutRecord, kWorker, Access::kWrite},
    {"PATCH", "/api/v1/collections/{name}/vectors/{id}", PatchRecord, kWorker, Access::kWrite},
    {"DELETE", "/api/v1/collections/{name}/vectors/{id}", DeleteRecord, kWorker, Access::kWrite},
};

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A path's segments, without allocating for the few that routes have.
using PathSegments = absl::InlinedVector<std::string_view, 8>;
PathSegments Segments(std::string_view path) {
  return Split<PathSegments>(path.substr(path.empty() ? 0 : 1), '/');
}

// What a path matched: the routes of the most specific pattern that fits it (literal segments
// beat {name} and {id}, so an id cannot be called "batch" or "delete"), and its parameters.
struct Match {
  std::vector<const Route*> routes;  // empty: no route has this path
  std::string name, id;
};

// Each route's pattern, split once.
const std::vector<PathSegments>& Patterns() {
  static const auto* patterns = [] {
    auto* out = new std::vector<PathSegments>;
    for (const Route& route : kRoutes) out->push_back(Segments(route.pattern));
    return out;
  }();
  return *patterns;
}

// `path` as sent: split first, then each segment decoded, so that "%2F" stays inside its segment.
Match MatchPath(std::string_view path) {
  PathSegments segments = Segments(path);
  absl::InlinedVector<std::string, 2> decoded;  // reserved: views into it stay valid
  decoded.reserve(segments.size());
  for (std::string_view& segment : segments) {
    if (segment.find('%') == std::string_view::npos) continue;
    segment = decoded.emplace_back(PercentDecode(segment, false));
  }
  Match best;
  int best_literals = -1;
  for (size_t r = 0; r < std::size(kRoutes); ++r) {
    const Route& route = kRoutes[r];
    const PathSegments& pattern = Patterns()[r];
    if (pattern.size() != segments.size()) continue;
    Match m;
    int literals = 0;
    bool fits = true;
    for (size_t i = 0; i < pattern.size() && fits; ++i) {
      if (pattern[i] == "{name}") {
        m.name = segments[i];
      } else if (pattern[i] == "{id}") {
        m.id = segments[i];
      } else {
        fits = pattern[i] == segments[i];
        ++literals;
      }
    }
    if (!fits || literals < best_literals) continue;
    if (literals > best_literals) {
      best = std::move(m);
      best_literals = literals;
    }
    best.routes.push_back(&route);
  }
  return best;
}

// The answer to a refused key: its error, and on a 401 the scheme to authenticate with.
HttpResponse Denied(const absl::Status& s) {
  HttpResponse response = FromStatus(s);
  if (response.status == 401) response.headers.emplace_back("WWW-Authenticate", "Bearer");
  return response;
}

// The route of `method` among m's; HEAD is GET's (RFC 9110 §9.3.2), its body left out.
const Route* RouteFor(const Match& m, std::string_view method) {
  if (method == "HEAD") method = "GET";
  for (const Route* r : m.routes) {
    if (method == r->method) return r;
  }
  return nullptr;
}

}  // namespace

std::string PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else if (s[i] == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

RestApi::RestApi(Service* service)
    : service_(service), metrics_(&service->metrics()) {}
RestApi::~RestApi() = default;

HttpResponse RestApi::PayloadTooLarge(const HttpRequest& header, size_t limit) {
  HttpResponse r = ErrorResponse(413, "PAYLOAD_TOO_LARGE",
                                 Cat("request body exceeds the limit of ", limit, " bytes"),
                                 {{"limit_bytes", limit}});
  Finish(header, RouteLabel(header), 0, &r);
  return r;
}

HttpResponse RestApi::Overloaded(const HttpRequest& request, size_t limit) {
  metrics_->Rejected();
  HttpResponse r = ErrorResponse(
      429, "RESOURCE_EXHAUSTED",
      Cat("the server is overloaded: ", limit,
          " requests are already waiting to be served ([api] max_pending_requests); retry later"),
      {{"max_pending_requests", limit}});
  r.headers.emplace_back("Retry-After", "1");
  Finish(request, RouteLabel(request), 0, &r);
  return r;
}

std::string_view RestApi::RouteLabel(const HttpRequest& request) {
  const Route* route = RouteFor(MatchPath(request.path), request.method);
  return route == nullptr ? "unknown" : route->pattern;
}

namespace {
// Cluster mode: reads wait for their shards' barriers (a round trip to the log, seconds while
// it elects a leader), and /metrics asks etcd and the logs, so none is answered on an I/O
// thread.
std::atomic<bool> reads_on_workers{false};
}  // namespace

void RestApi::ServeReadsOnWorkers() { reads_on_workers.store(true, std::memory_order_relaxed); }

Served RestApi::ServedBy(const HttpRequest& request) {
  if (IsDashboardPath(request.path)) return Served::kWorker;  // reads files
  const Route* route = RouteFor(MatchPath(request.path), request.method);
  if (route == nullptr) return Served::kInline;
  if (route->served == Served::kInline && route->access != Access::kOpen &&
      reads_on_workers.load(std::memory_order_relaxed)) {
    return Served::kWorker;
  }
  return route->served;
}

HttpResponse RestApi::Handle(const HttpRequest& request) {
  const auto start = std::chrono::steady_clock::now();
  if (IsDashboardPath(request.path)) {
    const ServerConfig& config = service_->config();
    HttpResponse response = ServeDashboard(config.dashboard_enabled, config.dashboard_dir, request);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    Finish(request, "/dashboard", seconds, &response);
    response.head = request.method == "HEAD";
    return response;
  }
  Match match = MatchPath(request.path);
  const Route* route = RouteFor(match, request.method);
  HttpResponse response;
  if (match.routes.empty()) {
    response = ErrorResponse(404, "NOT_FOUND", Cat("no route for ", request.path));
  } else if (route == nullptr) {
    std::string allow;  // RFC 9110 §15.5.6: a 405 lists the methods the resource has
    for (const Route* r : match.routes) {
      allow += Cat(allow.empty() ? "" : ", ", r->method,
                   std::string_view(r->method) == "GET" ? ", HEAD" : "");
    }
    response = ErrorResponse(405, "METHOD_NOT_ALLOWED",
                             Cat("method ", request.method, " is not allowed on ", request.path,
                                 " (allowed: ", allow, ")"));
    response.headers.emplace_back("Allow", std::move(allow));
  } else if (auto caller = service_->Authorize(request.api_key, route->access, match.name);
             !caller.ok()) {
    response = Denied(caller.status());
  } else {
    const Principal* principal = caller->has_value() ? &**caller : nullptr;
    response = route->handler(RestCall{*service_, *metrics_, request, std::move(match.name),
                                       std::move(match.id), principal});
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Finish(request, match.routes.empty() ? "unknown" : match.routes[0]->pattern, seconds,
         &response);
  response.head = request.method == "HEAD";
  return response;
}

void RestApi::Finish(const HttpRequest& request, std::string_view route, double seconds,
                     HttpResponse* response) {
  metrics_->Observe(request.method, route, response->status, seconds);
  const std::string id = RequestId(request.request_id);
  const LogLevel level = response->status >= 500 ? LogLevel::kWarning : LogLevel::kDebug;
  if (LogEnabled(level)) {
    std::string line = Cat("request ", id, ": ", request.method, " ",
                           absl::CHexEscape(request.path), " ", response->status, " in ",
                           static_cast<int64_t>(seconds * 1e6), " us");
    if (response->status >= 500) {
      AppendCat(&line, ": ", absl::CHexEscape(response->body.substr(0, 300)));
    }
    Log(level, line);
  }
  response->headers.emplace_back("X-Request-Id", id);
}

std::optional<HttpResponse> RestApi::Refuse(const HttpRequest& header) {
  const Route* route = RouteFor(MatchPath(header.path), header.method);
  if (route == nullptr) return std::nullopt;  // 404 or 405, once the request is in
  absl::Status s = service_->Authenticate(header.api_key, route->access);
  if (s.ok()) return std::nullopt;
  HttpResponse response = Denied(s);
  Finish(header, route->pattern, 0, &response);
  response.head = header.method == "HEAD";
  return response;
}

HttpResponse Health(const RestCall&) { return Json(200, {{"status", "ok"}}); }

HttpResponse Ready(const RestCall& call) {
  if (!call.service.ready()) return ErrorResponse(503, "UNAVAILABLE", "recovery is still running");
  return Json(200, {{"status", "ready"}});
}

HttpResponse Metrics(const RestCall& call) {
  if (!call.service.config().metrics_enabled) {
    return ErrorResponse(404, "NOT_FOUND", "metrics are disabled ([monitoring] metrics_enabled)");
  }
  HttpResponse r;
  r.body = call.metrics.Text(call.service);
  r.content_type = "text/plain; version=0.0.4";
  return r;
}

}  // namespace proximadb::server
