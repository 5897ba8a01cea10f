#include "server/shard_codec.h"

#include <cstring>

#include "common/errors.h"
#include "server/fields.h"

namespace proximadb::server {

namespace {

std::string Bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

std::vector<float> Floats(const std::string& bytes) {
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

}  // namespace

bool IsWrite(v1::ShardCall::Op op) {
  return op == v1::ShardCall::INSERT || op == v1::ShardCall::UPSERT ||
         op == v1::ShardCall::DELETE || op == v1::ShardCall::PATCH ||
         op == v1::ShardCall::REPLACE || op == v1::ShardCall::DELETE_WHERE;
}

void ToProto(const Record& r, v1::ShardRecord* out) {
  out->set_id(r.id);
  out->set_vector_f32(Bytes(r.vector));
  out->set_metadata(r.metadata);
}

Record FromProto(const v1::ShardRecord& in) {
  return {in.id(), Floats(in.vector_f32()), in.metadata()};
}

void ToProto(const SearchRequest& r, v1::ShardSearch* out) {
  out->set_vector_f32(std::string(reinterpret_cast<const char*>(r.vector.data()),
                                  r.vector.size() * sizeof(float)));
  out->set_k(r.k);
  out->set_include_metadata(r.include_metadata);
  out->set_ef(r.ef);
  out->set_exact(r.exact);
  out->set_rerank(r.rerank);
  out->set_nprobe(r.nprobe);
}

SearchRequest FromProto(const v1::ShardSearch& in, std::vector<float>* storage) {
  *storage = Floats(in.vector_f32());
  SearchRequest r;
  r.vector = *storage;
  r.k = in.k();
  r.include_metadata = in.include_metadata();
  r.ef = in.ef();
  r.exact = in.exact();
  r.rerank = in.rerank();
  r.nprobe = in.nprobe();
  return r;
}

void ToProto(const SearchHit& h, v1::ShardHit* out) {
  out->set_id(h.id);
  out->set_score(h.score);
  out->set_metadata(h.metadata);
  out->set_vector_f32(Bytes(h.vector));
}

SearchHit FromProto(const v1::ShardHit& in) {
  return {in.id(), in.score(), in.metadata(), Floats(in.vector_f32())};
}

void ToReply(const absl::Status& s, v1::ShardReply* out) {
  out->set_code(static_cast<int32_t>(s.code()));
  out->set_message(std::string(s.message()));
  out->set_error_code(ErrorCodeOf(s));
}

absl::Status StatusOf(const v1::ShardReply& reply) {
  absl::Status s(static_cast<absl::StatusCode>(reply.code()), reply.message());
  return reply.error_code().empty() ? s : WithErrorCode(std::move(s), reply.error_code());
}

void ToReply(const CollectionStats& stats, v1::ShardReply* out) {
  for (const StatsField& f : kStatsFields) {
    if (auto* m = std::get_if<uint64_t CollectionStats::*>(&f.member)) {
      (*out->mutable_stats_counts())[f.name] = stats.**m;
    } else if (auto* d = std::get_if<double CollectionStats::*>(&f.member)) {
      (*out->mutable_stats_values())[f.name] = stats.**d;
    } else if (auto* t = std::get_if<std::string CollectionStats::*>(&f.member)) {
      (*out->mutable_stats_texts())[f.name] = stats.**t;
    }
  }
}

CollectionStats StatsOf(const v1::ShardReply& reply) {
  CollectionStats stats;
  for (const StatsField& f : kStatsFields) {
    if (auto* m = std::get_if<uint64_t CollectionStats::*>(&f.member)) {
      if (auto it = reply.stats_counts().find(f.name); it != reply.stats_counts().end()) {
        stats.**m = it->second;
      }
    } else if (auto* d = std::get_if<double CollectionStats::*>(&f.member)) {
      if (auto it = reply.stats_values().find(f.name); it != reply.stats_values().end()) {
        stats.**d = it->second;
      }
    } else if (auto* t = std::get_if<std::string CollectionStats::*>(&f.member)) {
      if (auto it = reply.stats_texts().find(f.name); it != reply.stats_texts().end()) {
        stats.**t = it->second;
      }
    }
  }
  return stats;
}

}  // namespace proximadb::server
