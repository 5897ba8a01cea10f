#include "server/rest_api.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <random>
#include <string_view>

#include <nlohmann/json.hpp>
#include <simdjson.h>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/strings.h"
#include "server/service.h"

namespace proximadb::server {

namespace {

using json = nlohmann::json;
namespace dom = simdjson::dom;

// --- Errors -----------------------------------------------------------------------------------

HttpResponse ErrorResponse(int status, std::string_view code, std::string_view message,
                           json details = json::object()) {
  HttpResponse r;
  r.status = status;
  r.body = json{{"error", {{"code", code}, {"message", message}, {"details", details}}}}.dump();
  return r;
}

HttpResponse BadRequest(std::string_view message) {
  return ErrorResponse(400, "INVALID_ARGUMENT", message);
}

// An error from the service as a response.
HttpResponse FromStatus(const absl::Status& s) {
  const ApiError e = ApiErrorOf(s);
  return ErrorResponse(e.http_status, e.code, std::string(s.message()));
}

// --- Request bodies ---------------------------------------------------------------------------

// A parsed JSON object body with typed, validated access; the first problem is kept in `error`.
class Body {
 public:
  // Parses `text` as an object whose keys are all in `allowed`.
  bool Parse(const std::string& text, const std::vector<std::string_view>& allowed) {
    thread_local dom::parser parser;
    dom::element doc;
    if (auto e = parser.parse(text.data(), text.size()).get(doc); e != simdjson::SUCCESS) {
      return Fail(Cat("request body is not valid JSON: ", simdjson::error_message(e)));
    }
    return FromElement(doc, "request body", allowed);
  }
  bool FromElement(dom::element e, std::string_view what,
                   const std::vector<std::string_view>& allowed) {
    if (e.get_object().get(object_) != simdjson::SUCCESS) {
      return Fail(Cat(what, " must be a JSON object"));
    }
    for (auto field : object_) {
      if (std::find(allowed.begin(), allowed.end(), field.key) == allowed.end()) {
        return Fail(Cat("unknown field '", field.key, "' in ", what));
      }
    }
    return true;
  }

  bool Has(std::string_view field) const {
    dom::element e;
    return object_[field].get(e) == simdjson::SUCCESS && !e.is_null();
  }
  // The field's value; only for fields Has() reports (a default element must not be used).
  dom::element Get(std::string_view field) const {
    dom::element e;
    if (object_[field].get(e) != simdjson::SUCCESS) return dom::element();
    return e;
  }

  bool String(std::string_view field, std::string* out, bool required = false) {
    if (!Has(field)) return !required || Fail(Cat("field '", field, "' is required"));
    std::string_view v;
    if (Get(field).get_string().get(v) != simdjson::SUCCESS) {
      return Fail(Cat("field '", field, "' must be a string"));
    }
    *out = std::string(v);
    return true;
  }
  bool OptionalString(std::string_view field, std::optional<std::string>* out) {
    if (!Has(field)) return true;
    return String(field, &out->emplace());
  }
  template <typename Int>
  bool Integer(std::string_view field, Int* out, int64_t min, int64_t max, bool required = false) {
    if (!Has(field)) return !required || Fail(Cat("field '", field, "' is required"));
    int64_t v;
    if (Get(field).get_int64().get(v) != simdjson::SUCCESS) {
      return Fail(Cat("field '", field, "' must be an integer"));
    }
    if (v < min || v > max) {
      return Fail(Cat("field '", field, "' must be between ", min, " and ", max,
                               ", got ", v));
    }
    *out = static_cast<Int>(v);
    return true;
  }
  bool Number(std::string_view field, double* out) {
    if (!Has(field)) return true;
    if (Get(field).get_double().get(*out) != simdjson::SUCCESS) {
      return Fail(Cat("field '", field, "' must be a number"));
    }
    return true;
  }
  bool Bool(std::string_view field, bool* out) {
    if (!Has(field)) return true;
    if (Get(field).get_bool().get(*out) != simdjson::SUCCESS) {
      return Fail(Cat("field '", field, "' must be true or false"));
    }
    return true;
  }
  // A JSON array of numbers.
  bool Vector(std::string_view field, std::vector<float>* out, bool required = true) {
    if (!Has(field)) return !required || Fail(Cat("field '", field, "' is required"));
    return VectorFrom(Get(field), Cat("field '", field, "'"), out);
  }
  bool VectorFrom(dom::element e, const std::string& what, std::vector<float>* out) {
    dom::array a;
    if (e.get_array().get(a) != simdjson::SUCCESS) {
      return Fail(Cat(what, " must be an array of numbers"));
    }
    out->clear();
    out->reserve(a.size());
    size_t i = 0;
    for (dom::element x : a) {
      double d;
      if (x.get_double().get(d) != simdjson::SUCCESS) {
        return Fail(Cat(what, " must be an array of numbers; element ", i, " is not"));
      }
      out->push_back(static_cast<float>(d));
      ++i;
    }
    return true;
  }
  // A required JSON array of `what`.
  bool Array(std::string_view field, std::string_view what, dom::array* out) {
    // (A default dom::element has no document behind it: never touch one.)
    if (!Has(field)) return Fail(Cat("field '", field, "' is required"));
    if (Get(field).get_array().get(*out) != simdjson::SUCCESS) {
      return Fail(Cat("field '", field, "' must be an array of ", what));
    }
    return true;
  }
  // A JSON object, returned as compact text ("{}" when absent).
  bool Object(std::string_view field, std::string* out) {
    if (!Has(field)) {
      *out = "{}";
      return true;
    }
    dom::element e = Get(field);
    if (!e.is_object()) return Fail(Cat("field '", field, "' must be a JSON object"));
    *out = simdjson::minify(e);
    return true;
  }

