#include "env/env.h"

#include "absl/strings/str_cat.h"
#include "common/macros.h"

namespace proximadb {

std::string JoinPath(std::string_view dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  std::string path(dir);
  if (dir.back() != '/') path += '/';
  path += name;
  return path;
}

std::string DirName(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

absl::StatusOr<std::string> Env::ReadFile(const std::string& path) {
  PROXIMADB_ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> file, MapFile(path));
  return std::string(file->view());
}

absl::Status Env::WriteFileAtomically(const std::string& path, std::string_view data,
                                      bool* renamed) {
  if (renamed != nullptr) *renamed = false;
  const std::string tmp = absl::StrCat(path, ".tmp");
  absl::Status s = [&]() -> absl::Status {
    PROXIMADB_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, NewWritableFile(tmp));
    PROXIMADB_RETURN_IF_ERROR(file->Append(data));
    PROXIMADB_RETURN_IF_ERROR(file->Sync());
    PROXIMADB_RETURN_IF_ERROR(file->Close());
    return RenameFile(tmp, path);
  }();
  if (!s.ok()) {
    if (FileExists(tmp)) RemoveFile(tmp).IgnoreError();
    return s;
  }
  if (renamed != nullptr) *renamed = true;
  return SyncDir(DirName(path));
}

absl::Status Env::RemoveDirRecursively(const std::string& dir) {
  PROXIMADB_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir));
  for (const std::string& name : names) {
    PROXIMADB_RETURN_IF_ERROR(RemoveFile(JoinPath(dir, name)));
  }
  PROXIMADB_RETURN_IF_ERROR(RemoveDir(dir));
  return SyncDir(DirName(dir));
}

}  // namespace proximadb
