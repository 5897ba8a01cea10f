// Power loss: concurrent writers, flushes and compactions run on the fault-injecting Env until
// the power goes out at a random moment (optionally with fsync/rename failures injected into
// flushes and compactions first). After the restart the database must open, every
// acknowledged batch must be there entirely, and at most the one batch each writer had in
// flight may be there too, entirely or not at all.
#include <atomic>
#include <thread>

#include "common/scoped_temp_dir.h"
#include "env/fault_injection_env.h"
#include "gtest/gtest.h"
#include "proximadb/database.h"
#include "workload.h"

namespace proximadb {
namespace {

using testing::Workload;
using Op = FaultInjectionEnv::Op;

constexpr int kWriters = 3;

class PowerLossTest : public ::testing::TestWithParam<int> {
 protected:
  absl::StatusOr<std::unique_ptr<Database>> Open() {
    DatabaseOptions o;
    o.env = &env_;
    o.data_dir = "/data";
    o.catalog_path = tmp_.path() + "/catalog.db";  // SQLite keeps its own durability (see catalog.h)
    o.background_maintenance = false;
    return Database::Open(o);
  }

  ScopedTempDir tmp_;
  FaultInjectionEnv env_;
};

TEST_P(PowerLossTest, AcknowledgedBatchesSurviveAndNoBatchIsHalfApplied) {
  const int scenario = GetParam();
  std::mt19937_64 rng(1000 + scenario);
  std::vector<Workload> workloads;
  for (int t = 0; t < kWriters; ++t) {
    workloads.emplace_back("t" + std::to_string(t) + "-", scenario * 10 + t, 60, 6);
  }
  std::vector<uint64_t> done(kWriters, 0);  // batches known to be in the collection

  {
    auto db = Open();
    ASSERT_TRUE(db.ok()) << db.status();
    CollectionConfig c;
    c.name = "pl";
    c.dimension = 6;
    ASSERT_TRUE((*db)->CreateCollection(c).ok());
  }

  for (int crash = 0; crash < 4; ++crash) {
    auto db_or = Open();
    ASSERT_TRUE(db_or.ok()) << "crash " << crash << ": " << db_or.status();
    std::unique_ptr<Database> db = *std::move(db_or);
    auto coll = *db->GetCollection("pl");

    // Check the state against what was acknowledged before the last power loss.
    for (int t = 0; t < kWriters; ++t) {
      std::string why;
      auto state = workloads[t].Read(*coll, &why);
      ASSERT_TRUE(state.has_value()) << why;
      if (*state == workloads[t].StateAfter(done[t])) continue;
      ASSERT_EQ(*state, workloads[t].StateAfter(done[t] + 1))
          << "writer " << t << " after crash " << crash << ": neither " << done[t] << " nor "
          << done[t] + 1 << " batches";
      ++done[t];  // the batch in flight made it
    }

    // Some scenarios also fail fsyncs and renames of flushes and compactions.
    if (scenario % 2 == 1) {
      env_.FailOneIn(Op::kSync, "seg-", 3, rng());
      env_.FailOneIn(Op::kRename, "MANIFEST", 3, rng());
      env_.FailOneIn(Op::kSyncDir, "collections/", 8, rng());
    }

    std::vector<uint64_t> acked = done;
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kWriters; ++t) {
      threads.emplace_back([&, t] {
        while (!stop) {
          if (!workloads[t].Apply(*coll, acked[t] + 1).ok()) return;  // in flight: unknown
          ++acked[t];
        }
      });
    }
    threads.emplace_back([&] {
      std::mt19937 local(static_cast<uint32_t>(rng()));
      while (!stop) {
        if (local() % 3 == 0) {
          coll->Compact().IgnoreError();
        } else {
          coll->Flush().IgnoreError();
        }
        std::this_thread::sleep_for(std::chrono::microseconds(local() % 2000));
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 40));
    env_.SimulatePowerLoss();
    stop = true;
    for (auto& th : threads) th.join();
    coll.reset();
    db.reset();  // runs with the power off: nothing it does can become durable
    env_.ClearFaults();
    env_.Restart();
    done = acked;
  }
  uint64_t total = 0;
  for (uint64_t d : done) total += d;
  EXPECT_GT(total, 0u);
}

INSTANTIATE_TEST_SUITE_P(Scenarios, PowerLossTest, ::testing::Range(0, 12));

}  // namespace
}  // namespace proximadb
