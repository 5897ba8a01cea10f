// REST handlers of search, batch search and count.
#include "common/strings.h"
#include "server/rest_body.h"
#include "server/rest_handlers.h"

namespace proximadb::server {
namespace {

const std::vector<std::string_view> kQueryFields = {
    "vector", "vector_f32", "k", "filter", "include_vectors", "include_metadata", "ef", "exact",
    "rerank", "nprobe", "consistency"};

// A query object; `vec` holds the vector the request points at: `vector` (JSON numbers) or
// `vector_f32` (base64 of its float32 bytes, which clients holding arrays send without
// formatting numbers, and the server reads without parsing them). Also its consistency.
bool ParseQuery(Body& b, SearchRequest* q, std::vector<float>* vec,
                ReadConsistency* consistency) {
  // Exactly one of them, null or not: {"vector": [...], "vector_f32": null} names both.
  if (b.Present("vector") == b.Present("vector_f32")) {
    return b.Fail("give either 'vector' (an array of numbers) or 'vector_f32' (base64 of "
                  "little-endian float32 values)");
  }
  const bool f32 = b.Has("vector_f32");
  int64_t k = 10, ef = 0, rerank = 0, nprobe = 0;
  if (!(f32 ? b.Float32Base64("vector_f32", vec) : b.Vector("vector", vec)) ||
      !b.Integer("k", &k, 1, INT32_MAX) ||
      !b.Integer("ef", &ef, 1, 100000) || !b.Integer("rerank", &rerank, 1, 10000) ||
      !b.Integer("nprobe", &nprobe, 1, 65536) || !b.Bool("include_vectors", &q->include_vectors) ||
      !b.Bool("include_metadata", &q->include_metadata) || !b.Bool("exact", &q->exact) ||
      !b.Consistency(consistency)) {
    return false;
  }
  if (b.Has("filter") && !b.Object("filter", &q->filter)) return false;
  q->k = static_cast<uint32_t>(k);
  q->ef = static_cast<uint32_t>(ef);
  q->rerank = static_cast<uint32_t>(rerank);
  q->nprobe = static_cast<uint32_t>(nprobe);
  q->vector = *vec;
  return true;
}

void AppendResults(std::string* out, const SearchResponse& r, const SearchRequest& q) {
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
}

}  // namespace

HttpResponse Search(const RestCall& call) {
  Body b;
  SearchRequest q;
  std::vector<float> vec;
  ReadConsistency consistency = ReadConsistency::kStrong;
  if (!b.Parse(call.request.body, kQueryFields) || !ParseQuery(b, &q, &vec, &consistency)) {
    return BadRequest(b.error);
  }
  auto r = call.service.Search(call.name, q, consistency);
  if (!r.ok()) return FromStatus(r.status());
  HttpResponse out;
  AppendResults(&out.body, *r, q);
  return out;
}

HttpResponse SearchBatch(const RestCall& call) {
  Body b;
  dom::array queries;
  if (!b.Parse(call.request.body, {"queries"}) || !b.Array("queries", "query objects", &queries)) {
    return BadRequest(b.error);
  }
  if (auto s = call.service.CheckBatchSize(queries.size(), "queries"); !s.ok()) {
    return FromStatus(s);
  }
  if (queries.size() == 0) {  // no search to find the collection missing
    if (auto c = call.service.DescribeCollection(call.name); !c.ok()) return FromStatus(c.status());
  }
  HttpResponse out;
  out.body = "{\"results\":[";
  size_t i = 0;
  for (dom::element e : queries) {
    Body qb;
    SearchRequest q;
    std::vector<float> vec;
    ReadConsistency consistency = ReadConsistency::kStrong;
    if (!qb.FromElement(e, Cat("queries[", i, "]"), kQueryFields) ||
        !ParseQuery(qb, &q, &vec, &consistency)) {
      return BadRequest(Cat("queries[", i, "]: ", qb.error));
    }
    auto r = call.service.Search(call.name, q, consistency);
    if (!r.ok()) return FromStatus(r.status());
    if (i++) out.body.push_back(',');
    AppendResults(&out.body, *r, q);
  }
  out.body += "]}";
  return out;
}

HttpResponse Count(const RestCall& call) {
  Body b;
  std::string filter;
  ReadConsistency consistency = ReadConsistency::kStrong;
  if (!call.request.body.empty()) {
    if (!b.Parse(call.request.body, {"filter", "consistency"}) || !b.Consistency(&consistency)) {
      return BadRequest(b.error);
    }
    if (b.Has("filter") && !b.Object("filter", &filter)) return BadRequest(b.error);
  }
  auto n = call.service.Count(call.name, filter, consistency);
  if (!n.ok()) return FromStatus(n.status());
  return Json(200, {{"count", *n}});
}

}  // namespace proximadb::server
