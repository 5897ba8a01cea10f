// Failures injected at each I/O step of flush and compaction, torn and corrupt WALs, and the
// async durability mode, on the fault-injecting in-memory Env.
#include <thread>

#include "absl/strings/match.h"
#include "common/scoped_temp_dir.h"
#include "env/fault_injection_env.h"
#include "gtest/gtest.h"
#include "proximadb/database.h"

namespace proximadb {
namespace {

using Op = FaultInjectionEnv::Op;

class FaultTest : public ::testing::Test {
 protected:
  void TearDown() override {
    coll_.reset();
    db_.reset();
  }
  absl::Status Open(Durability durability = Durability::kSync) {
    coll_.reset();
    db_.reset();
    DatabaseOptions o;
    o.env = env_.get();
    o.data_dir = "/data";
    o.catalog_path = tmp_.path() + "/catalog-" + std::to_string(machine_) + ".db";
    o.background_maintenance = false;
    o.durability = durability;
    o.async_sync_interval_ms = 20;
    auto db = Database::Open(o);
    if (!db.ok()) return db.status();
    db_ = *std::move(db);
    if (!db_->GetCollection("c").ok()) {
      CollectionConfig c;
      c.name = "c";
      c.dimension = 2;
      if (auto s = db_->CreateCollection(c); !s.ok()) return s.status();
    }
    coll_ = *db_->GetCollection("c");
    return absl::OkStatus();
  }
  absl::Status Put(int i) {
    return coll_->Upsert({"id" + std::to_string(i), {float(i), 1}, "{}"});
  }
  // Every id in [0, n) present with its vector, and nothing else.
  void ExpectIds(int n) {
    EXPECT_EQ(*coll_->Count(), uint64_t(n));
    for (int i = 0; i < n; ++i) {
      auto r = coll_->Get("id" + std::to_string(i));
      ASSERT_TRUE(r.ok()) << i << ": " << r.status();
      EXPECT_EQ(r->vector[0], float(i));
    }
  }
  // The power goes out and comes back; the reopened collection holds exactly ids [0, n).
  void PowerCycleAndExpectIds(int n) {
    env_->SimulatePowerLoss();
    env_->Restart();
    ASSERT_TRUE(Open().ok());
    ExpectIds(n);
    coll_.reset();
    db_.reset();
  }
  std::string CollectionDir() { return "/data/collections/" + (*env_->ListDir("/data/collections"))[0]; }
  std::string NewestWal() {
    std::string newest;
    const std::vector<std::string> names = *env_->ListDir(CollectionDir());
    for (const std::string& n : names) {
      if (n.starts_with("wal-") && n > newest) newest = n;
    }
    return CollectionDir() + "/" + newest;
  }

  // A fresh machine: an empty file system (and a catalog of its own).
  void NewMachine() {
    coll_.reset();
    db_.reset();
    env_ = std::make_unique<FaultInjectionEnv>();
    ++machine_;
  }

