#include "index/hnsw.h"

#include <algorithm>
#include <atomic>
#include <random>
#include <set>
#include <thread>

#include "gtest/gtest.h"
#include "index/dataset.h"
#include "index/flat.h"
#include "index/planner.h"

namespace proximadb::index {
namespace {

double Recall(const std::vector<Hit>& got, const std::vector<uint32_t>& truth) {
  const std::set<uint32_t> want(truth.begin(), truth.end());
  size_t found = 0;
  for (const Hit& h : got) found += want.count(h.row);
  return truth.empty() ? 1.0 : double(found) / double(truth.size());
}

// The exact top k by squared Euclidean distance, in plain double arithmetic: a reference that
// shares no code with the index (not its kernels, not its heap).
std::vector<uint32_t> ReferenceTopK(const float* base, uint32_t n, uint32_t dim,
                                    const float* query, uint32_t k,
                                    const std::function<bool(uint32_t)>& allow) {
  std::vector<std::pair<double, uint32_t>> all;
  for (uint32_t r = 0; r < n; ++r) {
    if (!allow(r)) continue;
    double d = 0;
    for (uint32_t j = 0; j < dim; ++j) {
      const double diff = double(base[size_t{r} * dim + j]) - query[j];
      d += diff * diff;
    }
    all.emplace_back(d, r);
  }
  const size_t keep = std::min<size_t>(k, all.size());
  std::partial_sort(all.begin(), all.begin() + keep, all.end());
  std::vector<uint32_t> rows;
  for (size_t i = 0; i < keep; ++i) rows.push_back(all[i].second);
  return rows;
}

bool AllowAll(uint32_t) { return true; }

// Fashion-MNIST (a real data set, from Debian's package), cut to keep the test quick.
class HnswFashionTest : public ::testing::Test {
 protected:
  static constexpr uint32_t kBase = 10000, kQueries = 200, kK = 10;

  static void SetUpTestSuite() {
    auto d = LoadFashionMnist();
    ASSERT_TRUE(d.ok()) << d.status();
    data_ = new Dataset(*std::move(d));
    graph_ = new Hnsw(data_->base.data(), data_->dim, DistanceMetric::kL2, kBase, HnswParams{});
    BuildHnsw(*graph_, kBase, 2);
    truth_ = new std::vector<std::vector<uint32_t>>(kQueries);
    for (uint32_t q = 0; q < kQueries; ++q) {
      (*truth_)[q] = ReferenceTopK(data_->base.data(), kBase, data_->dim,
                                   data_->queries.data() + size_t{q} * data_->dim, kK, AllowAll);
    }
  }
  static void TearDownTestSuite() {
    delete truth_;
    delete graph_;
    delete data_;
  }
  const float* Query(uint32_t q) const { return data_->queries.data() + size_t{q} * data_->dim; }
  std::vector<uint32_t> Truth(uint32_t q, const std::function<bool(uint32_t)>& allow) const {
    return ReferenceTopK(data_->base.data(), kBase, data_->dim, Query(q), kK, allow);
  }
  // Mean recall@10 of the graph's unfiltered search at `ef`.
  double RecallAt(const Hnsw& g, uint32_t ef) const {
    double total = 0;
    for (uint32_t q = 0; q < kQueries; ++q) {
      std::vector<Hit> got = g.Search(Query(q), kK, ef);
      EXPECT_EQ(got.size(), kK);
      EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));
      total += Recall(got, (*truth_)[q]);
    }
    return total / kQueries;
  }

  static Dataset* data_;
  static Hnsw* graph_;
  static std::vector<std::vector<uint32_t>>* truth_;  // unfiltered, per query
};
std::vector<std::vector<uint32_t>>* HnswFashionTest::truth_ = nullptr;
Dataset* HnswFashionTest::data_ = nullptr;
Hnsw* HnswFashionTest::graph_ = nullptr;

