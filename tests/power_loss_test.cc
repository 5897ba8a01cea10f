// Power loss, on the fault-injecting in-memory Env (env/mem_env.h has the model: unsynced
// bytes are lost or torn, and each directory change not made durable by a directory fsync
// survives or is lost on its own).
//
// Scenarios: concurrent writers, flushes and compactions run until the power goes out at a
// random moment (optionally with fsync/rename failures injected first), four times over.
// Sweep: the power goes out right after each step of a flush, a write and a compaction in
// turn, with every combination of the directory changes then pending surviving.
//
// After each restart the database must open, every acknowledged batch must be there entirely,
// at most the batch each writer had in flight may be there too (entirely or not at all), and
// every read path (get, count, scroll, search, filtered or not) must agree with that state.
#include <atomic>
#include <cstdlib>
#include <thread>

#include "common/scoped_temp_dir.h"
#include "env/fault_injection_env.h"
#include "gtest/gtest.h"
#include "proximadb/database.h"
#include "workload.h"

namespace proximadb {
namespace {

using testing::Records;
using testing::Workload;
using Op = FaultInjectionEnv::Op;

absl::StatusOr<std::unique_ptr<Database>> OpenOn(FaultInjectionEnv* env,
                                                 const std::string& catalog) {
  DatabaseOptions o;
  o.env = env;
  o.data_dir = "/data";
  o.catalog_path = catalog;  // SQLite keeps its own durability (see catalog.h)
  o.background_maintenance = false;
  return Database::Open(o);
}

// Advances done[t] past a batch in flight that made it, then checks every read path against
// the records the writers' batches 1..done[t] leave.
void CheckRecovered(Collection& c, const std::vector<Workload>& workloads,
                    std::vector<uint64_t>* done, const std::string& when) {
  Records want;
  for (size_t t = 0; t < workloads.size(); ++t) {
    std::string why;
    const std::optional<uint64_t> beyond = workloads[t].BatchesBeyond(c, (*done)[t], &why);
    ASSERT_TRUE(beyond.has_value()) << when << ": writer " << t << ": " << why;
    (*done)[t] += *beyond;
    want.merge(workloads[t].After((*done)[t]));
  }
  ASSERT_EQ(testing::CheckCollection(c, want, DistanceMetric::kCosine), "") << when;
}

class PowerLossTest : public ::testing::TestWithParam<int> {
 protected:
  absl::StatusOr<std::unique_ptr<Database>> Open() {
    return OpenOn(&env_, tmp_.path() + "/catalog.db");
  }

  ScopedTempDir tmp_;
  FaultInjectionEnv env_;
};

constexpr int kWriters = 3;
// Per scenario: 4 in `make test` (48 in all); `make soak` sets PROXIMADB_POWER_LOSSES_EACH=84
// (1,008 in all).
const int kCrashes = [] {
  const char* each = std::getenv("PROXIMADB_POWER_LOSSES_EACH");
  return each != nullptr ? std::atoi(each) : 4;
}();

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
    // A third of the scenarios write viper segments (partitioned, rows reordered, dead rows
    // dropped, metadata compressed) and a third quantized standard ones.
    if (scenario % 3 == 2) c.storage_strategy = StorageStrategy::kViper;
    if (scenario % 3 == 1) c.quantization.kind = Quantization::kSq8;
    ASSERT_TRUE((*db)->CreateCollection(c).ok());
  }

  for (int crash = 0; crash <= kCrashes; ++crash) {
    auto db_or = Open();
    ASSERT_TRUE(db_or.ok()) << "after crash " << crash << ": " << db_or.status();
    std::unique_ptr<Database> db = *std::move(db_or);
    auto coll = *db->GetCollection("pl");
    CheckRecovered(*coll, workloads, &done, "after crash " + std::to_string(crash));
    if (crash == kCrashes) break;

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
    // The power goes out at a random moment (this sleep only places it; nothing waits on it).
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 40));
    env_.SimulatePowerLoss(
        PowerLoss{.kept_entry_ops = rng(), .tail = PowerLoss::Tail::kTorn, .seed = rng()});
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

