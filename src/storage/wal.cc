#include "storage/wal.h"

#include "common/macros.h"
#include "storage/file_names.h"
#include "storage/log_writer.h"

namespace proximadb {
namespace {

class BinaryWalWriter final : public WalWriter {
 public:
  explicit BinaryWalWriter(std::unique_ptr<WritableFile> file) : writer_(std::move(file)) {}
  absl::Status AppendGroup(std::span<const std::string_view> records) override {
    for (std::string_view record : records) {
      if (absl::Status s = writer_.AddRecord(record); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  absl::Status Sync() override { return writer_.Sync(); }
  absl::Status Rewind(uint64_t size) override { return writer_.Rewind(size); }
  absl::Status Close() override { return writer_.Close(); }
  uint64_t size() const override { return writer_.size(); }

 private:
  log::Writer writer_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<WalWriter>> CreateWalFile(Env* env, WalStrategy strategy,
                                                         const std::string& dir,
                                                         uint64_t number) {
  PROXIMADB_CHECK(strategy == WalStrategy::kBinary);
  PROXIMADB_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file,
                             env->NewWritableFile(JoinPath(dir, WalFileName(number))));
  PROXIMADB_RETURN_IF_ERROR(env->SyncDir(dir));
  return std::make_unique<BinaryWalWriter>(std::move(file));
}

absl::StatusOr<log::ReadResult> ReadWalFile(
    Env* env, WalStrategy strategy, const std::string& dir, uint64_t number,
    const std::function<absl::Status(std::string_view record, uint64_t offset)>& fn) {
  PROXIMADB_CHECK(strategy == WalStrategy::kBinary);
  const std::string path = JoinPath(dir, WalFileName(number));
  PROXIMADB_ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> file, env->MapFile(path));
  return log::ReadAll(path, file->view(), fn);
}

}  // namespace proximadb
