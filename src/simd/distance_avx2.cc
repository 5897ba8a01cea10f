// AVX2 + FMA kernels. Compiled with -mavx2 -mfma; reached only after the CPU check in
// distance.cc.
#include <immintrin.h>

#include <cmath>

#include "simd/dispatch.h"

namespace proximadb::simd {
namespace {

inline float HorizontalSum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

inline int32_t HorizontalSum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

float L2Sqr(const float* a, const float* b, size_t dim) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
    __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
    s0 = _mm256_fmadd_ps(d0, d0, s0);
    s1 = _mm256_fmadd_ps(d1, d1, s1);
    s2 = _mm256_fmadd_ps(d2, d2, s2);
    s3 = _mm256_fmadd_ps(d3, d3, s3);
  }
  for (; i + 8 <= dim; i += 8) {
    __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    s0 = _mm256_fmadd_ps(d, d, s0);
  }
  float s = HorizontalSum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < dim; ++i) {
    const float d = a[i] - b[i];
    s += d * d;
  }
  return s;
}

float Dot(const float* a, const float* b, size_t dim) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= dim; i += 8) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  }
  float s = HorizontalSum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < dim; ++i) s += a[i] * b[i];
  return s;
}

float CosineDistance(const float* a, const float* b, size_t dim) {
  __m256 d0 = _mm256_setzero_ps(), d1 = _mm256_setzero_ps();
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    __m256 x0 = _mm256_loadu_ps(a + i), y0 = _mm256_loadu_ps(b + i);
    __m256 x1 = _mm256_loadu_ps(a + i + 8), y1 = _mm256_loadu_ps(b + i + 8);
    d0 = _mm256_fmadd_ps(x0, y0, d0);
    d1 = _mm256_fmadd_ps(x1, y1, d1);
    a0 = _mm256_fmadd_ps(x0, x0, a0);
    a1 = _mm256_fmadd_ps(x1, x1, a1);
    b0 = _mm256_fmadd_ps(y0, y0, b0);
    b1 = _mm256_fmadd_ps(y1, y1, b1);
  }
  for (; i + 8 <= dim; i += 8) {
    __m256 x = _mm256_loadu_ps(a + i), y = _mm256_loadu_ps(b + i);
    d0 = _mm256_fmadd_ps(x, y, d0);
    a0 = _mm256_fmadd_ps(x, x, a0);
    b0 = _mm256_fmadd_ps(y, y, b0);
  }
  float d = HorizontalSum(_mm256_add_ps(d0, d1));
  float na = HorizontalSum(_mm256_add_ps(a0, a1));
  float nb = HorizontalSum(_mm256_add_ps(b0, b1));
  for (; i < dim; ++i) {
    d += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  if (na == 0 || nb == 0) return 1.0f;
  return 1.0f - d / std::sqrt(na * nb);
}

int32_t L2SqrI8(const int8_t* a, const int8_t* b, size_t dim) {
  __m256i s = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    __m256i x = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i)));
    __m256i y = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i)));
    __m256i d = _mm256_sub_epi16(x, y);  // |d| <= 255 fits in int16
    s = _mm256_add_epi32(s, _mm256_madd_epi16(d, d));
  }
  int32_t r = HorizontalSum(s);
  for (; i < dim; ++i) {
    const int32_t d = int32_t{a[i]} - int32_t{b[i]};
    r += d * d;
  }
  return r;
}

int32_t DotI8(const int8_t* a, const int8_t* b, size_t dim) {
  __m256i s = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    __m256i x = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i)));
    __m256i y = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i)));
    s = _mm256_add_epi32(s, _mm256_madd_epi16(x, y));
  }
  int32_t r = HorizontalSum(s);
  for (; i < dim; ++i) r += int32_t{a[i]} * int32_t{b[i]};
  return r;
}

inline __m256 LoadCodes8(const uint8_t* codes) {
  return _mm256_cvtepi32_ps(
      _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes))));
}