// The power goes out right after the n-th file operation of: a flush, five more batches, a
// compaction (with a flushed segment and deletions before them), for every n; for each n with
// every subset of the (first six) directory changes then pending surviving, and once with
// every change and every unsynced byte surviving but the last few garbled.
TEST(PowerLossSweepTest, EveryStepOfFlushWriteAndCompaction) {
  ScopedTempDir tmp;
  const Workload workload("s-", 5, 80, 6);
  constexpr uint64_t kBefore = 40, kAfter = 45;
  int runs = 0;
  struct Run {
    uint64_t acked = 0;     // batches acknowledged
    int ops = 0;            // operations counted after arming
    bool cut = false;       // whether the power went out
    size_t pending = 0;     // directory changes pending then
  };
  // Runs the sequence on a fresh machine with the power cut after `n` operations (never, for
  // n = INT_MAX), restarts it and checks what it recovers.
  auto run = [&](int n, uint64_t kept, PowerLoss::Tail tail) -> Run {
    FaultInjectionEnv machine;
    FaultInjectionEnv* env = &machine;
    Run r;
    const std::string catalog = tmp.path() + "/catalog-" + std::to_string(runs++) + ".db";
    auto db = OpenOn(env, catalog);
    EXPECT_TRUE(db.ok()) << db.status();
    if (!db.ok()) return r;
    CollectionConfig config;
    config.name = "s";
    config.dimension = 6;
    EXPECT_TRUE((*db)->CreateCollection(config).ok());
    auto c = *(*db)->GetCollection("s");
    for (uint64_t b = 1; b <= kBefore; ++b) {
      EXPECT_TRUE(workload.Apply(*c, b).ok());
      if (b == kBefore / 2) EXPECT_TRUE(c->Flush().ok());
    }
    env->PowerLossAfterOps(n, PowerLoss{.kept_entry_ops = kept, .tail = tail, .seed = uint64_t(n)});
    uint64_t acked = kBefore;
    c->Flush().IgnoreError();
    while (acked < kAfter && workload.Apply(*c, acked + 1).ok()) ++acked;
    c->Compact().IgnoreError();
    c.reset();
    db->reset();
    r = Run{acked, env->ops_counted(), env->power_loss_happened(), env->pending_at_power_loss()};
    env->Restart();
    env->PowerLossAfterOps(0, {});
    // Reopen on the same catalog (what the machine had) and check.
    auto reopened = OpenOn(env, catalog);
    const std::string when = "power cut after op " + std::to_string(n) + ", kept " +
                             std::to_string(kept) + ", tail " + std::to_string(int(tail));
    EXPECT_TRUE(reopened.ok()) << when << ": " << reopened.status();
    if (!reopened.ok()) return r;
    std::vector<uint64_t> done = {acked};
    CheckRecovered(**(*reopened)->GetCollection("s"), {workload}, &done, when);
    return r;
  };
  using Tail = PowerLoss::Tail;
  const Run whole = run(INT_MAX, 0, Tail::kLost);
  EXPECT_EQ(whole.acked, kAfter);
  const int steps = whole.ops;
  ASSERT_GT(steps, 10);
  size_t most_pending = 0;
  for (int n = 1; n <= steps && !HasFatalFailure(); ++n) {
    const Run first = run(n, 0, Tail::kLost);
    ASSERT_TRUE(first.cut) << n;
    most_pending = std::max(most_pending, first.pending);
    const size_t pending = std::min<size_t>(first.pending, 6);
    for (uint64_t kept = 1; kept < (uint64_t{1} << pending) && !HasFatalFailure(); ++kept) {
      run(n, kept, Tail::kLost);
    }
    // Everything written survives, but the last bytes of each unsynced tail are garbage.
    run(n, ~uint64_t{0}, Tail::kGarbled);
  }
  // Every combination was tried wherever at most six changes were pending.
  std::printf("%d runs over %d steps, at most %zu directory changes pending\n", runs, steps,
              most_pending);
}

}  // namespace
}  // namespace proximadb
