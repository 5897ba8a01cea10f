#include "cluster/shard_replica.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/strings.h"

namespace proximadb::cluster {

namespace {
constexpr int kPollMs = 100;  // how often the apply thread looks at stop_ while the log is idle
// A reader silent for this many polls while a caller waits for a later position (or for 50
// times as many in any case) is read again: its consumer may have been on a server that died.
constexpr int kStalledPolls = 5;
using Clock = std::chrono::steady_clock;

// An append's id: random, so that no two writes share one (JetStream drops an append whose id
// it has seen in the last minutes, and answers with the first one's position).
std::string RandomId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const uint64_t hi = rng(), lo = rng();
  return absl::StrFormat("w-%016x%016x", hi, lo);
}

}  // namespace

ShardReplica::ShardReplica(ShardLog* log, std::shared_ptr<Collection> collection,
                           ShardReplicaOptions options)
    : log_(log), collection_(std::move(collection)), options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<ShardReplica>> ShardReplica::Start(
    ShardLog* log, std::shared_ptr<Collection> collection, ShardReplicaOptions options) {
  if (options.node_id.empty()) return absl::InvalidArgumentError("node_id: cannot be empty");
  if (options.apply_timeout_ms <= 0) {
    return absl::InvalidArgumentError(
        Cat("apply_timeout_ms: ", options.apply_timeout_ms, " must be positive"));
  }
  absl::StatusOr<StreamState> state = log->State(options.stream);
  if (!state.ok()) return state.status();
  const uint64_t applied = collection->Stats().last_seq;
  if (state->last_seq < applied) {
    return absl::FailedPreconditionError(
        Cat("shard replica of ", options.stream, ": it has applied position ", applied,
            " but the log ends at ", state->last_seq, " (was the log created again?)"));
  }
  std::unique_ptr<ShardReplica> replica(
      new ShardReplica(log, std::move(collection), std::move(options)));
  {
    absl::MutexLock l(&replica->mu_);
    replica->applied_ = applied;
    replica->known_end_ = replica->start_end_ = state->last_seq;
  }
  replica->applier_ = std::thread([r = replica.get()] { r->ApplyLoop(); });
  return replica;
}

ShardReplica::~ShardReplica() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
  }
  applier_.join();
}

bool ShardReplica::caught_up() const {
  absl::MutexLock l(&mu_);
  return applied_ >= start_end_;
}

uint64_t ShardReplica::applied() const {
  absl::MutexLock l(&mu_);
  return applied_;
}

uint64_t ShardReplica::lag() const {
  absl::MutexLock l(&mu_);
  return known_end_ > applied_ ? known_end_ - applied_ : 0;
}

void ShardReplica::Saw(uint64_t seq) {
  absl::MutexLock l(&mu_);
  known_end_ = std::max(known_end_, seq);
}

absl::Status ShardReplica::apply_error() const {
  absl::MutexLock l(&mu_);
  return apply_error_;
}

absl::Time ShardReplica::stopped_at() const {
  absl::MutexLock l(&mu_);
  return stopped_at_;
}

void ShardReplica::ApplyLoop() {
  std::unique_ptr<LogReader> reader;
  int idle_polls = 0;
  while (true) {
    uint64_t next;
    bool awaited;
    {
      absl::MutexLock l(&mu_);
      if (stop_) return;
      next = applied_ + 1;
      awaited = wanted_ >= next;
    }
    if (idle_polls >= (awaited ? kStalledPolls : 50 * kStalledPolls)) {
      reader.reset();
      idle_polls = 0;
    }
    if (reader == nullptr) {
      absl::StatusOr<std::unique_ptr<LogReader>> opened = log_->Read(options_.stream, next);
      if (absl::IsNotFound(opened.status()) || absl::IsInvalidArgument(opened.status())) {
        Stop(opened.status());  // the log is gone (the collection was dropped)
        return;
      }
      if (!opened.ok()) {  // the log is unreachable for now: try again
        absl::SleepFor(absl::Milliseconds(kPollMs));
        continue;
      }
      reader = *std::move(opened);
    }
    absl::StatusOr<std::optional<LogEntry>> entry = reader->Next(kPollMs);
    if (!entry.ok()) {
      reader.reset();  // read again from the next position
      continue;
    }
    if (!entry->has_value()) {
      ++idle_polls;
      continue;
    }
    idle_polls = 0;
    Saw((*entry)->seq + (*entry)->pending);  // before applying: a replica that stops here lags
    if ((*entry)->seq < next) continue;  // seen already
    absl::Status s = collection_->ApplyReplicated((*entry)->payload, (*entry)->seq);
    if (absl::IsFailedPrecondition(s) || absl::IsDataLoss(s)) {
      // The replica cannot follow its log (a gap: the log was trimmed past it; or a batch
      // that does not fit): it stops, and its writes and barriers fail with this, rather than
      // serve a state that is not the log's.
      Stop(s);
      return;
    }
    if (!s.ok()) {  // say a full disk: the same entry again, from a new reader
      reader.reset();
      absl::SleepFor(absl::Milliseconds(kPollMs));
      continue;
    }
    absl::MutexLock l(&mu_);
    applied_ = (*entry)->seq;
  }
}

