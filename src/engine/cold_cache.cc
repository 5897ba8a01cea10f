#include "engine/cold_cache.h"

#include "common/strings.h"
#include "common/macros.h"
#include "env/env.h"

namespace proximadb {

absl::Status ColdCache::Reset() {
  if (env_->FileExists(dir_)) {
    // Only what a cache writes goes (<uid>/*.cache, then the emptied <uid>): a directory
    // misconfigured as the cache loses nothing else.
    PROXIMADB_ASSIGN_OR_RETURN(std::vector<std::string> subdirs, env_->ListDir(dir_));
    for (const std::string& sub : subdirs) {
      const std::string path = JoinPath(dir_, sub);
      absl::StatusOr<std::vector<std::string>> files = env_->ListDir(path);
      if (!files.ok()) continue;  // a file, not a collection's directory
      size_t kept = 0;
      for (const std::string& f : *files) {
        if (!f.ends_with(kFileSuffix)) {
          ++kept;
          continue;
        }
        PROXIMADB_RETURN_IF_ERROR(env_->RemoveFile(JoinPath(path, f)));
      }
      if (kept == 0) PROXIMADB_RETURN_IF_ERROR(env_->RemoveDir(path));
    }
  }
  return env_->CreateDirs(dir_);
}

std::string ColdCache::FileName(std::string_view segment_file_name, uint64_t fetch) {
  return Cat(segment_file_name, ".", fetch, kFileSuffix);
}

std::string ColdCache::DirFor(std::string_view collection_uid) const {
  return JoinPath(dir_, std::string(collection_uid));
}

std::vector<ColdCache::Evict> ColdCache::Add(const std::string& key, uint64_t bytes,
                                             Evict evict) {
  absl::MutexLock l(&mu_);
  if (auto it = index_.find(key); it != index_.end()) {
    bytes_ -= it->second->bytes;
    lru_.erase(it->second);
  }
  lru_.push_front(Entry{key, bytes, std::move(evict)});
  index_[key] = lru_.begin();
  bytes_ += bytes;
  std::vector<Evict> out;
  while (bytes_ > capacity_ && lru_.size() > 1) {
    Entry& victim = lru_.back();
    bytes_ -= victim.bytes;
    out.push_back(std::move(victim.evict));
    index_.erase(victim.key);
    lru_.pop_back();
  }
  return out;
}

void ColdCache::Touch(const std::string& key) {
  absl::MutexLock l(&mu_);
  if (auto it = index_.find(key); it != index_.end() && it->second != lru_.begin()) {
    lru_.splice(lru_.begin(), lru_, it->second);
  }
}

void ColdCache::Remove(const std::string& key) {
  absl::MutexLock l(&mu_);
  if (auto it = index_.find(key); it != index_.end()) {
    bytes_ -= it->second->bytes;
    lru_.erase(it->second);
    index_.erase(it);
  }
}

uint64_t ColdCache::bytes() const {
  absl::MutexLock l(&mu_);
  return bytes_;
}

}  // namespace proximadb