  ScopedTempDir tmp_;
  std::unique_ptr<FaultInjectionEnv> env_ = std::make_unique<FaultInjectionEnv>();
  int machine_ = 0;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Collection> coll_;
};

struct FaultPoint {
  Op op;
  const char* path;
  bool sticky;  // the manifest may have switched: writes stop until reopen
};

const FaultPoint kFaultPoints[] = {
    {Op::kCreate, "seg-", false},      {Op::kAppend, "seg-", false},
    {Op::kSync, "seg-", false},        {Op::kSyncDir, "collections/", false},
    {Op::kCreate, "MANIFEST", false},  {Op::kSync, "MANIFEST", false},
    {Op::kRename, "MANIFEST", false},
};

TEST_F(FaultTest, FailedFlushIsReportedChangesNothingAndIsRetried) {
  for (const FaultPoint& fp : kFaultPoints) {
    SCOPED_TRACE(std::string(fp.path) + " op " + std::to_string(int(fp.op)));
    NewMachine();
    ASSERT_TRUE(Open().ok());
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(Put(i).ok());
    env_->FailAfter(fp.op, fp.path, 0);
    absl::Status s = coll_->Flush();
    EXPECT_FALSE(s.ok());
    EXPECT_TRUE(absl::StrContains(s.message(), "injected")) << s;
    ExpectIds(20);                   // reads still see everything
    ASSERT_TRUE(Put(20).ok());       // writes go on: nothing changed on disk
    env_->ClearFaults();
    ASSERT_TRUE(coll_->Flush().ok());  // the retry flushes both memtables
    EXPECT_EQ(coll_->Stats().memtable_rows, 0u);
    ASSERT_TRUE(Put(21).ok());
    PowerCycleAndExpectIds(22);
  }
}

TEST_F(FaultTest, FailedManifestDirectorySyncStopsWritesUntilReopen) {
  ASSERT_TRUE(Open().ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(Put(i).ok());
  // Directory fsyncs of a flush: the new WAL file's, the segment's, then the manifest's (after
  // its rename).
  env_->FailAfter(Op::kSyncDir, "collections/", 2);
  absl::Status s = coll_->Flush();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "reopened")) << s;
  ExpectIds(10);
  EXPECT_EQ(Put(10).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(coll_->Stats().background_error.empty());
  // Either manifest may have survived; both recover the same records.
  env_->SimulatePowerLoss();
  env_->Restart();
  env_->ClearFaults();
  ASSERT_TRUE(Open().ok());
  ExpectIds(10);
  ASSERT_TRUE(Put(10).ok());
}

TEST_F(FaultTest, FailedCompactionIsReportedAndChangesNothing) {
  for (const FaultPoint& fp : kFaultPoints) {
    SCOPED_TRACE(std::string(fp.path) + " op " + std::to_string(int(fp.op)));
    NewMachine();
    ASSERT_TRUE(Open().ok());
    for (int round = 0; round < 3; ++round) {
      for (int i = 0; i < 10; ++i) ASSERT_TRUE(Put(round * 10 + i).ok());
      ASSERT_TRUE(coll_->Flush().ok());
    }
    ASSERT_EQ(*coll_->Delete({"id0", "id15"}), 2u);
    ASSERT_TRUE(coll_->Upsert({"id0", {0, 1}, "{}"}).ok());
    env_->FailAfter(fp.op, fp.path, 0);
    EXPECT_FALSE(coll_->Compact().ok());
    EXPECT_EQ(coll_->Stats().segment_count, 3u);
    env_->ClearFaults();
    ASSERT_TRUE(coll_->Upsert({"id15", {15, 1}, "{}"}).ok());
    ASSERT_TRUE(coll_->Compact().ok());
    EXPECT_EQ(coll_->Stats().segment_count, 1u);
    ExpectIds(30);
    PowerCycleAndExpectIds(30);
  }
}

TEST_F(FaultTest, TornWalTailIsDroppedAndCorruptionIsReported) {
  ASSERT_TRUE(Open().ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Put(i).ok());
  coll_.reset();
  db_.reset();
  const std::string wal = NewestWal();
  const uint64_t size = *env_->FileSize(wal);
  // A torn final write: the start of another record.
  const std::string bytes = *env_->ReadFile(wal);
  auto torn = env_->NewWritableFile(wal);
  ASSERT_TRUE((*torn)->Append(bytes + bytes.substr(0, 20)).ok());
  ASSERT_TRUE(Open().ok());
  ExpectIds(5);
  EXPECT_EQ(*env_->FileSize(wal), size);  // truncated back to the last complete record
  ASSERT_TRUE(Put(5).ok());
  coll_.reset();
  db_.reset();

  // Damage in the middle of the newest WAL: open fails and names the file and the offset.
  const std::string newest = NewestWal();
  const std::string good = *env_->ReadFile(newest);
  ASSERT_GT(good.size(), 10u);
  std::string damaged = good;
  damaged[10] ^= 0x40;
  auto rewrite = env_->NewWritableFile(newest);
  ASSERT_TRUE((*rewrite)->Append(damaged + good).ok());  // a valid record follows the damage
  absl::Status s = Open();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), newest)) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "offset 0")) << s;
}

TEST_F(FaultTest, AsyncDurabilitySyncsOnATimer) {
  ASSERT_TRUE(Open(Durability::kAsync).ok());
  const uint64_t syncs = env_->sync_count();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(Put(i).ok());
  EXPECT_LT(env_->sync_count() - syncs, 50u);  // no fsync per write
  // Nothing calls Sync: wait for the timer's next fsync, which covers every write above (a
  // MemEnv fsync copies the file's bytes at the moment it counts).
  const uint64_t after_writes = env_->sync_count();
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (env_->sync_count() == after_writes && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_GT(env_->sync_count(), after_writes) << "no background fsync in 30 s";
  PowerCycleAndExpectIds(50);
}

}  // namespace
}  // namespace proximadb
