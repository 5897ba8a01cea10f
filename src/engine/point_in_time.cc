// Point-in-time restore: a backup, then the archived WAL batches up to a moment
// (docs/backups.md#point-in-time-restore).
#include <algorithm>

#include "common/macros.h"
#include "common/strings.h"
#include "engine/backup.h"
#include "engine/collection_impl.h"
#include "storage/file_names.h"
#include "storage/wal.h"
#include "storage/write_batch.h"

namespace proximadb {

absl::StatusOr<int64_t> ReplayArchivedWal(ObjectStore& store, std::string_view collection_uid,
                                          int64_t time_us, Env* env, const std::string& dir,
                                          Manifest manifest) {
  const std::string prefix = Cat("wal/", collection_uid, "/");
  PROXIMADB_ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, store.List(prefix));
  std::vector<uint64_t> numbers;
  for (const ObjectInfo& o : objects) {
    uint64_t n = 0;
    // Files below the backup's wal_start hold only batches its segments have.
    if (ParseFileName(o.key.substr(prefix.size()), &n) == FileKind::kWal &&
        n >= manifest.wal_start) {
      numbers.push_back(n);
    }
  }
  std::sort(numbers.begin(), numbers.end());
  // The batches after the backup, in order, up to the first past the moment.
  std::vector<std::string> payloads;
  uint64_t last_seq = manifest.covered_seq;
  int64_t last_time = 0;
  bool past = false;
  for (uint64_t n : numbers) {
    if (past) break;
    PROXIMADB_ASSIGN_OR_RETURN(std::string bytes, store.Get(WalArchiveKey(collection_uid, n)));
    const std::string name = WalFileName(n);  // read in place, then removed
    PROXIMADB_RETURN_IF_ERROR(env->WriteFileAtomically(JoinPath(dir, name), bytes));
    absl::StatusOr<log::ReadResult> read = ReadWalFile(
        env, WalStrategy::kBinary, dir, n, [&](std::string_view payload, uint64_t offset) {
          DecodedBatch batch;
          PROXIMADB_RETURN_IF_ERROR(DecodeBatch(payload, &batch));
          if (past || batch.seq <= last_seq) return absl::OkStatus();
          if (static_cast<int64_t>(batch.timestamp_us) > time_us) {
            past = true;
            return absl::OkStatus();
          }
          if (batch.seq != last_seq + 1) {
            return absl::DataLossError(Cat("archived WAL file ", name, " offset ", offset,
                                           ": batch ", batch.seq, " follows ", last_seq,
                                           "; the archive is missing batches"));
          }
          payloads.emplace_back(payload);
          last_seq = batch.seq;
          last_time = static_cast<int64_t>(batch.timestamp_us);
          return absl::OkStatus();
        });
    PROXIMADB_RETURN_IF_ERROR(env->RemoveFile(JoinPath(dir, name)));
    PROXIMADB_RETURN_IF_ERROR(read.status());
  }
  if (payloads.empty()) return int64_t{0};
  // One new WAL file past every number in use, which the manifest then names.
  const uint64_t number = manifest.next_file_number;
  PROXIMADB_ASSIGN_OR_RETURN(std::unique_ptr<WalWriter> wal,
                             CreateWalFile(env, WalStrategy::kBinary, dir, number));
  std::vector<std::string_view> records(payloads.begin(), payloads.end());
  PROXIMADB_RETURN_IF_ERROR(wal->AppendGroup(records));
  PROXIMADB_RETURN_IF_ERROR(wal->Sync());
  PROXIMADB_RETURN_IF_ERROR(wal->Close());
  manifest.wal_start = number;
  manifest.next_file_number = number + 1;
  bool installed = false;
  PROXIMADB_RETURN_IF_ERROR(WriteManifest(env, dir, manifest, &installed));
  return last_time;
}

}  // namespace proximadb
