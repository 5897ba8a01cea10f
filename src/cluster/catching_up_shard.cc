#include "cluster/catching_up_shard.h"

#include "common/errors.h"

namespace proximadb::cluster {

namespace {

const absl::Status& StatusOf(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

}  // namespace

template <typename Call>
auto CatchingUpShard::Route(Call call) -> decltype(call(std::declval<Shard&>())) {
  // Caught up is for good: once seen, no look at the replica's state (its lock) per call.
  if (!caught_up_seen_.load(std::memory_order_relaxed)) {
    if (caught_up_()) {
      caught_up_seen_.store(true, std::memory_order_relaxed);
    } else {
      auto answer = call(*others_);
      if (ErrorCodeOf(StatusOf(answer)) != kShardNotReached) return answer;
    }
  }
  return call(*replica_);
}

absl::Status CatchingUpShard::Write(const std::vector<Record>& records, WriteMode mode) {
  return Route([&](Shard& s) { return s.Write(records, mode); });
}

absl::StatusOr<uint64_t> CatchingUpShard::Delete(const std::vector<std::string>& ids) {
  return Route([&](Shard& s) { return s.Delete(ids); });
}

absl::Status CatchingUpShard::Patch(std::string_view id, std::string_view patch) {
  return Route([&](Shard& s) { return s.Patch(id, patch); });
}

absl::Status CatchingUpShard::Replace(std::string_view id, std::string_view metadata) {
  return Route([&](Shard& s) { return s.Replace(id, metadata); });
}

absl::StatusOr<uint64_t> CatchingUpShard::DeleteWhere(std::string_view filter) {
  return Route([&](Shard& s) { return s.DeleteWhere(filter); });
}

absl::StatusOr<Record> CatchingUpShard::Get(std::string_view id, ReadConsistency reads) {
  return Route([&](Shard& s) { return s.Get(id, reads); });
}

absl::StatusOr<std::vector<Record>> CatchingUpShard::GetMany(const std::vector<std::string>& ids,
                                                             ReadConsistency reads) {
  return Route([&](Shard& s) { return s.GetMany(ids, reads); });
}

absl::StatusOr<uint64_t> CatchingUpShard::Count(std::string_view filter, ReadConsistency reads) {
  return Route([&](Shard& s) { return s.Count(filter, reads); });
}

absl::StatusOr<ScrollPage> CatchingUpShard::Scroll(std::string_view after, uint32_t limit,
                                                   std::string_view filter, bool include_vectors,
                                                   ReadConsistency reads) {
  return Route([&](Shard& s) { return s.Scroll(after, limit, filter, include_vectors, reads); });
}

absl::StatusOr<SearchResponse> CatchingUpShard::Search(const SearchRequest& request,
                                                       ReadConsistency reads) {
  return Route([&](Shard& s) { return s.Search(request, reads); });
}

absl::StatusOr<CollectionStats> CatchingUpShard::Stats() {
  return Route([](Shard& s) { return s.Stats(); });
}

}  // namespace proximadb::cluster