void ShardReplica::Stop(const absl::Status& cause) {
  absl::MutexLock l(&mu_);
  apply_error_ = absl::Status(cause.code(), Cat("shard replica of ", options_.stream,
                                                " stopped applying its log: ", cause.message()));
  stopped_at_ = absl::Now();
}

absl::Status ShardReplica::WaitApplied(uint64_t seq) {
  return WaitApplied(seq, absl::Now() + absl::Milliseconds(options_.apply_timeout_ms));
}

absl::Status ShardReplica::WaitApplied(uint64_t seq, absl::Time deadline) {
  const absl::Time start = absl::Now();
  absl::MutexLock l(&mu_);
  wanted_ = std::max(wanted_, seq);
  auto done = [&] { return applied_ >= seq || !apply_error_.ok() || stop_; };
  mu_.AwaitWithDeadline(absl::Condition(&done), deadline);
  if (!apply_error_.ok()) return apply_error_;
  if (applied_ >= seq) return absl::OkStatus();
  if (stop_) {
    return absl::UnavailableError(Cat("shard replica of ", options_.stream, " is closing"));
  }
  return absl::DeadlineExceededError(
      Cat("shard ", options_.stream, ": position ", seq, " is stored but this replica has "
          "applied only ", applied_, " after ", absl::ToInt64Milliseconds(absl::Now() - start),
          " ms"));
}

template <typename Prepare>
absl::StatusOr<PreparedBatch> ShardReplica::Replicate(Prepare prepare) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.apply_timeout_ms);
  bool synced = false;  // a barrier passed since the call began
  while (true) {
    if (absl::Status s = apply_error(); !s.ok()) return s;
    if (Clock::now() > deadline) {
      return absl::UnavailableError(Cat("shard ", options_.stream, ": other writes kept taking "
                                        "the log's next position for ", options_.apply_timeout_ms,
                                        " ms; nothing was written, retry"));
    }
    absl::StatusOr<PreparedBatch> prepared = prepare();
    const bool from_state = prepared.ok() ? prepared->batch.empty()
                                          : absl::IsAlreadyExists(prepared.status()) ||
                                                absl::IsNotFound(prepared.status());
    if (!prepared.ok() && !from_state) return prepared;  // bad input, or the memory budget
    if (from_state) {
      // A refusal or a no-op that this replica's state decided: it stands only once the
      // replica has seen every write acknowledged before the call.
      if (synced) return prepared;
      if (absl::Status s = Barrier(); !s.ok()) return s;
      synced = true;
      continue;
    }
    absl::StatusOr<uint64_t> seq =
        log_->Append(options_.stream, prepared->batch, prepared->after, RandomId());
    if (seq.ok()) {
      Saw(*seq);
      if (absl::Status s = WaitApplied(*seq); !s.ok()) {
        return absl::UnavailableError(Cat("shard ", options_.stream, ": the write is stored at "
                                          "position ", *seq, " but not yet applied on this "
                                          "node: ", s.message()));
      }
      return prepared;
    }
    if (seq.status().code() != absl::StatusCode::kFailedPrecondition) return seq.status();
    // Another append came first: catch up with the log's end, then resolve the write again.
    absl::StatusOr<StreamState> state = log_->State(options_.stream);
    if (!state.ok()) return state.status();
    Saw(state->last_seq);
    if (absl::Status s = WaitApplied(state->last_seq); !s.ok()) return s;
  }
}

absl::Status ShardReplica::Write(const std::vector<Record>& records, WriteMode mode) {
  return Replicate([&] { return collection_->PrepareWrite(records, mode); }).status();
}

absl::StatusOr<uint64_t> ShardReplica::Delete(const std::vector<std::string>& ids) {
  absl::StatusOr<PreparedBatch> done = Replicate([&] { return collection_->PrepareDelete(ids); });
  if (!done.ok()) return done.status();
  return done->deleted;
}

absl::Status ShardReplica::Patch(std::string_view id, std::string_view patch) {
  return Replicate([&] { return collection_->PreparePatch(id, patch); }).status();
}

absl::Status ShardReplica::Replace(std::string_view id, std::string_view metadata) {
  return Replicate([&] { return collection_->PrepareReplace(id, metadata); }).status();
}