TEST_F(HnswFashionTest, EveryRowIsReachable) {
  EXPECT_EQ(graph_->size(), kBase);
  EXPECT_EQ(graph_->UnreachableRows(), std::vector<uint32_t>{});
}

// Recall pinned close to what the graph reaches (1.0 at ef 128 and 0.998 at ef 32 here), and it
// must rise with ef: a search that ignored ef would stay at its ef-10 level.
TEST_F(HnswFashionTest, RecallRisesWithEf) {
  const double at10 = RecallAt(*graph_, 10), at32 = RecallAt(*graph_, 32),
               at128 = RecallAt(*graph_, 128);
  std::printf("recall@10 at ef 10, 32, 128: %.4f %.4f %.4f\n", at10, at32, at128);
  EXPECT_GE(at32, 0.99);
  EXPECT_GE(at128, 0.998);
  EXPECT_LT(at10, at32 - 0.01) << "recall does not grow with ef";
  EXPECT_LE(at32, at128);
}

// Every plan at every selectivity, against the reference: the exact plan is exact, the graph
// plan (forced, without a budget) finds nearly all, and the planner's choice returns k allowed
// rows with at least the graph's recall.
TEST_F(HnswFashionTest, FilteredSearchEveryPlanEverySelectivity) {
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
    for (PlanMode mode :
         {PlanMode::kExact, PlanMode::kGraph, PlanMode::kGraphPostFilter, PlanMode::kAuto}) {
      double total = 0;
      for (uint32_t q = 0; q < 50; ++q) {
        PlannedResult res = PlannedSearch(
            SearchSpace{data_->base.data(), kBase, data_->dim, DistanceFor(DistanceMetric::kL2),
                        graph_},
            SearchParams{.query = Query(q), .k = kK, .ef = 32, .mode = mode}, &allowed,
            /*filtered=*/true);
        if (mode != PlanMode::kAuto) {
          ASSERT_EQ(res.plan, mode == PlanMode::kExact   ? Plan::kExact
                              : mode == PlanMode::kGraph ? Plan::kGraphExpanded
                                                         : Plan::kGraphPostFilter);
        }
        ASSERT_EQ(res.hits.size(), std::min<size_t>(kK, count)) << modulus;
        for (const Hit& h : res.hits) ASSERT_EQ(h.row % modulus, 3u);
        const double recall = Recall(res.hits, Truth(q, [&](uint32_t r) { return r % modulus == 3; }));
        if (res.plan == Plan::kExact) {
          ASSERT_EQ(recall, 1.0) << modulus;
        }
        total += recall;
      }
      std::printf("1/%u mode %d recall %.4f\n", modulus, static_cast<int>(mode), total / 50);
      EXPECT_GE(total / 50, mode == PlanMode::kExact ? 1.0 : 0.995)
          << "1/" << modulus << " allowed, mode " << static_cast<int>(mode);
    }
  }
}

