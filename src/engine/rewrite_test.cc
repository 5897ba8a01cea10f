// Compactions build their output without holding up flushes: a flush, writes and deletions go
// on while a compaction's output is being written, and the compaction's swap then keeps what
// they did, across a power cut too (the deletions it carries over that the flush already
// covered are in the new manifest, since the WAL that held them is gone).
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "env/mem_env.h"
#include "gtest/gtest.h"
#include "proximadb/database.h"

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
    EXPECT_TRUE(env_.CreateDirs("/db").ok());
    auto db = Database::Open(o);
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? *std::move(db) : nullptr;
  }

  void SetUp() override { std::remove(catalog_.c_str()); }

  GateEnv env_;
  const std::string catalog_ = ::testing::TempDir() + "/rewrite-" +
                               ::testing::UnitTest::GetInstance()->current_test_info()->name() +
                               ".db";
};

TEST_F(RewriteTest, FlushesWritesAndDeletionsGoOnWhileACompactionBuilds) {
  std::unique_ptr<Database> db = Open();
  CollectionConfig config;
  config.name = "c";
  config.dimension = kDim;
  ASSERT_TRUE(db->CreateCollection(config).ok());
  std::shared_ptr<Collection> c = *db->GetCollection("c");
  for (int s = 0; s < 3; ++s) {  // three segments of 100 records
    ASSERT_TRUE(c->Write(Records(s * 100, 100), WriteMode::kInsert).ok());
    ASSERT_TRUE(c->Flush().ok());
  }

  env_.Arm();
  absl::Status compacted;
  std::thread compaction([&] { compacted = c->Compact(); });
  env_.AwaitHeld();  // the compaction is writing its output: its snapshot is taken
  // Deletions of rows the compaction is moving, then a flush that covers them: with the
  // flush the WAL files holding the deletions go.
  ASSERT_EQ(*c->Delete({"r5", "r150", "r299"}), 3u);
  ASSERT_TRUE(c->Write(Records(300, 50), WriteMode::kInsert).ok());
  ASSERT_TRUE(c->Flush().ok());  // would wait for the compaction if flushes queued behind it
  EXPECT_EQ(c->Stats().flushes, 4u);
  ASSERT_EQ(*c->Delete({"r7"}), 1u);  // after the flush: in the WAL
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

}  // namespace
}  // namespace proximadb
