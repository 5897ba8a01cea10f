#include "storage/log_reader.h"

#include "absl/strings/str_cat.h"
#include "common/coding.h"
#include "common/crc32c.h"
#include "common/macros.h"
#include "storage/log_format.h"

namespace proximadb::log {
namespace {

struct Fragment {
  bool ok = false;
  FragmentType type{};
  std::string_view payload;
  uint64_t offset = 0;  // where the header starts
  uint64_t next = 0;    // where the following fragment may start
  const char* error = nullptr;
  bool eof = false;
};

// Reads the physical fragment at or after `pos` (skipping a block trailer).
Fragment ReadFragment(std::string_view file, uint64_t pos) {
  Fragment f;
  const uint64_t leftover = kBlockSize - pos % kBlockSize;
  if (leftover < kHeaderSize) pos += leftover;
  f.offset = pos;
  if (pos >= file.size()) {
    f.eof = true;
    return f;
  }
  if (file.size() - pos < kHeaderSize) {
    f.error = "truncated fragment header";
    return f;
  }
  const char* h = file.data() + pos;
  const size_t length = static_cast<uint8_t>(h[4]) | (static_cast<size_t>(static_cast<uint8_t>(h[5])) << 8);
  const auto type = static_cast<uint8_t>(h[6]);
  if (type < 1 || type > 4) {
    f.error = type == 0 ? "zeroed or unwritten bytes" : "unknown fragment type";
    return f;
  }
  if (kHeaderSize + length > kBlockSize - pos % kBlockSize) {
    f.error = "fragment length crosses a block boundary";
    return f;
  }
  if (pos + kHeaderSize + length > file.size()) {
    f.error = "truncated fragment payload";
    return f;
  }
  const uint32_t expected = DecodeFixed32(h);
  if (crc32c::Extend(crc32c::Value(&h[6], 1), h + kHeaderSize, length) != expected) {
    f.error = "checksum mismatch";
    return f;
  }
  f.ok = true;
  f.type = static_cast<FragmentType>(type);
  f.payload = std::string_view(h + kHeaderSize, length);
  f.next = pos + kHeaderSize + length;
  return f;
}

bool StartsRecord(const Fragment& f) {
  return f.ok && (f.type == FragmentType::kFull || f.type == FragmentType::kFirst);
}

// Looks for a valid record start after damage at `damage`. The damaged fragment's length cannot
// be trusted, so the rest of its block is searched byte by byte (a false match needs a CRC32C
// collision), and later blocks from their first fragment. Returns its offset or -1.
int64_t FindRecordStartAfter(std::string_view file, uint64_t damage) {
  const uint64_t next_block = (damage / kBlockSize + 1) * kBlockSize;
  for (uint64_t pos = damage + 1; pos < next_block && pos < file.size(); ++pos) {
    Fragment f = ReadFragment(file, pos);
    if (StartsRecord(f) && f.offset == pos) return static_cast<int64_t>(pos);
  }
  for (uint64_t block = next_block; block < file.size(); block += kBlockSize) {
    for (uint64_t pos = block; pos < block + kBlockSize;) {
      Fragment f = ReadFragment(file, pos);
      if (!f.ok || f.offset >= block + kBlockSize) break;
      if (StartsRecord(f)) return static_cast<int64_t>(f.offset);
      pos = f.next;
    }
  }
  return -1;
}

}  // namespace

absl::StatusOr<ReadResult> ReadAll(
    std::string_view name, std::string_view file,
    const std::function<absl::Status(std::string_view payload, uint64_t offset)>& fn) {
  ReadResult result;
  std::string scratch;
  bool in_record = false;
  uint64_t record_start = 0;
  uint64_t pos = 0;

  // Damage at `offset` ends the read: a torn tail unless a valid record starts later.
  auto damaged = [&](uint64_t offset, uint64_t search_from,
                     const char* reason) -> absl::StatusOr<ReadResult> {
    int64_t later = FindRecordStartAfter(file, search_from);
    if (later >= 0) {
      return absl::DataLossError(absl::StrCat("WAL file ", std::string(name),
                                              " is corrupt at offset ", offset, ": ", reason,
                                              "; valid records follow at offset ", later));
    }
    result.torn_tail = true;
    result.torn_reason = reason;
    return result;
  };

  while (true) {
    Fragment f = ReadFragment(file, pos);
    if (f.eof) {
      if (in_record) {
        result.torn_tail = true;
        result.torn_reason = "file ends inside a record";
      }
      return result;
    }
    if (!f.ok) return damaged(in_record ? record_start : f.offset, f.offset, f.error);

    switch (f.type) {
      case FragmentType::kFull:
      case FragmentType::kFirst:
        if (in_record) {
          // The previous record never finished, yet a valid one starts here.
          return absl::DataLossError(
              absl::StrCat("WAL file ", std::string(name), " is corrupt at offset ", record_start,
                           ": record is missing its last fragment; a valid record follows at "
                           "offset ",
                           f.offset));
        }
        record_start = f.offset;
        if (f.type == FragmentType::kFull) {
          PROXIMADB_RETURN_IF_ERROR(fn(f.payload, record_start));
          ++result.records;
          result.valid_end = f.next;
        } else {
          scratch.assign(f.payload);
          in_record = true;
        }
        break;
      case FragmentType::kMiddle:
      case FragmentType::kLast:
        if (!in_record) return damaged(f.offset, f.offset, "fragment without a record start");
        scratch.append(f.payload);
        if (f.type == FragmentType::kLast) {
          in_record = false;
          PROXIMADB_RETURN_IF_ERROR(fn(scratch, record_start));
          ++result.records;
          result.valid_end = f.next;
        }
        break;
    }
    pos = f.next;
  }
}

}  // namespace proximadb::log
