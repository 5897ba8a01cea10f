#include "env/mem_env.h"

#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/macros.h"

namespace proximadb {

class MemWritableFile final : public WritableFile {
 public:
  MemWritableFile(MemEnv* env, std::string path, std::shared_ptr<MemEnv::FileState> file)
      : env_(env), path_(std::move(path)), file_(std::move(file)) {}

  absl::Status Append(std::string_view data) override {
    PROXIMADB_RETURN_IF_ERROR(env_->AppendTo(file_, path_, data));
    size_ += data.size();
    return absl::OkStatus();
  }
  absl::Status Sync() override { return env_->SyncFile(file_, path_); }
  absl::Status Close() override { return absl::OkStatus(); }
  uint64_t Size() const override { return size_; }
  absl::Status Truncate(uint64_t size) override {
    if (size > size_) return absl::InvalidArgumentError(absl::StrCat("truncate ", path_, " up"));
    PROXIMADB_RETURN_IF_ERROR(env_->TruncateFile(path_, size));
    size_ = size;
    return absl::OkStatus();
  }

 private:
  MemEnv* env_;
  const std::string path_;
  std::shared_ptr<MemEnv::FileState> file_;
  uint64_t size_ = 0;
};

namespace {

// A copy of the file in 64-byte aligned memory, like a (page-aligned) mapping.
class MemMappedFile final : public MappedFile {
 public:
  explicit MemMappedFile(const std::string& data)
      : data_(static_cast<char*>(std::aligned_alloc(64, (data.size() + 64) / 64 * 64))),
        size_(data.size()) {
    std::memcpy(data_, data.data(), size_);
  }
  ~MemMappedFile() override { std::free(data_); }
  const char* data() const override { return data_; }
  size_t size() const override { return size_; }

 private:
  char* data_;
  size_t size_;
};

class MemFileLock final : public FileLock {
 public:
  MemFileLock(std::function<void()> release) : release_(std::move(release)) {}
  ~MemFileLock() override { release_(); }

 private:
  std::function<void()> release_;
};

std::string StripSlash(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

absl::Status NoSuchFile(const std::string& path) {
  return absl::NotFoundError(absl::StrCat(path, ": no such file"));
}

}  // namespace

absl::Status MemEnv::MaybeFail(Op, const std::string&) { return absl::OkStatus(); }

absl::Status MemEnv::CheckAlive() const {
  if (power_lost_) return absl::UnavailableError("simulated power loss: the machine is off");
  return absl::OkStatus();
}

absl::Status MemEnv::Mutate(Op op, const std::string& path,
                            const std::function<absl::Status()>& change) {
  PROXIMADB_RETURN_IF_ERROR(MaybeFail(op, path));
  {
    absl::MutexLock l(&mu_);
    PROXIMADB_RETURN_IF_ERROR(CheckAlive());
    PROXIMADB_RETURN_IF_ERROR(change());
  }
  AfterOp(op, path);
  return absl::OkStatus();
}

absl::Status MemEnv::AppendTo(const std::shared_ptr<FileState>& file, const std::string& path,
                              std::string_view data) {
  return Mutate(Op::kAppend, path, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (auto [capacity, used] = DiskOf(path); capacity > 0 && used + data.size() > capacity) {
      return absl::ResourceExhaustedError(
          absl::StrCat("write ", path, ": No space left on device"));
    }
    file->data.append(data);
    return absl::OkStatus();
  });
}

absl::Status MemEnv::SyncFile(const std::shared_ptr<FileState>& file, const std::string& path) {
  return Mutate(Op::kSync, path, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    // Files only grow by appends between syncs (truncation and Corrupt update both copies), so
    // `durable` is a prefix of `data` and only the new bytes need copying.
    file->durable.append(file->data, file->durable.size());
    ++sync_count_;
    return absl::OkStatus();
  });
}

absl::StatusOr<std::unique_ptr<WritableFile>> MemEnv::NewWritableFile(const std::string& path) {
  auto file = std::make_shared<FileState>();
  PROXIMADB_RETURN_IF_ERROR(Mutate(Op::kCreate, path, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!dirs_.contains(DirName(path))) {
      return absl::NotFoundError(absl::StrCat(path, ": no such directory"));
    }
    files_[path] = file;
    pending_.push_back({EntryOp::Kind::kCreate, path, "", file});
    return absl::OkStatus();
  }));
  return std::make_unique<MemWritableFile>(this, path, std::move(file));
}

