// CollectionImpl's write path: validation, group commit into the WAL (one fsync per group
// under sync durability), and the apply of committed batches to the memtable (invariants 1, 2
// and 4 of collection_impl.h).

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/errors.h"
#include "common/macros.h"
#include "engine/collection_impl.h"
#include "engine/record_checks.h"
#include "filter/metadata.h"

namespace proximadb {
namespace {

// A leader stops adding writers to its group past this many payload bytes.
constexpr size_t kMaxGroupBytes = 16 << 20;

std::string Quote(std::string_view s) { return absl::StrCat("'", std::string(s), "'"); }

}  // namespace

struct CollectionImpl::Writer {
  // kApply: a batch a replicated log ordered (ApplyReplicated), never grouped with the others.
  enum class Kind { kWrite, kDelete, kPatch, kReplace, kFreeze, kApply };
  explicit Writer(Kind k) : kind(k) {}

  size_t EstimatedBytes() const {
    size_t n = 64;
    if (records) {
      for (const Record& r : *records) {
        n += r.id.size() + r.metadata.size() + r.vector.size() * sizeof(float) + 16;
      }
    }
    if (ids) n += ids->size() * 32;
    return n + metadata.size() + batch.size();
  }

  const Kind kind;
  // Inputs.
  std::vector<Record>* records = nullptr;  // kWrite
  WriteMode mode = WriteMode::kUpsert;     // kWrite
  const std::vector<std::string>* ids = nullptr;  // kDelete
  const Filter* filter = nullptr;  // kDelete: only ids whose live record (still) matches
  std::string_view id;                     // kPatch, kReplace
  std::string_view metadata;               // kPatch (the patch), kReplace (canonical)
  // kPatch, kReplace: the whole file of the cold segment holding id's live row, fetched before
  // the commit (its vector is kept; the cache may have let the file go meanwhile).
  std::shared_ptr<const Segment> cold_whole;
  // kDelete by filter (PrepareDeleteWhere): the sequence of the view its ids were read from.
  // The prepared batch claims to follow it, so that its conditional append fails if the
  // replica applied more meanwhile (a matching record the ids miss), and it is prepared again.
  std::optional<uint64_t> read_at;
  std::string_view batch;  // kApply: the encoded batch ("" for an entry that changes nothing)
  uint64_t apply_seq = 0;  // kApply: the sequence the log gave it
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
// Validation: every rule once, with one message.

RecordRules CollectionImpl::Rules() const {
  return {.collection = options_.config.name, .dimension = dim_,
          .max_id_bytes = options_.limits.max_id_bytes,
          .max_metadata_bytes = options_.limits.max_metadata_bytes};
}

absl::Status CollectionImpl::CheckMetadataSize(std::string_view id, size_t bytes) const {
  return proximadb::CheckMetadataSize(id, bytes, options_.limits.max_metadata_bytes);
}

// ---------------------------------------------------------------------------------------------
// The operations: each validates its input, then commits one writer.

absl::Status CollectionImpl::Write(std::vector<Record> records, WriteMode mode) {
  if (records.empty()) return absl::OkStatus();
  PROXIMADB_RETURN_IF_ERROR(CheckRecords(records, mode, Rules()));
  Writer w(Writer::Kind::kWrite);
  w.records = &records;
  w.mode = mode;
  return CommitWithinBudget(&w);
}

absl::Status CollectionImpl::CommitWithinBudget(Writer* w) {
  // Memtables past twice the memory budget: this write waits for the flushes (429).
  if (options_.budget != nullptr) PROXIMADB_RETURN_IF_ERROR(options_.budget->Admit());
  absl::Status s = Commit(w);
  if (options_.budget != nullptr) options_.budget->RequestRelease();
  return s;
}

absl::StatusOr<uint64_t> CollectionImpl::Delete(const std::vector<std::string>& ids) {
  return Delete(ids, nullptr);
}

absl::StatusOr<uint64_t> CollectionImpl::Delete(const std::vector<std::string>& ids,
                                                const Filter* still_matching) {
  if (ids.empty()) return 0;
  Writer w(Writer::Kind::kDelete);
  w.ids = &ids;
  w.filter = still_matching;
  PROXIMADB_RETURN_IF_ERROR(Commit(&w));
  return w.deleted;
}

absl::Status CollectionImpl::MetadataWriter(std::string_view id, std::string_view metadata,
                                            std::string* canonical, Writer* w) {
  // Validate before queueing, so that bad input never reaches the commit path.
  if (w->kind == Writer::Kind::kPatch) {
    PROXIMADB_RETURN_IF_ERROR(
        CanonicalMetadata(metadata, absl::StrCat("metadata patch of id ", Quote(id))).status());
    w->metadata = metadata;
  } else {
    PROXIMADB_ASSIGN_OR_RETURN(
        *canonical, CanonicalMetadata(metadata, absl::StrCat("metadata of id ", Quote(id))));
    PROXIMADB_RETURN_IF_ERROR(CheckMetadataSize(id, canonical->size()));
    w->metadata = *canonical;
  }
  PROXIMADB_ASSIGN_OR_RETURN(w->cold_whole, FetchColdOf(id));  // the record keeps its vector
  w->id = id;
  return absl::OkStatus();
}

absl::Status CollectionImpl::PatchMetadata(std::string_view id, std::string_view patch) {
  Writer w(Writer::Kind::kPatch);
  PROXIMADB_RETURN_IF_ERROR(MetadataWriter(id, patch, nullptr, &w));
  return CommitWithinBudget(&w);  // a new version of the record: memtable memory
}

absl::Status CollectionImpl::ReplaceMetadata(std::string_view id, std::string_view metadata) {
  Writer w(Writer::Kind::kReplace);
  std::string canonical;
  PROXIMADB_RETURN_IF_ERROR(MetadataWriter(id, metadata, &canonical, &w));
  return CommitWithinBudget(&w);
}

// ---------------------------------------------------------------------------------------------
// Replicated writes (cluster mode): prepared here, ordered by the log, applied on every replica.

absl::StatusOr<PreparedBatch> CollectionImpl::Prepare(Writer* w) {
  absl::MutexLock l(&mu_);
  PROXIMADB_RETURN_IF_ERROR(WriteError());
  Overlay overlay;
  PreparedBatch out;
  out.after = w->read_at.value_or(last_seq_);
  PROXIMADB_RETURN_IF_ERROR(Resolve(w, &overlay, last_seq_ + 1, &out.batch));
  out.deleted = w->deleted;
  return out;
}

absl::StatusOr<PreparedBatch> CollectionImpl::PrepareWrite(std::vector<Record> records,
                                                           WriteMode mode) {
  PROXIMADB_RETURN_IF_ERROR(CheckRecords(records, mode, Rules()));
  // A write the memory budget would refuse is refused before it reaches the log.
  if (options_.budget != nullptr) PROXIMADB_RETURN_IF_ERROR(options_.budget->Admit());
  Writer w(Writer::Kind::kWrite);
  w.records = &records;
  w.mode = mode;
  return Prepare(&w);
}

absl::StatusOr<PreparedBatch> CollectionImpl::PrepareDelete(const std::vector<std::string>& ids) {
  Writer w(Writer::Kind::kDelete);
  w.ids = &ids;
  return Prepare(&w);
}

absl::StatusOr<PreparedBatch> CollectionImpl::PrepareDeleteWhere(std::string_view filter_text) {
  PROXIMADB_ASSIGN_OR_RETURN(Filter filter, Filter::Parse(filter_text));
  uint64_t read_at = 0;
  PROXIMADB_ASSIGN_OR_RETURN(std::vector<std::string> ids, MatchingIds(filter, &read_at));
  Writer w(Writer::Kind::kDelete);
  w.ids = &ids;
  w.filter = &filter;
  w.read_at = read_at;
  return Prepare(&w);
}

absl::StatusOr<PreparedBatch> CollectionImpl::PreparePatch(std::string_view id,
                                                           std::string_view patch) {
  Writer w(Writer::Kind::kPatch);
  PROXIMADB_RETURN_IF_ERROR(MetadataWriter(id, patch, nullptr, &w));
  if (options_.budget != nullptr) PROXIMADB_RETURN_IF_ERROR(options_.budget->Admit());
  return Prepare(&w);
}

absl::StatusOr<PreparedBatch> CollectionImpl::PrepareReplace(std::string_view id,
                                                             std::string_view metadata) {
  Writer w(Writer::Kind::kReplace);
  std::string canonical;
  PROXIMADB_RETURN_IF_ERROR(MetadataWriter(id, metadata, &canonical, &w));
  if (options_.budget != nullptr) PROXIMADB_RETURN_IF_ERROR(options_.budget->Admit());
  return Prepare(&w);
}

absl::Status CollectionImpl::ApplyReplicated(std::string_view batch, uint64_t seq) {
  Writer w(Writer::Kind::kApply);
  w.batch = batch;
  w.apply_seq = seq;
  absl::Status s = Commit(&w);  // never refused by the budget: the log has it already
  if (options_.budget != nullptr) options_.budget->RequestRelease();
  return s;
}

absl::Status CollectionImpl::CheckReplicated(Writer* w, uint64_t seq, std::string* payload) const {
  if (w->apply_seq != seq) {
    return absl::FailedPreconditionError(absl::StrCat(
        "collection ", Quote(options_.config.name), ": replicated batch ", w->apply_seq,
        " cannot be applied after batch ", seq - 1, "; the next is ", seq));
  }
  if (w->batch.empty()) {  // takes the sequence, changes nothing
    *payload = BatchBuilder(seq, static_cast<uint64_t>(absl::ToUnixMicros(absl::Now()))).Finish();
    return absl::OkStatus();
  }
  DecodedBatch decoded;
  absl::Status s = DecodeBatch(w->batch, &decoded);
  if (s.ok() && decoded.seq != seq) {
    s = absl::DataLossError(absl::StrCat("it was prepared as batch ", decoded.seq));
  }
  for (const BatchOp& op : decoded.ops) {
    if (s.ok() && op.type == OpType::kPut && op.dim != dim_) {
      s = absl::DataLossError(absl::StrCat("a vector of dimension ", op.dim));
    }
  }
  if (!s.ok()) {
    return absl::DataLossError(absl::StrCat("collection ", Quote(options_.config.name),
                                            ": replicated batch ", seq, ": ", s.message()));
  }
  *payload = std::string(w->batch);
  return absl::OkStatus();
}

absl::Status CollectionImpl::Freeze() {
  Writer w(Writer::Kind::kFreeze);
  return Commit(&w);
}

// ---------------------------------------------------------------------------------------------
// Group commit

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
    const bool apply = w->kind == Writer::Kind::kApply;
    for (Writer* x : writers_) {
      if (x->kind == Writer::Kind::kFreeze || bytes >= kMaxGroupBytes) break;
      if ((x->kind == Writer::Kind::kApply) != apply) break;  // the overlay knows only one
      group.push_back(x);
      bytes += x->EstimatedBytes();
    }
    LogAndApply(group);
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

void CollectionImpl::LogAndApply(const std::vector<Writer*>& group) {
  Overlay overlay;
  uint64_t seq = last_seq_;
  for (Writer* x : group) {
    x->status = x->kind == Writer::Kind::kApply ? CheckReplicated(x, seq + 1, &x->payload)
                                                : Resolve(x, &overlay, seq + 1, &x->payload);
    if (x->status.ok() && !x->payload.empty()) ++seq;
  }
  if (seq == last_seq_) return;  // nothing to log
  std::vector<std::string_view> records;
  for (Writer* x : group) {
    if (x->status.ok() && !x->payload.empty()) records.push_back(x->payload);
  }
  // Invariant 4: the leader alone uses the WAL, so it can drop the lock for the I/O.
  const uint64_t size_before = wal_->size();
  mu_.Unlock();
  absl::Status s = wal_->AppendGroup(records);
  if (!s.ok() && absl::IsResourceExhausted(s)) {
    // A full disk refused the append: undo it, and this group fails while writes go on. An
    // fsync error (below) is never undone: what it lost is not known.
    s = DiskFull(s, wal_->Rewind(size_before));
  } else if (s.ok() && options_.durability == Durability::kSync) {
    s = wal_->Sync();
    if (s.ok()) wal_syncs_.fetch_add(1, std::memory_order_relaxed);
  }
  mu_.Lock();
  wal_bytes_ += wal_->size() - size_before;
  if (!s.ok() && ErrorCodeOf(s) != kInsufficientStorage) {
    s = StopWrites("WAL write failed", s);  // each writer gets it below
  }
  for (Writer* x : group) {
    if (!x->status.ok() || x->payload.empty()) continue;
    if (s.ok()) {
      DecodedBatch batch;
      PROXIMADB_CHECK(DecodeBatch(x->payload, &batch).ok());
      ApplyDecoded(batch);
    } else {
      x->status = s;
    }
    std::string().swap(x->payload);
  }
  if (s.ok()) AccountMemoryLocked();
}

absl::Status CollectionImpl::DiskFull(const absl::Status& append, const absl::Status& rewind) {
  if (!rewind.ok()) return rewind;  // the log's tail is unknown: writes stop (LogAndApply)
  return WithErrorCode(
      absl::ResourceExhaustedError(absl::StrCat(
          "collection '", options_.config.name, "': the disk is full, this write was not made (",
          append.message(), "); writes go on once there is space again")),
      kInsufficientStorage);
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
    const LiveRow live = FindLive(id);
    if (!live.found()) return false;
    // A cold stub has no vectors: from the whole file fetched before the commit, else null,
    // which only a metadata update needs (below).
    if (live.layer->has_vectors()) {
      *vector = live.layer->vector(live.row);
    } else {
      const bool fetched = w->cold_whole != nullptr &&
                           w->cold_whole->number() ==
                               static_cast<const Segment*>(live.layer)->number();
      *vector = fetched ? w->cold_whole->vector(live.row) : nullptr;
    }
    *metadata = std::string(live.layer->metadata(live.row));
    return true;
  };

