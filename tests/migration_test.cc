// Live migration through the engine: a collection's quantization changes none -> sq8 -> pq ->
// none while a writer upserts and deletes (and flushes) and a reader searches. No request may
// fail, every search must return k hits, a second layout change while one is pending is refused
// with MIGRATION_IN_PROGRESS, and after each migration (and after a reopen) every read path must
// show exactly the records written: none lost, none duplicated, counts equal.
#include <atomic>
#include <random>
#include <thread>

#include "common/errors.h"
#include "common/scoped_temp_dir.h"
#include "gtest/gtest.h"
#include "proximadb/database.h"
#include "workload.h"

namespace proximadb {
namespace {

constexpr uint32_t kDim = 16;

class MigrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.data_dir = tmp_.path();
    options_.background_maintenance = false;  // the test migrates, while the threads run
    db_ = *Database::Open(options_);
    CollectionConfig config;
    config.name = "m";
    config.dimension = kDim;
    config.metric = DistanceMetric::kL2;
    ASSERT_TRUE(db_->CreateCollection(config).ok());
    c_ = *db_->GetCollection("m");
    // Three segments of rows the threads never touch.
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(-1, 1);
    for (int s = 0; s < 3; ++s) {
      std::vector<Record> batch;
      for (int i = 0; i < 2000; ++i) {
        Record r{"p" + std::to_string(s * 2000 + i), std::vector<float>(kDim), "{\"b\":0}"};
        for (float& x : r.vector) x = u(rng);
        fixed_[r.id] = r;
        batch.push_back(std::move(r));
      }
      ASSERT_TRUE(c_->Write(std::move(batch), WriteMode::kInsert).ok());
      ASSERT_TRUE(c_->Flush().ok());
    }
  }

  testing::Records Want(uint64_t batches) const {
    testing::Records want = workload_.After(batches);
    want.insert(fixed_.begin(), fixed_.end());
    return want;
  }

  ScopedTempDir tmp_;
  DatabaseOptions options_;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Collection> c_;
  testing::Records fixed_;
  const testing::Workload workload_{"w", 11, 3000, kDim};
};

TEST_F(MigrationTest, LayoutChangesUnderConcurrentWritesAndSearches) {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> applied{0};
  std::atomic<int> failures{0};
  std::thread writer([&] {
    for (uint64_t b = 1; !stop.load(); ++b) {
      if (!workload_.Apply(*c_, b).ok()) ++failures;
      applied.store(b);
      if (b % 40 == 0 && !c_->Flush().ok()) ++failures;  // waits while a migration runs
    }
  });
  std::thread reader([&] {
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> u(-1, 1);
    while (!stop.load()) {
      std::vector<float> v(kDim);
      for (float& x : v) x = u(rng);
      SearchRequest q;
      q.vector = v;
      q.k = 10;
      auto r = c_->Search(q);
      if (!r.ok() || r->hits.size() != 10) ++failures;
    }
  });

  const Quantization layouts[] = {Quantization::kSq8, Quantization::kPq, Quantization::kNone};
  for (Quantization q : layouts) {
    const uint64_t segments = c_->Stats().segment_count;
    CollectionUpdate u;
    u.quantization = q;
    ASSERT_TRUE(db_->UpdateCollection("m", u).ok()) << QuantizationName(q);
    EXPECT_EQ(c_->Stats().migration_state, "pending");
    CollectionUpdate again;
    again.quantization = Quantization::kBinary;
    auto refused = db_->UpdateCollection("m", again);
    EXPECT_EQ(ErrorCodeOf(refused.status()), kMigrationInProgress) << refused.status();
    EXPECT_EQ(db_->DescribeCollection("m")->quantization.kind, q) << "the refused change stuck";
    ASSERT_TRUE(c_->Migrate().ok());
    const CollectionStats st = c_->Stats();
    EXPECT_EQ(st.migration_state, "none");
    EXPECT_GE(st.migration_segments_total, segments);  // flushes may have added some meanwhile
    EXPECT_EQ(st.migration_segments_done, st.migration_segments_total);
    // Rows written during the migration keep flowing in the meantime.
    const uint64_t at = applied.load();
    while (applied.load() < at + 20 && failures.load() == 0) std::this_thread::yield();
  }
  stop = true;
  writer.join();
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  const testing::Records want = Want(applied.load());
  EXPECT_EQ(*c_->Count(""), want.size());
  EXPECT_EQ(testing::CheckCollection(*c_, want, DistanceMetric::kL2), "");

  c_.reset();
  db_.reset();
  db_ = *Database::Open(options_);
  c_ = *db_->GetCollection("m");
  EXPECT_EQ(c_->config().quantization.kind, Quantization::kNone);
  EXPECT_EQ(c_->Stats().migration_state, "none");
  EXPECT_EQ(testing::CheckCollection(*c_, want, DistanceMetric::kL2), "");
}

// A layout change survives a restart before its migration ran: the collection reopens with
// the new layout, reports the migration pending, and finishes it.
TEST_F(MigrationTest, PendingMigrationResumesAfterReopen) {
  CollectionUpdate u;
  u.quantization = Quantization::kSq8;
  ASSERT_TRUE(db_->UpdateCollection("m", u).ok());
  c_.reset();
  db_.reset();
  db_ = *Database::Open(options_);
  c_ = *db_->GetCollection("m");
  EXPECT_EQ(c_->config().quantization.kind, Quantization::kSq8);
  EXPECT_EQ(c_->Stats().migration_state, "pending");
  ASSERT_TRUE(c_->Migrate().ok());
  EXPECT_EQ(c_->Stats().migration_state, "none");
  EXPECT_EQ(c_->Stats().migration_segments_done, 3u);
  EXPECT_EQ(testing::CheckCollection(*c_, Want(0), DistanceMetric::kL2), "");
  // Bad layouts are refused before anything changes.
  CollectionUpdate bad;
  bad.quantization = Quantization::kPq;
  bad.pq_m = 5;
  EXPECT_EQ(db_->UpdateCollection("m", bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = {};
  bad.indexing_algorithm = IndexingAlgorithm::kIvf;  // custom only
  EXPECT_EQ(db_->UpdateCollection("m", bad).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c_->config().quantization.kind, Quantization::kSq8);
  EXPECT_EQ(c_->Stats().migration_state, "none");
}

}  // namespace
}  // namespace proximadb
