// The framing of the `binary` WAL strategy (docs/wal_format.md has the full grammar).
//
// A log file is a sequence of 32 KiB blocks. A logical record (one write batch) is split into
// fragments that never cross a block boundary; each fragment has a 7-byte header:
//
//   fragment := crc32c:fixed32  length:fixed16  type:uint8  payload:byte[length]
//   crc32c   := CRC32C over type and payload
//   type     := 1 FULL | 2 FIRST | 3 MIDDLE | 4 LAST
//
// When fewer than 7 bytes remain in a block, they are zero-filled and the next fragment starts
// at the next block. Because every block begins at a fragment boundary, a reader can resume at
// the next block after damage and so tell a torn tail (nothing valid follows) from corruption in
// the middle of the log (a valid record follows).
#pragma once

#include <cstddef>
#include <cstdint>

namespace proximadb::log {

enum class FragmentType : uint8_t { kFull = 1, kFirst = 2, kMiddle = 3, kLast = 4 };

inline constexpr size_t kBlockSize = 32768;
inline constexpr size_t kHeaderSize = 4 + 2 + 1;

}  // namespace proximadb::log
