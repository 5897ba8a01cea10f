// REST handlers of records: insert, batch write (rows or columns), get, put, patch, delete
// (one, by ids or by filter) and scroll.
#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <optional>

#include "absl/strings/numbers.h"
#include "common/strings.h"
#include "server/rest_body.h"
#include "server/rest_handlers.h"

namespace proximadb::server {
namespace {

// A 400 naming the first query parameter of `request` that is not one of `known`; nullopt if
// there is none. `consistency` on a write says that it applies to reads.
std::optional<HttpResponse> UnknownParam(const HttpRequest& request,
                                         std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : request.query) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    if (key == "consistency") {
      return BadRequest("query parameter 'consistency' applies to reads, not to writes");
    }
    return BadRequest(Cat("unknown query parameter '", key, "'"));
  }
  return std::nullopt;
}

// The query parameter `consistency` of a GET (strong when absent).
absl::StatusOr<ReadConsistency> ConsistencyParam(const HttpRequest& request) {
  auto it = request.query.find("consistency");
  if (it == request.query.end()) return ReadConsistency::kStrong;
  return ParseConsistency(it->second, /*empty_is_default=*/false);
}

// A record from a body object; a UUID when the id is absent.
bool ParseRecord(Body& b, Record* r) {
  if (!b.String("id", &r->id) || !b.Vector("vector", &r->vector) ||
      !b.Object("metadata", &r->metadata)) {
    return false;
  }
  if (!b.Has("id")) r->id = Service::NewId();
  return true;
}

// The columnar form of a batch: {"ids": [...], "vectors": [[...]] or "vectors_f32": "base64",
// "metadata": [...]}. Reads the records into `records`, or returns the error response.
std::optional<HttpResponse> ParseColumns(const RestCall& call, Body& b,
                                         std::vector<Record>* records) {
  if (b.Has("vectors") == b.Has("vectors_f32")) {
    return BadRequest("give either 'vectors' or 'vectors_f32' with 'ids'");
  }
  const bool f32 = b.Has("vectors_f32");
  std::string packed;  // the decoded vectors_f32
  dom::array items, ids, metadata;
  if (f32) {
    if (!b.Base64("vectors_f32", &packed)) return BadRequest(b.error);
  } else if (!b.Array("vectors", "arrays of numbers", &items)) {
    return BadRequest(b.error);
  }
  if (!b.Array("ids", "strings", &ids)) return BadRequest(b.error);
  const size_t n = f32 ? ids.size() : items.size();
  if (auto s = call.service.CheckBatchSize(n, "vectors"); !s.ok()) return FromStatus(s);
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
  const std::vector<dom::element> id_elements(ids.begin(), ids.end());
  std::vector<dom::element> meta_elements;
  if (has_metadata) meta_elements.assign(metadata.begin(), metadata.end());
  records->reserve(n);
  for (size_t i = 0; i < n; ++i) {
    Record& r = records->emplace_back();
    std::string_view id_text;
    if (id_elements[i].get_string().get(id_text) != simdjson::SUCCESS) {
      return BadRequest(Cat("ids[", i, "] must be a string"));
    }
    r.id = std::string(id_text);
    if (f32) {
      const size_t dim = floats / n;
      r.vector.resize(dim);
      std::memcpy(r.vector.data(), packed.data() + i * dim * sizeof(float), dim * sizeof(float));
    } else if (!b.VectorFrom(vector_elements[i], Cat("vectors[", i, "]"), &r.vector)) {
      return BadRequest(b.error);
    }
    if (has_metadata) {
      if (!meta_elements[i].is_object()) return BadRequest(Cat("metadata[", i, "] must be an object"));
      r.metadata = simdjson::minify(meta_elements[i]);
    }
  }
  return std::nullopt;
}

// The row form of a batch: {"vectors": [{id, vector, metadata}, ...]}.
std::optional<HttpResponse> ParseRows(const RestCall& call, Body& b,
                                      std::vector<Record>* records) {
  dom::array items;
  if (!b.Array("vectors", "{id, vector, metadata} objects", &items)) return BadRequest(b.error);
  if (auto s = call.service.CheckBatchSize(items.size(), "vectors"); !s.ok()) return FromStatus(s);
  if (b.Has("metadata") || b.Has("vectors_f32")) {
    return BadRequest(Cat("field '", b.Has("metadata") ? "metadata" : "vectors_f32",
                          "' belongs to the columnar form, with 'ids'"));
  }
  records->reserve(items.size());
  size_t i = 0;
  for (dom::element e : items) {
    Body rb;
    const std::string where = Cat("vectors[", i++, "]");
    if (!rb.FromElement(e, where, {"id", "vector", "metadata"}) ||
        !ParseRecord(rb, &records->emplace_back())) {
      return BadRequest(rb.error.rfind(where, 0) == 0 ? rb.error : Cat(where, ": ", rb.error));
    }
  }
  return std::nullopt;
}

}  // namespace

