#include "storage/memtable.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "index/hnsw.h"

namespace proximadb {
namespace {

std::vector<float> Vec(uint32_t dim, float base) {
  std::vector<float> v(dim);
  for (uint32_t i = 0; i < dim; ++i) v[i] = base + static_cast<float>(i);
  return v;
}

TEST(MemtableTest, AppendAcrossChunksKeepsRowsStable) {
  Memtable m(5, IdIndexKind::kHashMap);
  const uint32_t n = 1024 + 2048 + 10;  // into the third chunk
  const float* first = nullptr;
  for (uint32_t i = 0; i < n; ++i) {
    auto v = Vec(5, static_cast<float>(i));
    uint32_t row = m.Append("id" + std::to_string(i), reinterpret_cast<const char*>(v.data()),
                            "{\"i\":" + std::to_string(i) + "}", i + 1);
    ASSERT_EQ(row, i);
    if (i == 0) first = m.vector(0);
  }
  EXPECT_EQ(m.vector(0), first);  // never moved
  EXPECT_EQ(reinterpret_cast<uintptr_t>(m.vector(0)) % 64, 0u);
  EXPECT_EQ(m.num_rows(), n);
  for (uint32_t i = 0; i < n; i += 97) {
    EXPECT_EQ(m.id(i), "id" + std::to_string(i));
    EXPECT_EQ(m.metadata(i), "{\"i\":" + std::to_string(i) + "}");
    EXPECT_EQ(m.vector(i)[4], static_cast<float>(i) + 4);
    EXPECT_EQ(m.insert_seq(i), i + 1);
    EXPECT_EQ(m.Find("id" + std::to_string(i)), i);
  }
  EXPECT_EQ(m.max_seq(), n);
  EXPECT_GT(m.MemoryBytes(), n * 5 * sizeof(float));
}

TEST(MemtableTest, OverwriteAndDeleteVisibility) {
  Memtable m(2, IdIndexKind::kHashMap);
  auto v = Vec(2, 0);
  const char* vb = reinterpret_cast<const char*>(v.data());
  uint32_t r0 = m.Append("a", vb, "{}", /*seq=*/1);
  m.MarkDeleted(r0, 2);  // overwritten at seq 2
  uint32_t r1 = m.Append("a", vb, "{\"v\":2}", 2);
  m.MarkDeleted(r1, 3);  // deleted at seq 3

  EXPECT_EQ(m.Find("a"), r1);  // the newest row
  EXPECT_TRUE(m.VisibleAt(r0, 1));
  EXPECT_FALSE(m.VisibleAt(r1, 1));
  EXPECT_FALSE(m.VisibleAt(r0, 2));
  EXPECT_TRUE(m.VisibleAt(r1, 2));
  EXPECT_FALSE(m.VisibleAt(r0, 3));
  EXPECT_FALSE(m.VisibleAt(r1, 3));
}

// One writer appends while readers read every published row: run under TSan too
// (storage_tsan_test) to check the publication protocol; here it also checks that readers
// never see a half-written row.
TEST(MemtableTest, ConcurrentReadersSeeCompleteRows) {
  Memtable m(16, IdIndexKind::kHashMap);
  std::atomic<bool> done{false}, started{false};
  std::thread writer([&] {
    while (!started) std::this_thread::yield();
    for (uint32_t i = 0; i < 20000; ++i) {
      auto v = Vec(16, static_cast<float>(i));
      m.Append(std::to_string(i), reinterpret_cast<const char*>(v.data()), "{}", i + 1);
    }
    done = true;
  });
  started = true;
  while (!done) {
    const uint32_t n = m.num_rows();
    for (uint32_t r = n > 50 ? n - 50 : 0; r < n; ++r) {
      ASSERT_EQ(m.vector(r)[15], static_cast<float>(r) + 15);
      ASSERT_EQ(m.id(r), std::to_string(r));
      ASSERT_EQ(m.Find(std::to_string(r)), r);
    }
  }
  writer.join();
  ASSERT_EQ(m.num_rows(), 20000u);
  for (uint32_t r = 0; r < 20000; ++r) ASSERT_EQ(m.vector(r)[15], static_cast<float>(r) + 15);
}

// The writer appends, the indexer inserts published rows into the chunk graphs (and links the
// unreachable rows of each chunk it completes) while a reader searches them: a search returns
// only appended rows, and every row of a full chunk ends up reachable in its graph.
// Also run under TSan (storage_tsan_test).
// One indexer thread inserting row by row, or inserting batches on two threads of its own.
class IndexerTest : public ::testing::TestWithParam<int> {};

TEST_P(IndexerTest, IndexerAndReadersRunTogether) {
  constexpr uint32_t kRows = 3072 + 500;  // chunks 0 and 1 full, chunk 2 partly
  const int threads = GetParam();
  Memtable m(8, IdIndexKind::kHashMap,
             Memtable::GraphOptions{DistanceMetric::kL2, index::HnswParams{.m = 8, .ef_construction = 32}});
  std::atomic<bool> written{false}, indexed{false};
  std::thread writer([&] {
    for (uint32_t i = 0; i < kRows; ++i) {
      std::vector<float> v(8);
      for (uint32_t j = 0; j < 8; ++j) v[j] = static_cast<float>((i * 7919 + j * 104729) % 1000);
      m.Append(std::to_string(i), reinterpret_cast<const char*>(v.data()), "{}", i + 1);
    }
    written = true;
  });
  std::thread indexer([&] {
    while (!written || m.indexed_rows() < m.num_rows()) {
      m.IndexRows(threads == 1 ? 64 : 1024, threads);
    }
    indexed = true;
  });
  const std::vector<float> query(8, 500.0f);
  uint64_t searched = 0, hits = 0, bad_hits = 0;
  const index::Hnsw* g = m.graph();
  while (!indexed) {
    const uint32_t upto = m.indexed_rows();
    if (upto == 0) continue;
    ++searched;
    for (const index::Hit& h : g->Search(query.data(), 5, 16)) {
      ++hits;
      bad_hits += h.row >= m.num_rows();
    }
  }
  writer.join();
  indexer.join();
  EXPECT_EQ(bad_hits, 0u) << "a search returned a row not yet appended";
  EXPECT_GE(hits, searched) << "searches of the graph found nothing";
  EXPECT_EQ(g->size(), kRows) << "one graph holds every row";
  EXPECT_EQ(m.indexed_rows(), kRows);
  // Reachability is restored at each chunk's end (rows below 3072); the rows above, in a chunk
  // not yet full, may wait for it.
  for (uint32_t r : g->UnreachableRows()) EXPECT_GE(r, Memtable::ChunkStart(2)) << r;
}

// A memtable that outgrew its graph's reservation (flushes held up) serves the rows past it as
// scanned parts: the parts cover every row once, in order, one of them through the graph.
TEST(MemtableTest, RowsPastTheGraphAreScanned) {
  constexpr uint32_t kDim = 4;
  Memtable m(kDim, IdIndexKind::kHashMap,
             Memtable::GraphOptions{DistanceMetric::kL2, index::HnswParams{.m = 8}, 2000});
  EXPECT_EQ(m.graph_rows(), Memtable::ChunkStart(2)) << "rounded up to a whole chunk";
  const uint32_t rows = Memtable::ChunkStart(3) + 100;  // chunks 2 and 3 past the graph
  for (uint32_t i = 0; i < rows; ++i) {
    const float v[kDim] = {float(i % 97), float(i % 89), float(i / 97), 1.0f};
    m.Append(std::to_string(i), reinterpret_cast<const char*>(v), "", i + 1);
  }
  while (m.IndexRows(1000) > 0) {
  }
  EXPECT_EQ(m.indexed_rows(), m.graph_rows());
  EXPECT_EQ(m.unindexed_rows(), 0u) << "rows past the graph are not waited for";
  uint32_t next = 0, graphs = 0;
  m.ForEachPart(rows, [&](const LayerPart& p) {
    EXPECT_EQ(p.base, next) << "parts in row order, without gaps";
    EXPECT_EQ(p.vectors, m.vector(p.base));
    next += p.rows;
    graphs += p.graph != nullptr;
  });
  EXPECT_EQ(next, rows);
  EXPECT_EQ(graphs, 1u);
}

// The writer appends while the indexer files rows into the IVF lists and a reader searches the
// lists' part of every view: the lists are published before the rows they hold, and a search
// returns only rows of its part. Also run under TSan (storage_tsan_test).
TEST(MemtableTest, FilingAndReadersRunTogether) {
  constexpr uint32_t kDim = 8, kRows = Memtable::kFilingStart + 4000;
  Memtable m(kDim, IdIndexKind::kHashMap,
             Memtable::GraphOptions{DistanceMetric::kL2, index::HnswParams{.m = 8}});
  std::atomic<bool> written{false}, filed{false}, searched{false};
  std::thread writer([&] {
    for (uint32_t i = 0; i < kRows; ++i) {
      const float v[kDim] = {float(i % 97), float(i % 89), float(i % 83), float(i / 97),
                             float(i % 7),  float(i % 5),  float(i % 3),  1.0f};
      m.Append(std::to_string(i), reinterpret_cast<const char*>(v), "", i + 1);
    }
    written = true;
  });
  std::thread indexer([&] {
    // A few hundred rows at a time, for searches to run between (and during) the steps, until
    // every row is filed and a search has met the lists.
    while (!written || m.filed_rows() < m.num_rows() || !searched) m.FileRows(1, 256);
    filed = true;
  });
  const index::Distance l2 = index::DistanceFor(DistanceMetric::kL2);
  uint64_t searches = 0;
  while (!filed) {
    m.ForEachPart(m.num_rows(), [&](const LayerPart& p) {
      if (p.lists == nullptr) return;
      const index::SearchSpace space{p.vectors, p.rows, kDim, l2};
      const index::SearchParams params{.query = p.vectors, .k = 3};
      ++searches;
      for (const index::Hit& h : p.lists->Search(space, p.base, params, nullptr, false).hits) {
        ASSERT_LT(h.row, p.rows);
      }
      searched = true;
    });
  }
  writer.join();
  indexer.join();
  EXPECT_EQ(m.filed_rows(), kRows);
  EXPECT_GT(searches, 0u) << "the lists were never searched";
}

INSTANTIATE_TEST_SUITE_P(Threads, IndexerTest, ::testing::Values(1, 2));

}  // namespace
}  // namespace proximadb
