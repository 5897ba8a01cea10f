#include "storage/segment.h"

#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "common/coding.h"
#include "common/crc32c.h"
#include "env/mem_env.h"
#include "gtest/gtest.h"
#include "index/hnsw.h"
#include "storage/build_segment.h"
#include "storage/file_names.h"
#include "storage/manifest.h"
#include "storage/row_bitmap.h"
#include "storage/memtable.h"
#include "storage/strategy.h"

namespace proximadb {
namespace {

class SegmentTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(env_.CreateDirs("/c").ok()); }

  // Writes rows "id<i % distinct>" so that ids repeat, with every third row deleted.
  void Build(uint32_t dim, uint32_t rows, uint32_t distinct, bool compress = false) {
    auto b = SegmentBuilder::Create(&env_, "/c/seg", dim, compress);
    ASSERT_TRUE(b.ok()) << b.status();
    std::mt19937 rng(7);
    std::normal_distribution<float> dist;
    for (uint32_t i = 0; i < rows; ++i) {
      std::vector<float> v(dim);
      for (float& x : v) x = dist(rng);
      vectors_.push_back(v);
      ASSERT_TRUE((*b)->Add("id" + std::to_string(i % distinct),
                            reinterpret_cast<const char*>(v.data()),
                            "{\"row\":" + std::to_string(i) + "}", i % 3 == 0)
                      .ok());
    }
    ASSERT_TRUE((*b)->Finish().ok());
  }

  MemEnv env_;
  std::vector<std::vector<float>> vectors_;
};

TEST_F(SegmentTest, RoundTrip) {
  Build(/*dim=*/17, /*rows=*/500, /*distinct=*/200);
  auto seg = Segment::Open(&env_, "/c/seg", 9, 17, DistanceMetric::kL2);
  ASSERT_TRUE(seg.ok()) << seg.status();
  const Segment& s = **seg;
  EXPECT_EQ(s.number(), 9u);
  ASSERT_EQ(s.num_rows(), 500u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(s.vector(0)) % 64, 0u);  // when the mapping is aligned
  for (uint32_t r = 0; r < 500; ++r) {
    ASSERT_EQ(std::vector<float>(s.vector(r), s.vector(r) + 17), vectors_[r]);
    EXPECT_EQ(s.id(r), "id" + std::to_string(r % 200));
    EXPECT_EQ(s.metadata(r), "{\"row\":" + std::to_string(r) + "}");
    EXPECT_EQ(s.VisibleAt(r, 100), r % 3 != 0);
  }
  // Find returns the newest row of a repeated id.
  EXPECT_EQ(s.Find("id5"), 405u);
  EXPECT_EQ(s.Find("id199"), 399u);
  EXPECT_EQ(s.Find("id200"), std::nullopt);
  EXPECT_EQ(s.Find(""), std::nullopt);
  EXPECT_EQ(s.DeletedRowsUpTo(0).size(), 167u);
}

TEST_F(SegmentTest, SearchesAgeTheSegmentAtMostOnceASecond) {
  Build(/*dim=*/4, /*rows=*/10, /*distinct=*/10);
  auto seg = Segment::Open(&env_, "/c/seg", 1, 4, DistanceMetric::kL2);
  ASSERT_TRUE(seg.ok()) << seg.status();
  EXPECT_EQ((*seg)->path(), "/c/seg");
  EXPECT_GT((*seg)->last_search_us(), 0) << "an open counts as an access";
  (*seg)->set_last_search_us(1000000);
  (*seg)->NoteSearch(1500000);  // half a second later: not written
  EXPECT_EQ((*seg)->last_search_us(), 1000000);
  (*seg)->NoteSearch(2000001);
  EXPECT_EQ((*seg)->last_search_us(), 2000001);
}

TEST_F(SegmentTest, EmptySegment) {
  Build(4, 0, 1);
  auto seg = Segment::Open(&env_, "/c/seg", 1, 4, DistanceMetric::kL2);
  ASSERT_TRUE(seg.ok()) << seg.status();
  EXPECT_EQ((*seg)->num_rows(), 0u);
  EXPECT_EQ((*seg)->Find("x"), std::nullopt);
}

