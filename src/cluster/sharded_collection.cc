#include "cluster/sharded_collection.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "common/crc32c.h"
#include "common/strings.h"

namespace proximadb::cluster {

namespace {

// The search plans from the least to the most involved (SearchResponse::plan).
constexpr std::string_view kPlans[] = {"exact", "ivf", "graph", "graph_post_filter",
                                       "graph_expanded"};

size_t PlanRank(std::string_view plan) {
  for (size_t i = 0; i < std::size(kPlans); ++i) {
    if (kPlans[i] == plan) return i;
  }
  return 0;
}

// `s` with the local collection a shard's replica lives in ("collection 's-<uid>-<shard>'", as
// the engine names it in its errors) called by the collection's name, `name`, as users know it.
absl::Status Renamed(const absl::Status& s, std::string_view name) {
  constexpr size_t kUid = 16;
  std::string message(s.message());
  bool renamed = false;
  for (size_t at = message.find("'s-"); at != std::string::npos;
       at = message.find("'s-", at + 1)) {
    const size_t end = message.find('\'', at + 1);
    if (end == std::string::npos) break;
    const std::string_view quoted = std::string_view(message).substr(at + 1, end - at - 1);
    constexpr std::string_view kCollection = "collection ";  // not an id that looks like one
    const bool named = at >= kCollection.size() &&
                       std::string_view(message).substr(at - kCollection.size(),
                                                        kCollection.size()) == kCollection;
    const bool shard = named && quoted.size() > 2 + kUid + 1 && quoted[2 + kUid] == '-' &&
                       std::all_of(quoted.begin() + 2, quoted.begin() + 2 + kUid,
                                   [](char c) { return absl::ascii_isxdigit(c); }) &&
                       std::all_of(quoted.begin() + 3 + kUid, quoted.end(),
                                   [](char c) { return absl::ascii_isdigit(c); });
    if (!shard) continue;
    message.replace(at + 1, quoted.size(), name);
    renamed = true;
  }
  if (!renamed) return s;
  absl::Status out(s.code(), message);
  s.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
    out.SetPayload(url, payload);
  });
  return out;
}

template <typename T>
absl::StatusOr<T> Renamed(absl::StatusOr<T> r, std::string_view name) {
  if (r.ok()) return r;
  return Renamed(r.status(), name);
}

absl::Status NotYet(std::string_view what) {
  return absl::UnimplementedError(
      Cat(what, " is not available on a sharded collection yet (docs/cluster.md)"));
}

}  // namespace

ShardedCollection::ShardedCollection(std::vector<std::shared_ptr<Shard>> shards,
                                     CollectionConfig config, ReadConsistency reads,
                                     size_t max_id_bytes, size_t max_metadata_bytes)
    : shards_(std::move(shards)),
      config_(std::move(config)),
      reads_(reads),
      rules_{.collection = config_.name, .dimension = config_.dimension,
             .max_id_bytes = max_id_bytes, .max_metadata_bytes = max_metadata_bytes} {}

std::shared_ptr<ShardedCollection> ShardedCollection::WithReads(ReadConsistency reads) const {
  return std::make_shared<ShardedCollection>(shards_, config_, reads, rules_.max_id_bytes,
                                             rules_.max_metadata_bytes);
}

uint32_t ShardedCollection::ShardOf(std::string_view id, size_t shards) {
  return static_cast<uint32_t>(crc32c::Value(id) % shards);
}

template <typename Fn>
auto ShardedCollection::InParallel(Fn fn) const {
  std::vector<decltype(fn(size_t{0}))> done(shards_.size());
  std::vector<std::thread> others;
  for (size_t i = 1; i < shards_.size(); ++i) others.emplace_back([&, i] { done[i] = fn(i); });
  done[0] = fn(0);
  for (std::thread& t : others) t.join();
  return done;
}

std::vector<std::vector<std::string>> ShardedCollection::ByShard(
    const std::vector<std::string>& ids) const {
  std::vector<std::vector<std::string>> out(shards_.size());
  for (const std::string& id : ids) out[ShardOf(id, shards_.size())].push_back(id);
  return out;
}

absl::Status ShardedCollection::OnEveryShard(ShardMaintenance what) {
  absl::Status first;
  for (const auto& shard : shards_) first.Update(shard->Maintain(what));
  return Renamed(first, config_.name);
}

CollectionConfig ShardedCollection::config() const {
  for (const auto& shard : shards_) {
    if (const Collection* local = shard->local(); local != nullptr) {
      CollectionConfig c = local->config();
      c.name = config_.name;
      c.shards = config_.shards;
      c.replication_factor = config_.replication_factor;
      return c;
    }
  }
  return config_;
}

