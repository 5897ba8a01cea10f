// The reference kernels: plain loops, no special flags. Every other level is tested against
// these.
#include <algorithm>
#include <cmath>

#include "simd/dispatch.h"

namespace proximadb::simd {
namespace {

float L2Sqr(const float* a, const float* b, size_t dim) {
  float s = 0;
  for (size_t i = 0; i < dim; ++i) {
    const float d = a[i] - b[i];
    s += d * d;
  }
  return s;
}

float Dot(const float* a, const float* b, size_t dim) {
  float s = 0;
  for (size_t i = 0; i < dim; ++i) s += a[i] * b[i];
  return s;
}

float CosineDistance(const float* a, const float* b, size_t dim) {
  float d = 0, na = 0, nb = 0;
  for (size_t i = 0; i < dim; ++i) {
    d += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  if (na == 0 || nb == 0) return 1.0f;
  return 1.0f - d / std::sqrt(na * nb);
}

int32_t L2SqrI8(const int8_t* a, const int8_t* b, size_t dim) {
  int32_t s = 0;
  for (size_t i = 0; i < dim; ++i) {
    const int32_t d = int32_t{a[i]} - int32_t{b[i]};
    s += d * d;
  }
  return s;
}

int32_t DotI8(const int8_t* a, const int8_t* b, size_t dim) {
  int32_t s = 0;
  for (size_t i = 0; i < dim; ++i) s += int32_t{a[i]} * int32_t{b[i]};
  return s;
}

float DotF32U8(const float* a, const uint8_t* codes, size_t dim) {
  float s = 0;
  for (size_t i = 0; i < dim; ++i) s += a[i] * static_cast<float>(codes[i]);
  return s;
}

uint32_t Hamming(const uint64_t* a, const uint64_t* b, size_t words) {
  uint32_t s = 0;
  for (size_t i = 0; i < words; ++i) {
    for (uint64_t x = a[i] ^ b[i]; x != 0; x &= x - 1) ++s;
  }
  return s;
}

float Lookup(const float* table, const uint8_t* codes, size_t m) {
  float s = 0;
  for (size_t j = 0; j < m; ++j) s += table[256 * j + codes[j]];
  return s;
}

uint32_t Nearest(const float* x, const float* transposed, const float* norms, size_t dim,
                 size_t count) {
  uint32_t best = 0;
  float best_d = 0;
  for (size_t c = 0; c < count; ++c) {
    const float d = CentroidDistance(x, transposed, norms, dim, count, c);
    if (c == 0 || d < best_d) best_d = d, best = static_cast<uint32_t>(c);
  }
  return best;
}

void CentroidDistances(const float* x, const float* transposed, const float* norms, size_t dim,
                       size_t count, float* out) {
  for (size_t c = 0; c < count; ++c) out[c] = CentroidDistance(x, transposed, norms, dim, count, c);
}

void NearestRows(const float* xs, size_t n, const float* transposed, const float* norms,
                 size_t dim, size_t count, uint32_t* out) {
  for (size_t i = 0; i < n; ++i) out[i] = Nearest(xs + i * dim, transposed, norms, dim, count);
}

void FastScan(const uint8_t* blocks, size_t nblocks, const uint8_t* lut, size_t width,
              uint16_t* out) {
  for (size_t b = 0; b < nblocks; ++b, out += kFastScanRows) {
    const uint8_t* runs = blocks + b * width * kFastScanRun;
    uint16_t acc[kFastScanRows] = {};
    for (size_t j = 0; j < width; ++j) {
      const uint8_t* run = runs + j * kFastScanRun;
      const uint8_t* t = lut + j * kFastScanRun;
      for (size_t i = 0; i < kFastScanRun; ++i) {
        acc[i] = static_cast<uint16_t>(acc[i] + t[run[i] & 15]);
        acc[i + kFastScanRun] = static_cast<uint16_t>(acc[i + kFastScanRun] + t[run[i] >> 4]);
      }
    }
    std::copy(acc, acc + kFastScanRows, out);
  }
}

}  // namespace

const Kernels kScalarKernels = {Level::kScalar, &L2Sqr,    &Dot,     &CosineDistance, &L2SqrI8,
                                &DotI8,         &DotF32U8, &Hamming, &Lookup,         &Nearest,
                                &CentroidDistances, &FastScan, &NearestRows};

}  // namespace proximadb::simd
