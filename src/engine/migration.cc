// CollectionImpl's live migration: a layout change (quantization, pq_m; a storage strategy once
// more than one exists) takes effect for new segments at once, and every older segment is
// rewritten in the background while it keeps serving, then all are swapped in by one manifest
// change (maintenance.cc RewriteSegments).
//
// Nothing about a migration is stored but the layout in the catalog: a segment records its own
// quantizer, so the segments still to rewrite are those whose quantizer differs from the
// collection's. A crash mid-way leaves the old manifest in force (the new files are removed at
// the next open), and the migration resumes from scratch at the next maintenance pass.
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/macros.h"
#include "engine/collection_impl.h"
#include "index/quantizer.h"

namespace proximadb {
namespace {

// Whether segment `s` has the layout of `strategy` and `q`: IVF partitions exactly under viper,
// and codes of the quantization (viper's default: sq8).
bool HasLayout(const Segment& s, StorageStrategy strategy, QuantizationParams q, uint32_t dim) {
  const bool viper = strategy == StorageStrategy::kViper;
  if ((s.ivf() != nullptr) != viper) return false;
  if (viper && q.kind == Quantization::kNone) q.kind = Quantization::kSq8;
  const index::Quantizer* quantizer = s.quantizer();
  if (q.kind == Quantization::kNone) return quantizer == nullptr;
  if (quantizer == nullptr || quantizer->kind() != q.kind) return false;
  return q.kind != Quantization::kPq ||
         quantizer->pq_m() == (q.pq_m != 0 ? q.pq_m : index::DefaultPqM(dim));
}

}  // namespace

absl::Status CollectionImpl::ChangeLayout(const CollectionConfig& config) {
  StrategyOptions o{options_.env, options_.dir, config, options_.id_index,
                    options_.build_threads};
  PROXIMADB_ASSIGN_OR_RETURN(std::shared_ptr<const SegmentStrategy> next, NewSegmentStrategy(o));
  {
    absl::MutexLock l(&settings_mu_);
    storage_strategy_ = config.storage_strategy;
    layout_ = config.quantization;
  }
  absl::MutexLock l(&strategy_mu_);
  strategy_ = std::move(next);
  return absl::OkStatus();
}

CollectionImpl::SegmentGroup CollectionImpl::UnmigratedLocked() const {
  QuantizationParams layout;
  StorageStrategy strategy;
  {
    absl::MutexLock l(&settings_mu_);
    layout = layout_;
    strategy = storage_strategy_;
  }
  SegmentGroup out;
  for (const auto& s : segments_) {
    if (!HasLayout(*s, strategy, layout, dim_)) out.push_back(s);
  }
  return out;
}

bool CollectionImpl::MigrationInProgress() const {
  absl::MutexLock l(&mu_);
  return migration_running_ || !UnmigratedLocked().empty();
}

absl::Status CollectionImpl::Migrate() {
  absl::MutexLock bg(&bg_mu_);
  SegmentGroup inputs;
  {
    absl::MutexLock l(&mu_);
    PROXIMADB_RETURN_IF_ERROR(WriteError());
    inputs = UnmigratedLocked();
    if (inputs.empty()) return absl::OkStatus();
    migration_running_ = true;
    migration_done_ = 0;
    migration_total_ = inputs.size();
  }
  Log(LogLevel::kInfo, absl::StrCat("collection '", options_.config.name, "': migrating ",
                                    inputs.size(), " segments"));
  std::vector<SegmentGroup> groups;
  for (auto& s : inputs) groups.push_back({std::move(s)});
  absl::Status s = RewriteSegments(groups, *strategy(), [this] {
    absl::MutexLock l(&mu_);
    ++migration_done_;
  });
  absl::MutexLock l(&mu_);
  migration_running_ = false;
  return s;
}

}  // namespace proximadb
