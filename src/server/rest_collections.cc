// REST handlers of collections: list, create, describe, change, drop, stats, history, flush,
// compact.
#include "common/strings.h"
#include "server/fields.h"
#include "server/rest_body.h"
#include "server/rest_handlers.h"

namespace proximadb::server {
namespace {

HttpResponse StatsResponse(const std::string& name, const absl::StatusOr<CollectionStats>& st) {
  if (!st.ok()) return FromStatus(st.status());
  json out = json::object();
  json tiers = json::object();
  constexpr std::string_view kTier = "tier_";
  for (const StatsField& f : kStatsFields) {
    std::visit(
        [&](const auto& v) {
          // tier_<tier>_segments and tier_<tier>_bytes go to tiers.<tier>.{segments,bytes}.
          const std::string_view n = f.name;
          if (n.substr(0, kTier.size()) != kTier) {
            out[f.name] = v;
            return;
          }
          const size_t last = n.rfind('_');
          tiers[std::string(n.substr(kTier.size(), last - kTier.size()))]
               [std::string(n.substr(last + 1))] = v;
        },
        ValueOf(f, *st));
  }
  out["tiers"] = tiers;
  out["name"] = name;
  return Json(200, out);
}

}  // namespace

HttpResponse ListCollections(const RestCall& call) {
  auto list = call.service.ListCollections(call.caller);
  if (!list.ok()) return FromStatus(list.status());
  json out = json::array();
  for (const CollectionInfo& c : *list) out.push_back(CollectionJson(c));
  return Json(200, {{"collections", out}});
}

HttpResponse CreateCollection(const RestCall& call) {
  Body b;
  CollectionConfig c = call.service.NewCollectionConfig();
  CollectionNames names;
  // Ranges of settings are the engine's to check (the same for gRPC); here only types.
  if (!b.Parse(call.request.body,
               {"name", "dimension", "distance_metric", "indexing_algorithm", "m",
                "ef_construction", "ef_search", "max_wal_age_hours", "max_wal_size_mb",
                "max_vector_count", "flush_priority", "storage_strategy", "quantization", "pq_m",
                "rerank", "nprobe", "metadata_compression", "id_index", "tiering", "shards",
                "replication_factor"}) ||
      !ParseTiering(b, &c.tiering) ||
      !b.OptionalString("metadata_compression", &names.metadata_compression) ||
      !b.OptionalString("id_index", &names.id_index) ||
      !b.String("name", &c.name, true) ||
      !b.Integer("dimension", &c.dimension, 0, UINT32_MAX, true) ||
      !b.OptionalString("distance_metric", &names.distance_metric) ||
      !b.OptionalString("indexing_algorithm", &names.indexing_algorithm) ||
      !b.Integer("m", &c.index.m, 0, UINT32_MAX) ||
      !b.Integer("ef_construction", &c.index.ef_construction, 0, UINT32_MAX) ||
      !b.Integer("ef_search", &c.index.ef_search, 0, UINT32_MAX) ||
      !b.Integer("nprobe", &c.index.nprobe, 0, UINT32_MAX) ||
      !b.Number("max_wal_age_hours", &c.flush.max_wal_age_hours) ||
      !b.Number("max_wal_size_mb", &c.flush.max_wal_size_mb) ||
      !b.Integer("max_vector_count", &c.flush.max_vector_count, 0, INT64_MAX) ||
      !b.Integer("flush_priority", &c.flush.flush_priority, INT32_MIN, INT32_MAX) ||
      !b.OptionalString("storage_strategy", &names.storage_strategy) ||
      !b.OptionalString("quantization", &names.quantization) ||
      !b.Integer("pq_m", &c.quantization.pq_m, 0, UINT32_MAX) ||
      !b.Integer("rerank", &c.quantization.rerank, 0, UINT32_MAX) ||
      !b.Integer("shards", &c.shards, 0, UINT32_MAX) ||
      !b.Integer("replication_factor", &c.replication_factor, 0, UINT32_MAX)) {
    return BadRequest(b.error);
  }
  if (absl::Status s = ApplyCollectionNames(names, &c); !s.ok()) return FromStatus(s);
  // The route has no name to check a scoped key against; the body has.
  if (call.caller != nullptr) {
    if (absl::Status s = call.caller->Allow(Access::kAdmin, c.name); !s.ok()) return FromStatus(s);
  }
  auto created = call.service.CreateCollection(c);
  if (!created.ok()) return FromStatus(created.status());
  return Json(201, CollectionJson(*created));
}

HttpResponse DescribeCollection(const RestCall& call) {
  auto info = call.service.DescribeCollection(call.name);
  if (!info.ok()) return FromStatus(info.status());
  return Json(200, CollectionJson(*info));
}

HttpResponse UpdateCollection(const RestCall& call) {
  Body b;
  uint32_t ef = 0, rerank = 0, pq_m = 0, nprobe = 0;
  int64_t priority = 0, max_count = 0;
  double age = 0, size = 0;
  CollectionNames names;
  if (!b.Parse(call.request.body,
               {"ef_search", "max_wal_age_hours", "max_wal_size_mb", "max_vector_count",
                "flush_priority", "rerank", "storage_strategy", "quantization", "pq_m",
                "nprobe", "indexing_algorithm", "metadata_compression", "tiering"}) ||
      !b.OptionalString("indexing_algorithm", &names.indexing_algorithm) ||
      !b.OptionalString("metadata_compression", &names.metadata_compression) ||
      !b.Integer("nprobe", &nprobe, 0, UINT32_MAX) ||
      !b.OptionalString("storage_strategy", &names.storage_strategy) ||
      !b.OptionalString("quantization", &names.quantization) ||
      !b.Integer("pq_m", &pq_m, 0, UINT32_MAX) ||
      !b.Integer("ef_search", &ef, 0, UINT32_MAX) || !b.Integer("rerank", &rerank, 0, UINT32_MAX) ||
      !b.Number("max_wal_age_hours", &age) ||
      !b.Number("max_wal_size_mb", &size) ||
      !b.Integer("max_vector_count", &max_count, 0, INT64_MAX) ||
      !b.Integer("flush_priority", &priority, INT32_MIN, INT32_MAX)) {
    return BadRequest(b.error);
  }
  CollectionUpdate u;
  if (b.Has("tiering")) {
    TieringPolicy tiering;
    if (!ParseTiering(b, &tiering)) return BadRequest(b.error);
    u.tiering = tiering;
  }
  if (absl::Status s = ApplyLayoutNames(names, &u); !s.ok()) return FromStatus(s);
  if (b.Has("pq_m")) u.pq_m = pq_m;
  if (b.Has("ef_search")) u.ef_search = ef;
  if (b.Has("rerank")) u.rerank = rerank;
  if (b.Has("nprobe")) u.nprobe = nprobe;
  if (b.Has("max_wal_age_hours")) u.max_wal_age_hours = age;
  if (b.Has("max_wal_size_mb")) u.max_wal_size_mb = size;
  if (b.Has("max_vector_count")) u.max_vector_count = static_cast<uint64_t>(max_count);
  if (b.Has("flush_priority")) u.flush_priority = static_cast<int>(priority);
  auto updated = call.service.UpdateCollection(call.name, u);
  if (!updated.ok()) return FromStatus(updated.status());
  return Json(200, CollectionJson(*updated));
}

HttpResponse DropCollection(const RestCall& call) {
  if (auto s = call.service.DropCollection(call.name); !s.ok()) return FromStatus(s);
  return Json(200, {{"name", call.name}, {"dropped", true}});
}

HttpResponse StatsOfCollection(const RestCall& call) {
  return StatsResponse(call.name, call.service.Stats(call.name));
}

HttpResponse HistoryOfCollection(const RestCall& call) {
  auto events = call.service.History(call.name);
  if (!events.ok()) return FromStatus(events.status());
  json out = json::array();
  for (const MaintenanceEvent& e : *events) out.push_back(FieldsJson(EventFields(e)));
  return Json(200, {{"name", call.name}, {"events", out}});
}

HttpResponse FlushCollection(const RestCall& call) {
  return StatsResponse(call.name, call.service.Flush(call.name));
}

HttpResponse CompactCollection(const RestCall& call) {
  return StatsResponse(call.name, call.service.Compact(call.name));
}

HttpResponse ApplyTiering(const RestCall& call) {
  return StatsResponse(call.name, call.service.ApplyTiering(call.name));
}

}  // namespace proximadb::server
