// The memory budget of all memtables (DatabaseOptions::memtable_budget_mb): past twice the
// budget writes are refused with RESOURCE_EXHAUSTED until flushes free memory, and the
// maintenance thread flushes the largest memtables once past the budget, so that an ingest far
// beyond the budget keeps the memtables bounded and loses nothing. (On the fault Env, whose
// segment writes can be made to fail.)
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/errors.h"
#include "env/fault_injection_env.h"
#include "gtest/gtest.h"
#include "proximadb/database.h"

namespace proximadb {
namespace {

constexpr uint32_t kDim = 16;
// Each record holds about 1.1 KB, mostly metadata: memory fills with few rows to index.
const std::string kMetadata = R"({"pad": ")" + std::string(1000, 'x') + R"("})";
constexpr uint64_t kBudget = 2 << 20;

class MemoryBudgetTest : public ::testing::Test {
 protected:
  std::unique_ptr<Database> Open(bool background) {
    DatabaseOptions o;
    o.env = &env_;
    o.data_dir = "/db";
    o.catalog_path = catalog_;
    o.background_maintenance = background;
    o.maintenance_interval_ms = 50;
    o.background_indexing = false;
    o.memtable_budget_mb = kBudget >> 20;
    auto db = Database::Open(o);
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? *std::move(db) : nullptr;
  }

  std::shared_ptr<Collection> Create(Database& db, const std::string& name) {
    CollectionConfig config;
    config.name = name;
    config.dimension = kDim;
    config.flush.max_wal_size_mb = 1000;  // only the budget makes them flush
    EXPECT_TRUE(db.CreateCollection(config).ok());
    return *db.GetCollection(name);
  }

  absl::Status WriteBatch(Collection& c, int batch) {
    std::vector<Record> records;
    std::normal_distribution<float> normal;
    for (int i = 0; i < 50; ++i) {
      std::vector<float> v(kDim);
      for (float& x : v) x = normal(rng_);
      records.push_back({"b" + std::to_string(batch) + "-" + std::to_string(i), std::move(v),
                         kMetadata});
    }
    return c.Write(std::move(records), WriteMode::kInsert);
  }

  static uint64_t MemtableBytes(Collection& a, Collection& b) {
    // Segments' bytes are in memory_bytes too: count the memtables alone by their rows.
    return a.Stats().memory_bytes + b.Stats().memory_bytes;
  }

  FaultInjectionEnv env_;
  std::mt19937 rng_{42};
  const std::string catalog_ = ::testing::TempDir() + "/budget-" +
                               ::testing::UnitTest::GetInstance()->current_test_info()->name() +
                               ".db";
};

// Flushes that cannot run (their segment writes fail): writes are refused past twice the
// budget, as RESOURCE_EXHAUSTED, or INSUFFICIENT_STORAGE when the disk is what is full; once
// flushes work again, the flusher frees the memory and writes go on.
TEST_F(MemoryBudgetTest, WritesPastTwiceTheBudgetWaitForAFlush) {
  for (const absl::StatusCode why : {absl::StatusCode::kInternal,
                                     absl::StatusCode::kResourceExhausted}) {
    std::remove(catalog_.c_str());
    env_.ClearFaults();
    ASSERT_TRUE(env_.CreateDirs("/db").ok());
    auto db = Open(/*background=*/true);
    auto a = Create(*db, "a");
    auto b = Create(*db, "b");
    env_.FailAfter(FaultInjectionEnv::Op::kAppend, "seg-", 0, 1 << 30, why);
    int batch = 0;
    absl::Status s;
    while ((s = WriteBatch(batch % 2 ? *a : *b, batch)).ok() && batch < 100000) ++batch;
    EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
    EXPECT_EQ(ErrorCodeOf(s), "RESOURCE_EXHAUSTED") << s;
    if (why == absl::StatusCode::kResourceExhausted) {
      // Once the flusher has found the disk full, the refusal says so (a client retrying).
      for (int tries = 0; ErrorCodeOf(s) != kInsufficientStorage; ++tries) {
        ASSERT_LT(tries, 20000) << s;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        s = WriteBatch(*a, batch);
      }
    }
    EXPECT_NE(s.message().find("memory budget of 2 MiB"), std::string_view::npos) << s;
    // Refused past twice the budget, and not long after (memtables grow by chunks).
    const uint64_t held = MemtableBytes(*a, *b);
    EXPECT_GT(held, 2 * kBudget);
    EXPECT_LT(held, 3 * kBudget);
    EXPECT_EQ(*a->Count() + *b->Count(), 50u * batch);  // reads go on
    // Metadata updates write a new version of the record: refused alike, changing nothing.
    const std::string before = a->Get("b1-0")->metadata;
    EXPECT_EQ(a->PatchMetadata("b1-0", R"({"k": 1})").code(), s.code());
    EXPECT_EQ(a->ReplaceMetadata("b1-0", R"({"k": 1})").code(), s.code());
    EXPECT_EQ(a->Get("b1-0")->metadata, before);

    env_.ClearFaults();  // flushes work again: the flusher's next pass frees the memory
    int refused = 0;
    while (!(s = WriteBatch(*a, batch)).ok()) {
      ASSERT_LT(++refused, 20000) << "the flusher never freed the memory: " << s;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // a client's Retry-After
    }
    EXPECT_EQ(*a->Count() + *b->Count(), 50u * (batch + 1));
    a.reset();
    b.reset();
    db.reset();
  }
}

TEST_F(MemoryBudgetTest, TheFlusherKeepsASustainedIngestWithinTheBudget) {
  std::remove(catalog_.c_str());
  ASSERT_TRUE(env_.CreateDirs("/db").ok());
  auto db = Open(/*background=*/true);
  auto a = Create(*db, "a");
  auto b = Create(*db, "b");
  constexpr int kBatches = 600;  // 30,000 records, about 32 MiB: 16 budgets
  int refused = 0;
  uint64_t most = 0;
  for (int batch = 0; batch < kBatches; ++batch) {
    Collection& c = batch % 3 ? *a : *b;
    absl::Status s;
    while (!(s = WriteBatch(c, batch)).ok()) {
      ASSERT_EQ(ErrorCodeOf(s), "RESOURCE_EXHAUSTED") << s;
      ASSERT_LT(++refused, 20000) << "the flusher never freed the memory";
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // a client's Retry-After
    }
    if (batch % 50 == 0) {
      uint64_t mem = 0;
      for (Collection* x : {a.get(), b.get()}) {
        const CollectionStats st = x->Stats();
        mem += st.memtable_rows * (kDim * 4 + kMetadata.size());  // what they hold, at least
      }
      most = std::max(most, mem);
    }
  }
  EXPECT_EQ(*a->Count() + *b->Count(), 50u * kBatches);
  EXPECT_LT(most, 3 * kBudget) << "memtables stayed near the budget";
  EXPECT_GE(a->Stats().flushes + b->Stats().flushes, 4u) << "the budget forced the flushes";
  std::printf("refused %d times, memtables at most %llu KiB\n", refused,
              static_cast<unsigned long long>(most >> 10));
}

}  // namespace
}  // namespace proximadb
