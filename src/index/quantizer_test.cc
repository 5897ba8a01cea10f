#include "index/quantizer.h"

#include <cmath>
#include <set>

#include "gtest/gtest.h"
#include "index/dataset.h"
#include "index/fast_scan.h"
#include "index/flat.h"
#include "index/hnsw.h"
#include "index/planner.h"

namespace proximadb::index {
namespace {

constexpr uint32_t kK = 10;

// Fashion-MNIST cut to 10,000 rows and 200 queries, with a graph per metric, the exact top 10
// from FlatSearch, and the codes of each quantization.
class QuantizedSearchTest : public ::testing::TestWithParam<DistanceMetric> {
 protected:
  static constexpr uint32_t kBase = 10000, kQueries = 200;

  static void SetUpTestSuite() {
    auto d = LoadFashionMnist();
    ASSERT_TRUE(d.ok()) << d.status();
    data_ = new Dataset(*std::move(d));
  }
  static void TearDownTestSuite() { delete data_; }

  void SetUp() override {
    metric_ = GetParam();
    graph_ = std::make_unique<Hnsw>(data_->base.data(), data_->dim, metric_, kBase, HnswParams{});
    BuildHnsw(*graph_, kBase, 2);
    for (uint32_t q = 0; q < kQueries; ++q) {
      std::vector<uint32_t> rows;
      for (const Hit& h : FlatSearch(data_->base.data(), kBase, data_->dim, DistanceFor(metric_),
                                     Query(q), kK)) {
        rows.push_back(h.row);
      }
      truth_.push_back(rows);
    }
  }

  const float* Query(uint32_t q) const { return data_->queries.data() + size_t{q} * data_->dim; }
  const float* Row(uint32_t r) const { return data_->base.data() + size_t{r} * data_->dim; }

  std::unique_ptr<Quantizer> Train(Quantization kind, uint32_t pq_m = 0) {
    auto q = Quantizer::Train({kind, data_->dim, metric_, pq_m}, kBase,
                              [&](uint32_t r) { return Row(r); });
    EXPECT_TRUE(q.ok()) << q.status();
    return *std::move(q);
  }
  static std::vector<uint8_t> EncodeAll(const Quantizer& q) {
    std::vector<uint8_t> codes(q.code_size() * kBase);
    for (uint32_t r = 0; r < kBase; ++r) {
      q.Encode(data_->base.data() + size_t{r} * data_->dim, codes.data() + r * q.code_size());
    }
    return codes;
  }

  // Mean recall@10 of graph searches over the codes at `ef`, re-ranking `rerank` candidates.
  double Recall(const Quantizer& q, const std::vector<uint8_t>& codes, uint32_t ef,
                uint32_t rerank) {
    const SearchSpace space{data_->base.data(), kBase, data_->dim, DistanceFor(metric_),
                            graph_.get(), &q, codes.data()};
    double total = 0;
    for (uint32_t i = 0; i < kQueries; ++i) {
      SearchParams p{.query = Query(i), .k = kK, .ef = ef, .rerank = rerank};
      const PlannedResult r = PlannedSearch(space, p, nullptr, false);
      EXPECT_EQ(r.plan, Plan::kGraph);
      EXPECT_EQ(r.hits.size(), kK);
      const std::set<uint32_t> want(truth_[i].begin(), truth_[i].end());
      for (const Hit& h : r.hits) {
        total += want.count(h.row);
        // Re-ranked: the distances reported are the float32 ones.
        EXPECT_EQ(h.distance, DistanceFor(metric_)(Query(i), Row(h.row), data_->dim));
      }
    }
    return total / (kQueries * kK);
  }

