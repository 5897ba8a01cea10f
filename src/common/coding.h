// Little-endian fixed-width integers and LEB128 varints: the encoding of every on-disk format
// (see docs/wal_format.md, docs/segment_format.md, docs/manifest_format.md).
//
// Encoders append to a std::string. Decoding goes through Decoder, which reads from a byte range
// and turns every overrun into a clean failure instead of reading past the end.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace proximadb {

inline void EncodeFixed32(char* dst, uint32_t v) { std::memcpy(dst, &v, 4); }  // x86-64: LE
inline void EncodeFixed64(char* dst, uint64_t v) { std::memcpy(dst, &v, 8); }
inline uint32_t DecodeFixed32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t DecodeFixed64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

void PutFixed32(std::string* dst, uint32_t v);
void PutFixed64(std::string* dst, uint64_t v);
void PutVarint64(std::string* dst, uint64_t v);
// A varint length followed by the bytes.
void PutLengthPrefixed(std::string* dst, std::string_view s);

// Reads encoded values from [data, data + size). Every getter returns false on overrun or a
// malformed varint and leaves the decoder in a failed state; callers check once at the end or
// after each call.
class Decoder {
 public:
  Decoder(const char* data, size_t size) : p_(data), end_(data + size) {}
  explicit Decoder(std::string_view s) : Decoder(s.data(), s.size()) {}

  bool GetFixed32(uint32_t* v);
  bool GetFixed64(uint64_t* v);
  bool GetVarint64(uint64_t* v);
  bool GetVarint32(uint32_t* v);
  bool GetLengthPrefixed(std::string_view* s);
  bool GetBytes(size_t n, std::string_view* s);

  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  bool done() const { return p_ == end_; }

 private:
  bool Fail() {
    p_ = end_;
    return false;
  }

  const char* p_;
  const char* end_;
};

}  // namespace proximadb
