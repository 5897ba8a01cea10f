// The payload of one WAL record: an atomic batch of resolved operations (docs/wal_format.md).
//
//   batch  := seq:fixed64  timestamp_us:fixed64  count:fixed32  op{count}
//   op     := 1:uint8 id:lp metadata:lp dim:varint vector:float32[dim]   (put)
//           | 2:uint8 id:lp                                             (delete)
//   lp     := length:varint byte[length]
//
// Operations are resolved before they are logged: an insert, upsert or metadata patch becomes a
// put of the full record, a delete names an id that was live. Replay therefore needs no reads,
// and the live path and recovery apply the very same decoded batch.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace proximadb {

enum class OpType : uint8_t { kPut = 1, kDelete = 2 };

struct BatchOp {
  OpType type;
  std::string_view id;
  std::string_view metadata;     // JSON object text (puts only)
  const char* vector = nullptr;  // `dim` float32 values, possibly unaligned (puts only)
  uint32_t dim = 0;
};

struct DecodedBatch {
  uint64_t seq = 0;
  uint64_t timestamp_us = 0;
  std::vector<BatchOp> ops;  // views into the payload
};

class BatchBuilder {
 public:
  BatchBuilder(uint64_t seq, uint64_t timestamp_us);

  void Put(std::string_view id, const float* vector, uint32_t dim, std::string_view metadata);
  void Delete(std::string_view id);

  uint32_t count() const { return count_; }
  // The encoded payload; the builder is empty afterwards.
  std::string Finish();

 private:
  std::string rep_;
  uint32_t count_ = 0;
};

// Decodes `payload` into `out` (views into `payload`). kDataLoss if it is malformed.
absl::Status DecodeBatch(std::string_view payload, DecodedBatch* out);

}  // namespace proximadb