// The planner's own choice: a post-filtered traversal for a broad filter at the default ef,
// the filtering traversal at ef 16, the scan for a narrow one. And a post-filtered traversal
// that finds no allowed row near the query (the filter allows the half of the rows farthest
// from it) falls back to the scan, which answers exactly.
TEST_F(HnswFashionTest, PlannerChoosesAndFallsBack) {
  const SearchSpace space{data_->base.data(), kBase, data_->dim, DistanceFor(DistanceMetric::kL2),
                          graph_};
  auto bitmap_of = [&](const std::function<bool(uint32_t)>& allow) {
    std::vector<uint64_t> bits((kBase + 63) / 64, 0);
    for (uint32_t r = 0; r < kBase; ++r) {
      if (allow(r)) bits[r / 64] |= uint64_t{1} << (r % 64);
    }
    return bits;
  };
  auto plan_of = [&](const std::vector<uint64_t>& bits, uint32_t count, uint32_t ef) {
    const BitmapRows allowed(bits.data(), count, kBase);
    return PlannedSearch(space, SearchParams{.query = Query(0), .k = kK, .ef = ef}, &allowed,
                         /*filtered=*/true)
        .plan;
  };
  const std::vector<uint64_t> half = bitmap_of([](uint32_t r) { return r % 2 == 0; });
  const std::vector<uint64_t> few = bitmap_of([](uint32_t r) { return r % 1000 == 3; });
  EXPECT_EQ(plan_of(half, kBase / 2, 64), Plan::kGraphPostFilter);
  EXPECT_EQ(plan_of(half, kBase / 2, 16), Plan::kGraphExpanded);
  EXPECT_EQ(plan_of(few, kBase / 1000, 64), Plan::kExact);

  const Distance l2 = DistanceFor(DistanceMetric::kL2);
  for (uint32_t q = 0; q < 5; ++q) {
    std::vector<std::pair<float, uint32_t>> by_distance;
    for (uint32_t r = 0; r < kBase; ++r) {
      const float* row = data_->base.data() + size_t{r} * data_->dim;
      by_distance.push_back({l2(Query(q), row, data_->dim), r});
    }
    std::sort(by_distance.begin(), by_distance.end());
    std::vector<bool> far(kBase, false);
    for (uint32_t i = kBase / 2; i < kBase; ++i) far[by_distance[i].second] = true;
    const std::vector<uint64_t> bits = bitmap_of([&](uint32_t r) { return far[r]; });
    const BitmapRows allowed(bits.data(), kBase / 2, kBase);
    const PlannedResult r = PlannedSearch(
        space, SearchParams{.query = Query(q), .k = kK, .ef = 64}, &allowed, /*filtered=*/true);
    EXPECT_EQ(r.plan, Plan::kExact) << "query " << q;
    EXPECT_EQ(Recall(r.hits, Truth(q, [&](uint32_t row) { return far[row]; })), 1.0);
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
  EXPECT_EQ((*loaded)->UnreachableRows(), std::vector<uint32_t>{});
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

// Concurrent inserts must not lose links. With lists that never fill (so no neighbour list is
// ever pruned) every link of a correct build is mutual: a new row links to its neighbours and
// each links back. An insert that could be reached on a high level before its lower lists were
// written used to overwrite links other inserts had just added, leaving rows unreachable.
TEST(HnswTest, ConcurrentInsertsKeepEveryLinkMutual) {
  constexpr uint32_t kRows = 2000, kM = 64;  // level-0 lists hold 128; the longest here ~50
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    const Dataset d = MakeClustered(kRows, 1, 8, 20, seed);
    Hnsw g(d.base.data(), d.dim, DistanceMetric::kL2, kRows,
           HnswParams{.m = kM, .ef_construction = 64});
    std::vector<std::thread> workers;
    std::atomic<uint32_t> next{0};
    for (int t = 0; t < 8; ++t) {
      workers.emplace_back([&] {
        for (uint32_t r; (r = next.fetch_add(1)) < kRows;) g.Insert(r);
      });
    }
    for (auto& w : workers) w.join();
    for (uint32_t u = 0; u < kRows; ++u) {
      for (int level = 0; level <= g.Level(u); ++level) {
        const std::vector<uint32_t> out = g.Neighbors(u, level);
        ASSERT_LT(out.size(), level == 0 ? 2 * kM : kM) << "a list filled: the premise fails";
        for (uint32_t v : out) {
          const std::vector<uint32_t> back = g.Neighbors(v, level);
          ASSERT_NE(std::find(back.begin(), back.end(), u), back.end())
              << "seed " << seed << ": link " << u << " -> " << v << " on level " << level
              << " has no link back";
        }
      }
    }
    EXPECT_EQ(g.UnreachableRows(), std::vector<uint32_t>{}) << "seed " << seed;
  }
}

// The neighbour heuristic can prune an outlier's last incoming link (with m 8, about 70 of
// 20,000 clustered rows); LinkUnreachable links each from a reachable neighbour, and then a
// search for the row's own vector finds it.
TEST(HnswTest, LinkUnreachableMakesEveryRowFindable) {
  constexpr uint32_t kRows = 20000;
  const Dataset d = MakeClustered(kRows, 1, 32, 50, 3);
  Hnsw g(d.base.data(), d.dim, DistanceMetric::kL2, kRows, HnswParams{.m = 8, .ef_construction = 64});
  for (uint32_t r = 0; r < kRows; ++r) g.Insert(r);
  const std::vector<uint32_t> unreachable = g.UnreachableRows();
  ASSERT_FALSE(unreachable.empty()) << "the data no longer exercises the repair";
  EXPECT_EQ(g.LinkUnreachable(), unreachable.size());
  EXPECT_EQ(g.UnreachableRows(), std::vector<uint32_t>{});
  EXPECT_EQ(g.LinkUnreachable(), 0u);
  for (uint32_t row : unreachable) {
    std::vector<Hit> hits = g.Search(d.base.data() + size_t{row} * d.dim, 1, 64);
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].row, row);
  }
}

