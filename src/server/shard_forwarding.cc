#include "server/shard_forwarding.h"

#include <atomic>

#include "common/errors.h"
#include "common/strings.h"
#include "proximadb/v1/shards.grpc.pb.h"
#include "server/shard_channels.h"
#include "server/shard_codec.h"

namespace proximadb::server {

namespace {

namespace v1 = ::proximadb::v1;
using cluster::ShardMaintenance;

class ForwardedShard final : public cluster::Shard {
 public:
  ForwardedShard(cluster::ShardAddress address, cluster::ShardHolders holders,
                 std::shared_ptr<ShardChannels> channels)
      : address_(std::move(address)), holders_(std::move(holders)),
        channels_(std::move(channels)) {}

  absl::Status Write(const std::vector<Record>& records, WriteMode mode) override {
    v1::ShardCall call;
    call.set_op(mode == WriteMode::kInsert ? v1::ShardCall::INSERT : v1::ShardCall::UPSERT);
    for (const Record& r : records) ToProto(r, call.add_records());
    return Send(call).status();
  }
  absl::StatusOr<uint64_t> Delete(const std::vector<std::string>& ids) override {
    return Counted(WithIds(v1::ShardCall::DELETE, ids));
  }
  absl::Status Patch(std::string_view id, std::string_view patch) override {
    return Send(WithIds(v1::ShardCall::PATCH, {std::string(id)}, patch)).status();
  }
  absl::Status Replace(std::string_view id, std::string_view metadata) override {
    return Send(WithIds(v1::ShardCall::REPLACE, {std::string(id)}, metadata)).status();
  }
  absl::StatusOr<uint64_t> DeleteWhere(std::string_view filter) override {
    return Counted(WithIds(v1::ShardCall::DELETE_WHERE, {}, filter));
  }

  absl::StatusOr<Record> Get(std::string_view id, ReadConsistency reads) override {
    absl::StatusOr<v1::ShardReply> reply =
        Send(Reading(WithIds(v1::ShardCall::GET, {std::string(id)}), reads));
    if (!reply.ok()) return reply.status();
    if (reply->records_size() != 1) return absl::InternalError("a get answered no record");
    return FromProto(reply->records(0));
  }
  absl::StatusOr<std::vector<Record>> GetMany(const std::vector<std::string>& ids,
                                              ReadConsistency reads) override {
    absl::StatusOr<v1::ShardReply> reply =
        Send(Reading(WithIds(v1::ShardCall::GET_MANY, ids), reads));
    if (!reply.ok()) return reply.status();
    return Records(*reply);
  }
  absl::StatusOr<uint64_t> Count(std::string_view filter, ReadConsistency reads) override {
    return Counted(Reading(WithIds(v1::ShardCall::COUNT, {}, filter), reads));
  }
  absl::StatusOr<ScrollPage> Scroll(std::string_view after, uint32_t limit,
                                    std::string_view filter, bool include_vectors,
                                    ReadConsistency reads) override {
    v1::ShardCall call = Reading(WithIds(v1::ShardCall::SCROLL, {}, filter), reads);
    call.set_after(std::string(after));
    call.set_limit(limit);
    call.set_include_vectors(include_vectors);
    absl::StatusOr<v1::ShardReply> reply = Send(call);
    if (!reply.ok()) return reply.status();
    return ScrollPage{Records(*reply), reply->next_after()};
  }
  absl::StatusOr<SearchResponse> Search(const SearchRequest& request,
                                        ReadConsistency reads) override {
    v1::ShardCall call = Reading(WithIds(v1::ShardCall::SEARCH, {}, request.filter), reads);
    call.set_include_vectors(request.include_vectors);
    ToProto(request, call.mutable_search());
    absl::StatusOr<v1::ShardReply> reply = Send(call);
    if (!reply.ok()) return reply.status();
    SearchResponse out;
    for (const v1::ShardHit& h : reply->hits()) out.hits.push_back(FromProto(h));
    out.plan = reply->plan();
    return out;
  }

  absl::StatusOr<CollectionStats> Stats() override {
    absl::StatusOr<v1::ShardReply> reply = Send(WithIds(v1::ShardCall::STATS, {}));
    if (!reply.ok()) return reply.status();
    return StatsOf(*reply);
  }
  absl::Status Maintain(ShardMaintenance what) override {
    constexpr v1::ShardCall::Op kOps[] = {v1::ShardCall::FLUSH, v1::ShardCall::COMPACT,
                                          v1::ShardCall::MIGRATE, v1::ShardCall::TIERING};
    return Send(WithIds(kOps[static_cast<int>(what)], {})).status();
  }

