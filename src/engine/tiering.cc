// CollectionImpl: the tiering policy (docs/storage.md#tiers). Segments move between the hot
// and the warm directories, and to and from the cold tier (cold_tier.cc), by the age of their
// last search; an ultra_hot collection's segments are locked in memory.
//
// A move copies the segment's file into the target directory under a temporary name, makes it
// durable, renames it into place and makes the name durable (holding no lock of the
// collection's, so flushes and backups go on), then under bg_mu_ checks the segment is still
// live, opens the copy, carries the deletion marks over and swaps the copy in for the original
// (under mu_, so no write lands in between), and only then removes the original. The manifest names segments by number, not by
// place, so it does not change; a crash leaves the original, or both copies (recovery keeps one),
// never neither.
#include <algorithm>

#include "common/logging.h"
#include "common/macros.h"
#include "common/strings.h"
#include "engine/collection_impl.h"
#include "storage/file_names.h"

namespace proximadb {

absl::Status WriteFileDurably(Env* env, std::string_view bytes, const std::string& dir,
                              const std::string& name) {
  constexpr size_t kPiece = 8 << 20;
  const std::string tmp = JoinPath(dir, name + ".tmp");
  absl::Status s;
  {
    PROXIMADB_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, env->NewWritableFile(tmp));
    for (size_t at = 0; at < bytes.size() && s.ok(); at += kPiece) {
      s = file->Append(bytes.substr(at, kPiece));
    }
    if (s.ok()) s = file->Sync();
    if (s.ok()) s = file->Close();
  }
  if (s.ok()) s = env->RenameFile(tmp, JoinPath(dir, name));
  if (s.ok()) return env->SyncDir(dir);
  if (env->FileExists(tmp)) env->RemoveFile(tmp).IgnoreError();
  return s;
}

namespace {

// Marks in `to` every row deleted in `from`.
void CarryDeletions(const Segment& from, Segment& to) {
  for (uint32_t row = 0; row < from.num_rows(); ++row) {
    const uint64_t seq = from.deleted_seq(row);
    if (seq != kNotDeleted && to.deleted_seq(row) == kNotDeleted) to.MarkDeleted(row, seq);
  }
}

}  // namespace

absl::Status CollectionImpl::MoveSegment(const std::shared_ptr<Segment>& segment,
                                         const std::vector<std::string>& dirs) {
  const std::string name = SegmentFileName(segment->number());
  absl::Status last = absl::ResourceExhaustedError(
      Cat("segment ", segment->path(), ": no directory to move it to could be used"));
  for (const auto& [free, dir] : ByFreeSpace(dirs)) {
    // The copy takes no lock: flushes, compactions and backups go on meanwhile.
    last = WriteFileDurably(env_, segment->file_bytes(), dir, name);
    if (absl::IsResourceExhausted(last)) continue;  // that disk is full: the next one
    PROXIMADB_RETURN_IF_ERROR(last);
    absl::MutexLock bg(&bg_mu_);  // the segment list holds still from here to the swap
    bool still_there;
    {
      absl::MutexLock l(&mu_);
      still_there = !dropped_ &&
                    std::find(segments_.begin(), segments_.end(), segment) != segments_.end();
    }
    if (!still_there) {  // compacted or migrated away meanwhile: the copy is garbage
      env_->RemoveFile(JoinPath(dir, name)).IgnoreError();
      return absl::OkStatus();
    }
    absl::StatusOr<std::shared_ptr<Segment>> copy = strategy()->OpenSegment(dir, segment->number());
    if (!copy.ok()) {
      env_->RemoveFile(JoinPath(dir, name)).IgnoreError();
      return copy.status();
    }
    (*copy)->set_last_search_us(segment->last_search_us());
    // Most deletions outside the lock; those that land meanwhile under it, with the swap.
    // The count is read before the walk: MarkDeleted sets a row's mark before counting it, and
    // writers mark rows under mu_, so a mark the walk missed shows as a changed count there.
    const uint32_t deleted_before = segment->num_deleted();
    CarryDeletions(*segment, **copy);
    {
      absl::MutexLock l(&mu_);
      if (segment->num_deleted() != deleted_before) CarryDeletions(*segment, **copy);
      auto it = std::find(segments_.begin(), segments_.end(), segment);
      PROXIMADB_CHECK(it != segments_.end());  // checked above; bg_mu_ held since
      *it = *copy;
    }
    // Readers holding a view keep the original's mapping; a file left behind by a crash
    // here is one of two copies, and recovery removes one.
    env_->RemoveFile(segment->path()).IgnoreError();
    return absl::OkStatus();
  }
  return last;
}

