// AVX-512 kernels (F, BW, DQ, VL). Compiled with those flags; reached only after the CPU check
// in distance.cc. Tails use masked loads, so no scalar remainder loop is needed.
// GCC 12's own _mm256_undefined_*() inside the AVX-512 extract/reduce intrinsics trips
// -Wuninitialized (a known GCC false positive); nothing in this file reads uninitialized data.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cmath>

#include "simd/dispatch.h"

namespace proximadb::simd {
namespace {

inline __mmask16 TailMask(size_t n) { return static_cast<__mmask16>((1u << n) - 1); }


float L2Sqr(const float* a, const float* b, size_t dim) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 64 <= dim; i += 64) {
    __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
    __m512 d2 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));
    __m512 d3 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));
    s0 = _mm512_fmadd_ps(d0, d0, s0);
    s1 = _mm512_fmadd_ps(d1, d1, s1);
    s2 = _mm512_fmadd_ps(d2, d2, s2);
    s3 = _mm512_fmadd_ps(d3, d3, s3);
  }
  for (; i + 16 <= dim; i += 16) {
    __m512 d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    s0 = _mm512_fmadd_ps(d, d, s0);
  }
  if (i < dim) {
    const __mmask16 m = TailMask(dim - i);
    __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
    s1 = _mm512_fmadd_ps(d, d, s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

float Dot(const float* a, const float* b, size_t dim) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 64 <= dim; i += 64) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
    s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
  }
  for (; i + 16 <= dim; i += 16) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
  }
  if (i < dim) {
    const __mmask16 m = TailMask(dim - i);
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

float CosineDistance(const float* a, const float* b, size_t dim) {
  __m512 d0 = _mm512_setzero_ps(), d1 = _mm512_setzero_ps();
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    __m512 x0 = _mm512_loadu_ps(a + i), y0 = _mm512_loadu_ps(b + i);
    __m512 x1 = _mm512_loadu_ps(a + i + 16), y1 = _mm512_loadu_ps(b + i + 16);
    d0 = _mm512_fmadd_ps(x0, y0, d0);
    d1 = _mm512_fmadd_ps(x1, y1, d1);
    a0 = _mm512_fmadd_ps(x0, x0, a0);
    a1 = _mm512_fmadd_ps(x1, x1, a1);
    b0 = _mm512_fmadd_ps(y0, y0, b0);
    b1 = _mm512_fmadd_ps(y1, y1, b1);
  }
  for (; i < dim; i += 16) {
    const __mmask16 m = dim - i >= 16 ? static_cast<__mmask16>(0xffff) : TailMask(dim - i);
    __m512 x = _mm512_maskz_loadu_ps(m, a + i), y = _mm512_maskz_loadu_ps(m, b + i);
    d0 = _mm512_fmadd_ps(x, y, d0);
    a0 = _mm512_fmadd_ps(x, x, a0);
    b0 = _mm512_fmadd_ps(y, y, b0);
  }
  const float d = _mm512_reduce_add_ps(_mm512_add_ps(d0, d1));
  const float na = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
  const float nb = _mm512_reduce_add_ps(_mm512_add_ps(b0, b1));
  if (na == 0 || nb == 0) return 1.0f;
  return 1.0f - d / std::sqrt(na * nb);
}

inline __mmask32 TailMask32(size_t n) { return static_cast<__mmask32>((1ull << n) - 1); }

int32_t L2SqrI8(const int8_t* a, const int8_t* b, size_t dim) {
  __m512i s = _mm512_setzero_si512();
  for (size_t i = 0; i < dim; i += 32) {
    const __mmask32 m = dim - i >= 32 ? ~__mmask32{0} : TailMask32(dim - i);
    __m512i x = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, a + i));
    __m512i y = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, b + i));
    __m512i d = _mm512_sub_epi16(x, y);
    s = _mm512_add_epi32(s, _mm512_madd_epi16(d, d));
  }
  return _mm512_reduce_add_epi32(s);
}

int32_t DotI8(const int8_t* a, const int8_t* b, size_t dim) {
  __m512i s = _mm512_setzero_si512();
  for (size_t i = 0; i < dim; i += 32) {
    const __mmask32 m = dim - i >= 32 ? ~__mmask32{0} : TailMask32(dim - i);
    __m512i x = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, a + i));
    __m512i y = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, b + i));
    s = _mm512_add_epi32(s, _mm512_madd_epi16(x, y));
  }
  return _mm512_reduce_add_epi32(s);
}

inline __mmask16 TailMask16(size_t n) { return static_cast<__mmask16>((1u << n) - 1); }

