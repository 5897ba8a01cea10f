// A collection's write-ahead log: numbered files `wal-NNNNNN.log` in the collection directory,
// each written by one WalWriter of the collection's strategy. The engine rolls to a new file
// when it freezes a memtable, so a file is deleted whole once the manifest covers it.
//
// WalWriter is the seam where other strategies slot in (an `avro` object-container log, a
// replicated log): the engine only appends records, syncs, and replays whole files.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "env/env.h"
#include "storage/log_reader.h"

namespace proximadb {

enum class WalStrategy { kBinary };

class WalWriter {
 public:
  virtual ~WalWriter() = default;
  // Appends the records of one commit group (one write batch each), in order, so that a log
  // can write a group as one unit (a container block, one replicated message). Durable only
  // after Sync(); after an error the file's tail is unknown.
  virtual absl::Status AppendGroup(std::span<const std::string_view> records) = 0;
  virtual absl::Status Sync() = 0;
  // Cuts the file back to `size` (a size() from before an AppendGroup), durably, so that a
  // group whose append failed (a full disk) leaves nothing behind and appends can go on.
  virtual absl::Status Rewind(uint64_t size) = 0;
  virtual absl::Status Close() = 0;
  // Bytes written to this file so far.
  virtual uint64_t size() const = 0;
};

// Creates WAL file `number` in `dir` and makes its directory entry durable, so that a record
// synced into it survives a power loss.
absl::StatusOr<std::unique_ptr<WalWriter>> CreateWalFile(Env* env, WalStrategy strategy,
                                                         const std::string& dir,
                                                         uint64_t number);

// Reads every record of WAL file `number`. A torn tail is reported in the result (the caller
// truncates it); corruption before the tail is kDataLoss naming the file and offset.
absl::StatusOr<log::ReadResult> ReadWalFile(
    Env* env, WalStrategy strategy, const std::string& dir, uint64_t number,
    const std::function<absl::Status(std::string_view record, uint64_t offset)>& fn);

}  // namespace proximadb