TEST_F(SegmentTest, AnyDamagedByteIsDetected) {
  Build(3, 20, 20);
  const std::string bytes = *env_.ReadFile("/c/seg");
  // Flip each byte that belongs to a section or the footer; padding is not checksummed.
  int detected = 0, flipped = 0;
  for (size_t off = 64; off < bytes.size(); ++off) {
    std::string damaged = bytes;
    damaged[off] ^= 0x20;
    ASSERT_TRUE(env_.Corrupt("/c/seg", 0, damaged).ok());
    auto seg = Segment::Open(&env_, "/c/seg", 1, 3, DistanceMetric::kL2);
    ++flipped;
    if (!seg.ok()) {
      ++detected;
      EXPECT_TRUE(absl::StrContains(seg.status().message(), "/c/seg")) << seg.status();
    }
  }
  // Only alignment padding (at most 7 bytes per section) may go unnoticed.
  EXPECT_GE(detected, flipped - 4 * 7);
  ASSERT_TRUE(env_.Corrupt("/c/seg", 0, bytes).ok());
  EXPECT_TRUE(Segment::Open(&env_, "/c/seg", 1, 3, DistanceMetric::kL2).ok());
}

// A cold stub: everything but the vectors and the graph, checked like a whole file.
TEST_F(SegmentTest, ColdStubKeepsIdsMetadataAndDeletionsOnly) {
  Build(/*dim=*/16, /*rows=*/300, /*distinct=*/300);
  const std::string whole = *env_.ReadFile("/c/seg");
  absl::StatusOr<std::string> stub = MakeColdStub(whole, "/c/seg");
  ASSERT_TRUE(stub.ok()) << stub.status();
  EXPECT_LT(stub->size(), whole.size() - 300 * 16 * sizeof(float) + 64);
  {
    auto file = env_.NewWritableFile("/c/stub");
    ASSERT_TRUE(file.ok() && (*file)->Append(*stub).ok() && (*file)->Close().ok());
  }
  auto seg = Segment::Open(&env_, "/c/stub", 4, 16, DistanceMetric::kL2);
  ASSERT_TRUE(seg.ok()) << seg.status();
  const Segment& s = **seg;
  EXPECT_TRUE(s.cold_stub());
  EXPECT_FALSE(s.has_vectors());
  EXPECT_EQ(s.graph(), nullptr);
  ASSERT_EQ(s.num_rows(), 300u);
  for (uint32_t r = 0; r < 300; ++r) {
    EXPECT_EQ(s.id(r), "id" + std::to_string(r));
    EXPECT_EQ(s.metadata(r), "{\"row\":" + std::to_string(r) + "}");
    EXPECT_EQ(s.VisibleAt(r, 1), r % 3 != 0);
  }
  EXPECT_EQ(s.Find("id17"), 17u);
  EXPECT_EQ(MakeColdStub(*stub, "/c/stub").status().code(), absl::StatusCode::kFailedPrecondition)
      << "a stub of a stub";
  // Any damage to a stub is found as in a whole file.
  for (size_t off = 64; off < stub->size(); off += 7) {
    std::string damaged = *stub;
    damaged[off] ^= 0x20;
    ASSERT_TRUE(env_.Corrupt("/c/stub", 0, damaged).ok());
    auto opened = Segment::Open(&env_, "/c/stub", 4, 16, DistanceMetric::kL2);
    if (opened.ok()) continue;  // alignment padding
    EXPECT_TRUE(absl::StrContains(opened.status().message(), "/c/stub")) << opened.status();
  }
  std::string damaged = whole;
  damaged[100] ^= 1;  // in the vectors
  EXPECT_EQ(MakeColdStub(damaged, "/c/seg").status().code(), absl::StatusCode::kDataLoss);
}

// zstd-compressed metadata (viper, custom): the same records back, held decompressed, a smaller
// file for repetitive metadata, and any damaged byte of the file still detected.
TEST_F(SegmentTest, CompressedMetadataRoundTripAndDamage) {
  Build(3, 400, 400, /*compress=*/true);
  const size_t compressed_size = env_.ReadFile("/c/seg")->size();
  auto seg = Segment::Open(&env_, "/c/seg", 1, 3, DistanceMetric::kL2);
  ASSERT_TRUE(seg.ok()) << seg.status();
  EXPECT_TRUE((*seg)->metadata_compressed());
  for (uint32_t r = 0; r < 400; ++r) {
    ASSERT_EQ((*seg)->metadata(r), "{\"row\":" + std::to_string(r) + "}");
  }
  EXPECT_EQ((*seg)->Find("id7"), 7u);
  const std::string bytes = *env_.ReadFile("/c/seg");
  int detected = 0, flipped = 0;
  for (size_t off = 64; off < bytes.size(); off += 3) {
    std::string damaged = bytes;
    damaged[off] ^= 0x20;
    ASSERT_TRUE(env_.Corrupt("/c/seg", 0, damaged).ok());
    ++flipped;
    detected += !Segment::Open(&env_, "/c/seg", 1, 3, DistanceMetric::kL2).ok();
  }
  EXPECT_GE(detected, flipped - 4 * 7);
  Build(3, 400, 400, /*compress=*/false);
  EXPECT_LT(compressed_size, env_.ReadFile("/c/seg")->size());
  EXPECT_FALSE((*Segment::Open(&env_, "/c/seg", 1, 3, DistanceMetric::kL2))->metadata_compressed());
}

