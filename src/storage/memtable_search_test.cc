// Searches of a memtable through the storage strategy, part by part (the graph, the IVF lists
// and the scanned rows).
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "storage/memtable.h"
#include "storage/strategy.h"

namespace proximadb {
namespace {

// Rows the graph has not reached are filed into IVF lists once kFilingStart of them wait, and
// a search takes them from there: the parts are the graph's rows (once it holds enough of them;
// before, the lists serve all), the lists' rows above them, and the rows appended since the
// last filing, scanned. Searches through the storage strategy
// find rows in each part, skip a deleted one and keep to a filter's rows.
TEST(MemtableTest, RowsAheadOfTheGraphAreSearchedThroughIvfLists) {
  constexpr uint32_t kDim = 16;
  CollectionConfig config;
  config.name = "c";
  config.dimension = kDim;
  config.metric = DistanceMetric::kL2;
  auto strategy = NewSegmentStrategy(StrategyOptions{.config = config});
  ASSERT_TRUE(strategy.ok());
  std::shared_ptr<Memtable> m = (*strategy)->NewMemtable(FlushPolicy{});
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  uint64_t seq = 0;
  auto append = [&](uint32_t rows) {
    for (uint32_t i = 0; i < rows; ++i) {
      std::vector<float> v(kDim);
      for (float& x : v) x = normal(rng);
      m->Append(std::to_string(seq), reinterpret_cast<const char*>(v.data()),
                "{\"even\":" + std::string(seq % 2 == 0 ? "true" : "false") + "}", seq + 1);
      ++seq;
    }
  };
  append(Memtable::kFilingStart - 1);
  EXPECT_EQ(m->FileRows(), 0u) << "too few rows wait for the graph";
  append(30000);
  EXPECT_EQ(m->FileRows(), m->num_rows());
  {  // Before the graph: every row from the lists.
    const uint32_t row = 1234;
    std::vector<uint32_t> found;
    const index::Plan plan = (*strategy)->Search(
        *m, m->num_rows(), seq, nullptr, index::SearchParams{.query = m->vector(row), .k = 5},
        [&](float, uint32_t r) { found.push_back(r); });
    EXPECT_EQ(plan, index::Plan::kIvf);
    EXPECT_NE(std::find(found.begin(), found.end(), row), found.end());
  }
  auto parts = [&] {
    std::vector<std::pair<uint32_t, uint32_t>> found;  // base, rows
    m->ForEachPart(m->num_rows(), [&](const LayerPart& p) {
      EXPECT_EQ(p.vectors, m->vector(p.base));
      EXPECT_EQ(p.lists != nullptr, p.graph == nullptr && p.base < m->filed_rows()) << p.base;
      found.emplace_back(p.base, p.rows);
    });
    return found;
  };
  // While the graph holds few rows, the lists serve them all; then the graph takes its rows.
  while (m->indexed_rows() < 2000) m->IndexRows(1024);
  using Parts = std::vector<std::pair<uint32_t, uint32_t>>;
  EXPECT_EQ(parts(), (Parts{{0, m->filed_rows()}}));
  while (parts().size() == 1 && m->indexed_rows() < m->filed_rows()) m->IndexRows(1024);
  ASSERT_LT(m->indexed_rows(), m->filed_rows()) << "the graph takes its rows before it has all";
  const uint32_t indexed = m->indexed_rows(), filed = m->filed_rows();
  append(300);
  EXPECT_EQ(filed, m->num_rows() - 300);

  EXPECT_EQ(parts(), (Parts{{0, indexed}, {indexed, filed - indexed}, {filed, 300}}));

  // A row of each part is found by its own vector, a deleted one is not, and a filter holds.
  const uint32_t rows = m->num_rows();
  m->MarkDeleted(indexed + 10, seq + 1);
  const uint64_t snapshot = seq + 1;
  auto nearest = [&](uint32_t row, const Roaring* selected) {
    std::vector<uint32_t> found;
    (*strategy)->Search(*m, rows, snapshot, selected,
                        index::SearchParams{.query = m->vector(row), .k = 5},
                        [&](float, uint32_t r) { found.push_back(r); });
    return found;
  };
  for (uint32_t row : {5u, indexed + 11, filed - 1, filed + 1, rows - 1}) {
    const std::vector<uint32_t> found = nearest(row, nullptr);
    EXPECT_NE(std::find(found.begin(), found.end(), row), found.end()) << row;
  }
  const std::vector<uint32_t> deleted = nearest(indexed + 10, nullptr);
  EXPECT_EQ(std::find(deleted.begin(), deleted.end(), indexed + 10), deleted.end());
  Roaring even;
  for (uint32_t r = 0; r < rows; r += 2) even.add(r);
  for (uint32_t row : {indexed + 2, indexed + 4}) {
    const std::vector<uint32_t> found = nearest(row, &even);
    ASSERT_GE(found.size(), 5u);  // each part offers its best
    EXPECT_NE(std::find(found.begin(), found.end(), row), found.end()) << row;
    for (uint32_t r : found) EXPECT_EQ(r % 2, 0u) << r;
  }
}

// A memtable whose graph kept up with a trickle of writes still trains its lists when a load
// arrives later, though the rows a filing turn takes (from row 0) are fewer than the graph has.
TEST(MemtableTest, ALoadAfterTheGraphKeptUpStillGetsLists) {
  constexpr uint32_t kDim = 4;
  Memtable m(kDim, IdIndexKind::kHashMap,
             Memtable::GraphOptions{DistanceMetric::kL2, index::HnswParams{.m = 8}});
  std::mt19937 rng(9);
  std::normal_distribution<float> normal;
  uint32_t next = 0;
  auto append = [&](uint32_t rows) {
    for (uint32_t i = 0; i < rows; ++i, ++next) {
      const float v[kDim] = {normal(rng), normal(rng), normal(rng), normal(rng)};
      m.Append(std::to_string(next), reinterpret_cast<const char*>(v), "", next + 1);
    }
  };
  constexpr uint32_t kTurn = 4096;  // rows a filing turn takes
  append(3 * kTurn);
  while (m.IndexRows(1024) > 0) {
  }
  append(Memtable::kFilingStart);
  EXPECT_EQ(m.FileRows(1, kTurn), kTurn) << "trained, and filed a turn's rows from row 0";
  while (m.FileRows(1, kTurn) > 0) {
  }
  EXPECT_EQ(m.filed_rows(), m.num_rows());
}

}  // namespace
}  // namespace proximadb
