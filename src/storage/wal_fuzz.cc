// Fuzz target: the WAL reader and the write-batch decoder, as recovery runs them over a log
// file. Arbitrary bytes must give records, a torn tail or a DATA_LOSS error, never a crash or a
// hang. The fragments' CRCs are recomputed first (where a fragment header can be read), so that
// mutations reach the framing and the batch decoder behind the checksums.
#include <cstdint>
#include <string>

#include "common/coding.h"
#include "common/crc32c.h"
#include "storage/log_format.h"
#include "storage/log_reader.h"
#include "storage/write_batch.h"

namespace {

using namespace proximadb;

void FixChecksums(std::string* file) {
  size_t pos = 0;
  while (pos + log::kHeaderSize <= file->size()) {
    const size_t left_in_block = log::kBlockSize - pos % log::kBlockSize;
    if (left_in_block < log::kHeaderSize) {
      pos += left_in_block;
      continue;
    }
    char* h = file->data() + pos;
    size_t length = static_cast<uint8_t>(h[4]) | (static_cast<size_t>(static_cast<uint8_t>(h[5])) << 8);
    if (log::kHeaderSize + length > left_in_block ||
        pos + log::kHeaderSize + length > file->size()) {
      return;  // the reader stops here too
    }
    EncodeFixed32(h, crc32c::Extend(crc32c::Value(&h[6], 1), h + log::kHeaderSize, length));
    pos += log::kHeaderSize + length;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string file(reinterpret_cast<const char*>(data), size);
  FixChecksums(&file);
  (void)log::ReadAll("fuzz.log", file, [](std::string_view payload, uint64_t) {
    DecodedBatch batch;
    return DecodeBatch(payload, &batch);
  });
  return 0;
}
