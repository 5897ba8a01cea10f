// Nanoseconds per distance for every kernel and every SIMD level this CPU supports, at 128 and
// 768 dimensions (Google Benchmark).
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "simd/distance.h"

namespace {

using namespace proximadb::simd;

template <typename T, typename Fn>
void Run(benchmark::State& state, Fn fn, size_t dim) {
  std::mt19937 rng(1);
  std::vector<T> a(dim), b(dim);
  for (size_t i = 0; i < dim; ++i) {
    a[i] = static_cast<T>(rng() % 100) / T(3);
    b[i] = static_cast<T>(rng() % 100) / T(3);
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(fn(a.data(), b.data(), dim));
    benchmark::ClobberMemory();
  }
}

void Register() {
  for (Level level : {Level::kScalar, Level::kAvx2, Level::kAvx512}) {
    const Kernels* k = ForLevel(level);
    if (k == nullptr) continue;
    for (size_t dim : {128, 768}) {
      const std::string suffix = std::string("/") + LevelName(level) + "/" + std::to_string(dim);
      benchmark::RegisterBenchmark(("l2_sqr" + suffix).c_str(), [k, dim](benchmark::State& s) {
        Run<float>(s, k->l2_sqr, dim);
      });
      benchmark::RegisterBenchmark(("dot" + suffix).c_str(), [k, dim](benchmark::State& s) {
        Run<float>(s, k->dot, dim);
      });
      benchmark::RegisterBenchmark(("cosine" + suffix).c_str(), [k, dim](benchmark::State& s) {
        Run<float>(s, k->cosine_distance, dim);
      });
      benchmark::RegisterBenchmark(("l2_sqr_i8" + suffix).c_str(), [k, dim](benchmark::State& s) {
        Run<int8_t>(s, k->l2_sqr_i8, dim);
      });
      benchmark::RegisterBenchmark(("dot_i8" + suffix).c_str(), [k, dim](benchmark::State& s) {
        Run<int8_t>(s, k->dot_i8, dim);
      });
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  Register();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