TEST(HnswTest, DeletedRowsNeverComeBackAndStillRoute) {
  Dataset d = MakeClustered(3000, 50, 32, 20, 7);
  Hnsw g(d.base.data(), d.dim, DistanceMetric::kCosine, 3000, HnswParams{});
  BuildHnsw(g, 3000, 2);
  for (uint32_t r = 0; r < 3000; r += 3) g.MarkDeleted(r);
  EXPECT_EQ(g.UnreachableRows(), std::vector<uint32_t>{});
  double total = 0;
  for (uint32_t q = 0; q < 50; ++q) {
    const float* query = d.queries.data() + size_t{q} * d.dim;
    std::vector<Hit> got = g.Search(query, 10, 64);
    ASSERT_EQ(got.size(), 10u);
    for (const Hit& h : got) EXPECT_NE(h.row % 3, 0u);
    std::vector<Hit> truth = FlatSearch(d.base.data(), 3000, d.dim,
                                        DistanceFor(DistanceMetric::kCosine), query, 10,
                                        [](uint32_t r) { return r % 3 != 0; });
    std::vector<uint32_t> rows;
    for (const Hit& h : truth) rows.push_back(h.row);
    total += Recall(got, rows);
  }
  std::printf("deleted: recall %.4f\n", total / 50);
  EXPECT_GE(total / 50, 0.995);
}

TEST(HnswTest, ABuildStopsWhenAskedTo) {
  Dataset d = MakeClustered(3000, 1, 16, 20, 9);
  Hnsw full(d.base.data(), d.dim, DistanceMetric::kL2, 3000, HnswParams{});
  std::atomic<bool> stop{false};
  EXPECT_TRUE(BuildHnsw(full, 3000, 2, [](uint32_t) { return true; }, &stop));
  EXPECT_EQ(full.size(), 3000u);
  // Asked to stop by the rows' own check at row 500, on one thread: rows 0-500 go in.
  Hnsw given_up(d.base.data(), d.dim, DistanceMetric::kL2, 3000, HnswParams{});
  auto include = [&](uint32_t r) {
    if (r == 500) stop.store(true);
    return true;
  };
  EXPECT_FALSE(BuildHnsw(given_up, 3000, 1, include, &stop));
  EXPECT_EQ(given_up.size(), 501u);
  // Asked before it starts: no thread inserts anything.
  Hnsw none(d.base.data(), d.dim, DistanceMetric::kL2, 3000, HnswParams{});
  EXPECT_FALSE(BuildHnsw(none, 3000, 2, [](uint32_t) { return true; }, &stop));
  EXPECT_EQ(none.size(), 0u);
}

