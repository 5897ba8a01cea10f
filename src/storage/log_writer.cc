#include "storage/log_writer.h"

#include <algorithm>

#include "common/coding.h"
#include "common/crc32c.h"
#include "storage/log_format.h"

namespace proximadb::log {

absl::Status Writer::AddRecord(std::string_view payload) {
  buffer_.clear();
  const char* p = payload.data();
  size_t left = payload.size();
  bool begin = true;
  do {
    const size_t leftover = kBlockSize - block_offset_;
    if (leftover < kHeaderSize) {
      buffer_.append(leftover, '\0');  // block trailer
      block_offset_ = 0;
    }
    const size_t avail = kBlockSize - block_offset_ - kHeaderSize;
    const size_t n = std::min(left, avail);
    const bool end = (n == left);
    FragmentType type = begin && end ? FragmentType::kFull
                        : begin      ? FragmentType::kFirst
                        : end        ? FragmentType::kLast
                                     : FragmentType::kMiddle;
    char header[kHeaderSize];
    header[4] = static_cast<char>(n & 0xff);
    header[5] = static_cast<char>(n >> 8);
    header[6] = static_cast<char>(type);
    uint32_t crc = crc32c::Extend(crc32c::Value(&header[6], 1), p, n);
    EncodeFixed32(header, crc);
    buffer_.append(header, kHeaderSize);
    buffer_.append(p, n);
    block_offset_ += kHeaderSize + n;
    p += n;
    left -= n;
    begin = false;
  } while (left > 0);
  return file_->Append(buffer_);
}

}  // namespace proximadb::log
