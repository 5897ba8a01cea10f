#include "server/grpc_shards.h"

#include <chrono>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "cluster/cluster_database.h"
#include "common/errors.h"
#include "common/strings.h"
#include "proximadb/v1/shards.grpc.pb.h"
#include "server/shard_codec.h"
#include "server/shard_exports.h"

namespace proximadb::server {

namespace v1 = ::proximadb::v1;

namespace {

using cluster::Shard;
using cluster::ShardMaintenance;

absl::StatusOr<std::string> OneId(const v1::ShardCall& call) {
  if (call.ids_size() != 1) {
    return absl::InvalidArgumentError(Cat("ids: ", call.ids_size(), " given, 1 expected"));
  }
  return call.ids(0);
}

absl::Status Write(Shard& shard, const v1::ShardCall& call, v1::ShardReply* reply) {
  absl::StatusOr<uint64_t> n = 0;
  switch (call.op()) {
    case v1::ShardCall::INSERT:
    case v1::ShardCall::UPSERT: {
      std::vector<Record> records;
      for (const v1::ShardRecord& r : call.records()) records.push_back(FromProto(r));
      return shard.Write(records, call.op() == v1::ShardCall::INSERT ? WriteMode::kInsert
                                                                    : WriteMode::kUpsert);
    }
    case v1::ShardCall::PATCH:
    case v1::ShardCall::REPLACE: {
      absl::StatusOr<std::string> id = OneId(call);
      if (!id.ok()) return id.status();
      return call.op() == v1::ShardCall::PATCH ? shard.Patch(*id, call.text())
                                               : shard.Replace(*id, call.text());
    }
    case v1::ShardCall::DELETE:
      n = shard.Delete({call.ids().begin(), call.ids().end()});
      break;
    case v1::ShardCall::DELETE_WHERE:
      n = shard.DeleteWhere(call.text());
      break;
    default:
      return absl::InvalidArgumentError(Cat("op: ", call.op(), " is not a write"));
  }
  if (n.ok()) reply->set_count(*n);
  return n.status();
}

absl::Status Read(Shard& shard, const v1::ShardCall& call, v1::ShardReply* reply) {
  const ReadConsistency reads =
      call.eventual() ? ReadConsistency::kEventual : ReadConsistency::kStrong;
  switch (call.op()) {
    case v1::ShardCall::GET: {
      absl::StatusOr<std::string> id = OneId(call);
      if (!id.ok()) return id.status();
      absl::StatusOr<Record> r = shard.Get(*id, reads);
      if (r.ok()) ToProto(*r, reply->add_records());
      return r.status();
    }
    case v1::ShardCall::GET_MANY: {
      auto got = shard.GetMany({call.ids().begin(), call.ids().end()}, reads);
      if (got.ok()) {
        for (const Record& r : *got) ToProto(r, reply->add_records());
      }
      return got.status();
    }
    case v1::ShardCall::COUNT: {
      absl::StatusOr<uint64_t> n = shard.Count(call.text(), reads);
      if (n.ok()) reply->set_count(*n);
      return n.status();
    }
    case v1::ShardCall::SCROLL: {
      absl::StatusOr<ScrollPage> page =
          shard.Scroll(call.after(), call.limit(), call.text(), call.include_vectors(), reads);
      if (!page.ok()) return page.status();
      for (const Record& r : page->records) ToProto(r, reply->add_records());
      reply->set_next_after(page->next_after);
      return absl::OkStatus();
    }
    case v1::ShardCall::SEARCH: {
      std::vector<float> query;
      SearchRequest request = FromProto(call.search(), &query);
      request.filter = call.text();
      request.include_vectors = call.include_vectors();
      absl::StatusOr<SearchResponse> found = shard.Search(request, reads);
      if (!found.ok()) return found.status();
      for (const SearchHit& h : found->hits) ToProto(h, reply->add_hits());
      reply->set_plan(found->plan);
      return absl::OkStatus();
    }
    default:
      return absl::InvalidArgumentError(Cat("op: ", call.op(), " is not an operation"));
  }
}



absl::Status Serve(Service& service, const v1::ShardCall& call, v1::ShardReply* reply) {
  cluster::ClusterDatabase* db = service.cluster();
  if (db == nullptr) {  // the sender tries another node
    return WithErrorCode(
        absl::UnavailableError("this node is not in cluster mode, or not ready yet"),
        cluster::kShardNotHere);
  }
  absl::StatusOr<std::shared_ptr<Shard>> shard =
      db->LocalShard(call.collection(), call.uid(), call.shard());
  if (!shard.ok()) return shard.status();
  switch (call.op()) {
    case v1::ShardCall::STATS: {
      absl::StatusOr<CollectionStats> stats = (*shard)->Stats();
      if (stats.ok()) ToReply(*stats, reply);
      return stats.status();
    }
    case v1::ShardCall::FLUSH: return (*shard)->Maintain(ShardMaintenance::kFlush);
    case v1::ShardCall::COMPACT: return (*shard)->Maintain(ShardMaintenance::kCompact);
    case v1::ShardCall::MIGRATE: return (*shard)->Maintain(ShardMaintenance::kMigrate);
    case v1::ShardCall::TIERING: return (*shard)->Maintain(ShardMaintenance::kTiering);
    default:
      return IsWrite(call.op()) ? Write(**shard, call, reply) : Read(**shard, call, reply);
  }
}

// Forwarded calls wait (a write for its log, a strong read for its barrier): they are served
// by threads of their own, not by gRPC's callback threads, which the client API's calls that
// forward are waiting on.
constexpr size_t kServingThreads = 16;

class ShardsService final : public v1::ProximaDBShards::CallbackService {
 public:
  explicit ShardsService(server::Service* service) : service_(*service) {}

  grpc::ServerUnaryReactor* Call(grpc::CallbackServerContext* ctx, const v1::ShardCall* call,
                                 v1::ShardReply* reply) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    // Nodes forward with the admin key: a node's own checks ran where the request came in.
    if (absl::Status s = service_.Authorize(GrpcKeyOf(*ctx), Access::kAdmin, "").status();
        !s.ok()) {
      const ApiError e = ApiErrorOf(s);
      reactor->Finish(
          grpc::Status(static_cast<grpc::StatusCode>(e.grpc_code), std::string(s.message())));
      return reactor;
    }
    boost::asio::post(pool_, [this, ctx, call, reply, reactor] {
      // Not once the sender gave up (a write it answered "may have been applied" must not be
      // applied later, over what the client wrote since).
      if (ctx->IsCancelled() || ctx->deadline() < std::chrono::system_clock::now()) {
        reactor->Finish(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "waited too long"));
        return;
      }
      ToReply(IsExportCall(call->op()) ? exports_.Serve(service_.cluster(), *call, reply)
                                       : Serve(service_, *call, reply),
              reply);
      reactor->Finish(grpc::Status::OK);
    });
    return reactor;
  }

 private:
  server::Service& service_;  // (plain `Service` names the generated base class here)
  ShardExports exports_;  // of this node's replicas, being copied by other nodes
  boost::asio::thread_pool pool_{kServingThreads};
};

}  // namespace

std::string GrpcKeyOf(const grpc::ServerContextBase& ctx) {
  const auto& metadata = ctx.client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    return std::string(BearerKey(std::string_view(it->second.data(), it->second.size())));
  }
  if (auto it = metadata.find("api-key"); it != metadata.end()) {
    return std::string(it->second.data(), it->second.size());
  }
  return "";
}

std::unique_ptr<grpc::Service> NewShardsService(Service* service) {
  return std::make_unique<ShardsService>(service);
}

}  // namespace proximadb::server