TEST(HnswTest, EmptyAndTinyGraphs) {
  std::vector<float> v = {1, 0, 0, 1, 1, 1};
  Hnsw g(v.data(), 2, DistanceMetric::kL2, 3, HnswParams{});
  EXPECT_TRUE(g.Search(v.data(), 5, 10).empty());
  EXPECT_EQ(g.UnreachableRows(), std::vector<uint32_t>{});
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
  BuildHnsw(g, 4000, 2);
  done = true;
  searcher.join();
  EXPECT_EQ(g.UnreachableRows(), std::vector<uint32_t>{});
  double total = 0;
  for (uint32_t q = 0; q < 20; ++q) {
    const float* query = d.queries.data() + size_t{q} * d.dim;
    total += Recall(g.Search(query, 10, 64),
                    ReferenceTopK(d.base.data(), 4000, d.dim, query, 10, AllowAll));
  }
  std::printf("concurrent: recall %.4f\n", total / 20);
  EXPECT_GE(total / 20, 0.99);
}

// A growable graph (a memtable's): room committed in steps while a searcher runs, rows inserted
// on two threads after each step; searches only ever see inserted rows, the grown graph is as
// good as one built at full size, and Serialize(rows) leaves the spare room out.
TEST(HnswTest, GrowsInPlaceWhileSearched) {
  constexpr uint32_t kRows = 3000;
  Dataset d = MakeClustered(kRows, 20, 24, 30, 11);
  std::unique_ptr<Hnsw> g = Hnsw::Growable(d.base.data(), d.dim, DistanceMetric::kL2, 8192,
                                           HnswParams{.m = 8, .ef_construction = 64});
  EXPECT_EQ(g->capacity(), 0u);
  std::atomic<uint32_t> inserted{0};
  std::atomic<bool> done{false};
  std::thread searcher([&] {
    while (!done) {
      const uint32_t seen = inserted.load();
      for (uint32_t q = 0; q < 20; ++q) {
        for (const Hit& h : g->Search(d.queries.data() + size_t{q} * d.dim, 5, 32)) {
          ASSERT_LT(h.row, kRows);
          ASSERT_NE(g->Level(h.row), -1) << "a row not inserted was returned";
        }
      }
      if (seen == kRows) break;
    }
  });
  for (uint32_t step : {1000u, 2000u, kRows}) {
    const uint32_t from = g->capacity();
    g->Grow(step);
    EXPECT_EQ(g->capacity(), step);
    std::atomic<uint32_t> next{from};
    auto work = [&] {
      for (uint32_t r; (r = next.fetch_add(1)) < step;) g->Insert(r);
    };
    std::thread helper(work);
    work();
    helper.join();
    inserted = step;
  }
  g->Grow(4096);  // spare room, as a memtable's graph has
  g->LinkUnreachable();
  done = true;
  searcher.join();
  EXPECT_EQ(g->size(), kRows);
  EXPECT_EQ(g->UnreachableRows(), std::vector<uint32_t>{});
  double total = 0;
  for (uint32_t q = 0; q < 20; ++q) {
    const float* query = d.queries.data() + size_t{q} * d.dim;
    total += Recall(g->Search(query, 10, 64),
                    ReferenceTopK(d.base.data(), kRows, d.dim, query, 10, AllowAll));
  }
  EXPECT_GE(total / 20, 0.99);

  const std::string bytes = g->Serialize(kRows);
  std::vector<uint64_t> aligned((bytes.size() + 7) / 8);
  std::memcpy(aligned.data(), bytes.data(), bytes.size());
  auto loaded = Hnsw::Load(std::string_view(reinterpret_cast<const char*>(aligned.data()),
                                            bytes.size()),
                           d.base.data(), d.dim, DistanceMetric::kL2);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->capacity(), kRows);
  for (uint32_t r = 0; r < kRows; r += 97) {
    EXPECT_EQ((*loaded)->Neighbors(r, 0), g->Neighbors(r, 0));
  }
}

}  // namespace
}  // namespace proximadb::index
