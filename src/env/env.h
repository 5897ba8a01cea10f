// Env: every file operation of the storage engine goes through this interface, so that tests
// can swap the real file system for an in-memory one that models what survives a power loss,
// and inject failures into chosen operations (see mem_env.h, fault_injection_env.h).
//
// Durability contract (the POSIX one, which the in-memory Env enforces literally):
//   1. Bytes appended to a file are durable only after WritableFile::Sync() returns OK.
//   2. A new file, a rename and a removal are durable only after SyncDir() of the directory
//      that holds the name returns OK.
//   3. TruncateFile() is durable when it returns OK.
//
// Thread-safety: an Env is safe to use from many threads. A WritableFile is used by one thread
// at a time. A MappedFile is immutable and may be read from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace proximadb {

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Appends all of `data` or returns an error; after an error the file's tail is unknown.
  virtual absl::Status Append(std::string_view data) = 0;
  // Makes every appended byte durable (fdatasync).
  virtual absl::Status Sync() = 0;
  virtual absl::Status Close() = 0;
  // Bytes appended so far (including bytes not yet synced).
  virtual uint64_t Size() const = 0;
  // Cuts the file back to its first `size` bytes (at most Size()), durably, and appends go on
  // from there: how an append that failed half-way (a full disk) is undone.
  virtual absl::Status Truncate(uint64_t size) = 0;
};

// A read-only view of a whole file, memory-mapped where the Env can (zero-copy).
class MappedFile {
 public:
  virtual ~MappedFile() = default;
  virtual const char* data() const = 0;
  virtual size_t size() const = 0;
  std::string_view view() const { return {data(), size()}; }
  // Reads the whole file into memory and keeps it there (mlock) while `resident`; releases it
  // to the page cache's discretion when not. A no-op where nothing is mapped (MemEnv).
  virtual absl::Status SetResident(bool /*resident*/) { return absl::OkStatus(); }
};

// An exclusive lock on a file (a data directory's LOCK); released when destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class Env {
 public:
  virtual ~Env() = default;

  // The process-wide POSIX Env. Never destroyed.
  static Env* Default();

  // Creates (or truncates) `path` for appending.
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path) = 0;
  virtual absl::StatusOr<std::unique_ptr<MappedFile>> MapFile(const std::string& path) = 0;
  virtual absl::StatusOr<std::string> ReadFile(const std::string& path);

  virtual bool FileExists(const std::string& path) = 0;
  virtual absl::StatusOr<uint64_t> FileSize(const std::string& path) = 0;
  // Names (not paths) of the entries of `dir`, without "." and "..", in no particular order.
  virtual absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir) = 0;

  // Creates `dir` and any missing parents; OK if it already exists.
  virtual absl::Status CreateDirs(const std::string& dir) = 0;
  // Bytes an unprivileged writer can still add to the file system that holds `dir`.
  virtual absl::StatusOr<uint64_t> FreeSpace(const std::string& dir) = 0;
  virtual absl::Status RemoveFile(const std::string& path) = 0;
  // Removes an empty directory.
  virtual absl::Status RemoveDir(const std::string& dir) = 0;
  // Atomically replaces `to` with `from`.
  virtual absl::Status RenameFile(const std::string& from, const std::string& to) = 0;
  // Makes the directory's entries (creations, renames, removals) durable.
  virtual absl::Status SyncDir(const std::string& dir) = 0;
  // Shrinks `path` to `size` bytes and makes that durable.
  virtual absl::Status TruncateFile(const std::string& path, uint64_t size) = 0;

  // Takes an exclusive lock on `path` (creating it), failing with kFailedPrecondition if
  // another holder has it, so that two processes never open one data directory.
  virtual absl::StatusOr<std::unique_ptr<FileLock>> LockFile(const std::string& path) = 0;

  // Writes `data` to `path` atomically and durably: temp file, fsync, rename, fsync of the
  // directory. After a crash `path` holds either the old content or the new, never a mix.
  // If `renamed` is given it tells, also on failure, whether the rename happened: then the new
  // content is in place but may not be durable.
  absl::Status WriteFileAtomically(const std::string& path, std::string_view data,
                                   bool* renamed = nullptr);

  // Removes `dir` with every file in it (one level; the engine's directories are flat).
  absl::Status RemoveDirRecursively(const std::string& dir);
};

// Path helpers.
std::string JoinPath(std::string_view dir, std::string_view name);
std::string DirName(std::string_view path);

}  // namespace proximadb
