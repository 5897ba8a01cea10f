// MemEnv: an in-memory file system that models durability exactly as env.h states it, so a
// test can simulate a power loss: every byte not fsynced and every directory change not made
// durable by SyncDir() may be forgotten.
//
// Model:
//   - Each file has its current bytes and its durable bytes (the bytes at its last Sync).
//   - Directory changes (a create, a rename, a removal) are kept in order as pending operations
//     of their directory until SyncDir() of that directory makes them all durable. At a power
//     loss each pending operation survives or is lost on its own (PowerLoss::kept_entry_ops
//     says which), applied in program order to the durable entries, as a file system that
//     reorders metadata writes may leave them: a rename can survive while the creation of the
//     file it names, or a removal before it, is lost.
//   - The bytes appended since a file's last Sync are lost, or (PowerLoss::tail) some of them
//     survive, possibly ending in garbage: a torn write.
// SimulatePowerLoss() replaces the current state by what survives and then fails every
// mutating operation until Restart(), so that destructors of the engine running "after the
// power went out" cannot make anything durable. Directories themselves are durable when
// created.
//
// Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "env/env.h"

namespace proximadb {

// What survives a simulated power loss besides what was made durable.
struct PowerLoss {
  // Bit i keeps the i-th pending directory change (in program order; see
  // MemEnv::pending_entry_ops()); changes past the 64th are lost.
  uint64_t kept_entry_ops = 0;
  // What becomes of the bytes appended to a file since its last Sync.
  enum class Tail {
    kLost,     // all are lost
    kTorn,     // a random prefix survives, half the time ending in garbage
    kGarbled,  // all survive but the last 1 to 32, which are garbage: a half-written sector
  } tail = Tail::kLost;
  uint64_t seed = 0;
};

class MemEnv : public Env {
 public:
  MemEnv() = default;

  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path) override;
  absl::StatusOr<std::unique_ptr<MappedFile>> MapFile(const std::string& path) override;
  bool FileExists(const std::string& path) override;
  absl::StatusOr<uint64_t> FileSize(const std::string& path) override;
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir) override;
  absl::Status CreateDirs(const std::string& dir) override;
  // Unlimited (1 TiB) unless SetCapacity limits a directory that holds `dir`.
  absl::StatusOr<uint64_t> FreeSpace(const std::string& dir) override;
  // Models a disk of `bytes` mounted at `dir`: the files under it may hold that much in all;
  // an append past it fails with kResourceExhausted (ENOSPC). 0 removes the limit.
  void SetCapacity(const std::string& dir, uint64_t bytes);
  absl::Status RemoveFile(const std::string& path) override;
  absl::Status RemoveDir(const std::string& dir) override;
  absl::Status RenameFile(const std::string& from, const std::string& to) override;
  absl::Status SyncDir(const std::string& dir) override;
  absl::Status TruncateFile(const std::string& path, uint64_t size) override;
  absl::StatusOr<std::unique_ptr<FileLock>> LockFile(const std::string& path) override;

  // Forgets what `loss` does not keep and fails all mutations until Restart().
  void SimulatePowerLoss(const PowerLoss& loss = {});
  // Directory changes not yet made durable by SyncDir, oldest first: a test that enumerates
  // which survive a power loss tries every subset of these.
  size_t pending_entry_ops() const {
    absl::MutexLock l(&mu_);
    return pending_.size();
  }
  // Ends the outage: the machine is back with whatever was durable.
  void Restart();

  // How many file fsyncs succeeded (to observe group commit).
  uint64_t sync_count() const {
    absl::MutexLock l(&mu_);
    return sync_count_;
  }

  // The operations that FaultInjectionEnv can fail.
  enum class Op { kAppend, kSync, kRename, kSyncDir, kCreate, kRemove, kTruncate };

  // Test hook: overwrites `path`'s bytes (current and durable) at `offset`, e.g. to corrupt it.
  absl::Status Corrupt(const std::string& path, uint64_t offset, std::string_view bytes);

 protected:
  struct FileState {
    std::string data;     // what reads see
    std::string durable;  // what survives a power loss
  };
  // Hooks for FaultInjectionEnv: MaybeFail returns a non-OK status to fail the operation
  // instead; AfterOp runs once an operation succeeded (outside the lock).
  virtual absl::Status MaybeFail(Op op, const std::string& path);
  virtual void AfterOp(Op, const std::string&) {}

 private:
  friend class MemWritableFile;
  absl::Status CheckAlive() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AppendTo(const std::shared_ptr<FileState>& file, const std::string& path,
                        std::string_view data);
  absl::Status SyncFile(const std::shared_ptr<FileState>& file, const std::string& path);

  // A directory change not yet durable: a create of `path`, a rename of `path` to `to`, or a
  // removal of `path`; `file` is the file it concerns.
  struct EntryOp {
    enum class Kind { kCreate, kRename, kRemove } kind;
    std::string path, to;
    std::shared_ptr<FileState> file;
  };
  using Entries = std::map<std::string, std::shared_ptr<FileState>>;
  static void ApplyEntryOp(const EntryOp& op, Entries* entries);
  absl::Status Mutate(Op op, const std::string& path,
                      const std::function<absl::Status()>& change);

  mutable absl::Mutex mu_;
  bool power_lost_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t sync_count_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<std::string> dirs_ ABSL_GUARDED_BY(mu_);
  Entries files_ ABSL_GUARDED_BY(mu_);          // what the running system sees
  Entries durable_files_ ABSL_GUARDED_BY(mu_);  // as of each directory's last SyncDir
  std::vector<EntryOp> pending_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> locks_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t> capacity_ ABSL_GUARDED_BY(mu_);  // by directory
  // The capacity limiting `path` and the bytes the files under it hold; {0, 0} if unlimited.
  std::pair<uint64_t, uint64_t> DiskOf(const std::string& path) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
};

}  // namespace proximadb