 private:
  static v1::ShardCall WithIds(v1::ShardCall::Op op, const std::vector<std::string>& ids,
                               std::string_view text = "") {
    v1::ShardCall call;
    call.set_op(op);
    for (const std::string& id : ids) call.add_ids(id);
    call.set_text(std::string(text));
    return call;
  }
  static v1::ShardCall Reading(v1::ShardCall call, ReadConsistency reads) {
    call.set_eventual(reads == ReadConsistency::kEventual);
    return call;
  }
  static std::vector<Record> Records(const v1::ShardReply& reply) {
    std::vector<Record> out;
    for (const v1::ShardRecord& r : reply.records()) out.push_back(FromProto(r));
    return out;
  }
  absl::StatusOr<uint64_t> Counted(const v1::ShardCall& call) {
    absl::StatusOr<v1::ShardReply> reply = Send(call);
    if (!reply.ok()) return reply.status();
    return reply->count();
  }

  // The reply of the first holder that answers for the shard, starting from a different one
  // each call; UNAVAILABLE naming the last failure if none does. A call is sent only once
  // connected: one that never reached a holder goes to the next. A read that failed on the
  // way goes to the next one too; a write does not, since it may have been appended. If every
  // holder answers that it holds the shard no longer, they are asked again once this node has
  // read where the shard went.
  absl::StatusOr<v1::ShardReply> Send(v1::ShardCall call) {
    call.set_collection(address_.collection);
    call.set_uid(address_.uid);
    call.set_shard(address_.shard);
    absl::Status last = absl::UnavailableError("no live node holds a replica");
    for (bool refresh : {false, true}) {
      bool moved = false;
      absl::StatusOr<v1::ShardReply> reply = SendOnce(call, holders_(refresh), &last, &moved);
      if (reply.ok() || !absl::IsUnavailable(reply.status()) || !moved) return reply;
    }
    return NotReached(last);
  }
  // Send's pass over `holders`; `*moved`: every holder answered SHARD_NOT_HERE.
  absl::StatusOr<v1::ShardReply> SendOnce(const v1::ShardCall& call,
                                          const std::vector<std::string>& holders,
                                          absl::Status* last, bool* moved) {
    size_t not_here = 0;
    const size_t start = next_.fetch_add(1, std::memory_order_relaxed);
    for (size_t i = 0; i < holders.size(); ++i) {
      const std::string& address = holders[(start + i) % holders.size()];
      bool sent = false;
      absl::StatusOr<v1::ShardReply> reply = channels_->Call(address, call, &sent);
      if (!reply.ok()) {
        *last = absl::UnavailableError(reply.status().message());
        if (!sent || (absl::IsUnavailable(reply.status()) && !IsWrite(call.op()))) continue;
        return absl::UnavailableError(Cat(
            last->message(), IsWrite(call.op()) ? " (the write may have been applied)" : ""));
      }
      absl::Status answered = StatusOf(*reply);
      if (ErrorCodeOf(answered) == cluster::kShardNotHere) {  // nothing was done there
        *last = absl::UnavailableError(answered.message());
        ++not_here;
        continue;
      }
      if (!answered.ok()) return answered;
      return reply;
    }
    *moved = !holders.empty() && not_here == holders.size();
    return NotReached(*last);
  }
  // No holder took the call (none was reached, or each answered SHARD_NOT_HERE).
  absl::Status NotReached(const absl::Status& last) const {
    return WithErrorCode(absl::UnavailableError(Cat("shard ", address_.shard, " of collection '",
                                                    address_.collection, "' cannot be reached: ",
                                                    last.message())),
                         cluster::kShardNotReached);
  }

  const cluster::ShardAddress address_;
  const cluster::ShardHolders holders_;
  const std::shared_ptr<ShardChannels> channels_;
  std::atomic<size_t> next_{0};
};

}  // namespace

std::shared_ptr<ShardChannels> NewShardChannels(ForwardingOptions options) {
  return std::make_shared<ShardChannels>(std::move(options));
}

cluster::RemoteShardFactory NewShardForwarding(std::shared_ptr<ShardChannels> channels) {
  return [channels](cluster::ShardAddress address, cluster::ShardHolders holders) {
    return std::make_shared<ForwardedShard>(std::move(address), std::move(holders), channels);
  };
}

}  // namespace proximadb::server
