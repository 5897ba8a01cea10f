// The viper storage strategy through the engine: no graphs (memtables scanned, segments grouped
// into IVF partitions with sq8 codes), filtered searches returning min(k, matching) rows at every
// selectivity, deletions and overwrites in partitioned segments, a reopen, compaction
// re-clustering, and a migration standard -> viper -> standard + sq8 under concurrent writes.
#include <atomic>
#include <random>
#include <set>
#include <thread>

#include "common/scoped_temp_dir.h"
#include "gtest/gtest.h"
#include "proximadb/database.h"
#include "workload.h"

namespace proximadb {
namespace {

constexpr uint32_t kDim = 24;
constexpr uint32_t kRows = 12000;

class ViperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.data_dir = tmp_.path();
    options_.background_maintenance = false;
    Open();
    CollectionConfig config;
    config.name = "v";
    config.dimension = kDim;
    config.metric = DistanceMetric::kL2;
    config.storage_strategy = StorageStrategy::kViper;
    ASSERT_TRUE(db_->CreateCollection(config).ok());
    c_ = *db_->GetCollection("v");
  }
  void Open() {
    c_.reset();
    db_.reset();
    db_ = *Database::Open(options_);
    if (db_->GetCollection("v").ok()) c_ = *db_->GetCollection("v");
  }
  // One of 37 cluster centres in [-1, 1]^kDim plus Gaussian noise: data and queries alike.
  static std::vector<float> Near(uint32_t cluster, std::mt19937& rng) {
    std::mt19937 centre_rng(cluster % 37);
    std::uniform_real_distribution<float> u(-1, 1);
    std::normal_distribution<float> noise(0, 0.3f);
    std::vector<float> v(kDim);
    for (float& x : v) x = u(centre_rng) + noise(rng);
    return v;
  }
  // Rows r in [from, to): clustered vectors, metadata {"b": 0, "g": r % 1000, "h": r % 10}.
  void Load(uint32_t from, uint32_t to) {
    std::mt19937 rng(from);
    std::vector<Record> batch;
    for (uint32_t r = from; r < to; ++r) {
      Record rec{"r" + std::to_string(r), Near(r, rng), ""};
      rec.metadata = "{\"b\":0,\"g\":" + std::to_string(r % 1000) +
                     ",\"h\":" + std::to_string(r % 10) + "}";
      want_[rec.id] = rec;
      batch.push_back(std::move(rec));
    }
    ASSERT_TRUE(c_->Write(std::move(batch), WriteMode::kUpsert).ok());
  }
  std::vector<float> Query(uint32_t i) const {
    std::mt19937 rng(1000 + i);
    return Near(i * 7, rng);
  }

  ScopedTempDir tmp_;
  DatabaseOptions options_;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Collection> c_;
  testing::Records want_;
};

// Every filter returns min(k, matching) rows, all matching, the best of them: against the exact
// plan, for selectivities from 3 rows to all, over a partitioned segment and the memtable.
TEST_F(ViperTest, FilteredSearchesReturnMinOfKAndMatching) {
  Load(0, kRows);
  ASSERT_TRUE(c_->Flush().ok());
  Load(kRows, kRows + 500);  // stays in the memtable: scanned

  const std::pair<std::string, uint32_t> filters[] = {
      {"{\"g\": 7, \"h\": 7}", 13},     // g = 7 implies h = 7: 13 rows
      {"{\"g\": {\"$in\": [1, 2, 3]}}", 39},
      {"{\"h\": 3}", 1250},
      {"{\"b\": 0}", kRows + 500},
      {"{\"g\": 5000}", 0}};
  for (const auto& [filter, matching] : filters) {
    EXPECT_EQ(*c_->Count(filter), matching) << filter;
    size_t found = 0, wanted = 0;
    for (uint32_t k : {1u, 10u, 50u}) {
      for (uint32_t q = 0; q < 5; ++q) {
        const std::vector<float> v = Query(q);
        SearchRequest req;
        req.vector = v;
        req.k = k;
        req.filter = filter;
        auto got = c_->Search(req);
        ASSERT_TRUE(got.ok()) << got.status();
        ASSERT_EQ(got->hits.size(), std::min(k, matching)) << filter << " k " << k;
        req.exact = true;
        auto exact = c_->Search(req);
        std::set<std::string> truth;
        for (const SearchHit& h : exact->hits) truth.insert(h.id);
        for (const SearchHit& h : got->hits) found += truth.count(h.id);
        wanted += truth.size();
      }
    }
    // Recall over the queries and k of this filter.
    EXPECT_GE(found * 10, wanted * 9) << filter << ": " << found << " of " << wanted;
  }
}