float DotF32U8(const float* a, const uint8_t* codes, size_t dim) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    const __m512 c0 = _mm512_cvtepi32_ps(
        _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + i))));
    const __m512 c1 = _mm512_cvtepi32_ps(
        _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + i + 16))));
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), c0, s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), c1, s1);
  }
  for (; i < dim; i += 16) {
    const __mmask16 m = dim - i >= 16 ? ~__mmask16{0} : TailMask16(dim - i);
    const __m512 c = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, codes + i)));
    s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), c, s0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

uint32_t Hamming(const uint64_t* a, const uint64_t* b, size_t words) {
  uint64_t s = 0;
  for (size_t i = 0; i < words; ++i) s += _mm_popcnt_u64(a[i] ^ b[i]);
  return static_cast<uint32_t>(s);
}

// 16 rows' sums, the four 128-bit lanes holding different sub-quantizers of the same rows, in
// even rows' and odd rows' 16-bit halves.
inline void StoreFastScanRows(__m512i even, __m512i odd, uint16_t* out) {
  const __m128i e = _mm_add_epi16(
      _mm_add_epi16(_mm512_extracti32x4_epi32(even, 0), _mm512_extracti32x4_epi32(even, 1)),
      _mm_add_epi16(_mm512_extracti32x4_epi32(even, 2), _mm512_extracti32x4_epi32(even, 3)));
  const __m128i o = _mm_add_epi16(
      _mm_add_epi16(_mm512_extracti32x4_epi32(odd, 0), _mm512_extracti32x4_epi32(odd, 1)),
      _mm_add_epi16(_mm512_extracti32x4_epi32(odd, 2), _mm512_extracti32x4_epi32(odd, 3)));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_unpacklo_epi16(e, o));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 8), _mm_unpackhi_epi16(e, o));
}

// Four sub-quantizers per step (the AVX2 kernel's scheme on 64-byte registers).
void FastScan(const uint8_t* blocks, size_t nblocks, const uint8_t* lut, size_t width,
              uint16_t* out) {
  const __m512i nibble = _mm512_set1_epi8(0x0f), byte = _mm512_set1_epi16(0x00ff);
  for (size_t b = 0; b < nblocks; ++b, out += kFastScanRows) {
    const uint8_t* runs = blocks + b * width * kFastScanRun;
    __m512i lo_even = _mm512_setzero_si512(), lo_odd = _mm512_setzero_si512();
    __m512i hi_even = _mm512_setzero_si512(), hi_odd = _mm512_setzero_si512();
    for (size_t j = 0; j < width; j += 4) {
      const __m512i codes = _mm512_loadu_si512(runs + j * kFastScanRun);
      const __m512i t = _mm512_loadu_si512(lut + j * kFastScanRun);
      const __m512i lo = _mm512_shuffle_epi8(t, _mm512_and_si512(codes, nibble));
      const __m512i hi =
          _mm512_shuffle_epi8(t, _mm512_and_si512(_mm512_srli_epi16(codes, 4), nibble));
      lo_even = _mm512_add_epi16(lo_even, _mm512_and_si512(lo, byte));
      lo_odd = _mm512_add_epi16(lo_odd, _mm512_srli_epi16(lo, 8));
      hi_even = _mm512_add_epi16(hi_even, _mm512_and_si512(hi, byte));
      hi_odd = _mm512_add_epi16(hi_odd, _mm512_srli_epi16(hi, 8));
    }
    StoreFastScanRows(lo_even, lo_odd, out);
    StoreFastScanRows(hi_even, hi_odd, out + kFastScanRun);
  }
}

float Lookup(const float* table, const uint8_t* codes, size_t m) {
  const __m512i step = _mm512_set1_epi32(16 * 256);
  __m512i offsets = _mm512_mullo_epi32(
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
      _mm512_set1_epi32(256));
  __m512 s = _mm512_setzero_ps();
  size_t j = 0;
  for (; j + 16 <= m; j += 16) {
    const __m512i idx = _mm512_add_epi32(
        offsets,
        _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + j))));
    s = _mm512_add_ps(s, _mm512_i32gather_ps(idx, table, 4));
    offsets = _mm512_add_epi32(offsets, step);
  }
  float r = _mm512_reduce_add_ps(s);
  for (; j < m; ++j) r += table[256 * j + codes[j]];
  return r;
}

