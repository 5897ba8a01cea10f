// Reads the logical records of one log file (log_format.h) from an in-memory view of it.
//
// Damage is classified, not skipped:
//   - torn tail: the file ends inside a record, or damage is followed by nothing valid. The
//     records before it are returned and `valid_end` says where to truncate.
//   - corruption: damage followed by a valid record start. ReadAll fails with kDataLoss naming
//     the file and the offset, because acknowledged writes may sit behind the damage.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace proximadb::log {

struct ReadResult {
  uint64_t records = 0;
  uint64_t valid_end = 0;   // offset just past the last complete record
  bool torn_tail = false;   // bytes after valid_end are an incomplete or damaged record
  std::string torn_reason;  // what was found at valid_end when torn_tail
};

// Calls `fn(payload, offset)` for each complete record in order; `offset` is where the record's
// first fragment starts. An error from `fn` stops the read and is returned. `name` is used in
// error messages.
absl::StatusOr<ReadResult> ReadAll(
    std::string_view name, std::string_view file,
    const std::function<absl::Status(std::string_view payload, uint64_t offset)>& fn);

}  // namespace proximadb::log
