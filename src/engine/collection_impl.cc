#include "engine/collection_impl.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <thread>
#include <queue>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/errors.h"
#include "common/logging.h"
#include "common/macros.h"
#include "index/distance.h"
#include "index/hnsw.h"
#include "index/planner.h"
#include "filter/filter.h"
#include "filter/metadata.h"
#include "storage/file_names.h"
#include "storage/write_batch.h"

namespace proximadb {
namespace {

// A leader stops adding writers to its group past this many payload bytes.
constexpr size_t kMaxGroupBytes = 16 << 20;
// Compaction: merge when this many small segments exist, or rewrite a segment this dead.
constexpr size_t kCompactionTriggerSegments = 4;
constexpr double kCompactionDeadFraction = 0.3;

int64_t NowMicros() { return absl::ToUnixMicros(absl::Now()); }

std::string Quote(std::string_view s) { return absl::StrCat("'", std::string(s), "'"); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Writers and the overlay of a commit group

struct CollectionImpl::Writer {
  enum class Kind { kWrite, kDelete, kPatch, kReplace, kFreeze };
  explicit Writer(Kind k) : kind(k) {}

  size_t EstimatedBytes() const {
    size_t n = 64;
    if (records) {
      for (const Record& r : *records) {
        n += r.id.size() + r.metadata.size() + r.vector.size() * sizeof(float) + 16;
      }
    }
    if (ids) n += ids->size() * 32;
    return n + metadata.size();
  }

  const Kind kind;
  // Inputs.
  std::vector<Record>* records = nullptr;  // kWrite
  WriteMode mode = WriteMode::kUpsert;     // kWrite
  const std::vector<std::string>* ids = nullptr;  // kDelete
  const Filter* filter = nullptr;  // kDelete: only ids whose live record (still) matches
  std::string_view id;                     // kPatch, kReplace
  std::string_view metadata;               // kPatch (the patch), kReplace (canonical)
  // Outputs.
  absl::Status status;
  uint64_t deleted = 0;
  std::string payload;  // the encoded batch; empty if there is nothing to log
  bool done = false;
  absl::CondVar cv;
};

// What the batches of one commit group did to ids, ahead of the store: a later batch in the
// group must see the effects of an earlier one before either is applied.
class CollectionImpl::Overlay {
 public:
  struct Entry {
    bool live = false;
    const float* vector = nullptr;
    std::string metadata;
  };
  const Entry* Find(std::string_view id) const {
    const absl::string_view key(id.data(), id.size());
    if (auto it = pending_.find(key); it != pending_.end()) return &it->second;
    if (auto it = committed_.find(key); it != committed_.end()) return &it->second;
    return nullptr;
  }
  void Set(std::string_view id, Entry e) { pending_[std::string(id)] = std::move(e); }
  void Commit() {
    for (auto& [k, v] : pending_) committed_[k] = std::move(v);
    pending_.clear();
  }
  void Rollback() { pending_.clear(); }

 private:
  absl::flat_hash_map<std::string, Entry> committed_, pending_;
};

// ---------------------------------------------------------------------------------------------
// Open, create, close

CollectionImpl::CollectionImpl(const CollectionOptions& options)
    : options_(options),
      index_settings_(options.config.index),
      flush_settings_(options.config.flush),
      env_(options.env),
      dim_(options.config.dimension) {
  mem_ = NewMemtable();
}

CollectionConfig CollectionImpl::config() const {
  CollectionConfig c = options_.config;
  absl::MutexLock l(&settings_mu_);
  c.index = index_settings_;
  c.flush = flush_settings_;
  return c;
}

void CollectionImpl::UpdateSettings(const CollectionConfig& config) {
  absl::MutexLock l(&settings_mu_);
  index_settings_.ef_search = config.index.ef_search;
  flush_settings_ = config.flush;
}

std::shared_ptr<Memtable> CollectionImpl::NewMemtable() const {
  std::optional<Memtable::GraphOptions> graph;
  if (options_.config.indexing_algorithm == IndexingAlgorithm::kHnsw) {
    const IndexParams& p = options_.config.index;
    graph = Memtable::GraphOptions{
        options_.config.metric,
        index::HnswParams{.m = p.m, .ef_construction = p.ef_construction}};
  }
  return std::make_shared<Memtable>(dim_, options_.id_index, graph);
}

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
  std::shared_ptr<CollectionImpl> c(new CollectionImpl(options));
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
  const std::string& dir = options_.dir;
  absl::StatusOr<Manifest> manifest = ReadManifest(env_, dir);
  if (absl::IsNotFound(manifest.status())) {
    return absl::DataLossError(absl::StrCat("collection directory ", dir, " has no MANIFEST"));
  }
  PROXIMADB_RETURN_IF_ERROR(manifest.status());
  manifest_ = *std::move(manifest);

  // Remove what an interrupted flush, compaction or WAL cleanup left behind.
  PROXIMADB_ASSIGN_OR_RETURN(std::vector<std::string> names, env_->ListDir(dir));
  absl::flat_hash_set<uint64_t> live_segments;
  for (const ManifestSegment& s : manifest_.segments) live_segments.insert(s.number);
  std::vector<uint64_t> wal_files;
  uint64_t max_number = 0;
  for (const std::string& name : names) {
    uint64_t number = 0;
    const FileKind kind = ParseFileName(name, &number);
    max_number = std::max(max_number, number);
    const bool garbage = kind == FileKind::kTemp ||
                         (kind == FileKind::kSegment && !live_segments.contains(number)) ||
                         (kind == FileKind::kWal && number < manifest_.wal_start);
    if (garbage) {
      PROXIMADB_RETURN_IF_ERROR(env_->RemoveFile(JoinPath(dir, name)));
    } else if (kind == FileKind::kWal) {
      wal_files.push_back(number);
    }
  }
  next_file_number_ = std::max(manifest_.next_file_number, max_number + 1);

  for (const ManifestSegment& entry : manifest_.segments) {
    const std::string path = JoinPath(dir, SegmentFileName(entry.number));
    absl::StatusOr<std::shared_ptr<Segment>> seg = Segment::Open(env_, path, entry.number, dim_, options_.config.metric);
    if (absl::IsNotFound(seg.status())) {
      return absl::DataLossError(
          absl::StrCat("segment ", path, " is listed in the manifest but missing"));
    }
    PROXIMADB_RETURN_IF_ERROR(seg.status());
    if ((*seg)->num_rows() != entry.num_rows) {
      return absl::DataLossError(absl::StrCat("segment ", path, " has ", (*seg)->num_rows(),
                                              " rows, the manifest says ", entry.num_rows));
    }
    for (uint32_t row : entry.deleted_rows) (*seg)->MarkDeleted(row, 0);
    live_count_ += (*seg)->num_rows() - (*seg)->num_deleted();
    segments_.push_back(*std::move(seg));
  }

  last_seq_ = manifest_.covered_seq;
  std::sort(wal_files.begin(), wal_files.end());
  for (size_t i = 0; i < wal_files.size(); ++i) {
    const std::string path = JoinPath(dir, WalFileName(wal_files[i]));
    const uint64_t seq_before = last_seq_;
    PROXIMADB_ASSIGN_OR_RETURN(
        log::ReadResult result,
        ReadWalFile(env_, options_.wal_strategy, dir, wal_files[i],
                    [&](std::string_view payload, uint64_t offset) -> absl::Status {
                      DecodedBatch batch;
                      absl::Status s = DecodeBatch(payload, &batch);
                      if (!s.ok()) {
                        return absl::DataLossError(absl::StrCat("WAL file ", path, " offset ",
                                                                offset, ": ", s.message()));
                      }
                      if (batch.seq <= manifest_.covered_seq) return absl::OkStatus();
                      if (batch.seq != last_seq_ + 1) {
                        return absl::DataLossError(absl::StrCat(
                            "WAL file ", path, " offset ", offset, ": batch ", batch.seq,
                            " follows batch ", last_seq_, "; batches are missing"));
                      }
                      ApplyDecoded(batch);
                      return absl::OkStatus();
                    }));
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
    if (last_seq_ == seq_before) {
      // Nothing in it that the segments lack (an open without writes leaves such files).
      PROXIMADB_RETURN_IF_ERROR(env_->RemoveFile(path));
    } else {
      wal_bytes_ += result.valid_end;
    }
  }

  const uint64_t number = next_file_number_++;
  absl::MutexLock wl(&wal_mu_);
  PROXIMADB_ASSIGN_OR_RETURN(wal_, CreateWalFile(env_, options_.wal_strategy, dir, number));
  return absl::OkStatus();
}

void CollectionImpl::MarkDropped() {
  absl::MutexLock bg(&bg_mu_);  // waits for a running flush or compaction
  absl::MutexLock l(&mu_);
  dropped_ = true;
}

absl::Status CollectionImpl::StopWrites(std::string_view what, const absl::Status& cause) {
  if (bg_error_.ok()) {
    bg_error_ = absl::FailedPreconditionError(
        absl::StrCat("collection ", Quote(options_.config.name), ": ", std::string(what),
                     ", writes are stopped until the database is reopened: ", cause.ToString()));
    Log(LogLevel::kError, bg_error_.message());
  }
  return bg_error_;
}

absl::Status CollectionImpl::WriteError() const {
  if (dropped_) {
    return absl::FailedPreconditionError(
        absl::StrCat("collection ", Quote(options_.config.name), " was dropped"));
  }
  return bg_error_;
}

// ---------------------------------------------------------------------------------------------
// Write path

absl::Status CollectionImpl::ValidateRecord(Record& r) const {
  if (r.id.empty()) return absl::InvalidArgumentError("id: must not be empty");
  if (r.id.size() > kMaxIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("id: ", r.id.size(), " bytes, the limit is ", kMaxIdBytes));
  }
  if (r.vector.size() != dim_) {
    return WithErrorCode(
        absl::InvalidArgumentError(absl::StrCat(
            "vector of id ", Quote(r.id), " has dimension ", r.vector.size(), ", collection ",
            Quote(options_.config.name), " has dimension ", dim_)),
        kDimensionMismatch);
  }
  for (size_t i = 0; i < r.vector.size(); ++i) {
    if (!std::isfinite(r.vector[i])) {
      return absl::InvalidArgumentError(absl::StrCat("vector of id ", Quote(r.id),
                                                      " has a non-finite value at index ", i));
    }
  }
  PROXIMADB_ASSIGN_OR_RETURN(r.metadata,
                             CanonicalMetadata(r.metadata, absl::StrCat("metadata of id ", Quote(r.id))));
  if (r.metadata.size() > kMaxMetadataBytes) {
    return absl::InvalidArgumentError(absl::StrCat("metadata of id ", Quote(r.id), ": ",
                                                   r.metadata.size(), " bytes, the limit is ",
                                                   kMaxMetadataBytes));
  }
  return absl::OkStatus();
}

absl::Status CollectionImpl::Write(std::vector<Record> records, WriteMode mode) {
  if (records.empty()) return absl::OkStatus();
  absl::flat_hash_set<std::string_view> seen;
  for (Record& r : records) {
    PROXIMADB_RETURN_IF_ERROR(ValidateRecord(r));
    if (mode == WriteMode::kInsert && !seen.insert(r.id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("id ", Quote(r.id), " appears more than once in the batch"));
    }
  }
  Writer w(Writer::Kind::kWrite);
  w.records = &records;
  w.mode = mode;
  return Commit(&w);
}

absl::StatusOr<uint64_t> CollectionImpl::Delete(const std::vector<std::string>& ids) {
  if (ids.empty()) return 0;
  Writer w(Writer::Kind::kDelete);
  w.ids = &ids;
  PROXIMADB_RETURN_IF_ERROR(Commit(&w));
  return w.deleted;
}

absl::Status CollectionImpl::PatchMetadata(std::string_view id, std::string_view patch) {
  // Validate the patch before queueing, so that bad input never reaches the commit path.
  PROXIMADB_RETURN_IF_ERROR(
      CanonicalMetadata(patch, absl::StrCat("metadata patch of id ", Quote(id))).status());
  Writer w(Writer::Kind::kPatch);
  w.id = id;
  w.metadata = patch;
  return Commit(&w);
}

absl::Status CollectionImpl::ReplaceMetadata(std::string_view id, std::string_view metadata) {
  PROXIMADB_ASSIGN_OR_RETURN(std::string canonical,
                             CanonicalMetadata(metadata, absl::StrCat("metadata of id ", Quote(id))));
  if (canonical.size() > kMaxMetadataBytes) {
    return absl::InvalidArgumentError(absl::StrCat("metadata of id ", Quote(id), ": ",
                                                   canonical.size(), " bytes, the limit is ",
                                                   kMaxMetadataBytes));
  }
  Writer w(Writer::Kind::kReplace);
  w.id = id;
  w.metadata = canonical;
  return Commit(&w);
}

absl::Status CollectionImpl::Commit(Writer* w) {
  absl::MutexLock l(&mu_);
  writers_.push_back(w);
  while (!w->done && w != writers_.front()) w->cv.Wait(&mu_);
  if (w->done) return w->status;

  // This writer leads a group: the writers queued behind it, up to a freeze or a size limit.
  std::vector<Writer*> group;
  if (absl::Status e = WriteError(); !e.ok()) {
    w->status = e;
    group.push_back(w);
  } else if (w->kind == Writer::Kind::kFreeze) {
    w->status = FreezeLocked();
    group.push_back(w);
  } else {
    size_t bytes = 0;
    for (Writer* x : writers_) {
      if (x->kind == Writer::Kind::kFreeze || bytes >= kMaxGroupBytes) break;
      group.push_back(x);
      bytes += x->EstimatedBytes();
    }
    Overlay overlay;
    uint64_t seq = last_seq_;
    for (Writer* x : group) {
      x->status = Resolve(x, &overlay, seq + 1, &x->payload);
      if (x->status.ok() && !x->payload.empty()) ++seq;
    }
    if (seq > last_seq_) {
      // Invariant 4: the leader alone uses the WAL, so it can drop the lock for the I/O.
      absl::Status s;
      const uint64_t size_before = wal_->size();
      mu_.Unlock();
      for (Writer* x : group) {
        if (x->status.ok() && !x->payload.empty()) {
          s = wal_->Append(x->payload);
          if (!s.ok()) break;
        }
      }
      if (s.ok() && options_.durability == Durability::kSync) {
        s = wal_->Sync();
        if (s.ok()) wal_syncs_.fetch_add(1, std::memory_order_relaxed);
      }
      mu_.Lock();
      wal_bytes_ += wal_->size() - size_before;
      if (!s.ok()) StopWrites("WAL write failed", s).IgnoreError();  // each writer gets it below
      for (Writer* x : group) {
        if (!x->status.ok() || x->payload.empty()) continue;
        if (s.ok()) {
          DecodedBatch batch;
          PROXIMADB_CHECK(DecodeBatch(x->payload, &batch).ok());
          ApplyDecoded(batch);
        } else {
          x->status = bg_error_;
        }
        std::string().swap(x->payload);
      }
    }
  }

  for (Writer* x : group) {
    PROXIMADB_CHECK(writers_.front() == x);
    writers_.pop_front();
    if (x != w) {
      x->done = true;
      x->cv.Signal();
    }
  }
  if (!writers_.empty()) writers_.front()->cv.Signal();
  return w->status;
}

absl::Status CollectionImpl::Resolve(Writer* w, Overlay* overlay, uint64_t seq,
                                     std::string* payload) {
  // The live version of `id` as of the batches before this one.
  auto current = [&](std::string_view id, const float** vector, std::string* metadata) {
    if (const Overlay::Entry* e = overlay->Find(id)) {
      if (!e->live) return false;
      *vector = e->vector;
      *metadata = e->metadata;
      return true;
    }
    Location loc = FindLive(id);
    if (!loc.found()) return false;
    *vector = loc.vector();
    *metadata = std::string(loc.metadata());
    return true;
  };
  auto not_found = [&](std::string_view id) {
    return absl::NotFoundError(absl::StrCat("id ", Quote(id), " not found in collection ",
                                            Quote(options_.config.name)));
  };

  BatchBuilder batch(seq, static_cast<uint64_t>(NowMicros()));
  const float* vector;
  std::string metadata;
  switch (w->kind) {
    case Writer::Kind::kWrite:
      for (const Record& r : *w->records) {
        if (w->mode == WriteMode::kInsert && current(r.id, &vector, &metadata)) {
          overlay->Rollback();
          return absl::AlreadyExistsError(absl::StrCat("id ", Quote(r.id),
                                                       " already exists in collection ",
                                                       Quote(options_.config.name)));
        }
        batch.Put(r.id, r.vector.data(), dim_, r.metadata);
        overlay->Set(r.id, {true, r.vector.data(), r.metadata});
      }
      break;
    case Writer::Kind::kDelete:
      for (const std::string& id : *w->ids) {
        if (!current(id, &vector, &metadata)) continue;
        if (w->filter != nullptr && !w->filter->Matches(metadata)) continue;
        batch.Delete(id);
        overlay->Set(id, {false, nullptr, {}});
        ++w->deleted;
      }
      break;
    case Writer::Kind::kPatch:
    case Writer::Kind::kReplace: {
      if (!current(w->id, &vector, &metadata)) return not_found(w->id);
      std::string updated(w->metadata);
      if (w->kind == Writer::Kind::kPatch) {
        PROXIMADB_ASSIGN_OR_RETURN(
            updated, MergeMetadata(metadata, w->metadata,
                                   absl::StrCat("metadata patch of id ", Quote(w->id))));
        if (updated.size() > kMaxMetadataBytes) {
          return absl::InvalidArgumentError(
              absl::StrCat("metadata of id ", Quote(w->id), " would be ", updated.size(),
                           " bytes after the patch, the limit is ", kMaxMetadataBytes));
        }
      }
      batch.Put(w->id, vector, dim_, updated);
      overlay->Set(w->id, {true, vector, std::move(updated)});
      break;
    }
    case Writer::Kind::kFreeze:
      PROXIMADB_CHECK(false);
  }
  overlay->Commit();
  if (batch.count() > 0) *payload = batch.Finish();
  return absl::OkStatus();
}

CollectionImpl::Location CollectionImpl::FindLive(std::string_view id) const {
  // Invariant 2: at most one live row per id, so the first live one found is the one.
  Location loc;
  if (auto row = mem_->Find(id); row && mem_->deleted_seq(*row) == kNotDeleted) {
    loc.mem = mem_.get();
    loc.row = *row;
    return loc;
  }
  for (auto it = imms_.rbegin(); it != imms_.rend(); ++it) {
    Memtable* m = it->mem.get();
    if (auto row = m->Find(id); row && m->deleted_seq(*row) == kNotDeleted) {
      loc.mem = m;
      loc.row = *row;
      return loc;
    }
  }
  for (auto it = segments_.rbegin(); it != segments_.rend(); ++it) {
    Segment* s = it->get();
    if (auto row = s->Find(id); row && s->deleted_seq(*row) == kNotDeleted) {
      loc.seg = s;
      loc.row = *row;
      return loc;
    }
  }
  return loc;
}

void CollectionImpl::ApplyDecoded(const DecodedBatch& batch) {
  for (const BatchOp& op : batch.ops) {
    Location old = FindLive(op.id);
    if (old.found()) {
      if (old.mem) old.mem->MarkDeleted(old.row, batch.seq);
      if (old.seg) old.seg->MarkDeleted(old.row, batch.seq);
      --live_count_;
    }
    if (op.type == OpType::kPut) {
      PROXIMADB_CHECK(op.dim == dim_);
      mem_->Append(op.id, op.vector, op.metadata, batch.seq);
      ++live_count_;
    }
  }
  if (mem_oldest_write_us_ == 0) mem_oldest_write_us_ = static_cast<int64_t>(batch.timestamp_us);
  last_seq_ = batch.seq;
}

// ---------------------------------------------------------------------------------------------
// Read path

CollectionImpl::View CollectionImpl::PinView() const {
  absl::MutexLock l(&mu_);
  View v;
  v.seq = last_seq_;
  v.mems.push_back(mem_);
  for (auto it = imms_.rbegin(); it != imms_.rend(); ++it) v.mems.push_back(it->mem);
  for (const auto& m : v.mems) v.mem_rows.push_back(m->num_rows());
  v.segments = segments_;
  return v;
}

absl::StatusOr<Record> CollectionImpl::Get(std::string_view id) {
  absl::MutexLock l(&mu_);
  Location loc = FindLive(id);
  if (!loc.found()) {
    return absl::NotFoundError(absl::StrCat("id ", Quote(id), " not found in collection ",
                                            Quote(options_.config.name)));
  }
  Record r;
  r.id = std::string(id);
  r.vector.assign(loc.vector(), loc.vector() + dim_);
  r.metadata = std::string(loc.metadata());
  return r;
}

absl::StatusOr<std::vector<Record>> CollectionImpl::GetMany(const std::vector<std::string>& ids) {
  std::vector<Record> out;
  absl::MutexLock l(&mu_);
  for (const std::string& id : ids) {
    Location loc = FindLive(id);
    if (!loc.found()) continue;
    out.push_back(Record{id, std::vector<float>(loc.vector(), loc.vector() + dim_),
                         std::string(loc.metadata())});
  }
  return out;
}

namespace {

// The rows of a layer (a memtable chunk, or a whole segment) that a search may return, in the
// layer's graph numbering (global row = base + local): below `limit`, visible at the snapshot,
// and in `selected` (the filter's rows, global numbering) unless that is null.
template <typename Layer>
class LayerRows final : public index::AllowedRows {
 public:
  LayerRows(const Layer& layer, uint64_t snapshot, uint32_t base, uint32_t limit,
            const Roaring* selected)
      : layer_(layer), snapshot_(snapshot), base_(base), limit_(limit), selected_(selected) {}