TEST_F(SegmentTest, GraphSectionRoundTripAndDamage) {
  // 300 rows with a graph over them, searched in place from the mapping after open.
  std::mt19937 rng(3);
  std::normal_distribution<float> dist;
  std::vector<float> all(300 * 8);
  for (float& x : all) x = dist(rng);
  index::Hnsw graph(all.data(), 8, DistanceMetric::kL2, 300, index::HnswParams{});
  for (uint32_t r = 0; r < 300; ++r) graph.Insert(r);
  auto b = SegmentBuilder::Create(&env_, "/c/seg", 8);
  ASSERT_TRUE(b.ok());
  for (uint32_t r = 0; r < 300; ++r) {
    ASSERT_TRUE((*b)->Add("id" + std::to_string(r), reinterpret_cast<const char*>(&all[r * 8]),
                          "{}", false)
                    .ok());
  }
  (*b)->SetGraph(graph.Serialize());
  ASSERT_TRUE((*b)->Finish().ok());
  auto seg = Segment::Open(&env_, "/c/seg", 1, 8, DistanceMetric::kL2);
  ASSERT_TRUE(seg.ok()) << seg.status();
  ASSERT_NE((*seg)->graph(), nullptr);
  EXPECT_EQ((*seg)->graph()->size(), 300u);
  for (uint32_t q = 0; q < 20; ++q) {
    auto want = graph.Search(&all[q * 8], 5, 32);
    auto got = (*seg)->graph()->Search(&all[q * 8], 5, 32);
    ASSERT_EQ(want.size(), got.size());
    for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(want[i].row, got[i].row);
  }
  // The graph section is checksummed like the others.
  const std::string bytes = *env_.ReadFile("/c/seg");
  std::string damaged = bytes;
  damaged[bytes.size() - 176 - 16] ^= 1;  // inside the last section before the footer
  ASSERT_TRUE(env_.Corrupt("/c/seg", 0, damaged).ok());
  EXPECT_EQ(Segment::Open(&env_, "/c/seg", 1, 8, DistanceMetric::kL2).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(SegmentTest, WrongDimensionRejected) {
  Build(3, 5, 5);
  EXPECT_EQ(Segment::Open(&env_, "/c/seg", 1, 4, DistanceMetric::kL2).status().code(), absl::StatusCode::kDataLoss);
}

// A viper segment from a memtable: live rows only, grouped by partition (each partition's rows
// nearest its own centroid), metadata compressed, and the fields the memtable was filtered on
// stored as typed columns, which the opened segment's filters use without reading the metadata.
TEST(BuildSegmentTest, PartitionedSegmentWithFieldColumns) {
  MemEnv env;
  ASSERT_TRUE(env.CreateDirs("/c").ok());
  Memtable mem(4, IdIndexKind::kHashMap);
  for (uint32_t i = 0; i < 900; ++i) {
    const float c = static_cast<float>(i % 3) * 10;
    const std::vector<float> v = {c, c + 0.01f * (i % 7), c, c};
    mem.Append("id" + std::to_string(i), reinterpret_cast<const char*>(v.data()),
               "{\"g\":" + std::to_string(i % 10) + ",\"s\":\"" + std::to_string(i % 4) + "\"}",
               i + 1);
  }
  mem.MarkDeleted(5, 1000);  // superseded before the flush: left out of a partitioned segment
  auto filter = Filter::Parse("{\"g\": 3}");
  ASSERT_TRUE(filter.ok());
  mem.fields().Select(*filter, mem.num_rows(), [&](uint32_t r) { return mem.metadata(r); });

  SegmentOptions o{.env = &env, .dir = "/c", .dim = 4, .metric = DistanceMetric::kL2};
  o.quantization = Quantization::kSq8;
  o.partitions = 3;
  o.compress_metadata = true;
  o.field_columns = true;
  std::vector<SegmentRow> rows;
  for (uint32_t r = 0; r < mem.num_rows(); ++r) rows.push_back({&mem, r, r == 5});
  auto seg = BuildSegment(o, 7, rows);
  ASSERT_TRUE(seg.ok()) << seg.status();
  const Segment& s = **seg;
  ASSERT_EQ(s.num_rows(), 899u);
  ASSERT_EQ(rows.size(), 899u);
  ASSERT_NE(s.ivf(), nullptr);
  EXPECT_TRUE(s.metadata_compressed());
  for (uint32_t p = 0; p < s.ivf()->partitions(); ++p) {
    for (uint32_t r = s.ivf()->begin(p); r < s.ivf()->end(p); ++r) {
      EXPECT_EQ(s.id(r), mem.id(rows[r].row));  // row r of the segment is rows[r]
      EXPECT_EQ(s.vector(r)[0], s.vector(s.ivf()->begin(p))[0]) << "a partition mixes clusters";
    }
  }
  auto reopened = Segment::Open(&env, "/c/" + SegmentFileName(7), 7, 4, DistanceMetric::kL2);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->fields().indexed_paths(), 1u) << "the g column was not stored";
  Roaring g3 = (*reopened)->fields().Select(*filter, 899, [](uint32_t) -> std::string_view {
    ADD_FAILURE() << "the stored column was not used";
    return "{}";
  });
  EXPECT_EQ(g3.cardinality(), 90u);
  for (uint32_t r : g3) EXPECT_TRUE(filter->Matches((*reopened)->metadata(r)));
}

// A flush takes the memtable's graph once it is finished, dead rows and all, while few rows are
// dead; past that it builds a graph of the live rows.
TEST(BuildSegmentTest, FlushTakesTheMemtablesFinishedGraph) {
  MemEnv env;
  ASSERT_TRUE(env.CreateDirs("/c").ok());
  constexpr uint32_t kDim = 8, kRows = 3000;
  Memtable mem(kDim, IdIndexKind::kHashMap,
               Memtable::GraphOptions{DistanceMetric::kL2, {.m = 8, .ef_construction = 32}});
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  for (uint32_t i = 0; i < kRows; ++i) {
    std::vector<float> v(kDim);
    for (float& x : v) x = normal(rng);
    mem.Append("id" + std::to_string(i), reinterpret_cast<const char*>(v.data()), "", i + 1);
  }
  mem.IndexRows(1000);
  EXPECT_EQ(mem.CompleteGraph(), nullptr) << "offered before every row was in";
  mem.FinishGraph(2);
  const index::Hnsw* graph = mem.CompleteGraph();
  ASSERT_NE(graph, nullptr);
  EXPECT_EQ(mem.indexed_rows(), kRows);
  EXPECT_EQ(graph->UnreachableRows(), std::vector<uint32_t>{});

  auto segment_graph = [](const Segment& s) {
    const index::Hnsw* g = nullptr;
    s.ForEachPart(s.num_rows(), [&](const LayerPart& p) { g = p.graph; });
    return g;
  };
  SegmentOptions o{.env = &env, .dir = "/c", .dim = kDim, .metric = DistanceMetric::kL2};
  o.graph = index::HnswParams{.m = 8, .ef_construction = 32};
  for (const uint32_t dead_every : {50u, 5u}) {  // 2% dead: taken; 20%: rebuilt
    std::vector<SegmentRow> rows;
    for (uint32_t r = 0; r < kRows; ++r) rows.push_back({&mem, r, r % dead_every == 0});
    auto seg = BuildSegment(o, dead_every, rows);
    ASSERT_TRUE(seg.ok()) << seg.status();
    const index::Hnsw* g = segment_graph(**seg);
    ASSERT_NE(g, nullptr);
    const bool taken = dead_every == 50;
    EXPECT_EQ(g->size(), taken ? kRows : kRows - kRows / dead_every);
    for (uint32_t r = 0; r < kRows; ++r) {
      EXPECT_EQ((*seg)->VisibleAt(r, kRows), r % dead_every != 0);
      if (taken) {
        ASSERT_EQ(g->Level(r), graph->Level(r)) << r;
        ASSERT_EQ(g->Neighbors(r, 0), graph->Neighbors(r, 0)) << r;
      } else if (r % dead_every == 0) {
        ASSERT_EQ(g->Level(r), -1) << "a dead row in a rebuilt graph";
      }
    }
  }
}

// A memtable's graph is sized for the flush policy in force when it is created: twice the rows
// at which it is frozen (max_vector_count or the WAL size, whichever comes first), in chunks.
TEST(StrategyTest, MemtableGraphFollowsTheFlushPolicy) {
  StrategyOptions o;
  o.config.dimension = 256;  // 1 KiB a vector
  o.config.metric = DistanceMetric::kL2;
  auto strategy = NewSegmentStrategy(o);
  ASSERT_TRUE(strategy.ok()) << strategy.status();
  FlushPolicy flush;
  flush.max_vector_count = 100000;
  flush.max_wal_size_mb = 1024;  // 1M vectors: the row count comes first
  EXPECT_EQ((*strategy)->NewMemtable(flush)->graph_rows(), Memtable::ChunkStart(8));  // >= 200k
  flush.max_wal_size_mb = 60;  // 60Ki vectors: the WAL comes first
  EXPECT_EQ((*strategy)->NewMemtable(flush)->graph_rows(), Memtable::ChunkStart(7));  // >= 120Ki
  flush.max_vector_count = 10;  // at least 64Ki rows
  EXPECT_EQ((*strategy)->NewMemtable(flush)->graph_rows(), Memtable::ChunkStart(7));
  flush.max_vector_count = uint64_t{1} << 40;
  flush.max_wal_size_mb = 1e300;  // capped: under 256 GiB of vectors and links together
  const uint64_t rows = (*strategy)->NewMemtable(flush)->graph_rows();
  EXPECT_LE(rows * (1024 + 33 * 4), uint64_t{256} << 30);
  EXPECT_GE(rows * (1024 + 33 * 4), uint64_t{64} << 30);
}

TEST(ManifestTest, EncodeDecodeAndSwitch) {
  MemEnv env;
  ASSERT_TRUE(env.CreateDirs("/c").ok());
  Manifest m;
  m.next_file_number = 12;
  m.covered_seq = 1000;
  m.wal_start = 11;
  m.segments.push_back({3, 100, {1, 5, 99}});
  m.segments.push_back({7, 0, {}});
  m.segments.push_back({9, 20, {0}, /*cold_bytes=*/123456});
  bool installed;
  ASSERT_TRUE(WriteManifest(&env, "/c", m, &installed).ok());
  EXPECT_TRUE(installed);
  auto read = ReadManifest(&env, "/c");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, m);

  // A failed switch leaves the old manifest in place, also after a power loss.
  Manifest next = m;
  next.covered_seq = 2000;
  auto* fenv = &env;
  fenv->SimulatePowerLoss();
  EXPECT_FALSE(WriteManifest(&env, "/c", next, &installed).ok());
  EXPECT_FALSE(installed);
  fenv->Restart();
  EXPECT_EQ(*ReadManifest(&env, "/c"), m);
  EXPECT_FALSE(env.FileExists("/c/MANIFEST.tmp"));

  // Every truncation and every flipped byte is detected.
  const std::string bytes = EncodeManifest(m);
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(DecodeManifest(bytes.substr(0, n), "M").ok()) << n;
    std::string damaged = bytes;
    damaged[n] ^= 1;
    EXPECT_FALSE(DecodeManifest(damaged, "M").ok()) << n;
  }
}

// Manifests written before the cold tier (version 1: no cold_bytes) are still read.
TEST(ManifestTest, ReadsVersionOne) {
  Manifest m;
  m.next_file_number = 5;
  m.segments.push_back({3, 10, {2}});
  std::string v1 = "PXDB-MAN";
  PutFixed32(&v1, 1);
  PutVarint64(&v1, 5);
  PutVarint64(&v1, 0);
  PutVarint64(&v1, 0);
  PutVarint64(&v1, 1);
  PutVarint64(&v1, 3);
  PutVarint64(&v1, 10);
  PutLengthPrefixed(&v1, EncodeRowBitmap({2}));
  PutFixed32(&v1, crc32c::Value(v1));
  absl::StatusOr<Manifest> read = DecodeManifest(v1, "M");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, m);
}

}  // namespace
}  // namespace proximadb