  bool Fail(std::string message) {
    if (error.empty()) error = std::move(message);
    return false;
  }

  std::string error;

 private:
  dom::object object_;
};

// --- Responses --------------------------------------------------------------------------------

// `s` as a JSON string. Ids and cursors rarely need escaping: those go through as they are, the
// rest through nlohmann (which escapes and checks the UTF-8).
void AppendString(std::string* out, std::string_view s) {
  const bool plain = std::all_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x80 &&
           c != '"' && c != '\\';
  });
  if (!plain) {
    *out += json(s).dump();
    return;
  }
  out->push_back('"');
  out->append(s);
  out->push_back('"');
}

void AppendFloat(std::string* out, float f) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), f);
  out->append(buf, end);
}

void AppendVector(std::string* out, const std::vector<float>& v) {
  out->push_back('[');
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out->push_back(',');
    AppendFloat(out, v[i]);
  }
  out->push_back(']');
}

HttpResponse Json(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump();
  return r;
}

json CollectionJson(const CollectionConfig& c) {
  return {{"name", c.name},
          {"dimension", c.dimension},
          {"distance_metric", DistanceMetricName(c.metric)},
          {"indexing_algorithm", IndexingAlgorithmName(c.indexing_algorithm)},
          {"m", c.index.m},
          {"ef_construction", c.index.ef_construction},
          {"ef_search", c.index.ef_search},
          {"max_wal_age_hours", c.flush.max_wal_age_hours},
          {"max_wal_size_mb", c.flush.max_wal_size_mb},
          {"max_vector_count", c.flush.max_vector_count},
          {"flush_priority", c.flush.flush_priority},
          {"storage_strategy", StorageStrategyName(c.storage_strategy)},
          {"created_at_us", c.created_at_us}};
}

json CollectionJson(const CollectionInfo& info) {
  json out = CollectionJson(info.config);
  out["vector_count"] = info.vector_count;
  return out;
}

json StatsJson(const CollectionStats& s) {
  return {{"vector_count", s.vector_count},
          {"memtable_rows", s.memtable_rows},
          {"unindexed_rows", s.unindexed_rows},
          {"segment_count", s.segment_count},
          {"segment_rows", s.segment_rows},
          {"deleted_rows", s.deleted_rows},
          {"memory_bytes", s.memory_bytes},
          {"disk_bytes", s.disk_bytes},
          {"wal_bytes", s.wal_bytes},
          {"oldest_unflushed_age_seconds", s.oldest_unflushed_age_seconds},
          {"flushes", s.flushes},
          {"compactions", s.compactions},
          {"flush_seconds", s.flush_seconds},
          {"compaction_seconds", s.compaction_seconds},
          {"wal_syncs", s.wal_syncs},
          {"background_error", s.background_error}};
}

}  // namespace

// --- Metrics ----------------------------------------------------------------------------------

struct RestApi::Metrics {
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1,    2.5};
  struct Series {
    uint64_t count = 0;
    double sum = 0;
    std::array<uint64_t, kBuckets.size()> buckets{};
  };
  absl::Mutex mu;
  // (method, route, status) -> series; looked up without copying the strings.
  std::map<std::tuple<std::string, std::string, int>, Series, std::less<>> series
      ABSL_GUARDED_BY(mu);

  void Observe(const std::string& method, const std::string& route, int status, double seconds) {
    const std::tuple<std::string_view, std::string_view, int> key(method, route, status);
    absl::MutexLock l(&mu);
    auto it = series.find(key);
    if (it == series.end()) {
      it = series.emplace(std::make_tuple(method, route, status), Series{}).first;
    }
    Series& s = it->second;
    ++s.count;
    s.sum += seconds;
    for (size_t i = 0; i < kBuckets.size(); ++i) s.buckets[i] += seconds <= kBuckets[i];
  }
};