// Overwrites and deletions of rows in partitioned segments, a compaction that re-clusters the
// merged rows, and a reopen: every read path agrees with the expected records throughout.
TEST_F(ViperTest, DeletesOverwritesCompactionAndReopen) {
  Load(0, kRows / 2);
  ASSERT_TRUE(c_->Flush().ok());
  Load(kRows / 2, kRows);
  ASSERT_TRUE(c_->Flush().ok());
  std::vector<std::string> gone;
  for (uint32_t r = 0; r < kRows; r += 7) gone.push_back("r" + std::to_string(r));
  ASSERT_EQ(*c_->Delete(gone), gone.size());
  for (const std::string& id : gone) want_.erase(id);
  Load(100, 400);  // overwrites, some of deleted rows
  ASSERT_EQ(testing::CheckCollection(*c_, want_, DistanceMetric::kL2), "");
  ASSERT_TRUE(c_->Compact().ok());
  EXPECT_EQ(c_->Stats().segment_count, 1u);
  ASSERT_EQ(testing::CheckCollection(*c_, want_, DistanceMetric::kL2), "");
  Open();
  EXPECT_EQ(c_->config().storage_strategy, StorageStrategy::kViper);
  ASSERT_EQ(testing::CheckCollection(*c_, want_, DistanceMetric::kL2), "");
}

// standard -> viper -> standard + sq8 while a writer upserts and a reader searches: no failed
// request, nothing lost or duplicated.
TEST_F(ViperTest, MigratesBetweenStrategiesUnderLoad) {
  CollectionUpdate to_standard;
  to_standard.storage_strategy = StorageStrategy::kStandard;
  ASSERT_TRUE(db_->UpdateCollection("v", to_standard).ok());
  Load(0, kRows / 2);
  ASSERT_TRUE(c_->Flush().ok());
  Load(kRows / 2, kRows);
  ASSERT_TRUE(c_->Flush().ok());
  ASSERT_EQ(c_->Stats().migration_state, "none");

  const testing::Workload workload("w", 3, 2000, kDim);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> applied{0};
  std::atomic<int> failures{0};
  std::thread writer([&] {
    for (uint64_t b = 1; !stop.load(); ++b) {
      if (!workload.Apply(*c_, b).ok()) ++failures;
      applied.store(b);
    }
  });
  std::thread reader([&] {
    for (uint32_t q = 0; !stop.load(); ++q) {
      const std::vector<float> v = Query(q % 50);
      SearchRequest req;
      req.vector = v;
      auto r = c_->Search(req);
      if (!r.ok() || r->hits.size() != 10) ++failures;
    }
  });
  CollectionUpdate to_viper;
  to_viper.storage_strategy = StorageStrategy::kViper;
  CollectionUpdate to_sq8;
  to_sq8.storage_strategy = StorageStrategy::kStandard;
  to_sq8.quantization = Quantization::kSq8;
  for (const CollectionUpdate& u : {to_viper, to_sq8}) {
    ASSERT_TRUE(db_->UpdateCollection("v", u).ok());
    ASSERT_TRUE(c_->Migrate().ok());
    EXPECT_EQ(c_->Stats().migration_state, "none");
    ASSERT_TRUE(c_->Flush().ok());  // a segment of the new layout beside the migrated ones
  }
  stop = true;
  writer.join();
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  testing::Records want = workload.After(applied.load());
  want.insert(want_.begin(), want_.end());
  EXPECT_EQ(*c_->Count(""), want.size());
  EXPECT_EQ(testing::CheckCollection(*c_, want, DistanceMetric::kL2), "");
  Open();
  EXPECT_EQ(c_->config().quantization.kind, Quantization::kSq8);
  EXPECT_EQ(testing::CheckCollection(*c_, want, DistanceMetric::kL2), "");
}

