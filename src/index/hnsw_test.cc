#include "index/hnsw.h"

#include <algorithm>
#include <random>
#include <set>
#include <thread>

#include "gtest/gtest.h"
#include "index/dataset.h"
#include "index/flat.h"
#include "index/planner.h"

namespace proximadb::index {
namespace {

double Recall(const std::vector<Hit>& got, const std::vector<Hit>& truth) {
  std::set<uint32_t> want;
  for (const Hit& h : truth) want.insert(h.row);
  size_t found = 0;
  for (const Hit& h : got) found += want.count(h.row);
  return truth.empty() ? 1.0 : double(found) / double(truth.size());
}

void BuildParallel(Hnsw& g, uint32_t n, int threads) {
  std::vector<std::thread> workers;
  std::atomic<uint32_t> next{0};
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (uint32_t r; (r = next.fetch_add(1)) < n;) g.Insert(r);
    });
  }
  for (auto& w : workers) w.join();
}

// Fashion-MNIST (a real data set, from Debian's package), cut to keep the test quick.
class HnswFashionTest : public ::testing::Test {
 protected:
  static constexpr uint32_t kBase = 10000, kQueries = 100, kK = 10;

  static void SetUpTestSuite() {
    auto d = LoadFashionMnist();
    ASSERT_TRUE(d.ok()) << d.status();
    data_ = new Dataset(*std::move(d));
    graph_ = new Hnsw(data_->base.data(), data_->dim, DistanceMetric::kL2, kBase, HnswParams{});
    BuildParallel(*graph_, kBase, 2);
  }
  static void TearDownTestSuite() {
    delete graph_;
    delete data_;
  }
  const float* Query(uint32_t q) const { return data_->queries.data() + size_t{q} * data_->dim; }
  std::vector<Hit> Truth(uint32_t q, absl::FunctionRef<bool(uint32_t)> allow) const {
    return FlatSearch(data_->base.data(), kBase, data_->dim, DistanceFor(DistanceMetric::kL2),
                      Query(q), kK, allow);
  }

  static Dataset* data_;
  static Hnsw* graph_;
};
Dataset* HnswFashionTest::data_ = nullptr;
Hnsw* HnswFashionTest::graph_ = nullptr;

TEST_F(HnswFashionTest, RecallAtDefaultParameters) {
  EXPECT_EQ(graph_->size(), kBase);
  double total = 0;
  for (uint32_t q = 0; q < kQueries; ++q) {
    std::vector<Hit> got = graph_->Search(Query(q), kK, /*ef=*/64);
    ASSERT_EQ(got.size(), kK);
    ASSERT_TRUE(std::is_sorted(got.begin(), got.end()));
    total += Recall(got, Truth(q, [](uint32_t) { return true; }));
  }
  EXPECT_GE(total / kQueries, 0.95);
}

TEST_F(HnswFashionTest, FilteredSearchReturnsTheAllowedTopK) {
  for (uint32_t modulus : {2u, 10u, 100u, 1000u}) {  // 50%, 10%, 1%, 0.1% allowed
    std::vector<uint64_t> bitmap((kBase + 63) / 64, 0);
    uint32_t count = 0;
    for (uint32_t r = 0; r < kBase; ++r) {
      if (r % modulus == 3) {
        bitmap[r / 64] |= uint64_t{1} << (r % 64);
        ++count;
      }
    }
    const BitmapRows allowed(bitmap.data(), count, kBase);
    double total = 0;
    for (uint32_t q = 0; q < 30; ++q) {
      PlannedResult res = PlannedSearch(*graph_, data_->base.data(), data_->dim,
                                        DistanceFor(DistanceMetric::kL2), Query(q), kK, 64,
                                        &allowed);
      std::vector<Hit> truth = Truth(q, [&](uint32_t r) { return r % modulus == 3; });
      ASSERT_EQ(res.hits.size(), std::min<size_t>(kK, allowed.count())) << modulus;
      for (const Hit& h : res.hits) ASSERT_EQ(h.row % modulus, 3u);
      const double recall = Recall(res.hits, truth);
      if (res.plan == Plan::kExact) {
        EXPECT_EQ(recall, 1.0);
      }
      total += recall;
    }
    EXPECT_GE(total / 30, 0.95) << "1/" << modulus << " allowed";
  }
}

