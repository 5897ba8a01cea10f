// Collection::History: every flush, compaction and migration is listed, newest first, with
// what it read and wrote; a failed one with its error; and only the last kHistoryEvents.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "common/scoped_temp_dir.h"
#include "env/fault_injection_env.h"
#include "gtest/gtest.h"
#include "proximadb/database.h"

namespace proximadb {
namespace {

using Op = FaultInjectionEnv::Op;

class HistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DatabaseOptions o;
    o.env = &env_;
    o.data_dir = "/data";
    o.catalog_path = tmp_.path() + "/catalog.db";
    o.background_maintenance = false;
    auto db = Database::Open(o);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    CollectionConfig c;
    c.name = "c";
    c.dimension = 4;
    ASSERT_TRUE(db_->CreateCollection(c).ok());
    coll_ = *db_->GetCollection("c");
  }
  // Writes ids [first, first + n).
  void Put(int first, int n) {
    std::vector<Record> records;
    for (int i = first; i < first + n; ++i) {
      records.push_back({"id" + std::to_string(i), {float(i), 1, 2, 3}, "{}"});
    }
    ASSERT_TRUE(coll_->Write(std::move(records), WriteMode::kUpsert).ok());
  }

  ScopedTempDir tmp_;
  FaultInjectionEnv env_;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Collection> coll_;
};

TEST_F(HistoryTest, ListsFlushesAndCompactionsNewestFirstWithWhatTheyWrote) {
  EXPECT_TRUE(coll_->History().empty());
  ASSERT_TRUE(coll_->Flush().ok());  // nothing to flush: not an event
  EXPECT_TRUE(coll_->History().empty());
  const int64_t before_us = absl::ToUnixMicros(absl::Now());
  for (int i = 0; i < 3; ++i) {
    Put(i * 100, 100);
    ASSERT_TRUE(coll_->Flush().ok());
  }
  ASSERT_TRUE(coll_->Delete({"id0", "id1"}).ok());
  ASSERT_TRUE(coll_->Compact().ok());

  const std::vector<MaintenanceEvent> events = coll_->History();
  ASSERT_EQ(events.size(), 4u);
  const MaintenanceEvent& compaction = events[0];
  EXPECT_EQ(compaction.kind, "compaction");
  EXPECT_EQ(compaction.segments_in, 3u);
  EXPECT_EQ(compaction.segments_out, 1u);
  EXPECT_EQ(compaction.rows, 298u);  // the two deleted rows dropped
  EXPECT_GT(compaction.bytes, 298u * 4 * sizeof(float));
  EXPECT_TRUE(compaction.error.empty()) << compaction.error;
  for (size_t i = 1; i < events.size(); ++i) {
    const MaintenanceEvent& flush = events[i];
    EXPECT_EQ(flush.kind, "flush");
    EXPECT_EQ(flush.segments_in, 0u);
    EXPECT_EQ(flush.segments_out, 1u);
    EXPECT_EQ(flush.rows, 100u);
    EXPECT_GT(flush.bytes, 100u * 4 * sizeof(float));
    EXPECT_GE(flush.seconds, 0);
    EXPECT_LE(flush.started_at_us, events[i - 1].started_at_us) << "newest first";
    EXPECT_GE(flush.started_at_us, before_us);
  }
}

TEST_F(HistoryTest, AFailedFlushIsListedWithItsError) {
  Put(0, 10);
  env_.FailAfter(Op::kCreate, "MANIFEST", 0);
  ASSERT_FALSE(coll_->Flush().ok());
  env_.ClearFaults();
  ASSERT_TRUE(coll_->Flush().ok());

  const std::vector<MaintenanceEvent> events = coll_->History();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, "flush");
  EXPECT_TRUE(events[0].error.empty());
  EXPECT_EQ(events[0].rows, 10u);
  EXPECT_EQ(events[1].kind, "flush");
  EXPECT_TRUE(absl::StrContains(events[1].error, "injected")) << events[1].error;
  EXPECT_EQ(events[1].segments_out, 0u) << "a failed flush wrote nothing";
}

TEST_F(HistoryTest, ListsAMigrationAfterALayoutChange) {
  for (int i = 0; i < 2; ++i) {
    Put(i * 50, 50);
    ASSERT_TRUE(coll_->Flush().ok());
  }
  CollectionUpdate u;
  u.quantization = Quantization::kSq8;
  ASSERT_TRUE(db_->UpdateCollection("c", u).ok());
  ASSERT_TRUE(coll_->Migrate().ok());

  const MaintenanceEvent migration = coll_->History().front();
  EXPECT_EQ(migration.kind, "migration");
  EXPECT_EQ(migration.segments_in, 2u);
  EXPECT_EQ(migration.segments_out, 2u);
  EXPECT_EQ(migration.rows, 100u);
}

TEST_F(HistoryTest, KeepsOnlyTheLastEvents) {
  for (size_t i = 0; i < kHistoryEvents + 5; ++i) {
    Put(static_cast<int>(i), 1);
    ASSERT_TRUE(coll_->Flush().ok());
  }
  const std::vector<MaintenanceEvent> events = coll_->History();
  ASSERT_EQ(events.size(), kHistoryEvents);
  EXPECT_EQ(events.back().kind, "flush");
  for (size_t i = 1; i < events.size(); ++i) {
    EXPECT_LE(events[i].started_at_us, events[i - 1].started_at_us);
  }
}

}  // namespace
}  // namespace proximadb
