// A full disk (ENOSPC) during a WAL append, a flush and a compaction, on the in-memory Env
// whose directories can be given a capacity: the write gets INSUFFICIENT_STORAGE and is not
// made, nothing acknowledged is lost (a power cut included), reads go on, and writes resume by
// themselves once there is space.
#include <string>
#include <vector>

#include "common/errors.h"
#include "env/fault_injection_env.h"
#include "gtest/gtest.h"
#include "proximadb/database.h"

namespace proximadb {
namespace {

constexpr uint32_t kDim = 16;

class DiskFullTest : public ::testing::Test {
 protected:
  std::unique_ptr<Database> Open() {
    DatabaseOptions o;
    o.env = &env_;
    o.data_dir = "/db";
    o.catalog_path = catalog_;
    o.background_maintenance = false;
    o.background_indexing = false;
    EXPECT_TRUE(env_.CreateDirs("/db").ok());
    auto db = Database::Open(o);
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? *std::move(db) : nullptr;
  }

  std::shared_ptr<Collection> Create(Database& db) {
    CollectionConfig config;
    config.name = "c";
    config.dimension = kDim;
    EXPECT_TRUE(db.CreateCollection(config).ok());
    return *db.GetCollection("c");
  }

  // Writes batches of 20 records until one fails: that error (the ids acknowledged in acked_).
  absl::Status FillUp(Collection& c) {
    ++round_;
    for (int batch = 0; batch < 100000; ++batch) {
      std::vector<Record> records;
      for (int i = 0; i < 20; ++i) {
        const std::string id = "r" + std::to_string(round_) + "b" + std::to_string(batch) + "-" +
                               std::to_string(i);
        records.push_back({id, std::vector<float>(kDim, float(i)), R"({"pad": "0123456789"})"});
      }
      std::vector<std::string> ids;
      for (const Record& r : records) ids.push_back(r.id);
      absl::Status s = c.Write(std::move(records), WriteMode::kInsert);
      if (!s.ok()) return s;
      acked_.insert(acked_.end(), ids.begin(), ids.end());
    }
    return absl::InternalError("the disk never filled");
  }

  void ExpectExactlyAcked(Collection& c) {
    EXPECT_EQ(*c.Count(), acked_.size());
    for (size_t i = 0; i < acked_.size(); i += 37) EXPECT_TRUE(c.Get(acked_[i]).ok()) << i;
    EXPECT_TRUE(c.Get(acked_.back()).ok());
  }

  // The power goes out (what was not synced is lost) and the database opens again.
  void PowerCutAndReopen(std::unique_ptr<Database>* db, std::shared_ptr<Collection>* c) {
    c->reset();
    env_.SimulatePowerLoss(PowerLoss{});
    db->reset();
    env_.Restart();
    *db = Open();
    *c = *(*db)->GetCollection("c");
  }

  void ExpectDiskFull(const absl::Status& s) {
    EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
    EXPECT_EQ(ErrorCodeOf(s), kInsufficientStorage) << s;
    EXPECT_NE(s.message().find("writes go on once there is space"), std::string_view::npos);
  }

  FaultInjectionEnv env_;
  std::vector<std::string> acked_;
  int round_ = 0;
  const std::string catalog_ = ::testing::TempDir() + "/disk-full-" +
                               ::testing::UnitTest::GetInstance()->current_test_info()->name() +
                               ".db";
};

TEST_F(DiskFullTest, WalAppendsFailUntilSpaceReturnsAndNothingAcknowledgedIsLost) {
  std::remove(catalog_.c_str());
  auto db = Open();
  auto c = Create(*db);
  env_.SetCapacity("/db", 256 << 10);
  ExpectDiskFull(FillUp(*c));
  ASSERT_GT(acked_.size(), 100u);
  // Again: still full, still refused, and the writes are not stopped for good.
  const size_t before = acked_.size();
  ExpectDiskFull(FillUp(*c));
  EXPECT_EQ(acked_.size(), before);
  EXPECT_EQ(c->Stats().background_error, "");
  ExpectExactlyAcked(*c);  // reads go on
  auto hits = c->Search({.vector = std::vector<float>(kDim, 3.f), .k = 5});
  ASSERT_TRUE(hits.ok()) << hits.status();
  EXPECT_EQ(hits->hits.size(), 5u);

  env_.SetCapacity("/db", 0);  // space again: the next write goes through, without a reopen
  ASSERT_TRUE(c->Write({{"late", std::vector<float>(kDim, 1.f), "{}"}}, WriteMode::kInsert).ok());
  acked_.push_back("late");
  ExpectExactlyAcked(*c);

  // A power cut loses nothing acknowledged, and brings back nothing refused.
  PowerCutAndReopen(&db, &c);
  ExpectExactlyAcked(*c);
}

TEST_F(DiskFullTest, AnAppendThatFailsHalfWayIsUndone) {
  std::remove(catalog_.c_str());
  auto db = Open();
  auto c = Create(*db);
  acked_.clear();
  ASSERT_TRUE(c->Write({{"a", std::vector<float>(kDim, 1.f), "{}"}}, WriteMode::kInsert).ok());
  acked_.push_back("a");
  // The next WAL append fails as a full disk would.
  env_.FailAfter(FaultInjectionEnv::Op::kAppend, "wal-", 0, 1,
                 absl::StatusCode::kResourceExhausted);
  ExpectDiskFull(c->Write({{"b", std::vector<float>(kDim, 2.f), "{}"}}, WriteMode::kInsert));
  EXPECT_EQ(c->Get("b").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(c->Write({{"c", std::vector<float>(kDim, 3.f), "{}"}}, WriteMode::kInsert).ok());
  acked_.push_back("c");
  PowerCutAndReopen(&db, &c);
  ExpectExactlyAcked(*c);
  EXPECT_EQ(c->Get("b").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(DiskFullTest, FlushAndCompactionFailUntilSpaceReturns) {
  std::remove(catalog_.c_str());
  auto db = Open();
  auto c = Create(*db);
  env_.SetCapacity("/db", 512 << 10);
  ExpectDiskFull(FillUp(*c));
  // The WAL took the disk: a flush has no room for its segment, and says so.
  absl::Status flush = c->Flush();
  EXPECT_EQ(flush.code(), absl::StatusCode::kResourceExhausted) << flush;
  ExpectExactlyAcked(*c);
  env_.SetCapacity("/db", 0);
  ASSERT_TRUE(c->Flush().ok());
  ASSERT_TRUE(c->Write({{"x", std::vector<float>(kDim, 1.f), "{}"}}, WriteMode::kInsert).ok());
  acked_.push_back("x");
  ASSERT_TRUE(c->Flush().ok());
  // A compaction with no room for its output leaves the inputs serving.
  env_.SetCapacity("/db", 1);  // whatever is there, nothing more fits
  EXPECT_FALSE(c->Compact().ok());
  ExpectExactlyAcked(*c);
  env_.SetCapacity("/db", 0);
  ASSERT_TRUE(c->Compact().ok());
  ExpectExactlyAcked(*c);
  c.reset();
  db.reset();
  db = Open();
  ExpectExactlyAcked(**db->GetCollection("c"));
}

}  // namespace
}  // namespace proximadb