absl::Status CollectionImpl::ApplyTiering() {
  TieringPolicy policy;
  {
    absl::MutexLock l(&settings_mu_);
    policy = tiering_;
  }
  // One pass at a time (the maintenance service and an explicit call): two would copy one
  // segment into one temporary file.
  absl::MutexLock pass(&tiering_mu_);
  std::vector<std::shared_ptr<Segment>> segments;
  {
    absl::MutexLock l(&mu_);
    if (dropped_) return absl::OkStatus();
    segments = segments_;
  }
  const std::vector<std::string> hot =
      options_.hot_dirs.empty() ? std::vector<std::string>{options_.dir} : options_.hot_dirs;
  const int64_t now = NowMicros();
  auto older_than = [&](const Segment& segment, const std::optional<double>& hours) {
    return hours.has_value() &&
           static_cast<double>(now - segment.last_search_us()) >= *hours * 3.6e9;
  };
  absl::Status first;
  // Writes stopped (a manifest switch may be half done): the durable manifest may name objects
  // and files the segment list does not, so nothing moves and nothing is collected.
  auto write_error = [&] {
    absl::MutexLock l(&mu_);
    return WriteError();
  };
  for (const std::shared_ptr<Segment>& segment : segments) {
    if (absl::Status e = write_error(); !e.ok()) return e;
    const bool warm_wanted =
        !options_.warm_dirs.empty() && older_than(*segment, policy.warm_after_hours);
    const bool cold_now = segment->cold_bytes() != 0;
    const bool cold_wanted =
        options_.cold_store != nullptr && older_than(*segment, policy.cold_after_hours);
    absl::Status s;
    if (cold_now != cold_wanted) {
      s = cold_wanted ? GoCold(segment) : GoLocal(segment, warm_wanted ? options_.warm_dirs : hot);
    } else if (!cold_now && InWarmDir(*segment) != warm_wanted) {
      s = MoveSegment(segment, warm_wanted ? options_.warm_dirs : hot);
    }
    if (!s.ok()) {
      Log(LogLevel::kWarning, Cat("collection '", options_.config.name, "': moving segment ",
                                  segment->path(), " failed: ", s.ToString()));
      if (first.ok()) first = s;
      cold_gc_due_ = cold_gc_due_ || cold_now || cold_wanted;
    }
  }
  if (absl::Status e = write_error(); !e.ok()) return e;
  if (cold_gc_due_ && options_.cold_store != nullptr) {
    absl::Status s = CollectColdGarbage();
    cold_gc_due_ = !s.ok();
    if (first.ok()) first = s;
  }
  {
    absl::MutexLock l(&mu_);
    segments = segments_;  // with the moved ones; locking pages is I/O: not under mu_
  }
  absl::Status resident;
  for (const std::shared_ptr<Segment>& segment : segments) {
    const bool local = segment->cold_bytes() == 0;  // a cached cold file may go any time
    absl::Status s = segment->SetResident(policy.ultra_hot && local && !InWarmDir(*segment));
    if (resident.ok()) resident = s;
  }
  // Said once, not every pass: it stays so until the limit (RLIMIT_MEMLOCK) or memory changes.
  if (!resident.ok() && !resident_failed_) {
    Log(LogLevel::kWarning, Cat("collection '", options_.config.name,
                                "': ultra_hot cannot keep its segments resident: ",
                                resident.ToString()));
  }
  resident_failed_ = !resident.ok();
  return first;  // a resident failure shows in the stats (ultra_hot segments) and the log
}

}  // namespace proximadb
