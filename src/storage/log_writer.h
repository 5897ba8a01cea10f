// Writes logical records to one log file in the block framing of log_format.h.
//
// Thread-compatible: one thread at a time (the collection's commit leader).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "env/env.h"
#include "storage/log_format.h"

namespace proximadb::log {

class Writer {
 public:
  explicit Writer(std::unique_ptr<WritableFile> file) : file_(std::move(file)) {}

  // Appends one record (not yet durable). On error the file's tail is unknown and the writer
  // must not be used again.
  absl::Status AddRecord(std::string_view payload);
  absl::Status Sync() { return file_->Sync(); }
  // Cuts the file back to `size`, the size() after an earlier record, durably: the records
  // added since are gone, and the writer can be used again after a failed AddRecord.
  absl::Status Rewind(uint64_t size) {
    absl::Status s = file_->Truncate(size);
    if (s.ok()) block_offset_ = size % kBlockSize;
    return s;
  }
  absl::Status Close() { return file_->Close(); }
  uint64_t size() const { return file_->Size(); }

 private:
  std::unique_ptr<WritableFile> file_;
  size_t block_offset_ = 0;  // bytes used in the current block
  std::string buffer_;       // framed bytes of the record being added
};

}  // namespace proximadb::log
