// Compactions build their output without holding up flushes: a flush, writes and deletions go
// on while a compaction's output is being written, and the compaction's swap then keeps what
// they did, across a power cut too (the deletions it carries over that the flush already
// covered are in the new manifest, since the WAL that held them is gone). A tier change that
// moves an input meanwhile makes the compaction give its output up and start again. A flush
// that built its segment with the layout a change just replaced is migrated by the same pass.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "engine/collection_impl.h"
#include "env/mem_env.h"
#include "gtest/gtest.h"
#include "proximadb/database.h"
#include "storage/file_names.h"

namespace proximadb {
namespace {

constexpr uint32_t kDim = 8;

// Holds the first segment file created after Arm() until Release(); everything else passes.
class GateEnv : public MemEnv {
 public:
  void Arm() {
    absl::MutexLock l(&gate_mu_);
    armed_ = true;
  }
  void AwaitHeld() {
    absl::MutexLock l(&gate_mu_);
    gate_mu_.Await(absl::Condition(&held_));
  }
  void Release() {
    absl::MutexLock l(&gate_mu_);
    released_ = true;
  }

 protected:
  absl::Status MaybeFail(Op op, const std::string& path) override {
    if (op == Op::kCreate && path.find(".pxs") != std::string::npos) {
      absl::MutexLock l(&gate_mu_);
      if (armed_) {
        armed_ = false;
        held_ = true;
        gate_mu_.Await(absl::Condition(&released_));
      }
    }
    return MemEnv::MaybeFail(op, path);
  }

 private:
  absl::Mutex gate_mu_;
  bool armed_ = false;
  bool held_ = false;
  bool released_ = false;
};

std::vector<Record> Records(int first, int n) {
  std::vector<Record> records;
  for (int i = first; i < first + n; ++i) {
    records.push_back({"r" + std::to_string(i), std::vector<float>(kDim, float(i)), "{}"});
  }
  return records;
}

class RewriteTest : public ::testing::Test {
 protected:
  std::unique_ptr<Database> Open() {
    DatabaseOptions o;
    o.env = &env_;
    o.data_dir = "/db";
    o.catalog_path = catalog_;  // SQLite, on the real file system
    o.background_maintenance = false;
    o.background_indexing = false;
    o.hot_directories = {"/hot"};
    o.warm_directories = {"/warm"};
    for (const char* dir : {"/db", "/hot", "/warm"}) EXPECT_TRUE(env_.CreateDirs(dir).ok());
    auto db = Database::Open(o);
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? *std::move(db) : nullptr;
  }

  // A collection of three flushed segments of 100 records each.
  std::shared_ptr<Collection> Fill(Database& db) {
    CollectionConfig config;
    config.name = "c";
    config.dimension = kDim;
    EXPECT_TRUE(db.CreateCollection(config).ok());
    std::shared_ptr<Collection> c = *db.GetCollection("c");
    for (int s = 0; s < 3; ++s) {
      EXPECT_TRUE(c->Write(Records(s * 100, 100), WriteMode::kInsert).ok());
      EXPECT_TRUE(c->Flush().ok());
    }
    return c;
  }

  // A compaction of `c` on a thread of its own, held as it creates its output file (its
  // snapshot taken); its status goes to `compacted` once it ends.
  std::thread HeldCompaction(Collection& c, absl::Status* compacted) {
    env_.Arm();
    std::thread compaction([&c, compacted] { *compacted = c.Compact(); });
    env_.AwaitHeld();
    return compaction;
  }

  // Segment files under `base`, whether a manifest names them or not.
  int SegmentFiles(const std::string& base) {
    int n = 0;
    auto dirs = env_.ListDir(base + "/collections");
    for (const std::string& d : dirs.ok() ? *dirs : std::vector<std::string>{}) {
      const auto names = env_.ListDir(base + "/collections/" + d);
      for (const std::string& name : names.ok() ? *names : std::vector<std::string>{}) {
        uint64_t number;
        n += ParseFileName(name, &number) == FileKind::kSegment;
      }
    }
    return n;
  }

