// ColdCache: the local cache of cold segments (docs/storage.md#the-cold-tier), shared by a
// database's collections. A search that needs a cold segment's vectors fetches the whole file
// from the object store into <dir>/<collection uid>/ and counts it here; past the capacity the
// least recently used files go (their collections swap the stub back in and remove the file;
// searches that hold the file mapped keep reading it until they end).
//
// The cache does not outlive the process: Reset empties the directory at open.
//
// Thread-safety: every method is safe to call from many threads; eviction callbacks are run by
// the caller of Add, with no lock of the cache's held.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "env/env.h"

namespace proximadb {

class ColdCache {
 public:
  using Evict = std::function<void()>;

  ColdCache(Env* env, std::string dir, uint64_t capacity_bytes)
      : env_(env), dir_(std::move(dir)), capacity_(capacity_bytes) {}

  // Creates the directory, or empties it of what an earlier process cached (files named by
  // FileName, nothing else).
  absl::Status Reset();
  // Where a collection's cached files go (created by the caller), and the name of a segment's
  // file fetched by the `fetch`th fetch (each fetch writes a file of its own).
  std::string DirFor(std::string_view collection_uid) const;
  static std::string FileName(std::string_view segment_file_name, uint64_t fetch);

  // Counts `bytes` under `key` as the most recently used entry, and returns the callbacks of the
  // least recently used others that must go to bring the total within the capacity (already
  // uncounted; the caller runs them). A file larger than the capacity is still cached (a search
  // needs it), with everything else evicted.
  std::vector<Evict> Add(const std::string& key, uint64_t bytes, Evict evict);
  // Marks `key` as used now (a search read it); nothing if it is not cached.
  void Touch(const std::string& key);
  // Uncounts `key` (its file was removed by its collection).
  void Remove(const std::string& key);
  uint64_t bytes() const;
  uint64_t capacity() const { return capacity_; }

 private:
  struct Entry {
    std::string key;
    uint64_t bytes;
    Evict evict;
  };
  static constexpr std::string_view kFileSuffix = ".cache";
  Env* const env_;
  const std::string dir_;
  const uint64_t capacity_;
  mutable absl::Mutex mu_;
  std::list<Entry> lru_ ABSL_GUARDED_BY(mu_);  // most recently used first
  absl::flat_hash_map<std::string, std::list<Entry>::iterator> index_ ABSL_GUARDED_BY(mu_);
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace proximadb