absl::StatusOr<std::unique_ptr<MappedFile>> MemEnv::MapFile(const std::string& path) {
  absl::MutexLock l(&mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return NoSuchFile(path);
  return std::make_unique<MemMappedFile>(it->second->data);
}

bool MemEnv::FileExists(const std::string& path) {
  absl::MutexLock l(&mu_);
  return files_.contains(path) || dirs_.contains(StripSlash(path));
}

absl::StatusOr<uint64_t> MemEnv::FileSize(const std::string& path) {
  absl::MutexLock l(&mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return NoSuchFile(path);
  return it->second->data.size();
}

absl::StatusOr<std::vector<std::string>> MemEnv::ListDir(const std::string& dir_in) {
  const std::string dir = StripSlash(dir_in);
  absl::MutexLock l(&mu_);
  if (!dirs_.contains(dir)) return absl::NotFoundError(absl::StrCat(dir, ": no such directory"));
  std::vector<std::string> names;
  for (const auto& [path, file] : files_) {
    if (DirName(path) == dir) names.push_back(path.substr(path.rfind('/') + 1));
  }
  for (const std::string& d : dirs_) {
    if (d != dir && DirName(d) == dir) names.push_back(d.substr(d.rfind('/') + 1));
  }
  return names;
}

absl::Status MemEnv::CreateDirs(const std::string& dir_in) {
  std::string dir = StripSlash(dir_in);
  absl::MutexLock l(&mu_);
  PROXIMADB_RETURN_IF_ERROR(CheckAlive());
  while (!dir.empty() && !dirs_.contains(dir)) {
    dirs_.insert(dir);
    std::string parent = DirName(dir);
    if (parent == dir) break;
    dir = parent;
  }
  return absl::OkStatus();
}

absl::Status MemEnv::RemoveFile(const std::string& path) {
  return Mutate(Op::kRemove, path, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = files_.find(path);
    if (it == files_.end()) return NoSuchFile(path);
    pending_.push_back({EntryOp::Kind::kRemove, path, "", it->second});
    files_.erase(it);
    return absl::OkStatus();
  });
}

absl::Status MemEnv::RemoveDir(const std::string& dir_in) {
  const std::string dir = StripSlash(dir_in);
  absl::MutexLock l(&mu_);
  PROXIMADB_RETURN_IF_ERROR(CheckAlive());
  for (const auto& [path, file] : files_) {
    if (DirName(path) == dir) {
      return absl::FailedPreconditionError(absl::StrCat("rmdir ", dir, ": not empty"));
    }
  }
  if (dirs_.erase(dir) == 0) return absl::NotFoundError(absl::StrCat(dir, ": no such directory"));
  // Files of a removed directory cannot come back after a power loss.
  std::erase_if(durable_files_, [&](const auto& e) { return DirName(e.first) == dir; });
  std::erase_if(pending_, [&](const EntryOp& op) { return DirName(op.path) == dir; });
  return absl::OkStatus();
}

absl::Status MemEnv::RenameFile(const std::string& from, const std::string& to) {
  return Mutate(Op::kRename, to, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = files_.find(from);
    if (it == files_.end()) return NoSuchFile(from);
    if (DirName(from) != DirName(to)) {
      return absl::InvalidArgumentError(absl::StrCat("rename ", from, " to ", to,
                                                     ": MemEnv renames within a directory"));
    }
    std::shared_ptr<FileState> file = it->second;
    files_.erase(it);
    files_[to] = file;
    pending_.push_back({EntryOp::Kind::kRename, from, to, std::move(file)});
    return absl::OkStatus();
  });
}

void MemEnv::ApplyEntryOp(const EntryOp& op, Entries* entries) {
  auto it = entries->find(op.path);
  switch (op.kind) {
    case EntryOp::Kind::kCreate:
      (*entries)[op.path] = op.file;
      break;
    case EntryOp::Kind::kRename:
      // A rename of a file whose creation was lost has nothing to move.
      if (it != entries->end() && it->second == op.file) {
        entries->erase(it);
        (*entries)[op.to] = op.file;
      }
      break;
    case EntryOp::Kind::kRemove:
      if (it != entries->end() && it->second == op.file) entries->erase(it);
      break;
  }
}