  void SetUp() override { std::remove(catalog_.c_str()); }

  GateEnv env_;
  const std::string catalog_ = ::testing::TempDir() + "/rewrite-" +
                               ::testing::UnitTest::GetInstance()->current_test_info()->name() +
                               ".db";
};

TEST_F(RewriteTest, FlushesWritesAndDeletionsGoOnWhileACompactionBuilds) {
  std::unique_ptr<Database> db = Open();
  std::shared_ptr<Collection> c = Fill(*db);

  absl::Status compacted;
  std::thread compaction = HeldCompaction(*c, &compacted);
  // Deletions of rows the compaction is moving, then a flush that covers them: with the
  // flush the WAL files holding the deletions go.
  EXPECT_EQ(*c->Delete({"r5", "r150", "r299"}), 3u);
  EXPECT_TRUE(c->Write(Records(300, 50), WriteMode::kInsert).ok());
  EXPECT_TRUE(c->Flush().ok());  // would wait for the compaction if flushes queued behind it
  EXPECT_EQ(c->Stats().flushes, 4u);
  EXPECT_EQ(*c->Delete({"r7"}), 1u);  // after the flush: in the WAL
  env_.Release();
  compaction.join();
  ASSERT_TRUE(compacted.ok()) << compacted;

  auto expect_state = [](Collection& c) {
    EXPECT_EQ(*c.Count(), 346u);
    for (const char* gone : {"r5", "r7", "r150", "r299"}) {
      EXPECT_EQ(c.Get(gone).status().code(), absl::StatusCode::kNotFound) << gone;
    }
    for (const char* kept : {"r0", "r6", "r298", "r300", "r349"}) {
      EXPECT_TRUE(c.Get(kept).ok()) << kept;
    }
  };
  EXPECT_EQ(c->Stats().compactions, 1u);
  EXPECT_EQ(c->Stats().segment_count, 2u);  // the compacted one and the flush's
  EXPECT_EQ(SegmentFiles("/hot"), 2);
  expect_state(*c);

  // Everything above was synced (default durability): a power cut loses none of it.
  c.reset();
  env_.SimulatePowerLoss(PowerLoss{});
  db.reset();
  env_.Restart();
  db = Open();
  c = *db->GetCollection("c");
  expect_state(*c);
}

TEST_F(RewriteTest, ATierChangeDuringACompactionMakesItStartAgain) {
  std::unique_ptr<Database> db = Open();
  std::shared_ptr<Collection> c = Fill(*db);
  ASSERT_EQ(SegmentFiles("/hot"), 3);

  absl::Status compacted;
  std::thread compaction = HeldCompaction(*c, &compacted);
  // The three inputs move to the warm tier meanwhile (the tier change is not held up either).
  CollectionUpdate u;
  u.tiering = TieringPolicy{.warm_after_hours = 0.0};
  EXPECT_TRUE(db->UpdateCollection("c", u).ok());
  EXPECT_TRUE(c->ApplyTiering().ok());
  EXPECT_EQ(SegmentFiles("/warm"), 3);
  env_.Release();
  compaction.join();
  // The first output was given up and removed; the second attempt compacted the moved ones.
  ASSERT_TRUE(compacted.ok()) << compacted;
  EXPECT_EQ(c->Stats().compactions, 1u);
  EXPECT_EQ(c->Stats().segment_count, 1u);
  EXPECT_EQ(SegmentFiles("/hot") + SegmentFiles("/warm"), 1);
  EXPECT_EQ(*c->Count(), 300u);
  for (const char* id : {"r0", "r150", "r299"}) EXPECT_TRUE(c->Get(id).ok()) << id;
}

TEST_F(RewriteTest, ADropGivesUpACompactionUnderWay) {
  std::unique_ptr<Database> db = Open();
  std::shared_ptr<Collection> c = Fill(*db);
  const auto& impl = static_cast<const CollectionImpl&>(*c);

  absl::Status compacted;
  std::thread compaction = HeldCompaction(*c, &compacted);
  absl::Status dropped;
  std::thread drop([&] { dropped = db->DropCollection("c"); });
  // Until the drop has asked (bounded: without the request the test fails, not hangs).
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!impl.RewritesCancelled() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::yield();
  }
  EXPECT_TRUE(impl.RewritesCancelled()) << "the drop did not ask the compaction to stop";
  env_.Release();
  compaction.join();
  drop.join();
  EXPECT_TRUE(dropped.ok()) << dropped;
  // Given up: it did not finish its output and swap it in before the drop could go on.
  EXPECT_EQ(compacted.code(), absl::StatusCode::kFailedPrecondition) << compacted;
  EXPECT_NE(compacted.message().find("was dropped"), std::string::npos) << compacted;
  EXPECT_EQ(c->Stats().compactions, 0u);
  EXPECT_EQ(db->GetCollection("c").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(RewriteTest, AShutdownGivesUpACompactionWhichRunsAgainAfterTheReopen) {
  std::unique_ptr<Database> db = Open();
  std::shared_ptr<Collection> c = Fill(*db);

  absl::Status compacted;
  std::thread compaction = HeldCompaction(*c, &compacted);
  db->BeginShutdown();  // as the server on SIGTERM, before it waits for requests in flight
  env_.Release();
  compaction.join();
  EXPECT_EQ(compacted.code(), absl::StatusCode::kUnavailable) << compacted;
  EXPECT_NE(compacted.message().find("is closing"), std::string::npos) << compacted;
  EXPECT_EQ(c->Compact().code(), absl::StatusCode::kUnavailable);  // later ones too, at once
  EXPECT_EQ(c->Stats().compactions, 0u);
  EXPECT_EQ(*c->Count(), 300u);  // reads go on
  ASSERT_FALSE(c->History().empty());
  EXPECT_EQ(c->History()[0].kind, "compaction");
  EXPECT_NE(c->History()[0].error.find("is closing"), std::string::npos);
  EXPECT_EQ(SegmentFiles("/hot"), 3);  // the inputs; the output was removed
  c.reset();
  db.reset();

  db = Open();
  c = *db->GetCollection("c");
  EXPECT_EQ(c->Stats().segment_count, 3u);
  EXPECT_EQ(*c->Count(), 300u);
  ASSERT_TRUE(c->Compact().ok());
  EXPECT_EQ(c->Stats().segment_count, 1u);
  EXPECT_EQ(SegmentFiles("/hot"), 1);
  EXPECT_EQ(*c->Count(), 300u);
}

TEST_F(RewriteTest, AMigrationWaitsForAFlushBuildingWithThePreviousLayout) {
  std::unique_ptr<Database> db = Open();
  std::shared_ptr<Collection> c = Fill(*db);
  EXPECT_TRUE(c->Write(Records(300, 100), WriteMode::kInsert).ok());

  env_.Arm();
  absl::Status flushed;
  std::thread flush([&] { flushed = c->Flush(); });
  env_.AwaitHeld();  // the flush is writing a segment of the layout in force
  CollectionUpdate u;
  u.quantization = Quantization::kSq8;
  ASSERT_TRUE(db->UpdateCollection("c", u).ok());
  absl::Status migrated;
  std::thread migration([&] { migrated = c->Migrate(); });
  env_.Release();
  flush.join();
  migration.join();
  ASSERT_TRUE(flushed.ok()) << flushed;
  ASSERT_TRUE(migrated.ok()) << migrated;
  const CollectionStats st = c->Stats();
  EXPECT_EQ(st.migration_state, "none");  // the flush's segment too
  EXPECT_EQ(st.migration_segments_done, 4u);
  EXPECT_EQ(st.migration_segments_total, 4u);
  EXPECT_EQ(*c->Count(), 400u);
}

}  // namespace
}  // namespace proximadb
