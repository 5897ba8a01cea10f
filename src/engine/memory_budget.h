// MemoryBudget: what the memtables of a database's collections hold, against
// DatabaseOptions::memtable_budget_mb ([storage] memtable_size_mb). Each collection reports
// the bytes of its memtables (the active one and those frozen, waiting for their flush) as they
// change. Past the budget, the maintenance thread flushes the largest memtables first; past
// twice the budget, writes are refused with RESOURCE_EXHAUSTED (HTTP 429, Retry-After) until
// flushes have caught up, so that an ingest faster than the flushes cannot exhaust memory.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace proximadb {

class MemoryBudget {
 public:
  // `bytes` 0: no budget (nothing is forced or refused).
  explicit MemoryBudget(uint64_t bytes) : budget_(static_cast<int64_t>(bytes)) {}

  int64_t budget() const { return budget_; }
  int64_t used() const { return used_.load(std::memory_order_relaxed); }
  // Whether flushes should be forced.
  bool over() const { return budget_ > 0 && used() > budget_; }
  // OK, or RESOURCE_EXHAUSTED (tagged with that code) while writes must wait for flushes;
  // INSUFFICIENT_STORAGE instead when the last flush for the budget found the disk full.
  absl::Status Admit() const;
  // Adds `delta` bytes (negative when memtables are freed).
  void Add(int64_t delta) { used_.fetch_add(delta, std::memory_order_relaxed); }

  // `wake` starts the flusher (the maintenance thread) early; an empty one (the database
  // closing) stops calls to the old one, which collections outliving it could make.
  void SetWake(std::function<void()> wake) {
    absl::MutexLock l(&wake_mu_);
    wake_ = std::move(wake);
  }
  // Over the budget: wakes the flusher, once until it calls Released. Call with no lock held.
  void RequestRelease() {
    if (!over() || requested_.exchange(true, std::memory_order_relaxed)) return;
    absl::MutexLock l(&wake_mu_);
    if (wake_) wake_();
  }
  // The flusher's pass is over: the next write over the budget wakes it again, unless its
  // flushes failed (`failed`: it then waits for its next regular pass rather than spin), and
  // if one failed for a full disk, Admit answers INSUFFICIENT_STORAGE.
  void Released(bool failed, bool disk_full) {
    disk_full_.store(disk_full, std::memory_order_relaxed);
    if (!failed) requested_.store(false, std::memory_order_relaxed);
  }

 private:
  const int64_t budget_;
  std::atomic<int64_t> used_{0};
  absl::Mutex wake_mu_;
  std::function<void()> wake_ ABSL_GUARDED_BY(wake_mu_);
  std::atomic<bool> requested_{false};
  std::atomic<bool> disk_full_{false};
};

}  // namespace proximadb
