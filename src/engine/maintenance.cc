// CollectionImpl's maintenance: flush (freeze the memtable, write it as a segment, switch the
// manifest, drop the WAL files it covers), the memory budget's accounting and forced flushes,
// and compaction (merge segments, drop dead rows). The
// strategy builds the segments and picks what to compact; this file orders the steps so that
// the manifest and the WAL always hold every acknowledged write (invariant 3).
#include <algorithm>
#include <type_traits>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "common/macros.h"
#include "common/strings.h"
#include "engine/collection_impl.h"
#include "storage/build_segment.h"
#include "storage/file_names.h"

namespace proximadb {
namespace {

ManifestSegment EntryFor(const Segment& s, uint64_t deleted_up_to_seq) {
  return ManifestSegment{s.number(), s.num_rows(), s.DeletedRowsUpTo(deleted_up_to_seq),
                         s.cold_bytes()};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Flush

absl::Status CollectionImpl::FreezeLocked() {
  const uint64_t frozen_up_to = imms_.empty() ? manifest_.covered_seq : imms_.back().last_seq;
  if (last_seq_ == frozen_up_to) return absl::OkStatus();  // nothing new since the last freeze
  const uint64_t number = next_file_number_++;
  PROXIMADB_ASSIGN_OR_RETURN(std::unique_ptr<WalWriter> next,
                             CreateWalFile(env_, options_.wal_strategy, WalDir(), number));
  // Make the old file durable before any batch lands in the new one, so that even with async
  // durability a power loss cannot leave a gap in the sequence.
  absl::Status s = wal_->Sync();
  if (s.ok()) s = wal_->Close();
  if (!s.ok()) return StopWrites("WAL sync failed", s);
  imms_.push_back(Frozen{mem_, last_seq_, number, wal_bytes_, mem_oldest_write_us_});
  {
    absl::MutexLock wl(&wal_mu_);
    wal_ = std::move(next);
  }
  FlushPolicy flush;
  {
    absl::MutexLock sl(&settings_mu_);  // after mu_, as in FlushDue
    flush = flush_settings_;
  }
  mem_ = strategy()->NewMemtable(flush);
  mem_oldest_write_us_ = 0;
  wal_bytes_ = 0;
  return absl::OkStatus();
}

absl::Status CollectionImpl::FlushFrozen() {
  const auto start = std::chrono::steady_clock::now();
  MaintenanceEvent event{.kind = "flush", .started_at_us = NowMicros()};
  const absl::StatusOr<bool> flushed = WriteFrozen(&event);
  if (!flushed.ok() || *flushed) AddToHistory(std::move(event), start, flushed.status());
  return flushed.status();
}

absl::StatusOr<bool> CollectionImpl::WriteFrozen(MaintenanceEvent* event) {
  const int64_t start_us = event->started_at_us;
  Frozen f;
  uint64_t seg_number;
  {
    absl::MutexLock l(&mu_);
    PROXIMADB_RETURN_IF_ERROR(WriteError());
    if (imms_.empty()) return false;
    f = imms_.front();
    seg_number = next_file_number_++;
  }
  // Every row of the memtable, one for one, so that deletions arriving during the flush can
  // follow their rows into the segment; rows dead at the freeze go in deleted.
  const uint32_t rows = f.mem->num_rows();
  std::vector<SegmentRow> segment_rows;
  segment_rows.reserve(rows);
  size_t dead = 0;
  for (uint32_t r = 0; r < rows; ++r) {
    segment_rows.push_back({f.mem.get(), r, f.mem->deleted_seq(r) <= f.last_seq});
    dead += segment_rows.back().deleted;
  }
  // The memtable's graph, finished, becomes the segment's (BuildSegment takes it). The
  // memtable serializes this with a turn of the background indexer still inside it.
  // The rows the indexer had not filed into the IVF lists before the freeze are filed first,
  // if it had trained them (no training here: a flush may be what frees memory), so that
  // searches during the graph's completion take them from the lists.
  if (TakesLayerGraph(dead, rows)) {
    f.mem->FileRows(options_.build_threads, UINT32_MAX, /*train=*/false);
    f.mem->FinishGraph(options_.build_threads);
  }
  PROXIMADB_ASSIGN_OR_RETURN(std::shared_ptr<Segment> seg,
                             BuildPlaced(*strategy(), seg_number, segment_rows, nullptr));
  // (The strategy may have reordered segment_rows and dropped its deleted rows: segment row i
  // is segment_rows[i].)

  // The segment list only changes under bg_mu_, which this flush holds; deletions up to
  // f.last_seq are settled, so the bitmaps can be read without blocking writers.
  Manifest m;
  std::vector<std::shared_ptr<Segment>> segments;
  {
    absl::MutexLock l(&mu_);
    m.next_file_number = next_file_number_;
    segments = segments_;
  }
  m.covered_seq = f.last_seq;
  m.wal_start = f.wal_end;
  if (seg) segments.push_back(seg);
  for (const auto& s : segments) m.segments.push_back(EntryFor(*s, f.last_seq));
  PROXIMADB_RETURN_IF_ERROR(InstallManifest(m, {seg.get()}));
  if (seg) {
    event->segments_out = 1;
    event->rows = seg->num_rows();
    event->bytes = seg->file_bytes().size();
  }
  {
    absl::MutexLock l(&mu_);
    manifest_ = m;
    if (seg) {
      // Deletions that reached the frozen memtable after the flush began move with its rows.
      for (uint32_t i = 0; i < segment_rows.size(); ++i) {
        const uint64_t d = f.mem->deleted_seq(segment_rows[i].row);
        if (d != kNotDeleted) seg->MarkDeleted(i, d);
      }
      segments_.push_back(seg);
    }
    imms_.pop_front();
    AccountMemoryLocked();
    ++flushes_;
    flush_seconds_ += (NowMicros() - start_us) / 1e6;
  }
  RemoveWalFilesBelow(m.wal_start);
  return true;
}

absl::Status CollectionImpl::Flush() {
  absl::MutexLock bg(&bg_mu_);
  PROXIMADB_RETURN_IF_ERROR(Freeze());
  while (true) {
    {
      absl::MutexLock l(&mu_);
      if (imms_.empty()) return absl::OkStatus();
    }
    PROXIMADB_RETURN_IF_ERROR(FlushFrozen());
  }
}

absl::StatusOr<DurableSnapshot> CollectionImpl::SnapshotForBackup() {
  absl::MutexLock bg(&bg_mu_);  // no flush or compaction changes the manifest meanwhile
  PROXIMADB_RETURN_IF_ERROR(Freeze());
  while (true) {
    {
      absl::MutexLock l(&mu_);
      if (imms_.empty()) break;
    }
    PROXIMADB_RETURN_IF_ERROR(FlushFrozen());
  }
  absl::MutexLock l(&mu_);
  DurableSnapshot snapshot;
  snapshot.manifest = manifest_;
  snapshot.collection_uid = Uid();
  for (const ManifestSegment& ms : manifest_.segments) {
    auto it = std::find_if(segments_.begin(), segments_.end(),
                           [&](const auto& s) { return s->number() == ms.number; });
    PROXIMADB_CHECK(it != segments_.end());  // invariant 3: the manifest names live segments
    snapshot.segments.push_back(*it);
    snapshot.live_rows += ms.num_rows - ms.deleted_rows.size();
  }
  return snapshot;
}

void CollectionImpl::AccountMemoryLocked() {
  if (options_.budget == nullptr || !bg_error_.ok()) return;  // stopped: see StopWrites
  int64_t bytes = static_cast<int64_t>(mem_->MemoryBytes());
  for (const Frozen& f : imms_) bytes += static_cast<int64_t>(f.mem->MemoryBytes());
  options_.budget->Add(bytes - budget_bytes_);
  budget_bytes_ = bytes;
}

void CollectionImpl::AccountMemory() {
  absl::MutexLock l(&mu_);
  AccountMemoryLocked();
}

int64_t CollectionImpl::MemtableBytes() const {
  absl::MutexLock l(&mu_);
  return budget_bytes_;
}

void CollectionImpl::ReleaseMemory(MemoryBudget& budget,
                                   const std::vector<std::shared_ptr<CollectionImpl>>& all) {
  // The sizes first: writers change them while this runs, and a sort must see fixed keys.
  std::vector<std::pair<int64_t, CollectionImpl*>> largest;
  for (const auto& c : all) {
    c->AccountMemory();  // the indexer grew them since their writes
    largest.emplace_back(c->MemtableBytes(), c.get());
  }
  std::sort(largest.begin(), largest.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  bool failed = false, disk_full = false;
  for (const auto& [bytes, c] : largest) {
    if (!budget.over() || bytes == 0) break;
    if (absl::Status s = c->Flush(); !s.ok()) {
      failed = true;
      disk_full |= absl::IsResourceExhausted(s);
      Log(LogLevel::kError, absl::StrCat("flush of collection '", c->config().name,
                                         "' for the memory budget failed: ", s.ToString()));
    }
  }
  budget.Released(failed, disk_full);
}

bool CollectionImpl::FlushDue(int64_t now_us) {
  absl::MutexLock l(&mu_);
  if (!WriteError().ok()) return false;
  if (!imms_.empty()) return true;  // a flush that failed earlier is retried
  FlushPolicy p;
  {
    absl::MutexLock l(&settings_mu_);
    p = flush_settings_;
  }
  if (mem_->num_rows() >= p.max_vector_count) return true;
  if (static_cast<double>(wal_bytes_) >= p.max_wal_size_mb * 1024 * 1024) return true;
  return mem_oldest_write_us_ != 0 &&
         static_cast<double>(now_us - mem_oldest_write_us_) >= p.max_wal_age_hours * 3600e6;
}

// ---------------------------------------------------------------------------------------------
// Compaction

absl::StatusOr<size_t> CollectionImpl::RewriteSegments(const std::vector<SegmentGroup>& groups,
                                                       const SegmentStrategy& strategy,
                                                       absl::FunctionRef<void()> built_one,
                                                       MaintenanceEvent* event) {
  uint64_t snapshot;
  std::vector<uint64_t> numbers;
  {
    absl::MutexLock l(&mu_);
    PROXIMADB_RETURN_IF_ERROR(WriteError());
    snapshot = last_seq_;
    for (size_t g = 0; g < groups.size(); ++g) numbers.push_back(next_file_number_++);
  }
  // Rows live at the snapshot move to the outputs; deletions after it are carried over below.
  std::vector<std::vector<SegmentRow>> rows(groups.size());  // reordered by BuildSegment
  std::vector<std::shared_ptr<Segment>> outs(groups.size());  // null: no live row
  auto remove_outputs = [&](absl::FunctionRef<bool(size_t)> which) {
    for (size_t g = 0; g < groups.size(); ++g) {
      if (outs[g] && which(g)) env_->RemoveFile(outs[g]->path()).IgnoreError();
    }
  };
  for (size_t g = 0; g < groups.size(); ++g) {
    for (const auto& s : groups[g]) {
      for (uint32_t r = 0; r < s->num_rows(); ++r) {
        if (s->VisibleAt(r, snapshot)) rows[g].push_back({s.get(), r});
      }
    }
    absl::StatusOr<std::shared_ptr<Segment>> out =
        BuildPlaced(strategy, numbers[g], rows[g], &cancel_rewrites_);
    if (!out.ok()) {
      remove_outputs([](size_t) { return true; });
      const bool given_up = absl::IsCancelled(out.status()) && RewritesCancelled();
      return given_up ? RewritesGivenUp() : out.status();
    }
    outs[g] = *std::move(out);
    built_one();
  }
  std::vector<bool> intact(groups.size(), false);
  const absl::Status swap = SwapIn(groups, rows, outs, &intact);
  // No manifest names the outputs of groups given up (InstallManifest sees to the others).
  remove_outputs([&](size_t g) { return !intact[g]; });
  PROXIMADB_RETURN_IF_ERROR(swap);
  for (size_t g = 0; g < groups.size(); ++g) {
    if (!intact[g]) continue;
    event->segments_in += groups[g].size();
    if (outs[g]) {
      ++event->segments_out;
      event->rows += outs[g]->num_rows();
      event->bytes += outs[g]->file_bytes().size();
    }
    // Readers holding a view keep their mapping; a file left behind goes at the next open.
    for (const auto& s : groups[g]) env_->RemoveFile(s->path()).IgnoreError();
  }
  return std::count(intact.begin(), intact.end(), true);
}

absl::Status CollectionImpl::SwapIn(const std::vector<SegmentGroup>& groups,
                                    const std::vector<std::vector<SegmentRow>>& rows,
                                    const std::vector<std::shared_ptr<Segment>>& outs,
                                    std::vector<bool>* intact_out) {
  // bg_mu_ holds the segment list and the manifest still (flushes, tier changes, drops). A
  // group whose inputs a tier change replaced meanwhile is given up; the others go in.
  absl::MutexLock bg(&bg_mu_);
  Manifest m;
  std::vector<bool>& intact = *intact_out;
  {
    absl::MutexLock l(&mu_);
    // Writes stopped (a manifest switch may be half done): the manifest must not change.
    PROXIMADB_RETURN_IF_ERROR(WriteError());
    for (size_t g = 0; g < groups.size(); ++g) intact[g] = AllPresentLocked(groups[g]);
    m = manifest_;
    m.next_file_number = next_file_number_;
  }
  if (std::find(intact.begin(), intact.end(), true) == intact.end()) return absl::OkStatus();
  // Each group's output takes the place of its first input; the other inputs go.
  absl::flat_hash_map<uint64_t, size_t> group_of;
  absl::flat_hash_set<uint64_t> first_inputs;
  std::vector<const Segment*> written;
  for (size_t g = 0; g < groups.size(); ++g) {
    if (!intact[g]) continue;
    for (const auto& s : groups[g]) group_of[s->number()] = g;
    first_inputs.insert(groups[g].front()->number());
    if (outs[g]) written.push_back(outs[g].get());
  }
  auto replace = [&](const auto& list, auto number_of, auto output_of) {
    std::remove_cvref_t<decltype(list)> next;
    for (const auto& e : list) {
      auto it = group_of.find(number_of(e));
      if (it == group_of.end()) {
        next.push_back(e);
      } else if (first_inputs.contains(number_of(e)) && outs[it->second]) {
        next.push_back(output_of(it->second));
      }
    }
    return next;
  };
  // A flush may have run since the snapshot: the deletions of moved rows that its covered_seq
  // covers go into the manifest, since the WAL files holding them may be gone. They are
  // settled, so they can be read without mu_.
  m.segments = replace(
      m.segments, [](const ManifestSegment& e) { return e.number; },
      [&](size_t g) {
        ManifestSegment e{outs[g]->number(), outs[g]->num_rows(), {}};
        for (uint32_t i = 0; i < rows[g].size(); ++i) {
          if (rows[g][i].layer->deleted_seq(rows[g][i].row) <= m.covered_seq) {
            e.deleted_rows.push_back(i);
          }
        }
        return e;
      });
  PROXIMADB_RETURN_IF_ERROR(InstallManifest(m, written));
  absl::MutexLock l(&mu_);
  for (size_t g = 0; g < groups.size(); ++g) {
    if (!intact[g] || !outs[g]) continue;
    for (uint32_t i = 0; i < rows[g].size(); ++i) {  // every deletion since the snapshot
      const uint64_t d = rows[g][i].layer->deleted_seq(rows[g][i].row);
      if (d != kNotDeleted) outs[g]->MarkDeleted(i, d);
    }
  }
  segments_ = replace(
      segments_, [](const std::shared_ptr<Segment>& s) { return s->number(); },
      [&](size_t g) { return outs[g]; });
  manifest_ = m;
  return absl::OkStatus();
}

bool CollectionImpl::AllPresentLocked(const SegmentGroup& group) const {
  for (const auto& s : group) {
    if (std::find(segments_.begin(), segments_.end(), s) == segments_.end()) return false;
  }
  return true;
}

absl::Status CollectionImpl::CompactSegments(SegmentGroup inputs) {
  const int64_t start_us = NowMicros();
  const auto start = std::chrono::steady_clock::now();
  MaintenanceEvent event{.kind = "compaction", .started_at_us = start_us};
  absl::StatusOr<size_t> swapped =
      RewriteSegments({std::move(inputs)}, *strategy(), [] {}, &event);
  if (swapped.ok() && *swapped == 0) {
    swapped = absl::AbortedError(Cat("collection '", options_.config.name,
                                     "': a tier change moved a segment while the compaction "
                                     "rewrote it; nothing changed"));
  }
  AddToHistory(std::move(event), start, swapped.status());
  PROXIMADB_RETURN_IF_ERROR(swapped.status());
  absl::MutexLock l(&mu_);
  ++compactions_;
  compaction_seconds_ += (NowMicros() - start_us) / 1e6;
  return absl::OkStatus();
}

void CollectionImpl::AddToHistory(MaintenanceEvent event,
                                  std::chrono::steady_clock::time_point start,
                                  const absl::Status& status) {
  event.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!status.ok()) event.error = status.ToString();
  absl::MutexLock l(&history_mu_);
  history_.push_front(std::move(event));
  if (history_.size() > kHistoryEvents) history_.pop_back();
}

std::vector<MaintenanceEvent> CollectionImpl::History() {
  absl::MutexLock l(&history_mu_);
  return {history_.begin(), history_.end()};
}

absl::Status CollectionImpl::Compact() { return PickAndCompact(/*forced=*/true); }

absl::Status CollectionImpl::MaybeCompact() { return PickAndCompact(/*forced=*/false); }

absl::Status CollectionImpl::PickAndCompact(bool forced) {
  if (RewritesCancelled()) return RewritesGivenUp();
  absl::MutexLock rewrite(&rewrite_mu_);
  absl::Status s;
  // A compaction given up for a tier change is picked afresh, a few times.
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::vector<std::shared_ptr<Segment>> inputs;
    {
      absl::MutexLock l(&mu_);
      if (absl::Status e = WriteError(); !e.ok()) return forced ? e : absl::OkStatus();
      // Small: less than half of a full memtable.
      uint64_t small;
      {
        absl::MutexLock l(&settings_mu_);
        small = std::max<uint64_t>(flush_settings_.max_vector_count / 2, 1);
      }
      inputs = strategy()->PickCompaction(LocalSegmentsLocked(), small, forced);  // not cold
    }
    if (inputs.empty()) return absl::OkStatus();
    s = CompactSegments(std::move(inputs));
    if (!absl::IsAborted(s)) return s;
  }
  return forced ? s : absl::OkStatus();  // the background tries again at its next pass
}

// ---------------------------------------------------------------------------------------------
// Manifest and WAL files

absl::Status CollectionImpl::InstallManifest(const Manifest& m,
                                             const std::vector<const Segment*>& new_segments) {
  bool installed = false;
  absl::Status s = WriteManifest(env_, options_.dir, m, &installed);
  if (s.ok()) return s;
  if (!installed) {
    // Nothing changed on disk: the old manifest is in force, the new segments are garbage.
    for (const Segment* seg : new_segments) {
      if (seg != nullptr) env_->RemoveFile(seg->path()).IgnoreError();
    }
    return absl::Status(s.code(), absl::StrCat("collection '", options_.config.name,
                                               "': manifest update failed, nothing changed: ",
                                               s.message()));
  }
  // The new manifest is in place but may not be durable: keep every file either one names.
  absl::MutexLock l(&mu_);
  return StopWrites("manifest switch may not be durable", s);
}

void CollectionImpl::RemoveWalFilesBelow(uint64_t number) {
  if (options_.wal_archive != nullptr) {
    if (absl::Status s = ArchiveWalBelow(number); !s.ok()) {
      Log(LogLevel::kWarning, Cat("collection '", options_.config.name,
                                  "': WAL files kept until archived: ", s.ToString()));
    }
  }
  for (const std::string& dir : WalDirs()) {
    absl::StatusOr<std::vector<std::string>> names = env_->ListDir(dir);
    if (!names.ok()) continue;
    for (const std::string& name : *names) {
      uint64_t n;
      if (ParseFileName(name, &n) == FileKind::kWal && n < number &&
          (options_.wal_archive == nullptr || archived_wal_.contains(n))) {
        // A file left behind is removed at the next open.
        env_->RemoveFile(JoinPath(dir, name)).IgnoreError();
      }
    }
  }
}

}  // namespace proximadb
