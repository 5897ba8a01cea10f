// The messages of proto/proximadb/v1/shards.proto (a request for one shard, forwarded between
// the nodes of a cluster) to and from the engine's types, for both ends: grpc_shards.cc, which
// serves them, and shard_forwarding.cc and shard_exports.cc, which send them. Only those
// include this header.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "proximadb/types.h"
#include "proximadb/v1/shards.pb.h"

namespace proximadb::server {

// Whether `op` writes (through the shard's log), rather than reads or maintains.
bool IsWrite(v1::ShardCall::Op op);

void ToProto(const Record& r, v1::ShardRecord* out);
Record FromProto(const v1::ShardRecord& in);
void ToProto(const SearchRequest& r, v1::ShardSearch* out);
// The search of `in` with `filter` and `include_vectors`; its vector is `storage`'s.
SearchRequest FromProto(const v1::ShardSearch& in, std::vector<float>* storage);
void ToProto(const SearchHit& h, v1::ShardHit* out);
SearchHit FromProto(const v1::ShardHit& in);

// A status into a reply, and back, with its API error code.
void ToReply(const absl::Status& s, v1::ShardReply* out);
absl::Status StatusOf(const v1::ShardReply& reply);
// A shard's statistics into a reply, and back (the fields of fields.h's kStatsFields).
void ToReply(const CollectionStats& stats, v1::ShardReply* out);
CollectionStats StatsOf(const v1::ShardReply& reply);

}  // namespace proximadb::server
