// CollectionImpl: construction, settings, statistics and the errors shared by its parts (see
// collection_impl.h for the map of the other files).
#include "engine/collection_impl.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/logging.h"

namespace proximadb {

CollectionImpl::CollectionImpl(const CollectionOptions& options,
                               std::shared_ptr<const SegmentStrategy> strategy)
    : options_(options),
      strategy_(std::move(strategy)),
      index_settings_(options.config.index),
      rerank_(options.config.quantization.rerank),
      layout_(options.config),
      flush_settings_(options.config.flush),
      tiering_(options.config.tiering),
      env_(options.env),
      dim_(options.config.dimension) {
  mem_ = this->strategy()->NewMemtable(options.config.flush);
}

CollectionConfig CollectionImpl::config() const {
  CollectionConfig c = options_.config;
  absl::MutexLock l(&settings_mu_);
  c.index = index_settings_;
  c.storage_strategy = layout_.storage_strategy;
  c.indexing_algorithm = layout_.indexing_algorithm;
  c.quantization.kind = layout_.quantization.kind;
  c.quantization.pq_m = layout_.quantization.pq_m;
  c.metadata_compression = layout_.metadata_compression;
  c.quantization.rerank = rerank_;
  c.flush = flush_settings_;
  c.tiering = tiering_;
  return c;
}

void CollectionImpl::UpdateSettings(const CollectionConfig& config) {
  absl::MutexLock l(&settings_mu_);
  index_settings_.ef_search = config.index.ef_search;
  index_settings_.nprobe = config.index.nprobe;
  rerank_ = config.quantization.rerank;
  flush_settings_ = config.flush;
  tiering_ = config.tiering;
}

void CollectionImpl::MarkDropped() {
  CancelRewrites(/*dropped=*/true);
  absl::MutexLock rewrite(&rewrite_mu_);  // waits for a compaction or migration to give up
  absl::MutexLock bg(&bg_mu_);            // and flush
  absl::MutexLock l(&mu_);
  dropped_ = true;
}

void CollectionImpl::CancelRewrites(bool dropped) {
  if (dropped) rewrites_dropped_.store(true, std::memory_order_relaxed);
  cancel_rewrites_.store(true, std::memory_order_release);  // the reason is seen with it
}

absl::Status CollectionImpl::RewritesGivenUp() const {
  if (RewritesCancelled() && rewrites_dropped_.load(std::memory_order_relaxed)) {
    return absl::FailedPreconditionError(
        absl::StrCat("collection '", options_.config.name, "' was dropped"));
  }
  return absl::UnavailableError(absl::StrCat(
      "collection '", options_.config.name,
      "' is closing: compactions and migrations are given up until it is opened again"));
}

absl::Status CollectionImpl::StopWrites(std::string_view what, const absl::Status& cause) {
  if (bg_error_.ok()) {
    // Its memtables cannot be flushed before a reopen: they must not hold the budget of others.
    if (options_.budget != nullptr) options_.budget->Add(-budget_bytes_);
    budget_bytes_ = 0;
    bg_error_ = absl::FailedPreconditionError(
        absl::StrCat("collection '", options_.config.name, "': ", std::string(what),
                     ", writes are stopped until the database is reopened: ", cause.ToString()));
    Log(LogLevel::kError, bg_error_.message());
  }
  return bg_error_;
}

absl::Status CollectionImpl::WriteError() const {
  if (dropped_) {
    return absl::FailedPreconditionError(
        absl::StrCat("collection '", options_.config.name, "' was dropped"));
  }
  return bg_error_;
}

absl::Status CollectionImpl::NotFound(std::string_view id) const {
  return absl::NotFoundError(absl::StrCat("id '", std::string(id), "' not found in collection '",
                                          options_.config.name, "'"));
}

uint32_t CollectionImpl::IndexMemtable(uint32_t max_rows) {
  std::shared_ptr<Memtable> mem;
  {
    absl::MutexLock l(&mu_);
    mem = mem_;
  }
  absl::MutexLock l(&index_mu_);
  // Every core while no search ran in the last second; while searches run, one core is left
  // to them: on 2 cores, two indexer threads raised search p99 during a load from 14-18 ms to
  // 21-36 ms. (Helpers at SCHED_IDLE priority were tried: one preempted while holding a graph
  // node's spinlock stalled the others for seconds.)
  const bool searching = options_.activity && options_.activity->Within(NowMicros(), 1'000'000);
  // Filing first, and on every core even while searches run: it costs microseconds a row
  // where the graph costs hundreds, and its burst right after a load (half a second for
  // 100,000 x 784) ends the scans of the rows the graph has not reached, which cost searches
  // far more. At most 64 turns' worth of rows, so that other collections get their turns.
  const uint32_t filed = mem->FileRows(options_.build_threads, 64 * max_rows);
  const int threads = searching ? std::max(1, options_.build_threads - 1) : options_.build_threads;
  return filed + mem->IndexRows(max_rows, threads);
}

CollectionStats CollectionImpl::Stats() {
  CollectionStats st;
  // Field indexes are sized after mu_ is released: their mutex can be held for a long build.
  std::vector<std::shared_ptr<Memtable>> mems;
  std::vector<std::shared_ptr<Segment>> segments;
  std::map<uint64_t, std::shared_ptr<Segment>> stubs;
  {
    absl::MutexLock l(&mu_);
    st.vector_count = live_count_;
    st.last_seq = last_seq_;
    st.flushed_seq = manifest_.covered_seq;
    st.flushes = flushes_;
    st.compactions = compactions_;
    st.flush_seconds = flush_seconds_;
    st.compaction_seconds = compaction_seconds_;
    st.migration_state =
        migration_running_ ? "running" : (UnmigratedLocked().empty() ? "none" : "pending");
    st.migration_segments_done = migration_done_;
    st.migration_segments_total = migration_total_;
    st.background_error = std::string(bg_error_.message());
    st.wal_bytes = wal_bytes_;
    int64_t oldest = mem_oldest_write_us_;
    mems.push_back(mem_);
    for (const Frozen& f : imms_) {
      mems.push_back(f.mem);
      st.wal_bytes += f.wal_bytes;
      if (f.oldest_write_us != 0 && (oldest == 0 || f.oldest_write_us < oldest)) {
        oldest = f.oldest_write_us;
      }
    }
    if (oldest != 0) {
      st.oldest_unflushed_age_seconds = (absl::ToUnixMicros(absl::Now()) - oldest) / 1e6;
    }
    segments = segments_;
    stubs = cold_stubs_;
  }
  st.wal_syncs = wal_syncs_.load(std::memory_order_relaxed);
  for (const auto& m : mems) {
    st.memtable_rows += m->num_rows();
    st.unindexed_rows += m->unindexed_rows();
    st.ivf_rows += m->ivf_rows();
    st.memory_bytes += m->MemoryBytes() + m->fields().MemoryBytes();
  }
  st.segment_count = segments.size();
  for (const auto& s : segments) {
    st.segment_rows += s->num_rows();
    st.deleted_rows += s->num_deleted();
    st.memory_bytes += s->MemoryBytes();
    if (s->cold_bytes() != 0) {  // its stub on local disk; its whole file maybe in the cache
      ++st.tier_cold_segments;
      st.tier_cold_bytes += s->cold_bytes();
      st.disk_bytes += stubs.at(s->number())->file_size();
      if (!s->cold_stub()) st.cache_bytes += s->file_size();
      continue;
    }
    st.disk_bytes += s->file_size();
    const bool warm = InWarmDir(*s);
    uint64_t& tier_segments = warm ? st.tier_warm_segments
                              : s->resident() ? st.tier_ultra_hot_segments
                                              : st.tier_hot_segments;
    uint64_t& tier_bytes = warm            ? st.tier_warm_bytes
                           : s->resident() ? st.tier_ultra_hot_bytes
                                           : st.tier_hot_bytes;
    ++tier_segments;
    tier_bytes += s->file_size();
  }
  st.disk_bytes += st.wal_bytes;
  return st;
}

}  // namespace proximadb