  uint32_t count() const override {
    if (selected_ == nullptr) return limit_;
    if (limit_ == 0) return 0;
    const uint64_t below_end = roaring_bitmap_rank(&selected_->roaring, base_ + limit_ - 1);
    const uint64_t below_base =
        base_ == 0 ? 0 : roaring_bitmap_rank(&selected_->roaring, base_ - 1);
    return static_cast<uint32_t>(below_end - below_base);
  }
  bool Contains(uint32_t local) const override {
    return local < limit_ && (selected_ == nullptr || selected_->contains(base_ + local)) &&
           layer_.VisibleAt(base_ + local, snapshot_);
  }
  void ForEach(absl::FunctionRef<void(uint32_t)> fn) const override {
    if (selected_ == nullptr) {
      for (uint32_t local = 0; local < limit_; ++local) {
        if (layer_.VisibleAt(base_ + local, snapshot_)) fn(local);
      }
      return;
    }
    roaring_uint32_iterator_t* it = roaring_create_iterator(&selected_->roaring);
    for (bool ok = roaring_move_uint32_iterator_equalorlarger(it, base_);
         ok && it->has_value && it->current_value < base_ + limit_;
         ok = roaring_advance_uint32_iterator(it)) {
      if (layer_.VisibleAt(it->current_value, snapshot_)) fn(it->current_value - base_);
    }
    roaring_free_uint32_iterator(it);
  }

