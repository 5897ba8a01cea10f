// CollectionImpl's live migration: a layout change (storage_strategy, indexing_algorithm,
// quantization, pq_m, metadata_compression) takes effect for new segments at once, and every
// older segment is rewritten in the background while it keeps serving, then all are swapped in
// by one manifest change (maintenance.cc RewriteSegments).
//
// Nothing about a migration is stored but the layout in the catalog: a segment's file shows its
// layout (graph, partitions, quantizer, compressed metadata), so the segments still to rewrite
// are those whose layout differs from the collection's (storage/strategy.h HasLayout). A crash
// mid-way leaves the old manifest in force (the new files are removed at the next open), and
// the migration resumes from scratch at the next maintenance pass.
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/macros.h"
#include "engine/collection_impl.h"

namespace proximadb {
absl::Status CollectionImpl::ChangeLayout(const CollectionConfig& config) {
  StrategyOptions o{options_.env, config, options_.id_index,
                    options_.build_threads};
  PROXIMADB_ASSIGN_OR_RETURN(std::shared_ptr<const SegmentStrategy> next, NewSegmentStrategy(o));
  {
    absl::MutexLock l(&settings_mu_);
    layout_ = config;
  }
  absl::MutexLock l(&strategy_mu_);
  strategy_ = std::move(next);
  return absl::OkStatus();
}

CollectionImpl::SegmentGroup CollectionImpl::UnmigratedLocked() const {
  Layout layout;
  {
    absl::MutexLock l(&settings_mu_);
    layout = LayoutOf(layout_);
  }
  SegmentGroup out;
  for (const auto& s : LocalSegmentsLocked()) {  // a cold segment keeps its layout
    if (!HasLayout(*s, layout)) out.push_back(s);
  }
  return out;
}

bool CollectionImpl::MigrationInProgress() const {
  absl::MutexLock l(&mu_);
  return migration_running_ || !UnmigratedLocked().empty();
}

absl::Status CollectionImpl::Migrate() {
  if (RewritesCancelled()) return RewritesGivenUp();
  absl::MutexLock rewrite(&rewrite_mu_);
  {
    // Most maintenance passes find nothing to migrate: they return without waiting on a flush.
    absl::MutexLock l(&mu_);
    if (UnmigratedLocked().empty()) return absl::OkStatus();
  }
  // A pass gives up the segments a tier change moved meanwhile; the next one picks them again.
  constexpr int kPasses = 3;
  for (int pass = 0; pass < kPasses; ++pass) {
    SegmentGroup inputs;
    {
      // Under bg_mu_, a flush that built its segment with the previous layout (it began before
      // ChangeLayout) has finished and shows among the segments to rewrite.
      absl::MutexLock bg(&bg_mu_);
      absl::MutexLock l(&mu_);
      PROXIMADB_RETURN_IF_ERROR(WriteError());
      inputs = UnmigratedLocked();
      if (inputs.empty()) return absl::OkStatus();
      if (pass == 0) migration_done_ = migration_total_ = 0;  // the stats of this migration
      migration_running_ = true;
      migration_total_ += inputs.size();
    }
    Log(LogLevel::kInfo, absl::StrCat("collection '", options_.config.name, "': migrating ",
                                      inputs.size(), " segments"));
    std::vector<SegmentGroup> groups;
    for (auto& s : inputs) groups.push_back({std::move(s)});
    const auto start = std::chrono::steady_clock::now();
    MaintenanceEvent event{.kind = "migration", .started_at_us = NowMicros()};
    absl::StatusOr<size_t> s = RewriteSegments(
        groups, *strategy(),
        [this] {
          absl::MutexLock l(&mu_);
          ++migration_done_;
        },
        &event);
    if (!s.ok() || *s > 0) AddToHistory(std::move(event), start, s.status());  // 0: given up
    absl::MutexLock l(&mu_);
    migration_running_ = false;
    PROXIMADB_RETURN_IF_ERROR(s.status());
    migration_done_ -= groups.size() - *s;  // given up: counted again at the next pass
    migration_total_ -= groups.size() - *s;
  }
  return absl::OkStatus();  // what a busy tier move left goes at the next maintenance pass
}

}  // namespace proximadb
