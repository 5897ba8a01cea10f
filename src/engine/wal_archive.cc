// CollectionImpl: WAL archiving for point-in-time restore (docs/backups.md). A WAL file goes to
// the object store as wal/<collection directory>/wal-NNNNNN.log once the manifest covers it,
// before it is removed locally; a file the store did not take stays until a later flush.
#include "common/macros.h"
#include "common/strings.h"
#include "engine/collection_impl.h"
#include "storage/file_names.h"

namespace proximadb {

std::string WalArchiveKey(std::string_view collection_dir_name, uint64_t number) {
  return Cat("wal/", collection_dir_name, "/", WalFileName(number));
}

absl::Status CollectionImpl::ArchiveWalBelow(uint64_t number) {
  const std::string uid = Uid();
  for (const std::string& dir : WalDirs()) {
    if (!env_->FileExists(dir)) continue;
    PROXIMADB_ASSIGN_OR_RETURN(std::vector<std::string> names, env_->ListDir(dir));
    for (const std::string& name : names) {
      uint64_t n = 0;
      if (ParseFileName(name, &n) != FileKind::kWal || n >= number || archived_wal_.contains(n)) {
        continue;
      }
      PROXIMADB_ASSIGN_OR_RETURN(std::string bytes, env_->ReadFile(JoinPath(dir, name)));
      PROXIMADB_RETURN_IF_ERROR(options_.wal_archive->Put(WalArchiveKey(uid, n), bytes));
      archived_wal_.insert(n);
    }
  }
  return absl::OkStatus();
}

}  // namespace proximadb