float DotF32U8(const float* a, const uint8_t* codes, size_t dim) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), LoadCodes8(codes + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), LoadCodes8(codes + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), LoadCodes8(codes + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), LoadCodes8(codes + i + 24), s3);
  }
  for (; i + 8 <= dim; i += 8) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), LoadCodes8(codes + i), s0);
  }
  float s = HorizontalSum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < dim; ++i) s += a[i] * static_cast<float>(codes[i]);
  return s;
}

uint32_t Hamming(const uint64_t* a, const uint64_t* b, size_t words) {
  uint64_t s = 0;
  for (size_t i = 0; i < words; ++i) s += _mm_popcnt_u64(a[i] ^ b[i]);
  return static_cast<uint32_t>(s);
}

float Lookup(const float* table, const uint8_t* codes, size_t m) {
  const __m256i step = _mm256_set1_epi32(8 * 256);
  __m256i offsets = _mm256_setr_epi32(0, 256, 512, 768, 1024, 1280, 1536, 1792);
  __m256 s = _mm256_setzero_ps();
  size_t j = 0;
  for (; j + 8 <= m; j += 8) {
    const __m256i idx = _mm256_add_epi32(
        offsets, _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes + j))));
    s = _mm256_add_ps(s, _mm256_i32gather_ps(table, idx, 4));
    offsets = _mm256_add_epi32(offsets, step);
  }
  float r = HorizontalSum(s);
  for (; j < m; ++j) r += table[256 * j + codes[j]];
  return r;
}

// Centroids c..c+7's |c|^2 - 2 x.c (CentroidDistance, eight at a time).
inline __m256 CentroidDistances8(const float* x, const float* transposed, const float* norms,
                                 size_t dim, size_t count, size_t c) {
  __m256 acc = _mm256_loadu_ps(norms + c);
  for (size_t i = 0; i < dim; ++i) {
    acc = _mm256_fmadd_ps(_mm256_set1_ps(-2 * x[i]), _mm256_loadu_ps(transposed + i * count + c),
                          acc);
  }
  return acc;
}

uint32_t Nearest(const float* x, const float* transposed, const float* norms, size_t dim,
                 size_t count) {
  uint32_t best = 0;
  float best_d = 0;
  size_t c = 0;
  for (; c + 8 <= count; c += 8) {
    const __m256 acc = CentroidDistances8(x, transposed, norms, dim, count, c);
    alignas(32) float d[8];
    _mm256_store_ps(d, acc);
    for (int l = 0; l < 8; ++l) {
      if ((c == 0 && l == 0) || d[l] < best_d) best_d = d[l], best = static_cast<uint32_t>(c + l);
    }
  }
  for (; c < count; ++c) {
    const float d = CentroidDistance(x, transposed, norms, dim, count, c);
    if (c == 0 || d < best_d) best_d = d, best = static_cast<uint32_t>(c);
  }
  return best;
}

void CentroidDistances(const float* x, const float* transposed, const float* norms, size_t dim,
                       size_t count, float* out) {
  size_t c = 0;
  for (; c + 8 <= count; c += 8) {
    const __m256 acc = CentroidDistances8(x, transposed, norms, dim, count, c);
    _mm256_storeu_ps(out + c, acc);
  }
  for (; c < count; ++c) out[c] = CentroidDistance(x, transposed, norms, dim, count, c);
}

// Nearest's whole groups of 8 centroids for kRows rows at once, `scaled` holding -2 x of
// each (row-major): the same sums as CentroidDistances8, each load of the centroids feeding
// every row. Returns the centroids covered.
template <size_t kRows>
size_t NearestTiles(const float* scaled, const float* transposed, const float* norms,
                    size_t dim, size_t count, uint32_t* out, float* best_d) {
  size_t c = 0;
  for (; c + 8 <= count; c += 8) {
    __m256 acc[kRows];
    for (size_t r = 0; r < kRows; ++r) acc[r] = _mm256_loadu_ps(norms + c);
    for (size_t i = 0; i < dim; ++i) {
      const __m256 column = _mm256_loadu_ps(transposed + i * count + c);
      for (size_t r = 0; r < kRows; ++r) {
        acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(scaled[r * dim + i]), column, acc[r]);
      }
    }
    for (size_t r = 0; r < kRows; ++r) {
      alignas(32) float d[8];
      _mm256_store_ps(d, acc[r]);
      for (size_t l = 0; l < 8; ++l) {
        if ((c == 0 && l == 0) || d[l] < best_d[r]) {
          best_d[r] = d[l];
          out[r] = static_cast<uint32_t>(c + l);
        }
      }
    }
  }
  return c;
}

