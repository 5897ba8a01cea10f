// SIMD distance kernels, one implementation per instruction set, chosen at run time.
//
// Each level lives in its own source file compiled with its own flags (distance_scalar.cc,
// distance_avx2.cc with -mavx2 -mfma, distance_avx512.cc with AVX-512 F/BW/DQ/VL), so release
// binaries run on any x86-64 and use the best the CPU has. PROXIMADB_SIMD=scalar|avx2|avx512
// forces a level (to test every level on one machine, or to rule the kernels out).
//
// All functions accept any dimension; the vectors need no alignment. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace proximadb::simd {

enum class Level { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

const char* LevelName(Level level);
bool CpuSupports(Level level);
// The level in use: the best the CPU supports unless PROXIMADB_SIMD forces another. Computed
// once per process.
Level ActiveLevel();

using F32Fn = float (*)(const float* a, const float* b, size_t dim);
using I8Fn = int32_t (*)(const int8_t* a, const int8_t* b, size_t dim);
using F32U8Fn = float (*)(const float* a, const uint8_t* codes, size_t dim);
using HammingFn = uint32_t (*)(const uint64_t* a, const uint64_t* b, size_t words);
using LookupFn = float (*)(const float* table, const uint8_t* codes, size_t m);
using NearestFn = uint32_t (*)(const float* x, const float* transposed, const float* norms,
                               size_t dim, size_t count);
using NearestRowsFn = void (*)(const float* xs, size_t n, const float* transposed,
                               const float* norms, size_t dim, size_t count, uint32_t* out);
using CentroidsFn = void (*)(const float* x, const float* transposed, const float* norms,
                             size_t dim, size_t count, float* out);
using FastScanFn = void (*)(const uint8_t* blocks, size_t nblocks, const uint8_t* lut,
                            size_t width, uint16_t* out);

// 4-bit product-quantization codes in the fast-scan layout (index/fast_scan.h): rows in blocks
// of 32, a block being `width` (a multiple of 4) runs of 16 bytes, run j holding sub-quantizer
// j's code of row i in the low nibble of byte i and of row i + 16 in its high nibble.
inline constexpr size_t kFastScanRows = 32;
inline constexpr size_t kFastScanRun = 16;

struct Kernels {
  Level level;
  F32Fn l2_sqr;           // sum (a_i - b_i)^2
  F32Fn dot;              // sum a_i b_i
  F32Fn cosine_distance;  // 1 - dot / (|a| |b|), one pass; 1 when either norm is 0
  I8Fn l2_sqr_i8;         // sum (a_i - b_i)^2
  I8Fn dot_i8;            // sum a_i b_i
  // Quantized codes (src/index/quantizer.h):
  F32U8Fn dot_f32_u8;  // sum a_i codes_i: a float query against scalar (sq8) codes
  HammingFn hamming;   // popcount(a xor b) over `words` 64-bit words: binary codes
  LookupFn lookup;     // sum table[256 j + codes_j], j < m: product-quantization distance tables
  // The c < count minimizing norms_c - 2 sum_d x_d transposed[d * count + c] (the nearest of
  // `count` centroids stored dimension-major, with their squared norms): k-means and pq codes.
  // The first on ties.
  NearestFn nearest;
  // out_c = norms_c - 2 sum_d x_d transposed[d * count + c] for every c < count: a query's
  // distance table over one sub-space's centroids.
  CentroidsFn centroid_distances;
  // out[32 b + i] = sum_j lut[16 j + code_j(row i of block b)] for j < width, in uint16 (the
  // caller scales `lut`, 16 uint8 entries per sub-quantizer, so that the sums fit): 4-bit
  // codes looked up 32 rows at a time with byte shuffles.
  FastScanFn fast_scan;
  // out[i] = nearest(xs + i * dim, ...) for the n rows of xs (row-major), the same answers:
  // several rows share each load of the centroids, which a row at a time reads whole from the
  // cache (800 KB for 256 centroids of 784 dimensions).
  NearestRowsFn nearest_rows;
};

// The kernels of ActiveLevel().
const Kernels& Active();
// The kernels of `level`, or nullptr if this CPU cannot run them.
const Kernels* ForLevel(Level level);

}  // namespace proximadb::simd