// custom: each component as named. IVF + pq + zstd metadata, then each component changed by a
// PATCH (a migration each), the plan following; impossible combinations name their field.
TEST_F(ViperTest, CustomComponents) {
  CollectionConfig config;
  config.name = "c";
  config.dimension = kDim;
  config.metric = DistanceMetric::kL2;
  config.storage_strategy = StorageStrategy::kCustom;
  config.indexing_algorithm = IndexingAlgorithm::kIvf;
  config.quantization = {Quantization::kPq, 12, 0};
  config.metadata_compression = MetadataCompression::kZstd;
  // The checker's uniform random queries land far from these clusters: probe widely so that
  // its recall floor tests the data, not IVF's recall there.
  config.index.nprobe = 64;
  ASSERT_TRUE(db_->CreateCollection(config).ok());
  c_ = *db_->GetCollection("c");
  Load(0, kRows);
  ASSERT_TRUE(c_->Flush().ok());
  auto plan = [&] {
    const std::vector<float> v = Query(1);
    SearchRequest req;
    req.vector = v;
    return c_->Search(req)->plan;
  };
  EXPECT_EQ(plan(), "ivf");
  ASSERT_EQ(testing::CheckCollection(*c_, want_, DistanceMetric::kL2), "");

  CollectionUpdate u;
  u.metadata_compression = MetadataCompression::kNone;
  ASSERT_TRUE(db_->UpdateCollection("c", u).ok());
  EXPECT_EQ(c_->Stats().migration_state, "pending");
  ASSERT_TRUE(c_->Migrate().ok());
  u = {};
  u.indexing_algorithm = IndexingAlgorithm::kHnsw;
  u.quantization = Quantization::kSq8;
  ASSERT_TRUE(db_->UpdateCollection("c", u).ok());
  ASSERT_TRUE(c_->Migrate().ok());
  EXPECT_EQ(c_->Stats().migration_state, "none");
  EXPECT_EQ(plan(), "graph");
  ASSERT_EQ(testing::CheckCollection(*c_, want_, DistanceMetric::kL2), "");
  // Back to partitions, with 4-bit codes scanned by fast-scan, one per dimension (the default,
  // one per two dimensions, ranks the checker's far-off queries too coarsely).
  u = {};
  u.indexing_algorithm = IndexingAlgorithm::kIvf;
  u.quantization = Quantization::kPq4;
  u.pq_m = kDim;
  ASSERT_TRUE(db_->UpdateCollection("c", u).ok());
  ASSERT_TRUE(c_->Migrate().ok());
  EXPECT_EQ(plan(), "ivf");
  ASSERT_EQ(testing::CheckCollection(*c_, want_, DistanceMetric::kL2), "");
  Open();
  c_ = *db_->GetCollection("c");
  EXPECT_EQ(c_->config().indexing_algorithm, IndexingAlgorithm::kIvf);
  EXPECT_EQ(c_->config().quantization.kind, Quantization::kPq4);
  EXPECT_EQ(c_->Stats().migration_state, "none");
  ASSERT_EQ(testing::CheckCollection(*c_, want_, DistanceMetric::kL2), "");

  const struct {
    StorageStrategy strategy;
    IndexingAlgorithm index;
    Quantization quantization;
    MetadataCompression compression;
    const char* field;
  } bad[] = {
      {StorageStrategy::kStandard, IndexingAlgorithm::kIvf, Quantization::kNone,
       MetadataCompression::kNone, "indexing_algorithm"},
      {StorageStrategy::kStandard, IndexingAlgorithm::kHnsw, Quantization::kNone,
       MetadataCompression::kZstd, "metadata_compression"},
      {StorageStrategy::kCustom, IndexingAlgorithm::kFlat, Quantization::kSq8,
       MetadataCompression::kNone, "quantization"},
  };
  for (const auto& b : bad) {
    CollectionConfig x = config;
    x.name = "bad";
    x.storage_strategy = b.strategy;
    x.indexing_algorithm = b.index;
    x.quantization = {b.quantization, 0, 0};
    x.metadata_compression = b.compression;
    auto s = db_->CreateCollection(x).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << b.field;
    EXPECT_NE(s.message().find(b.field), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace proximadb