void NearestRows(const float* xs, size_t n, const float* transposed, const float* norms,
                 size_t dim, size_t count, uint32_t* out) {
  constexpr size_t kRows = 8;  // 8 accumulators and the column: 9 of the 16 registers
  NearestRowsFrame<kRows>(
      xs, n, transposed, norms, dim, count, out,
      [&](const float* scaled, uint32_t* rows_out, float* best_d) {
        return NearestTiles<kRows>(scaled, transposed, norms, dim, count, rows_out, best_d);
      },
      [&](const float* x) { return Nearest(x, transposed, norms, dim, count); });
}

// 16 rows' sums, the two 128-bit lanes holding different sub-quantizers of the same rows, in
// even rows' and odd rows' 16-bit halves.
inline void StoreFastScanRows(__m256i even, __m256i odd, uint16_t* out) {
  const __m128i e = _mm_add_epi16(_mm256_castsi256_si128(even), _mm256_extracti128_si256(even, 1));
  const __m128i o = _mm_add_epi16(_mm256_castsi256_si128(odd), _mm256_extracti128_si256(odd, 1));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_unpacklo_epi16(e, o));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 8), _mm_unpackhi_epi16(e, o));
}

// Two sub-quantizers per step: one 32-byte load of codes and of table, looked up by pshufb for
// the low nibbles (rows 0-15) and the high nibbles (rows 16-31), summed as 16-bit even and odd
// bytes.
void FastScan(const uint8_t* blocks, size_t nblocks, const uint8_t* lut, size_t width,
              uint16_t* out) {
  const __m256i nibble = _mm256_set1_epi8(0x0f), byte = _mm256_set1_epi16(0x00ff);
  for (size_t b = 0; b < nblocks; ++b, out += kFastScanRows) {
    const uint8_t* runs = blocks + b * width * kFastScanRun;
    __m256i lo_even = _mm256_setzero_si256(), lo_odd = _mm256_setzero_si256();
    __m256i hi_even = _mm256_setzero_si256(), hi_odd = _mm256_setzero_si256();
    for (size_t j = 0; j < width; j += 2) {
      const __m256i codes =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(runs + j * kFastScanRun));
      const __m256i t = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lut + j * kFastScanRun));
      const __m256i lo = _mm256_shuffle_epi8(t, _mm256_and_si256(codes, nibble));
      const __m256i hi =
          _mm256_shuffle_epi8(t, _mm256_and_si256(_mm256_srli_epi16(codes, 4), nibble));
      lo_even = _mm256_add_epi16(lo_even, _mm256_and_si256(lo, byte));
      lo_odd = _mm256_add_epi16(lo_odd, _mm256_srli_epi16(lo, 8));
      hi_even = _mm256_add_epi16(hi_even, _mm256_and_si256(hi, byte));
      hi_odd = _mm256_add_epi16(hi_odd, _mm256_srli_epi16(hi, 8));
    }
    StoreFastScanRows(lo_even, lo_odd, out);
    StoreFastScanRows(hi_even, hi_odd, out + kFastScanRun);
  }
}

}  // namespace

const Kernels kAvx2Kernels = {Level::kAvx2,  &L2Sqr,    &Dot,     &CosineDistance, &L2SqrI8,
                              &DotI8,        &DotF32U8, &Hamming, &Lookup,         &Nearest,
                              &CentroidDistances, &FastScan, &NearestRows};

}  // namespace proximadb::simd
