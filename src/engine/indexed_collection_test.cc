// A collection with the background indexer on: searches of the memtable while and after its
// rows reach the graph (and the IVF lists), through the public API, on the in-memory Env.
#include <chrono>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/collection_impl.h"
#include "engine/collection_test_fixture.h"
#include "gtest/gtest.h"
#include "proximadb/database.h"

namespace proximadb {
namespace {

// With the background indexer on: the memtable's rows reach its graphs after the writes are
// acknowledged, and filtered searches go through field indexes and the planner on every layer.
class IndexedCollectionTest : public CollectionTest {
 protected:
  void SetUp() override {
    background_indexing_ = true;
    CollectionTest::SetUp();
  }
  // Waits until the background indexer has caught up with `coll`.
  static void AwaitIndexed(Collection& coll) {
    for (int i = 0; i < 6000 && coll.Stats().unindexed_rows > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_EQ(coll.Stats().unindexed_rows, 0u);
  }
};

TEST_F(IndexedCollectionTest, MemtableRowsAreSearchedThroughItsGraphsOnceIndexed) {
  auto m = CreateL2("m", 16);
  std::mt19937 rng(11);
  std::normal_distribution<float> dist;
  // Chunks of 1024, 2048 and part of 4096 rows.
  std::vector<Record> all = GaussianRecords(5000, 16, rng);
  ASSERT_TRUE(m->Write(all, WriteMode::kInsert).ok());
  // Searchable at once, indexed or not.
  SearchRequest req;
  req.vector = all[4999].vector;
  req.k = 1;
  EXPECT_EQ(m->Search(req)->hits.at(0).id, "v4999");
  AwaitIndexed(*m);
  EXPECT_EQ(m->Stats().segment_count, 0u);

  std::vector<std::string> dead;
  for (int i = 0; i < 5000; i += 10) dead.push_back("v" + std::to_string(i));
  ASSERT_EQ(*m->Delete(dead), dead.size());
  double found = 0;
  for (int q = 0; q < 30; ++q) {
    std::vector<float> qv(16);
    for (float& x : qv) x = dist(rng);
    const std::vector<std::string> truth =
        BruteForce(all, [](int i) { return i % 10 != 0; }, qv, 10);
    req.vector = qv;
    req.k = 10;
    req.exact = false;
    auto graph = m->Search(req);
    ASSERT_TRUE(graph.ok()) << graph.status();
    EXPECT_EQ(graph->plan, "graph");
    ASSERT_EQ(graph->hits.size(), 10u);
    for (const SearchHit& h : graph->hits) {
      EXPECT_NE(std::stoi(h.id.substr(1)) % 10, 0) << h.id << " was deleted";
    }
    found += Found(graph->hits, truth);
    req.exact = true;
    auto exact = m->Search(req);
    EXPECT_EQ(Found(exact->hits, truth), 10u);
  }
  EXPECT_GE(found / 300, 0.99);
}

// A bulk load of 20,000 clustered rows (40 centres, the rows scattered around them, as
// embeddings are) in batches of 2,000, every 37th row deleted after.
class ClusteredLoad {
 public:
  static constexpr uint32_t kDim = 16, kRows = 20000;

  explicit ClusteredLoad(Collection& c) : c_(c), centres_(40, std::vector<float>(kDim)) {
    for (auto& centre : centres_) {
      for (float& x : centre) x = 10 * normal_(rng_);
    }
    for (uint32_t i = 0; i < kRows; ++i) {
      all_.push_back(CollectionTest::R("v" + std::to_string(i), Near(i)));
    }
    for (size_t b = 0; b < all_.size(); b += 2000) {
      std::vector<Record> batch(all_.begin() + b, all_.begin() + b + 2000);
      EXPECT_TRUE(c.Write(std::move(batch), WriteMode::kInsert).ok());
    }
    std::vector<std::string> dead;
    for (uint32_t i = 0; i < kRows; i += 37) dead.push_back("v" + std::to_string(i));
    EXPECT_EQ(*c.Delete(dead), dead.size());
  }