absl::StatusOr<uint64_t> ShardReplica::DeleteWhere(std::string_view filter) {
  absl::StatusOr<PreparedBatch> done =
      Replicate([&] { return collection_->PrepareDeleteWhere(filter); });
  if (!done.ok()) return done.status();
  return done->deleted;
}

absl::Status ShardReplica::Barrier() {
  absl::Status passed = PassBarrier();
  // Nothing was written: a read (or a refusal) that timed out may be tried again.
  if (absl::IsDeadlineExceeded(passed)) return absl::UnavailableError(passed.message());
  return passed;
}

absl::Status ShardReplica::PassBarrier() {
  // Concurrent callers share a barrier. A caller joins the round that has not appended its
  // mark yet, so the mark it passes is appended after it arrived; the first of the round to
  // find no mark in flight appends it for all of them.
  // Each caller waits apply_timeout_ms at most, the rounds before its own included (the one
  // that appends a mark may wait longer for the log to take it).
  const absl::Time deadline = absl::Now() + absl::Milliseconds(options_.apply_timeout_ms);
  std::shared_ptr<BarrierRound> mine;
  BarrierRound joined;  // the round this caller joined, once another caller ended it
  {
    absl::MutexLock l(&barrier_mu_);
    if (next_round_ == nullptr) next_round_ = std::make_shared<BarrierRound>();
    mine = next_round_;
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(barrier_mu_) {
      return mine->done || (!marking_ && next_round_ == mine);
    };
    if (!barrier_mu_.AwaitWithDeadline(absl::Condition(&ready), deadline)) {
      // (Leaving the round is safe: whoever of it comes next appends its mark.)
      return absl::DeadlineExceededError(
          Cat("shard ", options_.stream, ": waited ", options_.apply_timeout_ms,
              " ms for this replica to apply the log"));
    }
    if (mine->done) {
      joined = *mine;
    } else {
      marking_ = true;
      next_round_ = nullptr;  // who comes now joins the next round
    }
  }
  if (joined.done) {
    // The caller that appended the mark gave up at its own deadline: this one waits until its
    // own.
    if (absl::IsDeadlineExceeded(joined.status) && joined.mark > 0) {
      return WaitApplied(joined.mark, deadline);
    }
    return joined.status;
  }
  absl::StatusOr<uint64_t> mark = log_->Mark(options_.stream);
  absl::Status status = mark.status();
  if (mark.ok()) {
    Saw(*mark);
    status = WaitApplied(*mark, deadline);
  }
  absl::MutexLock l(&barrier_mu_);
  mine->done = true;
  mine->status = status;
  mine->mark = mark.value_or(0);
  marking_ = false;
  return status;
}

absl::Status ShardReplica::Sync(ReadConsistency reads) {
  return reads == ReadConsistency::kStrong ? Barrier() : apply_error();
}

absl::StatusOr<Record> ShardReplica::Get(std::string_view id, ReadConsistency reads) {
  if (absl::Status s = Sync(reads); !s.ok()) return s;
  return collection_->Get(id);
}

absl::StatusOr<std::vector<Record>> ShardReplica::GetMany(const std::vector<std::string>& ids,
                                                          ReadConsistency reads) {
  if (absl::Status s = Sync(reads); !s.ok()) return s;
  return collection_->GetMany(ids);
}

absl::StatusOr<uint64_t> ShardReplica::Count(std::string_view filter, ReadConsistency reads) {
  if (absl::Status s = Sync(reads); !s.ok()) return s;
  return collection_->Count(filter);
}

absl::StatusOr<ScrollPage> ShardReplica::Scroll(std::string_view after, uint32_t limit,
                                                std::string_view filter, bool include_vectors,
                                                ReadConsistency reads) {
  if (absl::Status s = Sync(reads); !s.ok()) return s;
  return collection_->Scroll(after, limit, filter, include_vectors);
}

absl::StatusOr<SearchResponse> ShardReplica::Search(const SearchRequest& request,
                                                    ReadConsistency reads) {
  if (absl::Status s = Sync(reads); !s.ok()) return s;
  return collection_->Search(request);
}

absl::StatusOr<CollectionStats> ShardReplica::Stats() {
  CollectionStats stats = collection_->Stats();
  stats.replication_lag = lag();
  return stats;
}

absl::Status ShardReplica::Maintain(ShardMaintenance what) {
  switch (what) {
    case ShardMaintenance::kFlush: return collection_->Flush();
    case ShardMaintenance::kCompact: return collection_->Compact();
    case ShardMaintenance::kMigrate: return collection_->Migrate();
    case ShardMaintenance::kTiering: return collection_->ApplyTiering();
  }
  return absl::InvalidArgumentError("unknown maintenance");
}

}  // namespace proximadb::cluster
