#include "storage/write_batch.h"

#include "common/coding.h"

namespace proximadb {

namespace {
constexpr size_t kBatchHeaderSize = 8 + 8 + 4;
}

BatchBuilder::BatchBuilder(uint64_t seq, uint64_t timestamp_us) {
  PutFixed64(&rep_, seq);
  PutFixed64(&rep_, timestamp_us);
  PutFixed32(&rep_, 0);  // count, patched by Finish
}

void BatchBuilder::Put(std::string_view id, const float* vector, uint32_t dim,
                       std::string_view metadata) {
  rep_.push_back(static_cast<char>(OpType::kPut));
  PutLengthPrefixed(&rep_, id);
  PutLengthPrefixed(&rep_, metadata);
  PutVarint64(&rep_, dim);
  rep_.append(reinterpret_cast<const char*>(vector), sizeof(float) * dim);
  ++count_;
}

void BatchBuilder::Delete(std::string_view id) {
  rep_.push_back(static_cast<char>(OpType::kDelete));
  PutLengthPrefixed(&rep_, id);
  ++count_;
}

std::string BatchBuilder::Finish() {
  EncodeFixed32(rep_.data() + 16, count_);
  count_ = 0;
  return std::move(rep_);
}

absl::Status DecodeBatch(std::string_view payload, DecodedBatch* out) {
  auto bad = [](const char* what) {
    return absl::DataLossError(std::string("malformed WAL batch: ") + what);
  };
  if (payload.size() < kBatchHeaderSize) return bad("shorter than its header");
  out->seq = DecodeFixed64(payload.data());
  out->timestamp_us = DecodeFixed64(payload.data() + 8);
  const uint32_t count = DecodeFixed32(payload.data() + 16);
  // Every operation takes at least two bytes (its type and an id length): a count beyond that
  // is damage, and must not be allocated for.
  if (count > (payload.size() - kBatchHeaderSize) / 2) return bad("more operations than bytes");
  out->ops.clear();
  out->ops.reserve(count);
  Decoder d(payload.substr(kBatchHeaderSize));
  for (uint32_t i = 0; i < count; ++i) {
    std::string_view type;
    if (!d.GetBytes(1, &type)) return bad("truncated operation");
    BatchOp op;
    op.type = static_cast<OpType>(type[0]);
    if (!d.GetLengthPrefixed(&op.id)) return bad("truncated id");
    if (op.type == OpType::kPut) {
      uint32_t dim;
      std::string_view vec;
      if (!d.GetLengthPrefixed(&op.metadata) || !d.GetVarint32(&dim) ||
          !d.GetBytes(sizeof(float) * static_cast<size_t>(dim), &vec)) {
        return bad("truncated put");
      }
      op.dim = dim;
      op.vector = vec.data();
    } else if (op.type != OpType::kDelete) {
      return bad("unknown operation type");
    }
    out->ops.push_back(op);
  }
  if (!d.done()) return bad("trailing bytes");
  return absl::OkStatus();
}

}  // namespace proximadb