 private:
  const Layer& layer_;
  const uint64_t snapshot_;
  const uint32_t base_, limit_;
  const Roaring* const selected_;
};

// The best k candidates over all layers of a view.
class TopK {
 public:
  struct Candidate {
    float distance;
    const Memtable* mem;
    const Segment* seg;
    uint32_t row;
    bool operator<(const Candidate& o) const { return distance < o.distance; }
  };
  explicit TopK(uint32_t k) : k_(k) {}
  void Offer(float distance, const Memtable* mem, const Segment* seg, uint32_t row) {
    if (heap_.size() == k_ && !(distance < heap_.top().distance)) return;
    heap_.push({distance, mem, seg, row});
    if (heap_.size() > k_) heap_.pop();
  }
  // Best first; empties the heap.
  std::vector<Candidate> Take() {
    std::vector<Candidate> out(heap_.size());
    for (size_t i = out.size(); i-- > 0; heap_.pop()) out[i] = heap_.top();
    return out;
  }

 private:
  const uint32_t k_;
  std::priority_queue<Candidate> heap_;
};

// What a search of one layer did; the response reports the most involved plan any layer ran.
void NotePlan(index::Plan plan, index::Plan* strongest) {
  auto rank = [](index::Plan p) {
    return p == index::Plan::kGraphExpanded ? 2 : p == index::Plan::kGraph ? 1 : 0;
  };
  if (rank(plan) > rank(*strongest)) *strongest = plan;
}

// Whether every row of the layer's graph is visible to any reader, so that an unfiltered search
// needs no per-node check: a segment without deletions whose graph covers exactly its rows (a
// memtable's graphs can hold rows newer than a reader's snapshot).
bool AllRowsVisible(const Segment& s, uint32_t rows) {
  return s.num_deleted() == 0 && s.graph() != nullptr && s.graph()->capacity() == rows;
}
bool AllRowsVisible(const Memtable&, uint32_t) { return false; }

// Searches rows [base, base + limit) of a layer whose vectors there are `vectors` (contiguous,
// row `base` first) through `graph` (over those rows, numbered from 0), or exactly when there is
// no graph, the request asks for it, or there are few rows.
template <typename Layer>
void SearchLayer(const Layer& layer, const Memtable* mem, const Segment* seg, uint64_t snapshot,
                 uint32_t base, uint32_t limit, const float* vectors, const index::Hnsw* graph,
                 const Roaring* selected, const SearchRequest& req, uint32_t ef,
                 index::Distance distance, uint32_t dim, TopK* top, index::Plan* plan) {
  const LayerRows<Layer> rows(layer, snapshot, base, limit, selected);
  const float* q = req.vector.data();
  if (req.exact || graph == nullptr || limit <= 4 * std::max(ef, req.k)) {
    rows.ForEach([&](uint32_t local) {
      top->Offer(distance(q, vectors + static_cast<size_t>(local) * dim, dim), mem, seg,
                 base + local);
    });
    return;
  }
  index::PlannedResult r;
  if (selected == nullptr) {
    r.plan = index::Plan::kGraph;
    if (AllRowsVisible(layer, base + limit)) {
      r.hits = graph->Search(q, req.k, std::max(ef, req.k));
    } else {
      // The graph search skips invisible rows (deleted, or newer than the snapshot).
      r.hits = graph->Search(
          q, req.k, std::max(ef, req.k), [&](uint32_t local) { return rows.Contains(local); });
    }
  } else {
    r = index::PlannedSearch(*graph, vectors, dim, distance, q, req.k, ef, &rows);
  }
  NotePlan(r.plan, plan);
  for (const index::Hit& h : r.hits) top->Offer(h.distance, mem, seg, base + h.row);
}

}  // namespace

namespace {

// Calls fn(id, mem, seg, row) for every row of the view that is live at its snapshot and
// matches `filter` (through the layers' field indexes); one of mem and seg is null.
template <typename View, typename Fn>
void ForEachLive(const View& v, const Filter& filter, Fn&& fn) {
  for (size_t i = 0; i < v.mems.size(); ++i) {
    const Memtable& m = *v.mems[i];
    std::optional<Roaring> selected;
    if (!filter.matches_all()) {
      selected = m.fields().Select(filter, v.mem_rows[i], [&](uint32_t r) { return m.metadata(r); });
    }
    LayerRows<Memtable>(m, v.seq, 0, v.mem_rows[i], selected ? &*selected : nullptr)
        .ForEach([&](uint32_t r) { fn(m.id(r), &m, nullptr, r); });
  }
  for (const auto& s : v.segments) {
    std::optional<Roaring> selected;
    if (!filter.matches_all()) {
      selected = s->fields().Select(filter, s->num_rows(),
                                    [&](uint32_t r) { return s->metadata(r); });
    }
    LayerRows<Segment>(*s, v.seq, 0, s->num_rows(), selected ? &*selected : nullptr)
        .ForEach([&](uint32_t r) { fn(s->id(r), nullptr, s.get(), r); });
  }
}

}  // namespace

absl::StatusOr<uint64_t> CollectionImpl::Count(std::string_view filter_text) {
  PROXIMADB_ASSIGN_OR_RETURN(Filter filter, Filter::Parse(filter_text));
  if (filter.matches_all()) {
    absl::MutexLock l(&mu_);
    return live_count_;
  }
  uint64_t n = 0;
  ForEachLive(PinView(), filter,
              [&](std::string_view, const Memtable*, const Segment*, uint32_t) { ++n; });
  return n;
}

absl::StatusOr<uint64_t> CollectionImpl::DeleteWhere(std::string_view filter_text) {
  PROXIMADB_ASSIGN_OR_RETURN(Filter filter, Filter::Parse(filter_text));
  if (filter.matches_all()) {
    return absl::InvalidArgumentError(
        "filter: must not be empty for a delete (drop the collection to delete everything)");
  }
  std::vector<std::string> ids;
  const View v = PinView();
  ForEachLive(v, filter, [&](std::string_view id, const Memtable*, const Segment*, uint32_t) {
    ids.emplace_back(id);
  });
  if (ids.empty()) return 0;
  // The commit checks each id's live record against the filter again: one re-written since
  // the snapshot is deleted only if it still matches.
  Writer w(Writer::Kind::kDelete);
  w.ids = &ids;
  w.filter = &filter;
  PROXIMADB_RETURN_IF_ERROR(Commit(&w));
  return w.deleted;
}

absl::StatusOr<ScrollPage> CollectionImpl::Scroll(std::string_view after, uint32_t limit,
                                                  std::string_view filter_text,
                                                  bool include_vectors) {
  if (limit == 0) return absl::InvalidArgumentError("limit: must be at least 1");
  PROXIMADB_ASSIGN_OR_RETURN(Filter filter, Filter::Parse(filter_text));
  struct Entry {
    std::string_view id;
    const Memtable* mem;
    const Segment* seg;
    uint32_t row;
    bool operator<(const Entry& o) const { return id < o.id; }
  };
  // The `limit` smallest ids after `after`, in a max-heap; one more tells whether a page follows.
  std::priority_queue<Entry> heap;
  bool more = false;
  const View v = PinView();
  ForEachLive(v, filter, [&](std::string_view id, const Memtable* mem, const Segment* seg,
                             uint32_t row) {
    if (id <= after) return;
    if (heap.size() == limit) {
      more = true;
      if (!(id < heap.top().id)) return;
      heap.pop();
    }
    heap.push({id, mem, seg, row});
  });
  ScrollPage page;
  page.records.resize(heap.size());
  for (size_t i = heap.size(); i-- > 0; heap.pop()) {
    const Entry& e = heap.top();
    Record& r = page.records[i];
    r.id = std::string(e.id);
    r.metadata = std::string(e.mem ? e.mem->metadata(e.row) : e.seg->metadata(e.row));
    if (include_vectors) {
      const float* vec = e.mem ? e.mem->vector(e.row) : e.seg->vector(e.row);
      r.vector.assign(vec, vec + dim_);
    }
  }
  if (more) page.next_after = page.records.back().id;
  return page;
}

absl::StatusOr<SearchResponse> CollectionImpl::Search(const SearchRequest& req) {
  if (req.vector.size() != dim_) {
    return WithErrorCode(absl::InvalidArgumentError(absl::StrCat(
                             "query vector has dimension ", req.vector.size(), ", collection ",
                             Quote(options_.config.name), " has dimension ", dim_)),
                         kDimensionMismatch);
  }
  for (size_t i = 0; i < req.vector.size(); ++i) {
    if (!std::isfinite(req.vector[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("query vector has a non-finite value at index ", i));
    }
  }
  if (req.k == 0) return absl::InvalidArgumentError("k: must be at least 1");
  PROXIMADB_ASSIGN_OR_RETURN(Filter filter, Filter::Parse(req.filter));
  const index::Distance distance = index::DistanceFor(options_.config.metric);
  uint32_t ef = req.ef;
  if (ef == 0) {
    absl::MutexLock l(&settings_mu_);
    ef = index_settings_.ef_search;
  }

  TopK top(req.k);
  index::Plan plan = index::Plan::kExact;
  View v = PinView();
  for (size_t i = 0; i < v.mems.size(); ++i) {
    const Memtable& m = *v.mems[i];
    const uint32_t rows = v.mem_rows[i];
    std::optional<Roaring> selected;
    if (!filter.matches_all()) {
      selected = m.fields().Select(filter, rows, [&](uint32_t r) { return m.metadata(r); });
    }
    const Roaring* sel = selected ? &*selected : nullptr;
    // Chunk by chunk: the indexed rows of a chunk through its graph, the rest exactly.
    const uint32_t indexed = std::min(m.indexed_rows(), rows);
    for (int k = 0; Memtable::ChunkStart(k) < rows; ++k) {
      const uint32_t base = Memtable::ChunkStart(k);
      const uint32_t in_chunk = std::min(rows - base, Memtable::ChunkCapacity(k));
      const uint32_t graphed = indexed > base ? std::min(indexed - base, in_chunk) : 0;
      const float* vectors = m.chunk_vectors(k);
      if (graphed > 0) {
        SearchLayer(m, &m, nullptr, v.seq, base, graphed, vectors, m.chunk_graph(k), sel, req,
                    ef, distance, dim_, &top, &plan);
      }
      if (graphed < in_chunk) {
        SearchLayer(m, &m, nullptr, v.seq, base + graphed, in_chunk - graphed,
                    vectors + static_cast<size_t>(graphed) * dim_, nullptr, sel, req, ef,
                    distance, dim_, &top, &plan);
      }
    }
  }
  for (const auto& s : v.segments) {
    std::optional<Roaring> selected;
    if (!filter.matches_all()) {
      selected = s->fields().Select(filter, s->num_rows(),
                                    [&](uint32_t r) { return s->metadata(r); });
    }
    SearchLayer(*s, nullptr, s.get(), v.seq, 0, s->num_rows(), s->vector(0), s->graph(),
                selected ? &*selected : nullptr, req, ef, distance, dim_, &top, &plan);
  }

  SearchResponse response;
  response.plan = index::PlanName(plan);
  std::vector<TopK::Candidate> best = top.Take();
  response.hits.reserve(best.size());
  for (const TopK::Candidate& c : best) {
    SearchHit& h = response.hits.emplace_back();
    h.id = std::string(c.mem ? c.mem->id(c.row) : c.seg->id(c.row));
    h.score = index::ScoreFromDistance(options_.config.metric, c.distance);
    if (req.include_metadata) {
      h.metadata = std::string(c.mem ? c.mem->metadata(c.row) : c.seg->metadata(c.row));
    }
    if (req.include_vectors) {
      const float* vec = c.mem ? c.mem->vector(c.row) : c.seg->vector(c.row);
      h.vector.assign(vec, vec + dim_);
    }
  }
  return response;
}

uint32_t CollectionImpl::IndexMemtable(uint32_t max_rows) {
  std::shared_ptr<Memtable> mem;
  {
    absl::MutexLock l(&mu_);
    mem = mem_;
  }
  absl::MutexLock l(&index_mu_);
  return mem->IndexRows(max_rows);
}

// ---------------------------------------------------------------------------------------------
// Flush

absl::Status CollectionImpl::FreezeLocked() {
  const uint64_t frozen_up_to = imms_.empty() ? manifest_.covered_seq : imms_.back().last_seq;
  if (last_seq_ == frozen_up_to) return absl::OkStatus();  // nothing new since the last freeze
  const uint64_t number = next_file_number_++;
  PROXIMADB_ASSIGN_OR_RETURN(std::unique_ptr<WalWriter> next,
                             CreateWalFile(env_, options_.wal_strategy, options_.dir, number));
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
  mem_ = NewMemtable();
  mem_oldest_write_us_ = 0;
  wal_bytes_ = 0;
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Segment>> CollectionImpl::FinishSegment(SegmentBuilder& builder,
                                                                       const std::string& path,
                                                                       uint64_t number) {
  absl::Status s = builder.Finish();
  if (s.ok()) s = env_->SyncDir(options_.dir);  // its name durable before a manifest names it
  if (s.ok()) {
    absl::StatusOr<std::shared_ptr<Segment>> opened =
        Segment::Open(env_, path, number, dim_, options_.config.metric);
    if (opened.ok()) return opened;
    s = opened.status();
  }
  if (env_->FileExists(path)) env_->RemoveFile(path).IgnoreError();
  return s;
}

std::string CollectionImpl::BuildGraph(const float* vectors, uint32_t rows,
                                       absl::FunctionRef<bool(uint32_t)> include) const {
  if (options_.config.indexing_algorithm != IndexingAlgorithm::kHnsw || rows == 0) return "";
  const IndexParams& p = options_.config.index;
  index::Hnsw graph(vectors, dim_, options_.config.metric, rows,
                    index::HnswParams{.m = p.m, .ef_construction = p.ef_construction});
  // Every core: a flush or compaction is background work, but the sooner it ends the sooner
  // its memory goes.
  index::BuildHnsw(graph, rows, std::max(1u, std::thread::hardware_concurrency()), include);
  return graph.Serialize();
}

ManifestSegment CollectionImpl::ManifestEntry(const Segment& s, uint64_t up_to_seq) const {
  return ManifestSegment{s.number(), s.num_rows(), s.DeletedRowsUpTo(up_to_seq)};
}

absl::Status CollectionImpl::InstallManifest(const Manifest& m, const std::string& new_file) {
  bool installed = false;
  absl::Status s = WriteManifest(env_, options_.dir, m, &installed);
  if (s.ok()) return s;
  if (!installed) {
    // Nothing changed on disk: the old manifest is in force, the new file is garbage.
    if (!new_file.empty() && env_->FileExists(new_file)) env_->RemoveFile(new_file).IgnoreError();
    return absl::Status(s.code(), absl::StrCat("collection ", Quote(options_.config.name),
                                               ": manifest update failed, nothing changed: ",
                                               s.message()));
  }
  // The new manifest is in place but may not be durable: keep every file either one names.
  absl::MutexLock l(&mu_);
  return StopWrites("manifest switch may not be durable", s);
}

void CollectionImpl::RemoveWalFilesBelow(uint64_t number) {
  absl::StatusOr<std::vector<std::string>> names = env_->ListDir(options_.dir);
  if (!names.ok()) return;
  for (const std::string& name : *names) {
    uint64_t n;
    if (ParseFileName(name, &n) == FileKind::kWal && n < number) {
      // A file left behind is removed at the next open.
      env_->RemoveFile(JoinPath(options_.dir, name)).IgnoreError();
    }
  }
}

absl::Status CollectionImpl::FlushFrozen() {
  const int64_t start_us = NowMicros();
  Frozen f;
  uint64_t seg_number;
  {
    absl::MutexLock l(&mu_);
    PROXIMADB_RETURN_IF_ERROR(WriteError());
    if (imms_.empty()) return absl::OkStatus();
    f = imms_.front();
    seg_number = next_file_number_++;
  }
  const uint32_t rows = f.mem->num_rows();
  std::shared_ptr<Segment> seg;
  std::string seg_path;
  if (rows > 0) {
    seg_path = JoinPath(options_.dir, SegmentFileName(seg_number));
    PROXIMADB_ASSIGN_OR_RETURN(std::unique_ptr<SegmentBuilder> builder,
                               SegmentBuilder::Create(env_, seg_path, dim_));
    std::vector<float> vectors(static_cast<size_t>(rows) * dim_);
    for (uint32_t r = 0; r < rows; ++r) {
      PROXIMADB_RETURN_IF_ERROR(builder->Add(f.mem->id(r),
                                             reinterpret_cast<const char*>(f.mem->vector(r)),
                                             f.mem->metadata(r),
                                             f.mem->deleted_seq(r) <= f.last_seq));
      std::memcpy(vectors.data() + static_cast<size_t>(r) * dim_, f.mem->vector(r),
                  dim_ * sizeof(float));
    }
    builder->SetGraph(BuildGraph(vectors.data(), rows, [&](uint32_t r) {
      return f.mem->deleted_seq(r) > f.last_seq;
    }));
    PROXIMADB_ASSIGN_OR_RETURN(seg, FinishSegment(*builder, seg_path, seg_number));
  }

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
  for (const auto& s : segments) m.segments.push_back(ManifestEntry(*s, f.last_seq));
  PROXIMADB_RETURN_IF_ERROR(InstallManifest(m, seg_path));
  {
    absl::MutexLock l(&mu_);
    manifest_ = m;
    if (seg) {
      // Deletions that reached the frozen memtable after the flush began move with its rows.
      for (uint32_t r = 0; r < rows; ++r) {
        const uint64_t d = f.mem->deleted_seq(r);
        if (d != kNotDeleted) seg->MarkDeleted(r, d);
      }
      segments_.push_back(seg);
    }
    imms_.pop_front();
    ++flushes_;
    flush_seconds_ += (NowMicros() - start_us) / 1e6;
  }
  RemoveWalFilesBelow(m.wal_start);
  return absl::OkStatus();
}

absl::Status CollectionImpl::Flush() {
  absl::MutexLock bg(&bg_mu_);
  Writer w(Writer::Kind::kFreeze);
  PROXIMADB_RETURN_IF_ERROR(Commit(&w));
  while (true) {
    {
      absl::MutexLock l(&mu_);
      if (imms_.empty()) return absl::OkStatus();
    }
    PROXIMADB_RETURN_IF_ERROR(FlushFrozen());
  }
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

absl::Status CollectionImpl::CompactSegments(std::vector<std::shared_ptr<Segment>> inputs) {
  const int64_t start_us = NowMicros();
  uint64_t snapshot, number;
  {
    absl::MutexLock l(&mu_);
    PROXIMADB_RETURN_IF_ERROR(WriteError());
    snapshot = last_seq_;
    number = next_file_number_++;
  }
  // Rows live at the snapshot move to the output; deletions after it are carried over below.
  std::vector<std::pair<const Segment*, uint32_t>> origin;
  const std::string path = JoinPath(options_.dir, SegmentFileName(number));
  std::shared_ptr<Segment> out;
  {
    PROXIMADB_ASSIGN_OR_RETURN(std::unique_ptr<SegmentBuilder> builder,
                               SegmentBuilder::Create(env_, path, dim_));
    std::vector<float> vectors;
    for (const auto& s : inputs) {
      for (uint32_t r = 0; r < s->num_rows(); ++r) {
        if (!s->VisibleAt(r, snapshot)) continue;
        PROXIMADB_RETURN_IF_ERROR(builder->Add(
            s->id(r), reinterpret_cast<const char*>(s->vector(r)), s->metadata(r), false));
        vectors.insert(vectors.end(), s->vector(r), s->vector(r) + dim_);
        origin.emplace_back(s.get(), r);
      }
    }
    builder->SetGraph(BuildGraph(vectors.data(), static_cast<uint32_t>(origin.size()),
                                 [](uint32_t) { return true; }));
    if (origin.empty()) {
      builder->Abandon();
    } else {
      PROXIMADB_ASSIGN_OR_RETURN(out, FinishSegment(*builder, path, number));
    }
  }

  absl::flat_hash_set<uint64_t> input_numbers;
  for (const auto& s : inputs) input_numbers.insert(s->number());
  Manifest m;
  {
    absl::MutexLock l(&mu_);
    m = manifest_;
    m.next_file_number = next_file_number_;
    m.segments.clear();
    bool placed = false;
    for (const ManifestSegment& e : manifest_.segments) {
      if (!input_numbers.contains(e.number)) {
        m.segments.push_back(e);
      } else if (!placed && out) {
        m.segments.push_back(ManifestSegment{number, out->num_rows(), {}});
        placed = true;
      }
    }
  }
  PROXIMADB_RETURN_IF_ERROR(InstallManifest(m, out ? path : ""));
  {
    absl::MutexLock l(&mu_);
    for (uint32_t i = 0; i < origin.size(); ++i) {
      const uint64_t d = origin[i].first->deleted_seq(origin[i].second);
      if (d != kNotDeleted) out->MarkDeleted(i, d);
    }
    std::vector<std::shared_ptr<Segment>> next;
    bool placed = false;
    for (auto& s : segments_) {
      if (!input_numbers.contains(s->number())) {
        next.push_back(std::move(s));
      } else if (!placed && out) {
        next.push_back(out);
        placed = true;
      }
    }
    segments_ = std::move(next);
    manifest_ = m;
    ++compactions_;
    compaction_seconds_ += (NowMicros() - start_us) / 1e6;
  }
  for (const auto& s : inputs) {
    // Readers holding a view keep their mapping; a file left behind is removed at the next open.
    env_->RemoveFile(JoinPath(options_.dir, SegmentFileName(s->number()))).IgnoreError();
  }
  return absl::OkStatus();
}

absl::Status CollectionImpl::Compact() {
  absl::MutexLock bg(&bg_mu_);
  std::vector<std::shared_ptr<Segment>> inputs;
  {
    absl::MutexLock l(&mu_);
    PROXIMADB_RETURN_IF_ERROR(WriteError());
    inputs = segments_;
    if (inputs.empty()) return absl::OkStatus();
    if (inputs.size() == 1 && inputs[0]->num_deleted() == 0) {
      return absl::OkStatus();  // already one segment without dead rows
    }
  }
  return CompactSegments(std::move(inputs));
}

absl::Status CollectionImpl::MaybeCompact() {
  absl::MutexLock bg(&bg_mu_);
  std::vector<std::shared_ptr<Segment>> inputs;
  bool heavy = false;
  {
    absl::MutexLock l(&mu_);
    if (!WriteError().ok()) return absl::OkStatus();
    // Small: less than half of a full memtable. Heavy: many dead rows.
    uint64_t small;
    {
      absl::MutexLock l(&settings_mu_);
      small = std::max<uint64_t>(flush_settings_.max_vector_count / 2, 1);
    }
    size_t small_count = 0;
    for (const auto& s : segments_) {
      const uint32_t dead = s->num_deleted();
      const bool is_heavy = s->num_rows() > 0 && dead >= kCompactionDeadFraction * s->num_rows();
      const bool is_small = s->num_rows() - dead < small;
      if (is_heavy || is_small) inputs.push_back(s);
      small_count += is_small;
      heavy |= is_heavy;
    }
    if (!heavy && small_count < kCompactionTriggerSegments) return absl::OkStatus();
  }
  return CompactSegments(std::move(inputs));
}

// ---------------------------------------------------------------------------------------------
// Stats

CollectionStats CollectionImpl::Stats() {
  CollectionStats st;
  // Field indexes are sized after mu_ is released: their mutex can be held for a long build.
  std::vector<std::shared_ptr<Memtable>> mems;
  std::vector<std::shared_ptr<Segment>> segments;
  {
    absl::MutexLock l(&mu_);
    st.vector_count = live_count_;
    st.last_seq = last_seq_;
    st.flushes = flushes_;
    st.compactions = compactions_;
    st.flush_seconds = flush_seconds_;
    st.compaction_seconds = compaction_seconds_;
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
    if (oldest != 0) st.oldest_unflushed_age_seconds = (NowMicros() - oldest) / 1e6;
    segments = segments_;
  }
  st.wal_syncs = wal_syncs_.load(std::memory_order_relaxed);
  for (const auto& m : mems) {
    st.memtable_rows += m->num_rows();
    st.unindexed_rows += m->num_rows() - m->indexed_rows();
    st.memory_bytes += m->MemoryBytes() + m->fields().MemoryBytes();
  }
  st.segment_count = segments.size();
  for (const auto& s : segments) {
    st.segment_rows += s->num_rows();
    st.deleted_rows += s->num_deleted();
    st.memory_bytes += s->MemoryBytes();
    st.disk_bytes += s->file_size();
  }
  st.disk_bytes += st.wal_bytes;
  return st;
}

}  // namespace proximadb
