// MemEnv: an in-memory file system that models durability exactly as env.h states it, so a
// test can simulate a power loss: every byte not fsynced and every directory change not made
// durable by SyncDir() is forgotten.
//
// Model: each file has its current bytes and its durable bytes (the bytes at its last Sync);
// each directory has its current entries and its durable entries (as of its last SyncDir).
// SimulatePowerLoss() replaces current state by durable state and then fails every mutating
// operation until Restart(), so that destructors of the engine running "after the power went
// out" cannot make anything durable. Directories themselves are durable when created.
//
// Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "env/env.h"

namespace proximadb {

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
  absl::Status RemoveFile(const std::string& path) override;
  absl::Status RemoveDir(const std::string& dir) override;
  absl::Status RenameFile(const std::string& from, const std::string& to) override;
  absl::Status SyncDir(const std::string& dir) override;
  absl::Status TruncateFile(const std::string& path, uint64_t size) override;
  absl::StatusOr<std::unique_ptr<FileLock>> LockFile(const std::string& path) override;

  // Forgets everything not durable and fails all mutations until Restart().
  void SimulatePowerLoss();
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
  // Hook for FaultInjectionEnv: returns a non-OK status to fail the operation instead.
  virtual absl::Status MaybeFail(Op op, const std::string& path);

 private:
  friend class MemWritableFile;
  absl::Status CheckAlive() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AppendTo(const std::shared_ptr<FileState>& file, const std::string& path,
                        std::string_view data);
  absl::Status SyncFile(const std::shared_ptr<FileState>& file, const std::string& path);

  mutable absl::Mutex mu_;
  bool power_lost_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t sync_count_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<std::string> dirs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<FileState>> files_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<FileState>> durable_files_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> locks_ ABSL_GUARDED_BY(mu_);
};

}  // namespace proximadb