absl::Status ShardedCollection::Write(std::vector<Record> records, WriteMode mode) {
  // The whole batch before any part of it: a bad record changes nothing, and is named by its
  // place in the batch.
  if (absl::Status s = CheckRecords(records, mode, rules_); !s.ok()) return s;
  std::vector<std::vector<Record>> parts(shards_.size());
  for (Record& r : records) parts[ShardOf(r.id, shards_.size())].push_back(std::move(r));
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].empty()) continue;
    if (absl::Status s = shards_[i]->Write(parts[i], mode); !s.ok()) {
      return Renamed(s, config_.name);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Record> ShardedCollection::Get(std::string_view id) {
  return Renamed(shards_[ShardOf(id, shards_.size())]->Get(id, reads_), config_.name);
}

absl::StatusOr<std::vector<Record>> ShardedCollection::GetMany(
    const std::vector<std::string>& ids) {
  std::vector<std::vector<std::string>> parts = ByShard(ids);
  absl::flat_hash_map<std::string, Record> found;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].empty()) continue;
    absl::StatusOr<std::vector<Record>> got = shards_[i]->GetMany(parts[i], reads_);
    if (!got.ok()) return Renamed(got.status(), config_.name);
    for (Record& r : *got) found.emplace(r.id, std::move(r));
  }
  std::vector<Record> out;  // in the order asked, as Collection::GetMany promises
  for (const std::string& id : ids) {
    if (auto it = found.find(id); it != found.end()) out.push_back(it->second);
  }
  return out;
}

absl::StatusOr<uint64_t> ShardedCollection::Delete(const std::vector<std::string>& ids) {
  std::vector<std::vector<std::string>> parts = ByShard(ids);
  uint64_t deleted = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].empty()) continue;
    absl::StatusOr<uint64_t> n = shards_[i]->Delete(parts[i]);
    if (!n.ok()) return Renamed(n.status(), config_.name);
    deleted += *n;
  }
  return deleted;
}

absl::Status ShardedCollection::PatchMetadata(std::string_view id, std::string_view patch) {
  return Renamed(shards_[ShardOf(id, shards_.size())]->Patch(id, patch), config_.name);
}

absl::Status ShardedCollection::ReplaceMetadata(std::string_view id, std::string_view metadata) {
  return Renamed(shards_[ShardOf(id, shards_.size())]->Replace(id, metadata), config_.name);
}

absl::StatusOr<uint64_t> ShardedCollection::DeleteWhere(std::string_view filter) {
  uint64_t deleted = 0;
  for (const auto& shard : shards_) {  // a bad filter stops at the first, before any append
    absl::StatusOr<uint64_t> n = shard->DeleteWhere(filter);
    if (!n.ok()) return Renamed(n.status(), config_.name);
    deleted += *n;
  }
  return deleted;
}

absl::StatusOr<uint64_t> ShardedCollection::Count(std::string_view filter) {
  uint64_t total = 0;
  for (absl::StatusOr<uint64_t>& n :
       InParallel([&](size_t i) { return shards_[i]->Count(filter, reads_); })) {
    if (!n.ok()) return Renamed(n.status(), config_.name);
    total += *n;
  }
  return total;
}

absl::StatusOr<ScrollPage> ShardedCollection::Scroll(std::string_view after, uint32_t limit,
                                                     std::string_view filter,
                                                     bool include_vectors) {
  // Each shard's first `limit` ids after `after` hold the first `limit` of all of them.
  std::vector<Record> merged;
  bool more = false;
  for (absl::StatusOr<ScrollPage>& page : InParallel([&](size_t i) {
         return shards_[i]->Scroll(after, limit, filter, include_vectors, reads_);
       })) {
    if (!page.ok()) return Renamed(page.status(), config_.name);
    more = more || !page->next_after.empty();
    for (Record& r : page->records) merged.push_back(std::move(r));
  }
  std::sort(merged.begin(), merged.end(),
            [](const Record& a, const Record& b) { return a.id < b.id; });
  ScrollPage out;
  more = more || merged.size() > limit;
  if (merged.size() > limit) merged.resize(limit);
  if (more && !merged.empty()) out.next_after = merged.back().id;
  out.records = std::move(merged);
  return out;
}

absl::StatusOr<SearchResponse> ShardedCollection::Search(const SearchRequest& request) {
  // Each shard on a thread of its own: its barrier (strong reads), then its search.
  std::vector<absl::StatusOr<SearchResponse>> parts =
      InParallel([&](size_t i) { return shards_[i]->Search(request, reads_); });
  SearchResponse out;
  for (size_t i = 0; i < parts.size(); ++i) {
    absl::StatusOr<SearchResponse>& part = parts[i];
    if (!part.ok()) return Renamed(part.status(), config_.name);
    if (i == 0 || PlanRank(part->plan) > PlanRank(out.plan)) out.plan = part->plan;
    for (SearchHit& h : part->hits) out.hits.push_back(std::move(h));
  }
  const bool lower_is_better = config_.metric == DistanceMetric::kL2;
  std::stable_sort(out.hits.begin(), out.hits.end(), [&](const SearchHit& a, const SearchHit& b) {
    return lower_is_better ? a.score < b.score : a.score > b.score;
  });
  if (out.hits.size() > request.k) out.hits.resize(request.k);
  return out;
}

