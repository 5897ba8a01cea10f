// CRC32C (Castagnoli), the checksum of every WAL record, segment section and manifest.
// Backed by ISA-L's hardware-accelerated crc32_iscsi. Thread-safe (pure functions).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace proximadb::crc32c {

// Returns the CRC32C of data[0, n) continued from `init`, the CRC of the bytes before it
// (0 for a fresh start). Value(Extend(0, a) , b) == Value(a + b).
uint32_t Extend(uint32_t init, const void* data, size_t n);

inline uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }
inline uint32_t Value(std::string_view s) { return Extend(0, s.data(), s.size()); }

}  // namespace proximadb::crc32c
