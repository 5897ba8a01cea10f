// Run-time dispatch. Compiled without special flags: it must run on any x86-64.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include "common/enum_names.h"
#include "simd/dispatch.h"

namespace proximadb::simd {

namespace {
constexpr EnumName<Level> kLevelNames[] = {
    {Level::kScalar, "scalar"}, {Level::kAvx2, "avx2"}, {Level::kAvx512, "avx512"}};
}  // namespace

const char* LevelName(Level level) { return NameOf(kLevelNames, level); }

bool CpuSupports(Level level) {
  switch (level) {
    case Level::kScalar:
      return true;
    case Level::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Level::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("fma");
  }
  return false;
}

bool CpuHasVpopcntdq() { return __builtin_cpu_supports("avx512vpopcntdq"); }

Level ChooseLevel(const char* env_value) {
  Level best = Level::kScalar;
  for (Level l : {Level::kAvx2, Level::kAvx512}) {
    if (CpuSupports(l)) best = l;
  }
  if (env_value == nullptr || *env_value == '\0') return best;
  for (Level l : {Level::kScalar, Level::kAvx2, Level::kAvx512}) {
    if (std::strcmp(env_value, LevelName(l)) == 0) {
      if (CpuSupports(l)) return l;
      std::fprintf(stderr, "PROXIMADB_SIMD=%s: this CPU cannot run it, using %s\n", env_value,
                   LevelName(best));
      return best;
    }
  }
  std::fprintf(stderr, "PROXIMADB_SIMD=%s: unknown level (scalar, avx2, avx512), using %s\n",
               env_value, LevelName(best));
  return best;
}

Level ActiveLevel() {
#ifdef PROXIMADB_SIMD_SCALAR_ONLY
  return Level::kScalar;
#endif
  static const Level level = ChooseLevel(std::getenv("PROXIMADB_SIMD"));
  return level;
}

const Kernels* ForLevel(Level level) {
  if (!CpuSupports(level)) return nullptr;
#ifdef PROXIMADB_SIMD_SCALAR_ONLY  // sanitizer builds compile the reference kernels only
  return level == Level::kScalar ? &kScalarKernels : nullptr;
#endif
  switch (level) {
    case Level::kScalar: return &kScalarKernels;
    case Level::kAvx2: return &kAvx2Kernels;
    case Level::kAvx512: {
      static const Kernels kernels = [] {
        Kernels k = kAvx512Kernels;
        if (CpuHasVpopcntdq()) k.hamming = &HammingVpopcntdq;
        return k;
      }();
      return &kernels;
    }
  }
  return nullptr;
}

const Kernels& Active() {
  static const Kernels* kernels = ForLevel(ActiveLevel());
  return *kernels;
}

}  // namespace proximadb::simd