absl::StatusOr<PreparedBatch> ShardedCollection::PrepareWrite(std::vector<Record>, WriteMode) {
  return NotYet("a prepared write (it belongs to one shard's replica)");
}

absl::StatusOr<PreparedBatch> ShardedCollection::PrepareDelete(const std::vector<std::string>&) {
  return NotYet("a prepared delete (it belongs to one shard's replica)");
}

absl::StatusOr<PreparedBatch> ShardedCollection::PreparePatch(std::string_view,
                                                              std::string_view) {
  return NotYet("a prepared patch (it belongs to one shard's replica)");
}

absl::StatusOr<PreparedBatch> ShardedCollection::PrepareReplace(std::string_view,
                                                                std::string_view) {
  return NotYet("a prepared replace (it belongs to one shard's replica)");
}

absl::StatusOr<PreparedBatch> ShardedCollection::PrepareDeleteWhere(std::string_view) {
  return NotYet("a prepared delete by filter (it belongs to one shard's replica)");
}

absl::Status ShardedCollection::ApplyReplicated(std::string_view, uint64_t) {
  return NotYet("applying a replicated batch (it belongs to one shard's replica)");
}

absl::Status ShardedCollection::Flush() { return OnEveryShard(ShardMaintenance::kFlush); }

absl::Status ShardedCollection::Compact() { return OnEveryShard(ShardMaintenance::kCompact); }

absl::Status ShardedCollection::Migrate() { return OnEveryShard(ShardMaintenance::kMigrate); }

absl::Status ShardedCollection::ApplyTiering() {
  return OnEveryShard(ShardMaintenance::kTiering);
}

CollectionStats ShardedCollection::Stats() {
  CollectionStats t;
  for (size_t i = 0; i < shards_.size(); ++i) {
    absl::StatusOr<CollectionStats> got = shards_[i]->Stats();
    if (!got.ok()) {
      if (t.background_error.empty()) {
        t.background_error = Cat("shard ", i, ": ", got.status().ToString());
      }
      continue;
    }
    const CollectionStats& s = *got;
    for (auto field : {&CollectionStats::vector_count, &CollectionStats::memtable_rows,
                       &CollectionStats::unindexed_rows, &CollectionStats::ivf_rows,
                       &CollectionStats::segment_count,
                       &CollectionStats::segment_rows, &CollectionStats::deleted_rows,
                       &CollectionStats::memory_bytes, &CollectionStats::disk_bytes,
                       &CollectionStats::wal_bytes, &CollectionStats::last_seq,
                       &CollectionStats::flushed_seq,
                       &CollectionStats::flushes, &CollectionStats::compactions,
                       &CollectionStats::wal_syncs, &CollectionStats::migration_segments_done,
                       &CollectionStats::migration_segments_total,
                       &CollectionStats::tier_ultra_hot_segments,
                       &CollectionStats::tier_ultra_hot_bytes, &CollectionStats::tier_hot_segments,
                       &CollectionStats::tier_hot_bytes, &CollectionStats::tier_warm_segments,
                       &CollectionStats::tier_warm_bytes, &CollectionStats::tier_cold_segments,
                       &CollectionStats::tier_cold_bytes, &CollectionStats::cache_bytes}) {
      t.*field += s.*field;
    }
    t.replication_lag += s.replication_lag;
    t.flush_seconds += s.flush_seconds;
    t.compaction_seconds += s.compaction_seconds;
    t.oldest_unflushed_age_seconds =
        std::max(t.oldest_unflushed_age_seconds, s.oldest_unflushed_age_seconds);
    if (t.background_error.empty()) t.background_error = s.background_error;
    if (s.migration_state == "running" ||
        (s.migration_state == "pending" && t.migration_state == "none")) {
      t.migration_state = s.migration_state;
    }
  }
  return t;
}

std::vector<MaintenanceEvent> ShardedCollection::History() {
  std::vector<MaintenanceEvent> all;
  for (const auto& shard : shards_) {
    if (Collection* local = shard->local(); local != nullptr) {
      for (MaintenanceEvent& e : local->History()) all.push_back(std::move(e));
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return a.started_at_us > b.started_at_us;
  });
  return all;
}

}  // namespace proximadb::cluster