// Centroids c..c+15's |c|^2 - 2 x.c (CentroidDistance, sixteen at a time).
inline __m512 CentroidDistances16(const float* x, const float* transposed, const float* norms,
                                  size_t dim, size_t count, size_t c) {
  __m512 acc = _mm512_loadu_ps(norms + c);
  for (size_t i = 0; i < dim; ++i) {
    acc = _mm512_fmadd_ps(_mm512_set1_ps(-2 * x[i]), _mm512_loadu_ps(transposed + i * count + c),
                          acc);
  }
  return acc;
}

uint32_t Nearest(const float* x, const float* transposed, const float* norms, size_t dim,
                 size_t count) {
  uint32_t best = 0;
  float best_d = 0;
  size_t c = 0;
  for (; c + 16 <= count; c += 16) {
    const __m512 acc = CentroidDistances16(x, transposed, norms, dim, count, c);
    const float low = _mm512_reduce_min_ps(acc);
    if (c == 0 || low < best_d) {
      const __mmask16 at = _mm512_cmp_ps_mask(acc, _mm512_set1_ps(low), _CMP_EQ_OQ);
      best_d = low;
      best = static_cast<uint32_t>(c + __builtin_ctz(at));
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
  for (; c + 16 <= count; c += 16) {
    const __m512 acc = CentroidDistances16(x, transposed, norms, dim, count, c);
    _mm512_storeu_ps(out + c, acc);
  }
  for (; c < count; ++c) out[c] = CentroidDistance(x, transposed, norms, dim, count, c);
}

// Nearest's whole groups of 16 centroids for kRows rows at once, `scaled` holding -2 x of
// each (row-major): the same sums as CentroidDistances16, each load of the centroids feeding
// every row. Returns the centroids covered.
template <size_t kRows>
size_t NearestTiles(const float* scaled, const float* transposed, const float* norms,
                    size_t dim, size_t count, uint32_t* out, float* best_d) {
  size_t c = 0;
  for (; c + 16 <= count; c += 16) {
    __m512 acc[kRows];
    for (size_t r = 0; r < kRows; ++r) acc[r] = _mm512_loadu_ps(norms + c);
    for (size_t i = 0; i < dim; ++i) {
      const __m512 column = _mm512_loadu_ps(transposed + i * count + c);
      for (size_t r = 0; r < kRows; ++r) {
        acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(scaled[r * dim + i]), column, acc[r]);
      }
    }
    for (size_t r = 0; r < kRows; ++r) {
      const float low = _mm512_reduce_min_ps(acc[r]);
      if (c == 0 || low < best_d[r]) {
        const __mmask16 at = _mm512_cmp_ps_mask(acc[r], _mm512_set1_ps(low), _CMP_EQ_OQ);
        best_d[r] = low;
        out[r] = static_cast<uint32_t>(c + __builtin_ctz(at));
      }
    }
  }
  return c;
}

void NearestRows(const float* xs, size_t n, const float* transposed, const float* norms,
                 size_t dim, size_t count, uint32_t* out) {
  constexpr size_t kRows = 16;  // 16 accumulators and the column: half the registers
  NearestRowsFrame<kRows>(
      xs, n, transposed, norms, dim, count, out,
      [&](const float* scaled, uint32_t* rows_out, float* best_d) {
        return NearestTiles<kRows>(scaled, transposed, norms, dim, count, rows_out, best_d);
      },
      [&](const float* x) { return Nearest(x, transposed, norms, dim, count); });
}

}  // namespace

// AVX-512 VPOPCNTDQ (Ice Lake and later): eight words' popcounts per instruction. Not implied by
// the level's F/BW/DQ/VL, so distance.cc swaps it in only where the CPU has it.
__attribute__((target("avx512vpopcntdq"))) uint32_t HammingVpopcntdq(const uint64_t* a,
                                                                     const uint64_t* b,
                                                                     size_t words) {
  __m512i s = _mm512_setzero_si512();
  for (size_t i = 0; i < words; i += 8) {
    const __mmask8 m = words - i >= 8 ? __mmask8{0xff} : static_cast<__mmask8>((1u << (words - i)) - 1);
    const __m512i x = _mm512_xor_si512(_mm512_maskz_loadu_epi64(m, a + i),
                                       _mm512_maskz_loadu_epi64(m, b + i));
    s = _mm512_add_epi64(s, _mm512_popcnt_epi64(x));
  }
  return static_cast<uint32_t>(_mm512_reduce_add_epi64(s));
}

const Kernels kAvx512Kernels = {Level::kAvx512, &L2Sqr,    &Dot,     &CosineDistance, &L2SqrI8,
                                &DotI8,         &DotF32U8, &Hamming, &Lookup,         &Nearest,
                                &CentroidDistances, &FastScan, &NearestRows};

}  // namespace proximadb::simd