RestApi::RestApi(Service* service) : service_(service), metrics_(std::make_unique<Metrics>()) {}
RestApi::~RestApi() = default;

HttpResponse RestApi::PayloadTooLarge(size_t limit) const {
  return ErrorResponse(413, "PAYLOAD_TOO_LARGE",
                       Cat("request body exceeds the limit of ", limit, " bytes"),
                       {{"limit_bytes", limit}});
}

HttpResponse RestApi::Overloaded(size_t limit) {
  overloaded_.fetch_add(1, std::memory_order_relaxed);
  HttpResponse r = ErrorResponse(
      429, "RESOURCE_EXHAUSTED",
      Cat("the server is overloaded: ", limit,
          " requests are already waiting to be served ([api] max_pending_requests); retry later"),
      {{"max_pending_requests", limit}});
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

bool RestApi::MayWait(const HttpRequest& request) {
  if (request.method == "GET") return false;
  if (request.method != "POST") return true;
  const std::string_view path = request.path;
  for (std::string_view read : {"/search", "/search/batch", "/count"}) {
    if (path.size() > read.size() && path.substr(path.size() - read.size()) == read) {
      return false;
    }
  }
  return true;
}

HttpResponse RestApi::Handle(const HttpRequest& request) {
  const auto start = std::chrono::steady_clock::now();
  std::string route = "unknown";
  HttpResponse response = Route(request, &route);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics_->Observe(request.method, route, response.status, seconds);
  return response;
}

HttpResponse RestApi::Route(const HttpRequest& req, std::string* route) {
  const std::vector<std::string_view> parts =
      Split(std::string_view(req.path).substr(req.path.empty() ? 0 : 1), '/');
  const std::string& m = req.method;
  auto method_not_allowed = [&] {
    return ErrorResponse(405, "METHOD_NOT_ALLOWED",
                         Cat("method ", m, " is not allowed on ", req.path));
  };
  auto no_route = [&] { return ErrorResponse(404, "NOT_FOUND", Cat("no route for ", req.path)); };
  Service& svc = *service_;

  if (parts.size() == 1 && parts[0] == "health") {
    *route = "/health";
    if (m != "GET") return method_not_allowed();
    return Json(200, {{"status", "ok"}});
  }
  if (parts.size() == 1 && parts[0] == "ready") {
    *route = "/ready";
    if (m != "GET") return method_not_allowed();
    if (!svc.ready()) return ErrorResponse(503, "UNAVAILABLE", "recovery is still running");
    return Json(200, {{"status", "ready"}});
  }
  if (parts.size() == 1 && parts[0] == "metrics") {
    *route = "/metrics";
    if (m != "GET") return method_not_allowed();
    if (!svc.config().metrics_enabled) {
      return ErrorResponse(404, "NOT_FOUND", "metrics are disabled ([monitoring] metrics_enabled)");
    }
    return MetricsText();
  }
  if (parts.size() < 3 || parts[0] != "api" || parts[1] != "v1" || parts[2] != "collections") {
    return no_route();
  }

  // /api/v1/collections
  if (parts.size() == 3) {
    *route = "/api/v1/collections";
    if (m == "GET") {
      auto list = svc.ListCollections();
      if (!list.ok()) return FromStatus(list.status());
      json out = json::array();
      for (const CollectionConfig& c : *list) out.push_back(CollectionJson(c));
      return Json(200, {{"collections", out}});
    }
    if (m != "POST") return method_not_allowed();
    Body b;
    CollectionConfig c = svc.NewCollectionConfig();
    CollectionNames names;
    int64_t priority = c.flush.flush_priority;
    int64_t max_count = static_cast<int64_t>(c.flush.max_vector_count);
    if (!b.Parse(req.body, {"name", "dimension", "distance_metric", "indexing_algorithm", "m",
                            "ef_construction", "ef_search", "max_wal_age_hours",
                            "max_wal_size_mb", "max_vector_count", "flush_priority",
                            "storage_strategy"}) ||
        // Ranges of settings are the engine's to check (the same for gRPC); here only types.
        !b.String("name", &c.name, true) ||
        !b.Integer("dimension", &c.dimension, 0, UINT32_MAX, true) ||
        !b.OptionalString("distance_metric", &names.distance_metric) ||
        !b.OptionalString("indexing_algorithm", &names.indexing_algorithm) ||
        !b.Integer("m", &c.index.m, 0, UINT32_MAX) ||
        !b.Integer("ef_construction", &c.index.ef_construction, 0, UINT32_MAX) ||
        !b.Integer("ef_search", &c.index.ef_search, 0, UINT32_MAX) ||
        !b.Number("max_wal_age_hours", &c.flush.max_wal_age_hours) ||
        !b.Number("max_wal_size_mb", &c.flush.max_wal_size_mb) ||
        !b.Integer("max_vector_count", &max_count, 0, INT64_MAX) ||
        !b.Integer("flush_priority", &priority, INT32_MIN, INT32_MAX) ||
        !b.OptionalString("storage_strategy", &names.storage_strategy)) {
      return BadRequest(b.error);
    }
    c.flush.flush_priority = static_cast<int>(priority);
    c.flush.max_vector_count = static_cast<uint64_t>(max_count);
    if (absl::Status s = ApplyCollectionNames(names, &c); !s.ok()) return FromStatus(s);
    auto created = svc.CreateCollection(c);
    if (!created.ok()) return FromStatus(created.status());
    return Json(201, CollectionJson(*created));
  }

  const std::string name(parts[3]);

  // /api/v1/collections/{name}
  if (parts.size() == 4) {
    *route = "/api/v1/collections/{name}";
    if (m == "GET") {
      auto info = svc.DescribeCollection(name);
      if (!info.ok()) return FromStatus(info.status());
      return Json(200, CollectionJson(*info));
    }
    if (m == "PATCH") {
      Body b;
      CollectionUpdate u;
      uint32_t ef = 0;
      int64_t priority = 0, max_count = 0;
      double age = 0, size = 0;
      if (!b.Parse(req.body, {"ef_search", "max_wal_age_hours", "max_wal_size_mb",
                              "max_vector_count", "flush_priority"}) ||
          !b.Integer("ef_search", &ef, 0, UINT32_MAX) ||
          !b.Number("max_wal_age_hours", &age) || !b.Number("max_wal_size_mb", &size) ||
          !b.Integer("max_vector_count", &max_count, 0, INT64_MAX) ||
          !b.Integer("flush_priority", &priority, INT32_MIN, INT32_MAX)) {
        return BadRequest(b.error);
      }
      if (b.Has("ef_search")) u.ef_search = ef;
      if (b.Has("max_wal_age_hours")) u.max_wal_age_hours = age;
      if (b.Has("max_wal_size_mb")) u.max_wal_size_mb = size;
      if (b.Has("max_vector_count")) u.max_vector_count = static_cast<uint64_t>(max_count);
      if (b.Has("flush_priority")) u.flush_priority = static_cast<int>(priority);
      auto updated = svc.UpdateCollection(name, u);
      if (!updated.ok()) return FromStatus(updated.status());
      return Json(200, CollectionJson(*updated));
    }
    if (m == "DELETE") {
      if (auto s = svc.DropCollection(name); !s.ok()) return FromStatus(s);
      return Json(200, {{"name", name}, {"dropped", true}});
    }
    return method_not_allowed();
  }

  const std::string_view what = parts[4];
  auto stats_response = [&](const absl::StatusOr<CollectionStats>& st) {
    if (!st.ok()) return FromStatus(st.status());
    json out = StatsJson(*st);
    out["name"] = name;
    return Json(200, out);
  };
  if (parts.size() == 5 && what == "stats") {
    *route = "/api/v1/collections/{name}/stats";
    if (m != "GET") return method_not_allowed();
    return stats_response(svc.Stats(name));
  }
  if (parts.size() == 5 && (what == "flush" || what == "compact")) {
    *route = Cat("/api/v1/collections/{name}/", what);
    if (m != "POST") return method_not_allowed();
    return stats_response(what == "flush" ? svc.Flush(name) : svc.Compact(name));
  }
  if (parts.size() == 5 && what == "count") {
    *route = "/api/v1/collections/{name}/count";
    if (m != "POST") return method_not_allowed();
    Body b;
    std::string filter;
    if (!req.body.empty()) {
      if (!b.Parse(req.body, {"filter"})) return BadRequest(b.error);
      if (b.Has("filter") && !b.Object("filter", &filter)) return BadRequest(b.error);
    }
    auto n = svc.Count(name, filter);
    if (!n.ok()) return FromStatus(n.status());
    return Json(200, {{"count", *n}});
  }

  // Search: one query or a batch.
  auto parse_query = [&](Body& b, SearchRequest* q, std::vector<float>* vec) {
    int64_t k = 10, ef = 0;
    if (!b.Vector("vector", vec) || !b.Integer("k", &k, 1, INT32_MAX) ||
        !b.Integer("ef", &ef, 1, 100000) || !b.Bool("include_vectors", &q->include_vectors) ||
        !b.Bool("include_metadata", &q->include_metadata) || !b.Bool("exact", &q->exact)) {
      return false;
    }
    if (b.Has("filter") && !b.Object("filter", &q->filter)) return false;
    q->k = static_cast<uint32_t>(k);
    q->ef = static_cast<uint32_t>(ef);
    q->vector = *vec;
    return true;
  };
  auto append_results = [&](std::string* out, const SearchResponse& r, const SearchRequest& q) {
    out->reserve(out->size() + 32 + 48 * r.hits.size());
    *out += "{\"results\":[";
    for (size_t i = 0; i < r.hits.size(); ++i) {
      const SearchHit& h = r.hits[i];
      if (i) out->push_back(',');
      *out += "{\"id\":";
      AppendString(out, h.id);
      *out += ",\"score\":";
      AppendFloat(out, h.score);
      if (q.include_metadata) {
        *out += ",\"metadata\":";
        *out += h.metadata;
      }
      if (q.include_vectors) {
        *out += ",\"vector\":";
        AppendVector(out, h.vector);
      }
      out->push_back('}');
    }
    *out += "],\"plan\":";
    AppendString(out, r.plan);
    out->push_back('}');
  };
  static const std::vector<std::string_view> kQueryFields = {
      "vector", "k", "filter", "include_vectors", "include_metadata", "ef", "exact"};
  if (parts.size() == 5 && what == "search") {
    *route = "/api/v1/collections/{name}/search";
    if (m != "POST") return method_not_allowed();
    Body b;
    SearchRequest q;
    std::vector<float> vec;
    if (!b.Parse(req.body, kQueryFields) || !parse_query(b, &q, &vec)) return BadRequest(b.error);
    auto r = svc.Search(name, q);
    if (!r.ok()) return FromStatus(r.status());
    HttpResponse out;
    append_results(&out.body, *r, q);
    return out;
  }
  if (parts.size() == 6 && what == "search" && parts[5] == "batch") {
    *route = "/api/v1/collections/{name}/search/batch";
    if (m != "POST") return method_not_allowed();
    Body b;
    dom::array queries;
    if (!b.Parse(req.body, {"queries"}) || !b.Array("queries", "query objects", &queries)) {
      return BadRequest(b.error);
    }
    if (auto s = svc.CheckBatchSize(queries.size(), "queries"); !s.ok()) return FromStatus(s);
    HttpResponse out;
    out.body = "{\"results\":[";
    size_t i = 0;
    for (dom::element e : queries) {
      Body qb;
      SearchRequest q;
      std::vector<float> vec;
      if (!qb.FromElement(e, Cat("queries[", i, "]"), kQueryFields) ||
          !parse_query(qb, &q, &vec)) {
        return BadRequest(Cat("queries[", i, "]: ", qb.error));
      }
      auto r = svc.Search(name, q);
      if (!r.ok()) return FromStatus(r.status());
      if (i++) out.body.push_back(',');
      append_results(&out.body, *r, q);
    }
    out.body += "]}";
    return out;
  }

  if (what != "vectors") return no_route();

  // A record from a body object; a UUID when the id is absent.
  auto parse_record = [&](Body& b, Record* r) {
    if (!b.String("id", &r->id) || !b.Vector("vector", &r->vector) ||
        !b.Object("metadata", &r->metadata)) {
      return false;
    }
    if (!b.Has("id")) r->id = Service::NewId();
    return true;
  };

  if (parts.size() == 5 && m == "GET") {  // scroll
    *route = "/api/v1/collections/{name}/vectors";
    for (const auto& [key, value] : req.query) {
      if (key != "limit" && key != "cursor" && key != "filter" && key != "include_vectors") {
        return BadRequest(Cat("unknown query parameter '", key, "'"));
      }
    }
    auto param = [&](const char* key) {
      auto it = req.query.find(key);
      return it == req.query.end() ? std::string() : it->second;
    };
    uint32_t limit = 100;
    if (!param("limit").empty() && !absl::SimpleAtoi(param("limit"), &limit)) {
      return BadRequest("query parameter 'limit' must be an integer");
    }
    bool include_vectors = false;
    if (!param("include_vectors").empty() &&
        !absl::SimpleAtob(param("include_vectors"), &include_vectors)) {
      return BadRequest("query parameter 'include_vectors' must be true or false");
    }
    auto page = svc.Scroll(name, param("cursor"), limit, param("filter"), include_vectors);
    if (!page.ok()) return FromStatus(page.status());
    HttpResponse out;
    out.body = "{\"vectors\":[";
    for (size_t i = 0; i < page->records.size(); ++i) {
      const Record& r = page->records[i];
      if (i) out.body.push_back(',');
      out.body += "{\"id\":";
      AppendString(&out.body, r.id);
      out.body += ",\"metadata\":" + r.metadata;
      if (include_vectors) {
        out.body += ",\"vector\":";
        AppendVector(&out.body, r.vector);
      }
      out.body.push_back('}');
    }
    out.body += "],\"next_cursor\":";
    if (page->next_cursor.empty()) {
      out.body += "null";
    } else {
      AppendString(&out.body, page->next_cursor);
    }
    out.body.push_back('}');
    return out;
  }
  if (parts.size() == 5) {  // /vectors
    *route = "/api/v1/collections/{name}/vectors";
    if (m != "POST") return method_not_allowed();
    Body b;
    Record r;
    if (!b.Parse(req.body, {"id", "vector", "metadata"}) || !parse_record(b, &r)) {
      return BadRequest(b.error);
    }
    const std::string id = r.id;
    if (auto s = svc.Write(name, {std::move(r)}, WriteMode::kInsert); !s.ok()) return FromStatus(s);
    return Json(201, {{"id", id}});
  }
  if (parts.size() == 6 && parts[5] == "batch") {
    *route = "/api/v1/collections/{name}/vectors/batch";
    if (m != "POST") return method_not_allowed();
    Body b;
    bool upsert = false;
    dom::array items;
    if (!b.Parse(req.body, {"vectors", "vectors_f32", "upsert", "ids", "metadata"}) ||
        !b.Bool("upsert", &upsert)) {
      return BadRequest(b.error);
    }
    // Columns: {"ids": [...], "vectors": [[...]] or "vectors_f32": "base64", "metadata": [...]}
    const bool columns = b.Has("ids");
    if (columns && b.Has("vectors") == b.Has("vectors_f32")) {
      return BadRequest("give either 'vectors' or 'vectors_f32' with 'ids'");
    }
    const bool f32 = columns && b.Has("vectors_f32");
    std::string packed;  // the decoded vectors_f32
    size_t n = 0;
    if (f32) {
      std::string text;
      if (!b.String("vectors_f32", &text)) return BadRequest(b.error);
      if (!absl::Base64Unescape(text, &packed)) {
        return BadRequest("field 'vectors_f32' must be base64 (of little-endian float32 values)");
      }
    } else if (!b.Array("vectors",
                        columns ? "arrays of numbers" : "{id, vector, metadata} objects",
                        &items)) {
      return BadRequest(b.error);
    } else {
      n = items.size();
    }
    std::vector<Record> records;
    if (columns) {
      dom::array ids, metadata;
      if (!b.Array("ids", "strings", &ids)) return BadRequest(b.error);
      if (f32) n = ids.size();
      if (auto s = svc.CheckBatchSize(n, "vectors"); !s.ok()) return FromStatus(s);
      const bool has_metadata = b.Has("metadata");
      if (has_metadata && !b.Array("metadata", "objects", &metadata)) return BadRequest(b.error);
      if (ids.size() != n || (has_metadata && metadata.size() != n)) {
        return BadRequest(Cat(ids.size(), " ids, ", n, " vectors and ",
                              has_metadata ? metadata.size() : n,
                              " metadata objects: give one of each per record"));
      }
      // vectors_f32 holds n runs of equal length; the dimension is checked by the write.
      const size_t floats = packed.size() / sizeof(float);
      if (f32 && (n == 0 || packed.size() % sizeof(float) != 0 || floats % n != 0)) {
        return BadRequest(Cat("field 'vectors_f32' has ", packed.size(), " bytes, not ", n,
                              " vectors of float32 values"));
      }
      std::vector<dom::element> vector_elements;
      if (!f32) vector_elements.assign(items.begin(), items.end());
      std::vector<dom::element> id_elements(ids.begin(), ids.end());
      std::vector<dom::element> meta_elements;
      if (has_metadata) meta_elements.assign(metadata.begin(), metadata.end());
      records.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        Record& r = records.emplace_back();
        std::string_view id_text;
        if (id_elements[i].get_string().get(id_text) != simdjson::SUCCESS) {
          return BadRequest(Cat("ids[", i, "] must be a string"));
        }
        r.id = std::string(id_text);
        if (f32) {
          const size_t dim = floats / n;
          r.vector.resize(dim);
          std::memcpy(r.vector.data(), packed.data() + i * dim * sizeof(float),
                      dim * sizeof(float));
        } else if (!b.VectorFrom(vector_elements[i], Cat("vectors[", i, "]"), &r.vector)) {
          return BadRequest(b.error);
        }
        if (has_metadata) {
          if (!meta_elements[i].is_object()) {
            return BadRequest(Cat("metadata[", i, "] must be an object"));
          }
          r.metadata = simdjson::minify(meta_elements[i]);
        }
      }
    } else {
      if (auto s = svc.CheckBatchSize(n, "vectors"); !s.ok()) return FromStatus(s);
      records.reserve(n);
      if (b.Has("metadata") || b.Has("vectors_f32")) {
        return BadRequest(Cat("field '", b.Has("metadata") ? "metadata" : "vectors_f32",
                              "' belongs to the columnar form, with 'ids'"));
      }
      size_t i = 0;
      for (dom::element e : items) {
        Body rb;
        const std::string where = Cat("vectors[", i++, "]");
        if (!rb.FromElement(e, where, {"id", "vector", "metadata"}) ||
            !parse_record(rb, &records.emplace_back())) {
          return BadRequest(rb.error.rfind(where, 0) == 0 ? rb.error
                                                          : Cat(where, ": ", rb.error));
        }
      }
    }
    json ids = json::array();
    for (const Record& r : records) ids.push_back(r.id);
    if (auto s = svc.Write(name, std::move(records),
                           upsert ? WriteMode::kUpsert : WriteMode::kInsert);
        !s.ok()) {
      return FromStatus(s);
    }
    return Json(200, {{"ids", ids}, {"count", ids.size()}});
  }
  if (parts.size() == 6 && parts[5] == "delete") {
    *route = "/api/v1/collections/{name}/vectors/delete";
    if (m != "POST") return method_not_allowed();
    Body b;
    if (!b.Parse(req.body, {"ids", "filter"})) return BadRequest(b.error);
    if (b.Has("filter") == b.Has("ids")) {
      return BadRequest("give exactly one of 'ids' and 'filter'");
    }
    absl::StatusOr<uint64_t> n;
    if (b.Has("filter")) {
      std::string filter;
      if (!b.Object("filter", &filter)) return BadRequest(b.error);
      n = svc.DeleteWhere(name, filter);
    } else {
      dom::array arr;
      if (!b.Array("ids", "strings", &arr)) return BadRequest(b.error);
      std::vector<std::string> ids;
      for (dom::element e : arr) {
        std::string_view id;
        if (e.get_string().get(id) != simdjson::SUCCESS) {
          return BadRequest("field 'ids' must be an array of strings");
        }
        ids.emplace_back(id);
      }
      n = svc.DeleteIds(name, ids);
    }
    if (!n.ok()) return FromStatus(n.status());
    return Json(200, {{"deleted", *n}});
  }
  if (parts.size() == 6) {  // /vectors/{id}
    *route = "/api/v1/collections/{name}/vectors/{id}";
    const std::string id(parts[5]);
    if (m == "GET") {
      auto r = svc.Get(name, id);
      if (!r.ok()) return FromStatus(r.status());
      HttpResponse out;
      out.body = "{\"id\":";
      AppendString(&out.body, r->id);
      out.body += ",\"vector\":";
      AppendVector(&out.body, r->vector);
      out.body += ",\"metadata\":" + r->metadata + "}";
      return out;
    }
    if (m == "PUT") {
      Body b;
      Record r;
      if (!b.Parse(req.body, {"id", "vector", "metadata"}) || !parse_record(b, &r)) {
        return BadRequest(b.error);
      }
      if (b.Has("id") && r.id != id) {
        return BadRequest(Cat("field 'id' ('", r.id, "') differs from the path ('", id, "')"));
      }
      r.id = id;
      if (auto s = svc.Write(name, {std::move(r)}, WriteMode::kUpsert); !s.ok()) {
        return FromStatus(s);
      }
      return Json(200, {{"id", id}});
    }
    if (m == "PATCH") {
      Body b;
      std::string metadata;
      if (!b.Parse(req.body, {"metadata"})) return BadRequest(b.error);
      if (!b.Has("metadata")) return BadRequest("field 'metadata' is required");
      if (!b.Object("metadata", &metadata)) return BadRequest(b.error);
      if (auto s = svc.PatchMetadata(name, id, metadata); !s.ok()) return FromStatus(s);
      return Json(200, {{"id", id}});
    }
    if (m == "DELETE") {
      if (auto s = svc.DeleteOne(name, id); !s.ok()) return FromStatus(s);
      return Json(200, {{"id", id}, {"deleted", true}});
    }
    return method_not_allowed();
  }
  return no_route();
}

