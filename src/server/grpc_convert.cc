#include "server/grpc_convert.h"

#include <cstring>
#include <limits>
#include <type_traits>
#include <variant>
#include <vector>

#include <google/protobuf/util/json_util.h>

#include "server/fields.h"

namespace proximadb::server {

namespace v1 = ::proximadb::v1;
using google::protobuf::Struct;

namespace {

// Sets the fields of `out` that `fields` names (fields.h: written once for REST, gRPC and
// metrics; server_test checks every name is the proto's).
void SetFields(const std::vector<Field>& fields, google::protobuf::Message* out) {
  using google::protobuf::FieldDescriptor;
  const google::protobuf::Descriptor* descriptor = out->GetDescriptor();
  const google::protobuf::Reflection* reflection = out->GetReflection();
  for (const Field& f : fields) {
    const FieldDescriptor* field = descriptor->FindFieldByName(std::string(f.name));
    if (field == nullptr) continue;
    if (const std::string* text = std::get_if<std::string>(&f.value)) {
      reflection->SetString(out, field, *text);
      continue;
    }
    // Numbers as the field's type wants them (integers converted directly, not through double).
    auto number = [&](auto zero) {
      using Number = decltype(zero);
      return std::visit(
          [](const auto& v) -> Number {
            if constexpr (std::is_arithmetic_v<std::decay_t<decltype(v)>>) {
              return static_cast<Number>(v);
            } else {
              return Number{};
            }
          },
          f.value);
    };
    auto integer = [&] { return number(int64_t{0}); };
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_UINT32: reflection->SetUInt32(out, field, integer()); break;
      case FieldDescriptor::CPPTYPE_UINT64: reflection->SetUInt64(out, field, integer()); break;
      case FieldDescriptor::CPPTYPE_INT32: reflection->SetInt32(out, field, integer()); break;
      case FieldDescriptor::CPPTYPE_INT64: reflection->SetInt64(out, field, integer()); break;
      case FieldDescriptor::CPPTYPE_DOUBLE: reflection->SetDouble(out, field, number(0.0)); break;
      default: break;
    }
  }
}

}  // namespace


// A Struct as compact JSON text; `empty` for an absent one.
std::string StructToJson(bool present, const Struct& s, std::string empty) {
  if (!present) return empty;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(s, &out);
  return status.ok() ? out : empty;
}

void JsonToStruct(const std::string& json, Struct* out) {
  google::protobuf::util::JsonParseOptions options;
  (void)google::protobuf::util::JsonStringToMessage(json, out, options);
}

void ToProto(const TieringPolicy& t, v1::Tiering* out) {
  out->set_ultra_hot(t.ultra_hot);
  if (t.warm_after_hours) out->set_warm_after_hours(*t.warm_after_hours);
  if (t.cold_after_hours) out->set_cold_after_hours(*t.cold_after_hours);
}

TieringPolicy FromProto(const v1::Tiering& in) {
  TieringPolicy t;
  t.ultra_hot = in.ultra_hot();
  if (in.has_warm_after_hours()) t.warm_after_hours = in.warm_after_hours();
  if (in.has_cold_after_hours()) t.cold_after_hours = in.cold_after_hours();
  return t;
}

void ToProto(const CollectionInfo& info, v1::Collection* out) {
  SetFields(CollectionFields(info), out);
  ToProto(info.config.tiering, out->mutable_tiering());
}

void ToProto(const BackupInfo& backup, v1::Backup* out) { SetFields(BackupFields(backup), out); }

void ToProto(const MaintenanceEvent& event, v1::MaintenanceEvent* out) {
  SetFields(EventFields(event), out);
}

void ToProto(const KeyInfo& key, v1::ApiKey* out) {
  out->set_name(key.name);
  out->set_role(std::string(RoleName(key.role)));
  if (key.collections) {
    out->mutable_scope()->mutable_collections()->Add(key.collections->begin(),
                                                      key.collections->end());
  }
  out->set_created_at_ms(key.created_at_ms);
}

void ToProto(std::string_view name, const CollectionStats& s, v1::CollectionStats* out) {
  std::vector<Field> fields = {{"name", std::string(name)}};
  for (const StatsField& f : kStatsFields) fields.push_back({f.name, ValueOf(f, s)});
  SetFields(fields, out);
}

Record FromProto(const v1::VectorInput& in) {
  Record r;
  r.id = in.has_id() ? in.id() : Service::NewId();
  if (!in.vector_f32().empty()) {
    // A length that is not a multiple of 4 leaves a dimension the engine rejects by name.
    r.vector.resize((in.vector_f32().size() + 3) / 4, std::numeric_limits<float>::quiet_NaN());
    std::memcpy(r.vector.data(), in.vector_f32().data(), in.vector_f32().size() / 4 * 4);
  } else {
    r.vector.assign(in.vector().begin(), in.vector().end());
  }
  r.metadata = StructToJson(in.has_metadata(), in.metadata(), "{}");
  return r;
}

void ToProto(const Record& r, v1::VectorRecord* out) {
  out->set_id(r.id);
  out->mutable_vector()->Add(r.vector.begin(), r.vector.end());
  JsonToStruct(r.metadata, out->mutable_metadata());
}

SearchRequest FromProto(const v1::SearchRequest& in) {
  SearchRequest q;
  q.vector = std::span<const float>(in.vector().data(), in.vector().size());
  q.k = in.has_k() ? in.k() : 10;
  q.filter = StructToJson(in.has_filter(), in.filter(), "");
  q.include_vectors = in.include_vectors();
  q.include_metadata = in.has_include_metadata() ? in.include_metadata() : true;
  q.ef = in.has_ef() ? in.ef() : 0;
  q.exact = in.exact();
  q.rerank = in.has_rerank() ? in.rerank() : 0;
  q.nprobe = in.has_nprobe() ? in.nprobe() : 0;
  return q;
}

void ToProto(const SearchResponse& r, const SearchRequest& q, v1::SearchResponse* out) {
  for (const SearchHit& h : r.hits) {
    v1::SearchHit* hit = out->add_results();
    hit->set_id(h.id);
    hit->set_score(h.score);
    if (q.include_metadata) JsonToStruct(h.metadata, hit->mutable_metadata());
    if (q.include_vectors) hit->mutable_vector()->Add(h.vector.begin(), h.vector.end());
  }
  out->set_plan(r.plan);
}

}  // namespace proximadb::server