  // 40 searches near the centres find the nearest live rows (recall@10 at least 0.95) and
  // never a deleted one; `plan` gets each search's.
  void Check(const std::function<void(const std::string&)>& plan = nullptr) {
    double found = 0;
    for (uint32_t q = 0; q < 40; ++q) {
      const std::vector<float> qv = Near(q);
      SearchRequest req;
      req.vector = qv;
      req.k = 10;
      auto r = c_.Search(req);
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_EQ(r->hits.size(), 10u);
      for (const SearchHit& h : r->hits) {
        EXPECT_NE(std::stoi(h.id.substr(1)) % 37, 0) << h.id << " was deleted";
      }
      found += CollectionTest::Found(
          r->hits, CollectionTest::BruteForce(all_, [](int i) { return i % 37 != 0; }, qv, 10));
      if (plan) plan(r->plan);
    }
    EXPECT_GE(found / 400, 0.95);
  }

 private:
  std::vector<float> Near(uint32_t i) {
    std::vector<float> v = centres_[i % centres_.size()];
    for (float& x : v) x += normal_(rng_);
    return v;
  }

  Collection& c_;
  std::mt19937 rng_{17};
  std::normal_distribution<float> normal_;
  std::vector<std::vector<float>> centres_;
  std::vector<Record> all_;
};

// Right after a load the rows the graph has not reached come from the memtable's IVF lists
// (once enough wait) or a scan, while the indexer works beside the searches: whichever serves
// them, searches find the nearest live rows and never a deleted one, before and after the
// indexer has caught up.
TEST_F(IndexedCollectionTest, SearchesRightAfterALoadFindTheNearestRows) {
  auto m = CreateL2("fresh", ClusteredLoad::kDim);
  ClusteredLoad load(*m);
  load.Check();
  AwaitIndexed(*m);
  load.Check();
}

// The indexer's turn (without the background thread, so that each step can be seen) files a
// load's rows into IVF lists before it inserts any into the graph: the stats count them, and
// searches go through the lists until the graph holds every row.
TEST_F(CollectionTest, TheIndexerFilesALoadIntoIvfListsBeforeItsGraph) {
  auto m = CreateL2("lists", ClusteredLoad::kDim);
  ClusteredLoad load(*m);
  auto& impl = static_cast<CollectionImpl&>(*m);
  EXPECT_EQ(m->Stats().unindexed_rows, ClusteredLoad::kRows);
  EXPECT_EQ(m->Stats().ivf_rows, 0u);
  load.Check([](const std::string& plan) { EXPECT_EQ(plan, "exact"); });

  EXPECT_GT(impl.IndexMemtable(1024), ClusteredLoad::kRows);
  const CollectionStats st = m->Stats();
  EXPECT_GE(st.ivf_rows, ClusteredLoad::kRows - 1024);
  EXPECT_EQ(st.ivf_rows, st.unindexed_rows);
  load.Check([](const std::string& plan) { EXPECT_EQ(plan, "ivf"); });

  while (impl.IndexMemtable(1024) > 0) {
  }
  EXPECT_EQ(m->Stats().unindexed_rows, 0u);
  EXPECT_EQ(m->Stats().ivf_rows, 0u);
  load.Check([](const std::string& plan) { EXPECT_EQ(plan, "graph"); });
}

TEST_F(IndexedCollectionTest, FlatCollectionsHaveNothingToIndex) {
  CollectionConfig c;
  c.name = "flat";
  c.dimension = 4;
  c.indexing_algorithm = IndexingAlgorithm::kFlat;
  ASSERT_TRUE(db_->CreateCollection(c).ok());
  auto flat = *db_->GetCollection("flat");
  ASSERT_TRUE(flat->Insert(R("a", {1, 0, 0, 0})).ok());
  EXPECT_EQ(flat->Stats().unindexed_rows, 0u);
  SearchRequest req;
  std::vector<float> q = {1, 0, 0, 0};
  req.vector = q;
  auto r = flat->Search(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->plan, "exact");
  EXPECT_EQ(r->hits.at(0).id, "a");
}

TEST_F(IndexedCollectionTest, FilteredSearchReturnsTheMatchingTopKOnEveryLayer) {
  auto f = CreateL2("f", 16);
  std::mt19937 rng(13);
  std::normal_distribution<float> dist;
  std::vector<Record> all = GaussianRecords(20000, 16, rng, [](int i) {
    return absl::StrCat(R"({"label":)", i % 1000, R"(,"parity":")", i % 2 ? "odd" : "even",
                        R"(","tags":["t)", i % 10, R"("]})");
  });
  // Two segments with graphs and an indexed memtable, big enough that the planner traverses
  // the graphs for the unselective filter.
  ASSERT_TRUE(f->Write({all.begin(), all.begin() + 8000}, WriteMode::kInsert).ok());
  ASSERT_TRUE(f->Flush().ok());
  ASSERT_TRUE(f->Write({all.begin() + 8000, all.begin() + 16000}, WriteMode::kInsert).ok());
  ASSERT_TRUE(f->Flush().ok());
  ASSERT_TRUE(f->Write({all.begin() + 16000, all.end()}, WriteMode::kInsert).ok());
  AwaitIndexed(*f);
  std::vector<std::string> dead;
  for (int i = 0; i < 20000; i += 9) dead.push_back("v" + std::to_string(i));
  ASSERT_EQ(*f->Delete(dead), dead.size());