HttpResponse RestApi::MetricsText() {
  std::string out;
  out += "# HELP proximadb_http_requests_total HTTP requests by method, route and status.\n";
  out += "# TYPE proximadb_http_requests_total counter\n";
  std::string hist =
      "# HELP proximadb_http_request_duration_seconds HTTP request latency.\n"
      "# TYPE proximadb_http_request_duration_seconds histogram\n";
  {
    absl::MutexLock l(&metrics_->mu);
    for (const auto& [key, s] : metrics_->series) {
      const auto& [method, route, status] = key;
      const std::string labels =
          Cat("method=\"", method, "\",route=\"", route, "\",status=\"", status, "\"");
      out += Cat("proximadb_http_requests_total{", labels, "} ", s.count, "\n");
      for (size_t i = 0; i < Metrics::kBuckets.size(); ++i) {
        hist += Cat("proximadb_http_request_duration_seconds_bucket{", labels,
                        ",le=\"", Metrics::kBuckets[i], "\"} ", s.buckets[i], "\n");
      }
      hist += Cat("proximadb_http_request_duration_seconds_bucket{", labels,
                      ",le=\"+Inf\"} ", s.count, "\n");
      hist += Cat("proximadb_http_request_duration_seconds_sum{", labels, "} ", s.sum,
                      "\n");
      hist += Cat("proximadb_http_request_duration_seconds_count{", labels, "} ",
                      s.count, "\n");
    }
  }
  out += hist;
  out += Cat(
      "# HELP proximadb_http_rejected_total HTTP requests refused with 429 because too many "
      "were waiting.\n# TYPE proximadb_http_rejected_total counter\nproximadb_http_rejected_total ",
      overloaded_.load(std::memory_order_relaxed), "\n");
  if (Database* db = service_->database()) {
    struct Gauge {
      const char* name;
      const char* help;
      uint64_t CollectionStats::*field;
      const char* type = "gauge";
    };
    static const Gauge kGauges[] = {
        {"proximadb_collection_vectors", "Live vectors.", &CollectionStats::vector_count},
        {"proximadb_collection_segments", "Segments.", &CollectionStats::segment_count},
        {"proximadb_collection_memtable_rows", "Rows not yet flushed.",
         &CollectionStats::memtable_rows},
        {"proximadb_collection_unindexed_rows", "Memtable rows not yet in its graphs.",
         &CollectionStats::unindexed_rows},
        {"proximadb_collection_wal_bytes", "WAL bytes not covered by segments.",
         &CollectionStats::wal_bytes},
        {"proximadb_collection_memory_bytes", "Memory held by the collection.",
         &CollectionStats::memory_bytes},
        {"proximadb_collection_disk_bytes", "Bytes on disk.", &CollectionStats::disk_bytes},
        {"proximadb_collection_flushes_total", "Flushes since the server started.",
         &CollectionStats::flushes, "counter"},
        {"proximadb_collection_compactions_total", "Compactions since the server started.",
         &CollectionStats::compactions, "counter"},
        {"proximadb_collection_wal_syncs_total", "WAL fsyncs since the server started.",
         &CollectionStats::wal_syncs, "counter"},
    };
    std::vector<std::pair<std::string, CollectionStats>> stats;
    for (const CollectionConfig& cfg : db->ListCollections()) {
      if (auto c = db->GetCollection(cfg.name); c.ok()) stats.emplace_back(cfg.name, (*c)->Stats());
    }
    for (const Gauge& g : kGauges) {
      out += Cat("# HELP ", g.name, " ", g.help, "\n# TYPE ", g.name, " ", g.type, "\n");
      for (const auto& [name, st] : stats) {
        out += Cat(g.name, "{collection=\"", name, "\"} ", st.*(g.field), "\n");
      }
    }
    struct Seconds {
      const char* name;
      const char* help;
      double CollectionStats::*field;
      const char* type;
    };
    static const Seconds kSeconds[] = {
        {"proximadb_collection_flush_seconds_total", "Time spent flushing.",
         &CollectionStats::flush_seconds, "counter"},
        {"proximadb_collection_compaction_seconds_total", "Time spent compacting.",
         &CollectionStats::compaction_seconds, "counter"},
    };
    for (const Seconds& g : kSeconds) {
      out += Cat("# HELP ", g.name, " ", g.help, "\n# TYPE ", g.name, " ", g.type, "\n");
      for (const auto& [name, st] : stats) {
        out += Cat(g.name, "{collection=\"", name, "\"} ", st.*(g.field), "\n");
      }
    }
    out += "# HELP proximadb_collection_oldest_unflushed_age_seconds Age of the oldest unflushed write.\n"
           "# TYPE proximadb_collection_oldest_unflushed_age_seconds gauge\n";
    for (const auto& [name, st] : stats) {
      out += Cat("proximadb_collection_oldest_unflushed_age_seconds{collection=\"",
                      name, "\"} ", st.oldest_unflushed_age_seconds, "\n");
    }
  }
  long pages = 0, resident = 0;
  if (std::ifstream statm("/proc/self/statm"); statm >> pages >> resident) {
    absl::StrAppend(&out,
                    "# HELP proximadb_process_resident_memory_bytes Resident memory.\n"
                    "# TYPE proximadb_process_resident_memory_bytes gauge\n"
                    "proximadb_process_resident_memory_bytes ",
                    resident * sysconf(_SC_PAGESIZE), "\n");
  }
  HttpResponse r;
  r.body = std::move(out);
  r.content_type = "text/plain; version=0.0.4";
  return r;
}

}  // namespace proximadb::server