  BatchBuilder batch(seq, static_cast<uint64_t>(absl::ToUnixMicros(absl::Now())));
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
      if (!current(w->id, &vector, &metadata)) return NotFound(w->id);
      if (vector == nullptr) {  // its row moved into a cold segment after the fetch
        return WithErrorCode(
            absl::UnavailableError(absl::StrCat("id ", Quote(w->id), ": its record moved to "
                                                "the cold tier during the update; retry")),
            kObjectStoreUnavailable);
      }
      std::string updated(w->metadata);
      if (w->kind == Writer::Kind::kPatch) {
        PROXIMADB_ASSIGN_OR_RETURN(
            updated, MergeMetadata(metadata, w->metadata,
                                   absl::StrCat("metadata patch of id ", Quote(w->id))));
        PROXIMADB_RETURN_IF_ERROR(CheckMetadataSize(w->id, updated.size()));
      }
      batch.Put(w->id, vector, dim_, updated);
      overlay->Set(w->id, {true, vector, std::move(updated)});
      break;
    }
    case Writer::Kind::kFreeze:
    case Writer::Kind::kApply:
      PROXIMADB_CHECK(false);
  }
  overlay->Commit();
  if (batch.count() > 0) *payload = batch.Finish();
  return absl::OkStatus();
}

CollectionImpl::LiveRow CollectionImpl::FindLive(std::string_view id) const {
  // Invariant 2: at most one live row per id, so the first live one found is the one.
  auto live_in = [&](Layer& layer) -> LiveRow {
    if (auto row = layer.Find(id); row && layer.deleted_seq(*row) == kNotDeleted) {
      return {&layer, *row};
    }
    return {};
  };
  if (LiveRow r = live_in(*mem_); r.found()) return r;
  for (auto it = imms_.rbegin(); it != imms_.rend(); ++it) {
    if (LiveRow r = live_in(*it->mem); r.found()) return r;
  }
  for (auto it = segments_.rbegin(); it != segments_.rend(); ++it) {
    if (LiveRow r = live_in(**it); r.found()) return r;
  }
  return {};
}

void CollectionImpl::ApplyDecoded(const DecodedBatch& batch) {
  for (const BatchOp& op : batch.ops) {
    if (const LiveRow old = FindLive(op.id); old.found()) {
      old.layer->MarkDeleted(old.row, batch.seq);
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

}  // namespace proximadb