absl::Status MemEnv::SyncDir(const std::string& dir_in) {
  const std::string dir = StripSlash(dir_in);
  return Mutate(Op::kSyncDir, dir, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!dirs_.contains(dir)) {
      return absl::NotFoundError(absl::StrCat(dir, ": no such directory"));
    }
    std::erase_if(pending_, [&](const EntryOp& op) {
      if (DirName(op.path) != dir) return false;
      ApplyEntryOp(op, &durable_files_);
      return true;
    });
    return absl::OkStatus();
  });
}

absl::Status MemEnv::TruncateFile(const std::string& path, uint64_t size) {
  return Mutate(Op::kTruncate, path, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = files_.find(path);
    if (it == files_.end()) return NoSuchFile(path);
    FileState& f = *it->second;
    if (size < f.data.size()) f.data.resize(size);
    f.durable = f.data;
    return absl::OkStatus();
  });
}

absl::StatusOr<std::unique_ptr<FileLock>> MemEnv::LockFile(const std::string& path) {
  absl::MutexLock l(&mu_);
  if (!locks_.insert(path).second) {
    return absl::FailedPreconditionError(absl::StrCat(path, " is locked"));
  }
  return std::make_unique<MemFileLock>([this, path] {
    absl::MutexLock l(&mu_);
    locks_.erase(path);
  });
}

void MemEnv::SimulatePowerLoss(const PowerLoss& loss) {
  absl::MutexLock l(&mu_);
  power_lost_ = true;
  for (size_t i = 0; i < pending_.size(); ++i) {
    if (i < 64 && ((loss.kept_entry_ops >> i) & 1)) ApplyEntryOp(pending_[i], &durable_files_);
  }
  pending_.clear();
  std::mt19937_64 rng(loss.seed);
  for (auto& [path, file] : durable_files_) {
    std::string tail = file->data.substr(std::min(file->durable.size(), file->data.size()));
    file->data = file->durable;
    if (loss.tail == PowerLoss::Tail::kLost || tail.empty()) continue;
    bool garble = loss.tail == PowerLoss::Tail::kGarbled;
    if (loss.tail == PowerLoss::Tail::kTorn) {
      tail.resize(rng() % (tail.size() + 1));
      garble = rng() % 2 == 0;
    }
    if (garble && !tail.empty()) {
      // The last sector written went out half done: garbage (or zeros) at the end.
      const size_t garbage = std::min<size_t>(tail.size(), 1 + rng() % 32);
      const bool zeros = rng() % 2 == 0;
      for (size_t i = tail.size() - garbage; i < tail.size(); ++i) {
        tail[i] = zeros ? '\0' : static_cast<char>(rng());
      }
    }
    file->data += tail;
    file->durable = file->data;  // what is on the disk now stays there
  }
  files_ = durable_files_;
}

void MemEnv::Restart() {
  absl::MutexLock l(&mu_);
  power_lost_ = false;
}

absl::Status MemEnv::Corrupt(const std::string& path, uint64_t offset, std::string_view bytes) {
  absl::MutexLock l(&mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return NoSuchFile(path);
  FileState& f = *it->second;
  if (offset + bytes.size() > f.data.size()) {
    return absl::OutOfRangeError(absl::StrCat("corrupt ", path, ": past the end"));
  }
  f.data.replace(offset, bytes.size(), bytes);
  if (offset + bytes.size() <= f.durable.size()) f.durable.replace(offset, bytes.size(), bytes);
  return absl::OkStatus();
}

std::pair<uint64_t, uint64_t> MemEnv::DiskOf(const std::string& path) const {
  for (const auto& [dir, capacity] : capacity_) {
    if (path.compare(0, dir.size() + 1, dir + "/") != 0) continue;
    uint64_t used = 0;
    for (auto it = files_.lower_bound(dir + "/"); it != files_.end(); ++it) {
      if (it->first.compare(0, dir.size() + 1, dir + "/") != 0) break;
      used += it->second->data.size();
    }
    return {capacity, used};
  }
  return {0, 0};
}

absl::StatusOr<uint64_t> MemEnv::FreeSpace(const std::string& dir) {
  absl::MutexLock l(&mu_);
  const auto [capacity, used] = DiskOf(dir + "/");
  if (capacity == 0) return uint64_t{1} << 40;
  return capacity > used ? capacity - used : 0;
}

void MemEnv::SetCapacity(const std::string& dir, uint64_t bytes) {
  absl::MutexLock l(&mu_);
  if (bytes == 0) {
    capacity_.erase(dir);
  } else {
    capacity_[dir] = bytes;
  }
}

}  // namespace proximadb
