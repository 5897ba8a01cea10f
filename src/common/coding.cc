#include "common/coding.h"

namespace proximadb {

void PutFixed32(std::string* dst, uint32_t v) {
  char buf[4];
  EncodeFixed32(buf, v);
  dst->append(buf, 4);
}

void PutFixed64(std::string* dst, uint64_t v) {
  char buf[8];
  EncodeFixed64(buf, v);
  dst->append(buf, 8);
}

void PutVarint64(std::string* dst, uint64_t v) {
  char buf[10];
  int n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  dst->append(buf, static_cast<size_t>(n));
}

void PutLengthPrefixed(std::string* dst, std::string_view s) {
  PutVarint64(dst, s.size());
  dst->append(s.data(), s.size());
}

bool Decoder::GetFixed32(uint32_t* v) {
  if (remaining() < 4) return Fail();
  *v = DecodeFixed32(p_);
  p_ += 4;
  return true;
}

bool Decoder::GetFixed64(uint64_t* v) {
  if (remaining() < 8) return Fail();
  *v = DecodeFixed64(p_);
  p_ += 8;
  return true;
}

bool Decoder::GetVarint64(uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift <= 63 && p_ < end_; shift += 7) {
    const auto byte = static_cast<uint8_t>(*p_++);
    if (shift == 63 && byte > 1) return Fail();
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return Fail();
}

bool Decoder::GetVarint32(uint32_t* v) {
  uint64_t wide;
  if (!GetVarint64(&wide) || wide > UINT32_MAX) return Fail();
  *v = static_cast<uint32_t>(wide);
  return true;
}

bool Decoder::GetBytes(size_t n, std::string_view* s) {
  if (remaining() < n) return Fail();
  *s = std::string_view(p_, n);
  p_ += n;
  return true;
}

bool Decoder::GetLengthPrefixed(std::string_view* s) {
  uint64_t n;
  return GetVarint64(&n) && GetBytes(n, s);
}

}  // namespace proximadb