TEST_F(HnswFashionTest, SerializedGraphGivesIdenticalResults) {
  std::string bytes = graph_->Serialize();
  // Load needs 8-byte alignment, as a mapped segment section has.
  std::vector<uint64_t> aligned((bytes.size() + 7) / 8);
  std::memcpy(aligned.data(), bytes.data(), bytes.size());
  auto loaded = Hnsw::Load(std::string_view(reinterpret_cast<const char*>(aligned.data()),
                                            bytes.size()),
                           data_->base.data(), data_->dim, DistanceMetric::kL2);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->size(), kBase);
  for (uint32_t q = 0; q < kQueries; ++q) {
    std::vector<Hit> a = graph_->Search(Query(q), kK, 64), b = (*loaded)->Search(Query(q), kK, 64);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].row, b[i].row);
      EXPECT_EQ(a[i].distance, b[i].distance);
    }
  }
  // Damage is detected, not followed: row 0's level-0 count (after the 48-byte header and the
  // 8-aligned level bytes) made impossibly large.
  reinterpret_cast<uint32_t*>(aligned.data())[(48 + (kBase + 7) / 8 * 8) / 4] = 0xfffffff0;
  EXPECT_FALSE(Hnsw::Load(std::string_view(reinterpret_cast<const char*>(aligned.data()),
                                           bytes.size()),
                          data_->base.data(), data_->dim, DistanceMetric::kL2)
                   .ok());
  EXPECT_FALSE(Hnsw::Load(std::string_view(reinterpret_cast<const char*>(aligned.data()), 100),
                          data_->base.data(), data_->dim, DistanceMetric::kL2)
                   .ok());
}

TEST(HnswTest, DeletedRowsNeverComeBack) {
  Dataset d = MakeClustered(3000, 50, 32, 20, 7);
  Hnsw g(d.base.data(), d.dim, DistanceMetric::kCosine, 3000, HnswParams{});
  BuildParallel(g, 3000, 2);
  for (uint32_t r = 0; r < 3000; r += 3) g.MarkDeleted(r);
  for (uint32_t q = 0; q < 50; ++q) {
    const float* query = d.queries.data() + size_t{q} * d.dim;
    std::vector<Hit> got = g.Search(query, 10, 64);
    ASSERT_EQ(got.size(), 10u);
    for (const Hit& h : got) EXPECT_NE(h.row % 3, 0u);
    std::vector<Hit> truth = FlatSearch(d.base.data(), 3000, d.dim,
                                        DistanceFor(DistanceMetric::kCosine), query, 10,
                                        [](uint32_t r) { return r % 3 != 0; });
    EXPECT_GE(Recall(got, truth), 0.8);
  }
}

TEST(HnswTest, EmptyAndTinyGraphs) {
  std::vector<float> v = {1, 0, 0, 1, 1, 1};
  Hnsw g(v.data(), 2, DistanceMetric::kL2, 3, HnswParams{});
  EXPECT_TRUE(g.Search(v.data(), 5, 10).empty());
  g.Insert(1);
  auto one = g.Search(v.data(), 5, 10);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].row, 1u);
  g.Insert(0);
  g.Insert(2);
  auto all = g.Search(v.data(), 5, 10);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].row, 0u);
  EXPECT_EQ(all[0].distance, 0.0f);
}

// Inserts from two threads while a third searches: run in the TSan build (index_tsan_test) to
// check the lock-free readers; here it checks the result is still a good graph.
TEST(HnswTest, ConcurrentInsertAndSearch) {
  Dataset d = MakeClustered(4000, 20, 24, 30, 9);
  Hnsw g(d.base.data(), d.dim, DistanceMetric::kL2, 4000, HnswParams{.m = 8, .ef_construction = 64});
  std::atomic<bool> done{false};
  std::thread searcher([&] {
    while (!done) {
      for (uint32_t q = 0; q < 20; ++q) {
        auto hits = g.Search(d.queries.data() + size_t{q} * d.dim, 5, 32);
        for (const Hit& h : hits) ASSERT_LT(h.row, 4000u);
      }
    }
  });
  BuildParallel(g, 4000, 2);
  done = true;
  searcher.join();
  double total = 0;
  for (uint32_t q = 0; q < 20; ++q) {
    const float* query = d.queries.data() + size_t{q} * d.dim;
    total += Recall(g.Search(query, 10, 64),
                    FlatSearch(d.base.data(), 4000, d.dim, DistanceFor(DistanceMetric::kL2), query,
                               10));
  }
  EXPECT_GE(total / 20, 0.9);
}

}  // namespace
}  // namespace proximadb::index