  struct Case {
    std::string filter;
    std::function<bool(int)> matches;
  };
  const std::vector<Case> cases = {
      {R"({"parity":"even"})", [](int i) { return i % 2 == 0; }},                    // 50%
      {R"({"tags":{"$in":["t3"]}})", [](int i) { return i % 10 == 3; }},             // 10%
      {R"({"label":{"$gte":100,"$lt":110}})", [](int i) { return i % 1000 / 10 == 10; }},  // 1%
      {R"({"$and":[{"label":7},{"parity":{"$ne":"even"}}]})",
       [](int i) { return i % 1000 == 7; }},                                         // 0.1%
  };
  std::set<std::string> plans;
  for (const Case& fc : cases) {
    uint64_t matching = 0;
    for (int i = 0; i < 20000; ++i) matching += i % 9 != 0 && fc.matches(i);
    EXPECT_EQ(*f->Count(fc.filter), matching) << fc.filter;
    double found = 0;
    for (int q = 0; q < 20; ++q) {
      std::vector<float> qv(16);
      for (float& x : qv) x = dist(rng);
      const std::vector<std::string> truth = BruteForce(
          all, [&](int i) { return i % 9 != 0 && fc.matches(i); }, qv, 10);
      SearchRequest req;
      req.vector = qv;
      req.k = 10;
      req.filter = fc.filter;
      auto got = f->Search(req);
      ASSERT_TRUE(got.ok()) << got.status();
      plans.insert(got->plan);
      ASSERT_EQ(got->hits.size(), truth.size()) << fc.filter;
      for (const SearchHit& h : got->hits) {
        const int i = std::stoi(h.id.substr(1));
        EXPECT_TRUE(fc.matches(i) && i % 9 != 0) << fc.filter << " returned " << h.id;
      }
      found += Found(got->hits, truth);
      req.exact = true;
      auto exact = f->Search(req);
      EXPECT_EQ(exact->plan, "exact");
      EXPECT_EQ(Found(exact->hits, truth), truth.size()) << fc.filter;
    }
    EXPECT_GE(found / (20.0 * std::min<uint64_t>(10, matching)), 0.99) << fc.filter;
  }
  // The 50% filter traverses the graphs (gathering unfiltered rows, or skipping disallowed ones).
  EXPECT_TRUE(plans.contains("graph_post_filter") || plans.contains("graph_expanded"));
  EXPECT_TRUE(plans.contains("exact"));           // the 0.1% filter scans its few rows
}

}  // namespace
}  // namespace proximadb
