#include "simd/distance.h"

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "simd/dispatch.h"

namespace proximadb::simd {
namespace {

const size_t kDims[] = {1, 3, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 100, 127, 128, 768, 1536};

std::vector<const Kernels*> SupportedLevels() {
  std::vector<const Kernels*> out;
  for (Level l : {Level::kScalar, Level::kAvx2, Level::kAvx512}) {
    if (const Kernels* k = ForLevel(l)) out.push_back(k);
  }
  return out;
}

void ExpectClose(float got, float want, const char* what, size_t dim, Level level) {
  EXPECT_NEAR(got, want, 1e-4f * std::max(1.0f, std::fabs(want)))
      << what << " dim " << dim << " level " << LevelName(level);
}

TEST(SimdTest, EveryLevelMatchesScalarOnRandomData) {
  std::mt19937 rng(1);
  std::normal_distribution<float> f;
  std::uniform_int_distribution<int> i8(-128, 127);
  const Kernels& ref = *ForLevel(Level::kScalar);
  for (const Kernels* k : SupportedLevels()) {
    for (size_t dim : kDims) {
      for (int trial = 0; trial < 5; ++trial) {
        // Offset by one element so that nothing is aligned.
        std::vector<float> a(dim + 1), b(dim + 1);
        std::vector<int8_t> x(dim + 1), y(dim + 1);
        for (size_t i = 0; i <= dim; ++i) {
          a[i] = f(rng);
          b[i] = f(rng);
          x[i] = static_cast<int8_t>(i8(rng));
          y[i] = static_cast<int8_t>(i8(rng));
        }
        const float* pa = a.data() + 1;
        const float* pb = b.data() + 1;
        ExpectClose(k->l2_sqr(pa, pb, dim), ref.l2_sqr(pa, pb, dim), "l2", dim, k->level);
        ExpectClose(k->dot(pa, pb, dim), ref.dot(pa, pb, dim), "dot", dim, k->level);
        ExpectClose(k->cosine_distance(pa, pb, dim), ref.cosine_distance(pa, pb, dim), "cosine",
                    dim, k->level);
        EXPECT_EQ(k->l2_sqr_i8(x.data() + 1, y.data() + 1, dim),
                  ref.l2_sqr_i8(x.data() + 1, y.data() + 1, dim))
            << dim << " " << LevelName(k->level);
        EXPECT_EQ(k->dot_i8(x.data() + 1, y.data() + 1, dim),
                  ref.dot_i8(x.data() + 1, y.data() + 1, dim))
            << dim << " " << LevelName(k->level);
      }
    }
  }
}

TEST(SimdTest, QuantizedKernelsMatchScalar) {
  std::mt19937 rng(2);
  std::normal_distribution<float> f;
  std::uniform_int_distribution<int> u8(0, 255);
  std::uniform_int_distribution<uint64_t> bits;
  const Kernels& ref = *ForLevel(Level::kScalar);
  for (const Kernels* k : SupportedLevels()) {
    for (size_t dim : kDims) {
      // Unaligned, as codes are packed in a segment.
      std::vector<float> q(dim + 1), table(256 * dim);
      std::vector<uint8_t> codes(dim + 1);
      for (size_t i = 0; i <= dim; ++i) {
        q[i] = f(rng);
        codes[i] = static_cast<uint8_t>(u8(rng));
      }
      for (float& t : table) t = f(rng);
      ExpectClose(k->dot_f32_u8(q.data() + 1, codes.data() + 1, dim),
                  ref.dot_f32_u8(q.data() + 1, codes.data() + 1, dim), "dot_f32_u8", dim,
                  k->level);
      ExpectClose(k->lookup(table.data(), codes.data() + 1, dim),
                  ref.lookup(table.data(), codes.data() + 1, dim), "lookup", dim, k->level);
      std::vector<uint64_t> a(dim / 8 + 1), b(dim / 8 + 1);
      for (size_t i = 0; i < a.size(); ++i) {
        a[i] = bits(rng);
        b[i] = bits(rng);
      }
      EXPECT_EQ(k->hamming(a.data(), b.data(), a.size()), ref.hamming(a.data(), b.data(), a.size()))
          << dim << " " << LevelName(k->level);
    }
    for (size_t count : {size_t{1}, size_t{7}, size_t{16}, size_t{40}, size_t{256}}) {
      for (size_t dim : {size_t{1}, size_t{4}, size_t{8}}) {
        std::vector<float> x(dim), t(dim * count), norms(count);
        for (float& v : x) v = f(rng);
        for (float& v : t) v = f(rng);
        for (float& v : norms) v = std::abs(f(rng));
        EXPECT_EQ(k->nearest(x.data(), t.data(), norms.data(), dim, count),
                  ref.nearest(x.data(), t.data(), norms.data(), dim, count))
            << count << " " << dim << " " << LevelName(k->level);
        // Rows in groups of a kernel's width and the rest: each the answer nearest gives.
        for (size_t n : {size_t{1}, size_t{8}, size_t{16}, size_t{37}}) {
          std::vector<float> xs(n * dim);
          for (float& v : xs) v = f(rng);
          std::vector<uint32_t> rows(n);
          k->nearest_rows(xs.data(), n, t.data(), norms.data(), dim, count, rows.data());
          for (size_t i = 0; i < n; ++i) {
            EXPECT_EQ(rows[i], k->nearest(xs.data() + i * dim, t.data(), norms.data(), dim, count))
                << n << " " << i << " " << count << " " << dim << " " << LevelName(k->level);
          }
        }
        std::vector<float> got(count), want(count);
        k->centroid_distances(x.data(), t.data(), norms.data(), dim, count, got.data());
        ref.centroid_distances(x.data(), t.data(), norms.data(), dim, count, want.data());
        for (size_t c = 0; c < count; ++c) {
          ExpectClose(got[c], want[c], "centroid_distances", dim, k->level);
        }
      }
    }
    const uint64_t ones[3] = {~0ull, ~0ull, 1}, zeros[3] = {0, 0, 0};
    EXPECT_EQ(k->hamming(ones, zeros, 3), 129u) << LevelName(k->level);
    EXPECT_EQ(k->hamming(ones, ones, 3), 0u) << LevelName(k->level);
  }
}

TEST(SimdTest, FastScanMatchesScalarAndALookupByHand) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> byte(0, 255);
  const Kernels& ref = *ForLevel(Level::kScalar);
  for (size_t width : {size_t{4}, size_t{8}, size_t{12}, size_t{196}, size_t{400}}) {
    for (size_t nblocks : {size_t{1}, size_t{3}}) {
      // One byte more than needed so that nothing is aligned.
      std::vector<uint8_t> blocks(nblocks * width * kFastScanRun + 1), lut(width * kFastScanRun + 1);
      for (uint8_t& b : blocks) b = static_cast<uint8_t>(byte(rng));
      for (uint8_t& b : lut) b = static_cast<uint8_t>(byte(rng) / 2);
      const uint8_t* codes = blocks.data() + 1;
      const uint8_t* table = lut.data() + 1;
      // The sums by hand, from the layout's definition.
      std::vector<uint16_t> want(nblocks * kFastScanRows, 0);
      for (size_t b = 0; b < nblocks; ++b) {
        for (size_t row = 0; row < kFastScanRows; ++row) {
          uint32_t sum = 0;
          for (size_t j = 0; j < width; ++j) {
            const uint8_t packed = codes[(b * width + j) * kFastScanRun + row % kFastScanRun];
            sum += table[j * kFastScanRun + (row < kFastScanRun ? packed & 15 : packed >> 4)];
          }
          want[b * kFastScanRows + row] = static_cast<uint16_t>(sum);
        }
      }
      for (const Kernels* k : SupportedLevels()) {
        std::vector<uint16_t> got(nblocks * kFastScanRows);
        k->fast_scan(codes, nblocks, table, width, got.data());
        EXPECT_EQ(got, want) << "width " << width << " level " << LevelName(k->level);
      }
      std::vector<uint16_t> got(nblocks * kFastScanRows);
      ref.fast_scan(codes, nblocks, table, width, got.data());
      EXPECT_EQ(got, want);
    }
  }
}

TEST(SimdTest, EdgeCases) {
  for (const Kernels* k : SupportedLevels()) {
    for (size_t dim : kDims) {
      std::vector<float> zero(dim, 0.0f), v(dim);
      for (size_t i = 0; i < dim; ++i) v[i] = 0.5f + static_cast<float>(i % 7);
      EXPECT_EQ(k->cosine_distance(zero.data(), v.data(), dim), 1.0f) << LevelName(k->level);
      EXPECT_EQ(k->l2_sqr(v.data(), v.data(), dim), 0.0f) << LevelName(k->level);
      EXPECT_NEAR(k->cosine_distance(v.data(), v.data(), dim), 0.0f, 1e-6);
      // int8 extremes do not overflow the int16 intermediate.
      std::vector<int8_t> lo(dim, -128), hi(dim, 127);
      EXPECT_EQ(k->l2_sqr_i8(lo.data(), hi.data(), dim), int32_t(dim) * 255 * 255);
      EXPECT_EQ(k->dot_i8(lo.data(), lo.data(), dim), int32_t(dim) * 128 * 128);
      EXPECT_EQ(k->dot_i8(lo.data(), hi.data(), dim), -int32_t(dim) * 128 * 127);
    }
  }
}

TEST(SimdTest, EnvironmentVariableForcesALevel) {
  EXPECT_EQ(ChooseLevel("scalar"), Level::kScalar);
  Level best = ChooseLevel(nullptr);
  EXPECT_EQ(ChooseLevel(""), best);
  EXPECT_EQ(ChooseLevel("bogus"), best);
  if (CpuSupports(Level::kAvx2)) {
    EXPECT_EQ(ChooseLevel("avx2"), Level::kAvx2);
  }
  if (CpuSupports(Level::kAvx512)) {
    EXPECT_EQ(ChooseLevel("avx512"), Level::kAvx512);
  } else {
    EXPECT_EQ(ChooseLevel("avx512"), best);
  }
  EXPECT_EQ(Active().level, ActiveLevel());
}

}  // namespace
}  // namespace proximadb::simd
