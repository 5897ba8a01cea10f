#include "cluster/shard_replica.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/time/clock.h"
#include "common/strings.h"

namespace proximadb::cluster {

namespace {
constexpr int kPollMs = 100;  // how often the apply thread looks at stop_ while the log is idle
// A reader silent for this many polls while a caller waits for a later position (or for 50
// times as many in any case) is read again: its consumer may have been on a server that died.
constexpr int kStalledPolls = 5;
}  // namespace

ShardReplica::ShardReplica(ShardLog* log, std::shared_ptr<Collection> collection,
                           ShardReplicaOptions options)
    : log_(log), collection_(std::move(collection)), options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<ShardReplica>> ShardReplica::Start(
    ShardLog* log, std::shared_ptr<Collection> collection, ShardReplicaOptions options) {
  if (options.node_id.empty()) return absl::InvalidArgumentError("node_id: cannot be empty");
  std::unique_ptr<ShardReplica> replica(
      new ShardReplica(log, std::move(collection), std::move(options)));
  {
    absl::MutexLock l(&replica->mu_);
    replica->applied_ = replica->collection_->Stats().last_seq;
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

uint64_t ShardReplica::applied() const {
  absl::MutexLock l(&mu_);
  return applied_;
}

absl::Status ShardReplica::apply_error() const {
  absl::MutexLock l(&mu_);
  return apply_error_;
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
    if ((*entry)->seq < next) continue;  // seen already
    absl::Status s = collection_->ApplyReplicated((*entry)->payload, (*entry)->seq);
    absl::MutexLock l(&mu_);
    if (!s.ok()) {
      // The replica cannot follow its log (say the log was trimmed past it): it stops, and its
      // writes and barriers fail with this, rather than serve a state that is not the log's.
      apply_error_ = absl::Status(s.code(), Cat("shard replica of ", options_.stream,
                                                " stopped applying its log: ", s.message()));
      return;
    }
    applied_ = (*entry)->seq;
  }
}

absl::Status ShardReplica::WaitApplied(uint64_t seq) {
  absl::MutexLock l(&mu_);
  wanted_ = std::max(wanted_, seq);
  auto done = [&] { return applied_ >= seq || !apply_error_.ok() || stop_; };
  mu_.AwaitWithTimeout(absl::Condition(&done), absl::Milliseconds(options_.apply_timeout_ms));
  if (!apply_error_.ok()) return apply_error_;
  if (applied_ >= seq) return absl::OkStatus();
  return absl::DeadlineExceededError(Cat("shard ", options_.stream, ": position ", seq,
                                         " is stored but this replica has applied only ",
                                         applied_, " after ", options_.apply_timeout_ms, " ms"));
}

template <typename Prepare>
absl::StatusOr<PreparedBatch> ShardReplica::Replicate(Prepare prepare) {
  while (true) {
    if (absl::Status s = apply_error(); !s.ok()) return s;
    absl::StatusOr<PreparedBatch> prepared = prepare();
    if (!prepared.ok() || prepared->batch.empty()) return prepared;  // refused, or a no-op
    std::string id;
    {
      absl::MutexLock l(&mu_);
      id = Cat(options_.node_id, "-", options_.stream, "-", prepared->after, "-", next_append_++);
    }
    absl::StatusOr<uint64_t> seq =
        log_->Append(options_.stream, prepared->batch, prepared->after, id);
    if (seq.ok()) {
      if (absl::Status s = WaitApplied(*seq); !s.ok()) return s;
      return prepared;
    }
    if (seq.status().code() != absl::StatusCode::kFailedPrecondition) return seq.status();
    // Another append came first (the log is past `after`): apply it, then resolve again.
    if (absl::Status s = WaitApplied(prepared->after + 1); !s.ok()) return s;
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

absl::Status ShardReplica::Barrier() {
  absl::StatusOr<uint64_t> mark = log_->Mark(options_.stream);
  if (!mark.ok()) return mark.status();
  return WaitApplied(*mark);
}

}  // namespace proximadb::cluster
