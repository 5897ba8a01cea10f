#include "common/crc32c.h"

#include <isa-l/crc.h>

#include <climits>

namespace proximadb::crc32c {

uint32_t Extend(uint32_t init, const void* data, size_t n) {
  // crc32_iscsi neither pre- nor post-inverts; the standard CRC32C does both.
  uint32_t crc = ~init;
  const auto* p = static_cast<const unsigned char*>(data);
  while (n > 0) {
    const int chunk = n > static_cast<size_t>(INT_MAX) ? INT_MAX : static_cast<int>(n);
    crc = crc32_iscsi(const_cast<unsigned char*>(p), chunk, crc);
    p += chunk;
    n -= static_cast<size_t>(chunk);
  }
  return ~crc;
}

}  // namespace proximadb::crc32c
