// CollectionImpl: create, open (recovery from the manifest, the segments and the WAL), close.
#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/macros.h"
#include "engine/collection_impl.h"
#include "storage/file_names.h"

namespace proximadb {

absl::StatusOr<std::shared_ptr<CollectionImpl>> CollectionImpl::Create(
    const CollectionOptions& options) {
  PROXIMADB_RETURN_IF_ERROR(options.env->CreateDirs(options.dir));
  PROXIMADB_RETURN_IF_ERROR(options.env->SyncDir(DirName(options.dir)));
  bool installed;
  PROXIMADB_RETURN_IF_ERROR(WriteManifest(options.env, options.dir, Manifest{}, &installed));
  return Open(options);
}

absl::StatusOr<std::shared_ptr<CollectionImpl>> CollectionImpl::Open(
    const CollectionOptions& options) {
  StrategyOptions strategy_options{options.env, options.config, options.id_index,
                                   options.build_threads};
  PROXIMADB_ASSIGN_OR_RETURN(std::shared_ptr<const SegmentStrategy> strategy,
                             NewSegmentStrategy(strategy_options));
  std::shared_ptr<CollectionImpl> c(new CollectionImpl(options, std::move(strategy)));
  PROXIMADB_RETURN_IF_ERROR(c->Recover());
  if (options.durability == Durability::kAsync) {
    c->syncer_ = std::thread([raw = c.get()] { raw->AsyncSyncLoop(); });
  }
  return c;
}

CollectionImpl::~CollectionImpl() {
  {
    absl::MutexLock l(&sync_mu_);
    stop_syncer_ = true;
  }
  if (syncer_.joinable()) syncer_.join();
  if (options_.budget != nullptr) {
    absl::MutexLock l(&mu_);
    options_.budget->Add(-budget_bytes_);  // the memtables go with the collection
  }
  absl::MutexLock l(&wal_mu_);
  if (wal_ != nullptr) {
    if (options_.durability == Durability::kAsync) wal_->Sync().IgnoreError();
    wal_->Close().IgnoreError();
  }
}

void CollectionImpl::AsyncSyncLoop() {
  const absl::Duration interval = absl::Milliseconds(options_.async_sync_interval_ms);
  absl::MutexLock l(&sync_mu_);
  while (!sync_mu_.AwaitWithTimeout(absl::Condition(&stop_syncer_), interval)) {
    sync_mu_.Unlock();
    absl::Status s;
    {
      absl::MutexLock wl(&wal_mu_);
      if (wal_ != nullptr) s = wal_->Sync();
    }
    if (s.ok()) wal_syncs_.fetch_add(1, std::memory_order_relaxed);
    if (!s.ok()) {
      absl::MutexLock ml(&mu_);
      StopWrites("background WAL sync failed", s).IgnoreError();  // logged; writes see it
    }
    sync_mu_.Lock();
  }
}

absl::Status CollectionImpl::Recover() {
  absl::MutexLock bg(&bg_mu_);
  absl::MutexLock l(&mu_);
  absl::StatusOr<Manifest> manifest = ReadManifest(env_, options_.dir);
  if (absl::IsNotFound(manifest.status())) {
    return absl::DataLossError(
        absl::StrCat("collection directory ", options_.dir, " has no MANIFEST"));
  }
  PROXIMADB_RETURN_IF_ERROR(manifest.status());
  manifest_ = *std::move(manifest);
  PROXIMADB_RETURN_IF_ERROR(LoadWalDirs());
  FoundFiles found;
  PROXIMADB_RETURN_IF_ERROR(RemoveLeftovers(&found));
  // Before the new WAL file: a crash from here on finds every directory with WAL files.
  PROXIMADB_RETURN_IF_ERROR(SaveWalDirs(found.wal));
  PROXIMADB_RETURN_IF_ERROR(OpenSegments(found));
  PROXIMADB_RETURN_IF_ERROR(ReplayWal(found));
  AccountMemoryLocked();  // the replayed memtables count against the budget from the start
  PROXIMADB_RETURN_IF_ERROR(EnsureDir(env_, WalDir()));  // a new wal_directory
  const uint64_t number = next_file_number_++;
  absl::MutexLock wl(&wal_mu_);
  PROXIMADB_ASSIGN_OR_RETURN(wal_, CreateWalFile(env_, options_.wal_strategy, WalDir(), number));
  return absl::OkStatus();
}

absl::Status CollectionImpl::RemoveLeftovers(FoundFiles* found) {
  // What an interrupted flush, compaction, WAL cleanup or segment move left behind, in every
  // directory the collection may use (the settings may have changed since the files were
  // written: WAL files are looked for where segments are too).
  absl::flat_hash_set<uint64_t> local_segments, cold_segments;
  for (const ManifestSegment& s : manifest_.segments) {
    (s.cold_bytes == 0 ? local_segments : cold_segments).insert(s.number);
  }
  uint64_t max_number = 0;
  std::vector<std::string> dirs = SegmentDirs();
  for (const std::string& d : WalDirs()) {
    if (std::find(dirs.begin(), dirs.end(), d) == dirs.end()) dirs.push_back(d);
  }
  for (const std::string& dir : dirs) {
    if (!env_->FileExists(dir)) continue;  // a directory no segment was placed in yet
    PROXIMADB_ASSIGN_OR_RETURN(std::vector<std::string> names, env_->ListDir(dir));
    for (const std::string& name : names) {
      uint64_t number = 0;
      const FileKind kind = ParseFileName(name, &number);
      max_number = std::max(max_number, number);
      const bool covered_wal = kind == FileKind::kWal && number < manifest_.wal_start;
      // With an archive, a covered WAL file stays until the next flush has uploaded it.
      if (covered_wal && options_.wal_archive != nullptr) continue;
      // A segment's whole file once the manifest says it is cold, its stub once it says it is
      // local: what an interrupted tier change left.
      const bool garbage = kind == FileKind::kTemp || covered_wal ||
                           (kind == FileKind::kSegment && !local_segments.contains(number)) ||
                           (kind == FileKind::kColdStub && !cold_segments.contains(number));
      if (garbage) {
        PROXIMADB_RETURN_IF_ERROR(env_->RemoveFile(JoinPath(dir, name)));
      } else if (kind == FileKind::kWal) {
        found->wal.emplace_back(number, dir);
      } else if (kind == FileKind::kSegment || kind == FileKind::kColdStub) {
        found->segments[number].push_back(dir);  // OpenSegments picks one that verifies
      }
    }
  }
  std::sort(found->wal.begin(), found->wal.end());
  next_file_number_ = std::max(manifest_.next_file_number, max_number + 1);
  return absl::OkStatus();
}

absl::Status CollectionImpl::OpenSegments(const FoundFiles& found) {
  for (const ManifestSegment& entry : manifest_.segments) {
    const bool cold = entry.cold_bytes != 0;
    const std::string name = cold ? ColdStubFileName(entry.number) : SegmentFileName(entry.number);
    auto open = [&](const std::string& dir) {
      return cold ? Segment::Open(env_, JoinPath(dir, name), entry.number, dim_,
                                  options_.config.metric)
                  : strategy()->OpenSegment(dir, entry.number);
    };
    auto where = found.segments.find(entry.number);
    if (where == found.segments.end()) {
      return absl::DataLossError(absl::StrCat("segment ", name, " of ", options_.dir,
                                              " is listed in the manifest but in none of the "
                                              "collection's directories"));
    }
    // Usually one copy; two after an interrupted move (both whole: a copy is renamed into
    // place only once durable). The first that opens and verifies is kept, the others go.
    absl::Status first_error;
    std::shared_ptr<Segment> seg;
    for (const std::string& dir : where->second) {
      absl::StatusOr<std::shared_ptr<Segment>> opened = open(dir);
      if (opened.ok() && (*opened)->num_rows() != entry.num_rows) {
        opened = absl::DataLossError(absl::StrCat("segment ", JoinPath(dir, name), " has ",
                                                  (*opened)->num_rows(),
                                                  " rows, the manifest says ", entry.num_rows));
      }
      if (opened.ok()) {
        seg = *std::move(opened);
        break;
      }
      if (first_error.ok()) first_error = opened.status();
    }
    if (seg == nullptr) return first_error;
    for (const std::string& dir : where->second) {
      if (JoinPath(dir, name) != seg->path()) {
        PROXIMADB_RETURN_IF_ERROR(env_->RemoveFile(JoinPath(dir, name)));
      }
    }
    for (uint32_t row : entry.deleted_rows) seg->MarkDeleted(row, 0);
    live_count_ += seg->num_rows() - seg->num_deleted();
    // A warm or cold segment stays where it is until a search reads it: its age counts from
    // before the open (a hot one's from the open).
    if (cold || InWarmDir(*seg)) seg->set_last_search_us(0);
    if (cold) {
      seg->set_cold_bytes(entry.cold_bytes);
      cold_stubs_[entry.number] = seg;
      any_cold_.store(true, std::memory_order_relaxed);
    }
    segments_.push_back(std::move(seg));
  }
  return absl::OkStatus();
}

absl::Status CollectionImpl::ReplayWal(const FoundFiles& found) {
  last_seq_ = manifest_.covered_seq;
  const auto& wal_files = found.wal;
  for (size_t i = 0; i < wal_files.size(); ++i) {
    const auto& [wal_number, wal_dir] = wal_files[i];
    const std::string path = JoinPath(wal_dir, WalFileName(wal_number));
    const uint64_t seq_before = last_seq_;
    auto apply = [&](std::string_view payload, uint64_t offset) -> absl::Status {
      DecodedBatch batch;
      if (absl::Status s = DecodeBatch(payload, &batch); !s.ok()) {
        return absl::DataLossError(
            absl::StrCat("WAL file ", path, " offset ", offset, ": ", s.message()));
      }
      if (batch.seq <= manifest_.covered_seq) return absl::OkStatus();
      if (batch.seq != last_seq_ + 1) {
        return absl::DataLossError(absl::StrCat("WAL file ", path, " offset ", offset,
                                                ": batch ", batch.seq, " follows batch ",
                                                last_seq_, "; batches are missing"));
      }
      ApplyDecoded(batch);
      return absl::OkStatus();
    };
    PROXIMADB_ASSIGN_OR_RETURN(
        log::ReadResult result,
        ReadWalFile(env_, options_.wal_strategy, wal_dir, wal_number, apply));
    if (result.torn_tail) {
      if (i + 1 != wal_files.size()) {
        return absl::DataLossError(absl::StrCat("WAL file ", path, " is damaged at offset ",
                                                result.valid_end, " (", result.torn_reason,
                                                ") but it is not the newest WAL file"));
      }
      Log(LogLevel::kWarning,
          absl::StrCat("WAL file ", path, ": dropping a torn tail at offset ", result.valid_end,
                       " (", result.torn_reason, "): a write that was never acknowledged"));
      PROXIMADB_RETURN_IF_ERROR(env_->TruncateFile(path, result.valid_end));
    }
    if (last_seq_ == seq_before &&
        (options_.wal_archive == nullptr || result.valid_end == 0)) {
      // Nothing in it that the segments lack (an open without writes leaves such files);
      // with an archive, only an empty one goes (the archive wants every batch).
      PROXIMADB_RETURN_IF_ERROR(env_->RemoveFile(path));
    } else {
      wal_bytes_ += result.valid_end;
    }
  }
  return absl::OkStatus();
}

}  // namespace proximadb