HttpResponse InsertRecord(const RestCall& call) {
  Body b;
  Record r;
  if (!b.Parse(call.request.body, {"id", "vector", "metadata"}) || !ParseRecord(b, &r)) {
    return BadRequest(b.error);
  }
  const std::string id = r.id;
  if (auto s = call.service.Write(call.name, {std::move(r)}, WriteMode::kInsert); !s.ok()) {
    return FromStatus(s);
  }
  return Json(201, {{"id", id}});
}

HttpResponse WriteBatch(const RestCall& call) {
  Body b;
  bool upsert = false;
  if (!b.Parse(call.request.body, {"vectors", "vectors_f32", "upsert", "ids", "metadata"}) ||
      !b.Bool("upsert", &upsert)) {
    return BadRequest(b.error);
  }
  std::vector<Record> records;
  const std::optional<HttpResponse> bad =
      b.Has("ids") ? ParseColumns(call, b, &records) : ParseRows(call, b, &records);
  if (bad) return *bad;
  json ids = json::array();
  for (const Record& r : records) ids.push_back(r.id);
  if (auto s = call.service.Write(call.name, std::move(records),
                                  upsert ? WriteMode::kUpsert : WriteMode::kInsert);
      !s.ok()) {
    return FromStatus(s);
  }
  return Json(200, {{"ids", ids}, {"count", ids.size()}});
}

HttpResponse DeleteRecords(const RestCall& call) {
  Body b;
  if (!b.Parse(call.request.body, {"ids", "filter"})) return BadRequest(b.error);
  if (b.Has("filter") == b.Has("ids")) return BadRequest("give exactly one of 'ids' and 'filter'");
  absl::StatusOr<uint64_t> n;
  if (b.Has("filter")) {
    std::string filter;
    if (!b.Object("filter", &filter)) return BadRequest(b.error);
    n = call.service.DeleteWhere(call.name, filter);
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
    n = call.service.DeleteIds(call.name, ids);
  }
  if (!n.ok()) return FromStatus(n.status());
  return Json(200, {{"deleted", *n}});
}

HttpResponse GetRecord(const RestCall& call) {
  if (auto bad = UnknownParam(call.request, {"consistency"})) return *bad;
  absl::StatusOr<ReadConsistency> consistency = ConsistencyParam(call.request);
  if (!consistency.ok()) return FromStatus(consistency.status());
  auto r = call.service.Get(call.name, call.id, *consistency);
  if (!r.ok()) return FromStatus(r.status());
  HttpResponse out;
  out.body = "{\"id\":";
  AppendString(&out.body, r->id);
  out.body += ",\"vector\":";
  AppendVector(&out.body, r->vector);
  out.body += ",\"metadata\":" + r->metadata + "}";
  return out;
}

HttpResponse PutRecord(const RestCall& call) {
  Body b;
  Record r;
  if (!b.Parse(call.request.body, {"id", "vector", "metadata"}) || !ParseRecord(b, &r)) {
    return BadRequest(b.error);
  }
  if (b.Has("id") && r.id != call.id) {
    return BadRequest(Cat("field 'id' ('", r.id, "') differs from the path ('", call.id, "')"));
  }
  // Ids in bodies are JSON strings, so UTF-8; one percent-decoded from the path may not be.
  if (!simdjson::validate_utf8(call.id.data(), call.id.size())) {
    return BadRequest("the id in the path is not valid UTF-8");
  }
  r.id = call.id;
  if (auto s = call.service.Write(call.name, {std::move(r)}, WriteMode::kUpsert); !s.ok()) {
    return FromStatus(s);
  }
  return Json(200, {{"id", call.id}});
}

HttpResponse PatchRecord(const RestCall& call) {
  Body b;
  std::string metadata;
  if (!b.Parse(call.request.body, {"metadata"})) return BadRequest(b.error);
  if (!b.Has("metadata")) return BadRequest("field 'metadata' is required");
  if (!b.Object("metadata", &metadata)) return BadRequest(b.error);
  if (auto s = call.service.PatchMetadata(call.name, call.id, metadata); !s.ok()) {
    return FromStatus(s);
  }
  return Json(200, {{"id", call.id}});
}

HttpResponse DeleteRecord(const RestCall& call) {
  if (auto bad = UnknownParam(call.request, {})) return *bad;
  if (auto s = call.service.DeleteOne(call.name, call.id); !s.ok()) return FromStatus(s);
  return Json(200, {{"id", call.id}, {"deleted", true}});
}

HttpResponse ScrollRecords(const RestCall& call) {
  const auto& query = call.request.query;
  if (auto bad = UnknownParam(call.request, {"limit", "cursor", "filter", "include_vectors",
                                             "consistency"})) {
    return *bad;
  }
  auto param = [&](const char* key) {
    auto it = query.find(key);
    return it == query.end() ? std::string() : it->second;
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
  absl::StatusOr<ReadConsistency> consistency = ConsistencyParam(call.request);
  if (!consistency.ok()) return FromStatus(consistency.status());
  auto page = call.service.Scroll(call.name, param("cursor"), limit, param("filter"),
                                  include_vectors, *consistency);
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

}  // namespace proximadb::server
