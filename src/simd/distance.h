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

struct Kernels {
  Level level;
  F32Fn l2_sqr;           // sum (a_i - b_i)^2
  F32Fn dot;              // sum a_i b_i
  F32Fn cosine_distance;  // 1 - dot / (|a| |b|), one pass; 1 when either norm is 0
  I8Fn l2_sqr_i8;         // sum (a_i - b_i)^2
  I8Fn dot_i8;            // sum a_i b_i
};

// The kernels of ActiveLevel().
const Kernels& Active();
// The kernels of `level`, or nullptr if this CPU cannot run them.
const Kernels* ForLevel(Level level);

}  // namespace proximadb::simd
