// CollectionImpl: the directories of a collection's files, and where a new segment goes
// (docs/storage.md#directories-and-placement); and the database's check of its directory
// settings.
#include "engine/placement.h"

#include <algorithm>
#include <filesystem>

#include "common/logging.h"
#include "common/macros.h"
#include "common/strings.h"
#include "engine/collection_impl.h"

namespace proximadb {

namespace {

// In a collection's directory: the WAL directory of each open, while it holds WAL files.
constexpr char kWalDirsName[] = "WAL_DIRS";

void AddUnique(std::vector<std::string>* dirs, const std::string& dir) {
  if (!dir.empty() && std::find(dirs->begin(), dirs->end(), dir) == dirs->end()) {
    dirs->push_back(dir);
  }
}

}  // namespace

const std::string& CollectionImpl::WalDir() const {
  return options_.wal_dir.empty() ? options_.dir : options_.wal_dir;
}

std::vector<std::string> CollectionImpl::WalDirs() const {
  std::vector<std::string> dirs = {WalDir()};
  AddUnique(&dirs, options_.dir);
  for (const std::string& d : earlier_wal_dirs_) AddUnique(&dirs, d);
  return dirs;
}

absl::Status CollectionImpl::LoadWalDirs() {
  const std::string path = JoinPath(options_.dir, kWalDirsName);
  if (!env_->FileExists(path)) return absl::OkStatus();
  PROXIMADB_ASSIGN_OR_RETURN(std::string text, env_->ReadFile(path));
  for (std::string_view line : Split(text, '\n')) {
    if (line.empty()) continue;
    // A directory that held WAL files must be there: skipping it would drop acknowledged
    // writes without a word (a device not mounted, say).
    if (!env_->FileExists(std::string(line))) {
      return absl::FailedPreconditionError(
          Cat("collection '", options_.config.name, "': WAL directory ", line, " (listed in ",
              path, ") is missing; mount or restore it before opening"));
    }
    if (line != WalDir()) earlier_wal_dirs_.emplace_back(line);
  }
  return absl::OkStatus();
}

absl::Status EnsureDir(Env* env, const std::string& dir) {
  if (env->FileExists(dir)) return absl::OkStatus();
  // <base>/collections/<uid>: the base must exist (Database::Open checks); the two below it
  // are created, and each new name made durable in its parent.
  const std::string collections = DirName(dir);
  const bool new_collections = !env->FileExists(collections);
  PROXIMADB_RETURN_IF_ERROR(env->CreateDirs(dir));
  if (new_collections) PROXIMADB_RETURN_IF_ERROR(env->SyncDir(DirName(collections)));
  return env->SyncDir(collections);
}

absl::Status CollectionImpl::SaveWalDirs(const std::vector<std::pair<uint64_t, std::string>>& wal) {
  std::vector<std::string> keep;
  for (const std::string& d : earlier_wal_dirs_) {
    for (const auto& [number, dir] : wal) {
      if (dir == d) {
        keep.push_back(d);
        break;
      }
    }
  }
  earlier_wal_dirs_ = keep;
  std::string text = WalDir() + "\n";
  for (const std::string& d : keep) text += d + "\n";
  const std::string path = JoinPath(options_.dir, kWalDirsName);
  const bool exists = env_->FileExists(path);
  // Without the file the WAL is looked for in dir only: nothing to write while that holds.
  if (!exists && keep.empty() && WalDir() == options_.dir) return absl::OkStatus();
  absl::StatusOr<std::string> old = exists ? env_->ReadFile(path) : "";
  if (old.ok() && *old == text) return absl::OkStatus();
  return env_->WriteFileAtomically(path, text);
}

std::vector<std::string> CollectionImpl::SegmentDirs() const {
  std::vector<std::string> dirs = {options_.dir};
  for (const std::string& d : options_.hot_dirs) AddUnique(&dirs, d);
  for (const std::string& d : options_.warm_dirs) AddUnique(&dirs, d);
  return dirs;
}

std::vector<std::string> CollectionImpl::AllDirs() const {
  std::vector<std::string> dirs = SegmentDirs();
  for (const std::string& d : WalDirs()) AddUnique(&dirs, d);
  return dirs;
}

std::vector<std::pair<uint64_t, std::string>> CollectionImpl::ByFreeSpace(
    const std::vector<std::string>& dirs) {
  std::vector<std::pair<uint64_t, std::string>> out;  // (free bytes, directory)
  for (const std::string& dir : dirs) {
    // Created on first use; its name made durable before a manifest can name a file in it.
    const absl::Status made = EnsureDir(env_, dir);
    absl::StatusOr<uint64_t> free = made.ok() ? env_->FreeSpace(dir) : made;
    if (!free.ok()) {
      Log(LogLevel::kWarning,
          Cat("segment directory ", dir, " skipped: ", free.status().ToString()));
      continue;
    }
    out.emplace_back(*free, dir);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  return out;
}

bool CollectionImpl::InWarmDir(const Segment& segment) const {
  const std::string dir = DirName(segment.path());
  return std::find(options_.warm_dirs.begin(), options_.warm_dirs.end(), dir) !=
         options_.warm_dirs.end();
}

absl::StatusOr<std::shared_ptr<Segment>> CollectionImpl::BuildPlaced(
    const SegmentStrategy& strategy, uint64_t number, std::vector<SegmentRow>& rows,
    const std::atomic<bool>* cancel) {
  const std::vector<std::pair<uint64_t, std::string>> candidates =
      options_.hot_dirs.empty() ? std::vector<std::pair<uint64_t, std::string>>{{0, options_.dir}}
                                : ByFreeSpace(options_.hot_dirs);
  absl::Status last = absl::ResourceExhaustedError(
      Cat("collection '", options_.config.name, "': no segment directory could be used"));
  // Most free space first; a directory whose write fails with ENOSPC or EDQUOT (a quota, or
  // another writer filling the disk since statvfs) passes the segment to the next.
  for (const auto& [free, dir] : candidates) {
    absl::StatusOr<std::shared_ptr<Segment>> seg = strategy.BuildSegment(dir, number, rows, cancel);
    if (!absl::IsResourceExhausted(seg.status())) return seg;
    // BuildSegment removed its partial file: make that durable, or a power loss could bring
    // back a torn copy of a segment that will live in another directory.
    if (absl::Status s = env_->SyncDir(dir); !s.ok()) return s;
    Log(LogLevel::kWarning, Cat("segment ", number, " did not fit in ", dir, " (",
                                seg.status().message(), "): trying the next directory"));
    last = seg.status();
  }
  return last;
}

absl::Status CheckDirectories(const DatabaseOptions& options, Env* env) {
  std::vector<std::pair<std::string, std::string>> named = {{"data_dir", options.data_dir}};
  if (!options.wal_directory.empty()) named.emplace_back("wal_directory", options.wal_directory);
  for (const std::string& d : options.hot_directories) named.emplace_back("hot_directories", d);
  for (const std::string& d : options.warm_directories) named.emplace_back("warm_directories", d);
  if (!options.cache_directory.empty()) {  // created at open
    named.emplace_back("cache_directory", options.cache_directory);
  }
  const bool posix = env == Env::Default();
  std::vector<std::string> places;
  for (const auto& [setting, dir] : named) {
    if (setting != "data_dir" && setting != "cache_directory" && !env->FileExists(dir)) {
      return absl::FailedPreconditionError(Cat(setting, ": ", dir, " does not exist (create it, "
                                               "or mount its device, first)"));
    }
    std::error_code ec;
    std::filesystem::path place = std::filesystem::path(dir).lexically_normal();
    if (posix) place = std::filesystem::weakly_canonical(place, ec);
    places.push_back(place.string());
    if (!place.string().empty() && place.string().back() == '/') places.back().pop_back();
  }
  for (size_t i = 0; i < places.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (places[i] == places[j] && !(named[i].first == "wal_directory" && j == 0)) {
        return absl::InvalidArgumentError(Cat(named[i].first, ": ", named[i].second,
                                              " is the same directory as ", named[j].first,
                                              " (", named[j].second, ")"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace proximadb