  static Dataset* data_;
  DistanceMetric metric_;
  std::unique_ptr<Hnsw> graph_;
  std::vector<std::vector<uint32_t>> truth_;
};
Dataset* QuantizedSearchTest::data_ = nullptr;

// The recall floors of the issue at the default ef (64), re-ranking every candidate; and
// re-ranking only k candidates must lose recall (the re-rank is doing something).
TEST_P(QuantizedSearchTest, RecallWithReranking) {
  const struct {
    Quantization kind;
    double floor;
  } cases[] = {{Quantization::kSq8, 0.95},
               {Quantization::kPq, 0.90},
               {Quantization::kBinary, 0.90},
               {Quantization::kPq4, 0.90}};
  for (const auto& c : cases) {
    const std::unique_ptr<Quantizer> q = Train(c.kind);
    const std::vector<uint8_t> codes = EncodeAll(*q);
    const double all = Recall(*q, codes, 64, 0), few = Recall(*q, codes, 64, kK);
    std::printf("%s %s: recall@10 %.4f re-ranking all, %.4f re-ranking 10; %zu bytes per row\n",
                DistanceMetricName(metric_), QuantizationName(c.kind), all, few, q->code_size());
    EXPECT_GE(all, c.floor) << QuantizationName(c.kind);
    EXPECT_GE(all, few) << QuantizationName(c.kind);
  }
}

// sq8 code distances track the float32 ones closely (it is the quantization meant to lose
// almost nothing); pq is coarser but still ranks.
TEST_P(QuantizedSearchTest, CodeDistancesApproximateTheMetric) {
  const std::unique_ptr<Quantizer> sq8 = Train(Quantization::kSq8);
  const std::vector<uint8_t> codes = EncodeAll(*sq8);
  const Distance exact = DistanceFor(metric_);
  double error = 0, scale = 0;
  for (uint32_t i = 0; i < 20; ++i) {
    const Quantizer::Query query = sq8->Prepare(Query(i));
    for (uint32_t r = 0; r < kBase; r += 97) {
      const float want = exact(Query(i), Row(r), data_->dim);
      const float got = query.Distance(codes.data() + r * sq8->code_size());
      error += std::abs(got - want);
      scale += std::abs(want);
    }
  }
  EXPECT_LT(error / scale, 0.01) << "mean relative error of sq8 distances";
}

// pq4 codes packed for fast-scan, in ranges of every shape (empty, one partial block, many
// blocks), give each row the distance of the float table to within the byte table's rounding,
// and the 10 nearest by fast-scan are nearly the 10 nearest by the float table.
TEST_P(QuantizedSearchTest, FastScanSumsMatchTheFloatTable) {
  const std::unique_ptr<Quantizer> q = Train(Quantization::kPq4);
  const std::vector<uint8_t> codes = EncodeAll(*q);
  const std::vector<uint32_t> bounds = {0, 37, 37, 64, 5000, kBase};
  const FastScanCodes packed(*q, codes.data(), bounds);
  ASSERT_EQ(packed.ranges(), bounds.size() - 1);
  EXPECT_EQ(packed.num_blocks(1), 0u);
  EXPECT_EQ(packed.num_blocks(3), (5000u - 64 + 31) / 32);
  double overlap = 0;
  std::vector<uint16_t> sums;
  for (uint32_t i = 0; i < 20; ++i) {
    const Quantizer::Query query = q->Prepare(Query(i));
    const FastScanTable table(query, q->pq_m());
    const float tolerance = (q->pq_m() / 2.0f + 1) * table.resolution();
    std::vector<std::pair<float, uint32_t>> fast, slow;
    for (uint32_t r = 0; r + 1 < bounds.size(); ++r) {
      FastScanRange(packed, r, table, &sums);
      ASSERT_EQ(sums.size(), packed.num_blocks(r) * 32u);
      for (uint32_t row = bounds[r]; row < bounds[r + 1]; ++row) {
        const float want = query.Distance(codes.data() + size_t{row} * q->code_size());
        const float got = table.Distance(sums[row - bounds[r]]);
        ASSERT_NEAR(got, want, tolerance) << "row " << row;
        fast.push_back({got, row});
        slow.push_back({want, row});
      }
    }
    std::partial_sort(fast.begin(), fast.begin() + kK, fast.end());
    std::partial_sort(slow.begin(), slow.begin() + kK, slow.end());
    std::set<uint32_t> want;
    for (uint32_t j = 0; j < kK; ++j) want.insert(slow[j].second);
    for (uint32_t j = 0; j < kK; ++j) overlap += want.count(fast[j].second);
  }
  EXPECT_GE(overlap / (20 * kK), 0.9);
}

// SumLimit bounds the sums a search keeps as candidates: every larger sum stands for a
// distance above the one asked, and a sum whose distance equals it is kept (ties go by row).
// Where the distances' precision allows, no more than a unit of the sums beyond it is kept.
TEST_P(QuantizedSearchTest, FastScanSumLimitBoundsTheSumsKept) {
  const std::unique_ptr<Quantizer> q = Train(Quantization::kPq4);
  // The last query is far from every code (L2): there the distances' float precision is far
  // coarser than a unit of the sums.
  std::vector<float> far(Query(0), Query(0) + data_->dim);
  for (float& x : far) x = x * 3000 + 1e6f;
  for (uint32_t i = 0; i < 6; ++i) {
    const Quantizer::Query query = q->Prepare(i < 5 ? Query(i) : far.data());
    const FastScanTable table(query, q->pq_m());
    const float lo = table.Distance(0), hi = table.Distance(65535);
    EXPECT_EQ(table.SumLimit(std::nextafter(lo, -INFINITY)), -1);
    EXPECT_EQ(table.SumLimit(std::nextafter(hi, INFINITY)), 65535);
    for (int32_t sum = 0; sum <= 65535; sum += 97) {
      const float d = table.Distance(static_cast<uint16_t>(sum));
      for (const float asked : {d, d + 0.3f * table.resolution(), d + 0.7f * table.resolution()}) {
        const int32_t limit = table.SumLimit(asked);
        ASSERT_GE(limit, sum) << asked;
        if (limit == 65535) continue;  // all of them (also where nothing can be ruled out)
        ASSERT_GT(table.Distance(static_cast<uint16_t>(limit + 1)), asked);
        ASSERT_LE(table.Distance(static_cast<uint16_t>(limit - 1)),
                  asked + 1e-6f * std::abs(asked));
      }
    }
  }
}

// The row-by-row distance reads two bytes (four sub-quantizers) at a time, then the rest one
// by one: sub-quantizer counts of every remainder give the fast-scan sums' distances, and an
// odd count leaves the last byte half used, where only the low nibble counts.
TEST_P(QuantizedSearchTest, EverySubQuantizerCountScoresAlike) {
  for (const uint32_t pq_m : {7u, 49u, 98u, 392u}) {
    const std::unique_ptr<Quantizer> q = Train(Quantization::kPq4, pq_m);
    const size_t code_size = (pq_m + 1) / 2;
    ASSERT_EQ(q->code_size(), code_size);
    std::vector<uint8_t> codes = EncodeAll(*q);
    if (pq_m % 2 == 1) {
      for (size_t row = 0; row < kBase; ++row) codes[(row + 1) * code_size - 1] |= 0xf0;
    }
    const FastScanCodes packed(*q, codes.data(), {0, 64});
    std::vector<uint16_t> sums;
    for (uint32_t i = 0; i < 5; ++i) {
      const Quantizer::Query query = q->Prepare(Query(i));
      const FastScanTable table(query, q->pq_m());
      FastScanRange(packed, 0, table, &sums);
      for (uint32_t row = 0; row < 64; ++row) {
        ASSERT_NEAR(table.Distance(sums[row]), query.Distance(codes.data() + row * code_size),
                    (pq_m / 2.0f + 1) * table.resolution())
            << pq_m << " sub-quantizers, row " << row;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Metrics, QuantizedSearchTest,
                         ::testing::Values(DistanceMetric::kL2, DistanceMetric::kCosine),
                         [](const auto& info) { return DistanceMetricName(info.param); });

TEST(QuantizerTest, SerializedParametersGiveIdenticalDistances) {
  const Dataset d = MakeClustered(2000, 5, 48, 8, 7);
  for (Quantization kind :
       {Quantization::kSq8, Quantization::kPq, Quantization::kBinary, Quantization::kPq4}) {
    for (DistanceMetric metric : {DistanceMetric::kL2, DistanceMetric::kDot}) {
      auto q = Quantizer::Train({kind, 48, metric, 12}, 2000,
                                [&](uint32_t r) { return d.base.data() + r * 48; });
      ASSERT_TRUE(q.ok()) << q.status();
      auto loaded = Quantizer::Load((*q)->Serialize(), 48, metric);
      ASSERT_TRUE(loaded.ok()) << loaded.status();
      EXPECT_EQ((*loaded)->code_size(), (*q)->code_size());
      std::vector<uint8_t> a((*q)->code_size()), b(a.size());
      (*q)->Encode(d.base.data(), a.data());
      (*loaded)->Encode(d.base.data(), b.data());
      EXPECT_EQ(a, b) << QuantizationName(kind);
      EXPECT_EQ((*q)->Prepare(d.queries.data()).Distance(a.data()),
                (*loaded)->Prepare(d.queries.data()).Distance(b.data()));
      // Another collection's shape, a cut, a flipped kind: refused.
      EXPECT_EQ(Quantizer::Load((*q)->Serialize(), 47, metric).status().code(),
                absl::StatusCode::kDataLoss);
      EXPECT_EQ(Quantizer::Load((*q)->Serialize(), 48, DistanceMetric::kCosine).status().code(),
                absl::StatusCode::kDataLoss);
      const std::string bytes = (*q)->Serialize();
      for (size_t cut : {size_t{0}, size_t{7}, bytes.size() - 1}) {
        EXPECT_EQ(Quantizer::Load(bytes.substr(0, cut), 48, metric).status().code(),
                  absl::StatusCode::kDataLoss);
      }
    }
  }
}

TEST(QuantizerTest, PqSubQuantizersMustDivideTheDimension) {
  const std::vector<float> v(48, 1.0f);
  auto q = Quantizer::Train({Quantization::kPq, 48, DistanceMetric::kL2, 10}, 1,
                            [&](uint32_t) { return v.data(); });
  ASSERT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(q.status().message().find("pq_m"), std::string::npos) << q.status();
  EXPECT_EQ(DefaultPqM(384), 96u);
  EXPECT_EQ(DefaultPqM(784), 196u);
  EXPECT_EQ(DefaultPqM(7), 1u);
  EXPECT_EQ(DefaultPqM(100), 25u);
  EXPECT_EQ(DefaultPqM(784, Quantization::kPq4), 392u);
  EXPECT_EQ(DefaultPqM(100, Quantization::kPq4), 50u);
  EXPECT_EQ(DefaultPqM(7, Quantization::kPq4), 1u);
  q = Quantizer::Train({Quantization::kPq4, 48, DistanceMetric::kL2, 7}, 1,
                       [&](uint32_t) { return v.data(); });
  EXPECT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument) << q.status();
}

// Fewer rows than centroids, constant dimensions, a single row: training still yields codes
// whose distances are finite and whose nearest code is the row itself.
TEST(QuantizerTest, DegenerateTrainingSets) {
  std::vector<float> rows = {1, 2, 3, 4, 1, 2, 3, 5, 9, 2, 3, 4};
  for (Quantization kind :
       {Quantization::kSq8, Quantization::kPq, Quantization::kBinary, Quantization::kPq4}) {
    auto q = Quantizer::Train({kind, 4, DistanceMetric::kL2, 2}, 3,
                              [&](uint32_t r) { return rows.data() + 4 * r; });
    ASSERT_TRUE(q.ok()) << q.status();
    std::vector<uint8_t> code((*q)->code_size());
    (*q)->Encode(rows.data() + 8, code.data());
    const float self = (*q)->Prepare(rows.data() + 8).Distance(code.data());
    EXPECT_TRUE(std::isfinite(self)) << QuantizationName(kind);
    (*q)->Encode(rows.data(), code.data());
    EXPECT_LE(self, (*q)->Prepare(rows.data() + 8).Distance(code.data()) + 1e-3)
        << QuantizationName(kind);
  }
}

}  // namespace
}  // namespace proximadb::index
