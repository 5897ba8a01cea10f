// The engine's seam for cluster mode: writes prepared against one replica's state, then applied
// at the log's sequence on every replica (Collection::PrepareWrite / ApplyReplicated).
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "common/scoped_temp_dir.h"
#include "env/fault_injection_env.h"
#include "gtest/gtest.h"
#include "proximadb/database.h"

namespace proximadb {
namespace {

// One replica: a database of its own (in memory, so power loss can be simulated).
struct Replica {
  explicit Replica(const std::string& catalog) {
    options.env = &env;
    options.data_dir = "/data";
    options.catalog_path = catalog;
    options.background_maintenance = false;
  }
  void Open(bool create) {
    db.reset();
    auto opened = Database::Open(options);
    ASSERT_TRUE(opened.ok()) << opened.status();
    db = *std::move(opened);
    if (create) {
      CollectionConfig c;
      c.name = "c";
      c.dimension = 3;
      ASSERT_TRUE(db->CreateCollection(c).ok());
    }
    coll = *db->GetCollection("c");
  }
  FaultInjectionEnv env;
  DatabaseOptions options;
  std::unique_ptr<Database> db;
  std::shared_ptr<Collection> coll;
};

class ReplicatedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_.Open(true);
    b_.Open(true);
  }
  // Prepares on `from`, then applies on both replicas at the next sequence, as the log would.
  void Replicate(Replica& from, absl::StatusOr<PreparedBatch> prepared) {
    ASSERT_TRUE(prepared.ok()) << prepared.status();
    for (Replica* r : {&a_, &b_}) {
      ASSERT_TRUE(r->coll->ApplyReplicated(prepared->batch, prepared->after + 1).ok());
    }
    (void)from;
  }
  static std::vector<Record> Records(std::vector<std::string> ids) {
    std::vector<Record> out;
    for (size_t i = 0; i < ids.size(); ++i) {
      out.push_back({ids[i], {float(i), 1, 2}, R"({"n":)" + std::to_string(i) + "}"});
    }
    return out;
  }

  ScopedTempDir tmp_;
  Replica a_{tmp_.path() + "/a.db"}, b_{tmp_.path() + "/b.db"};
};

TEST_F(ReplicatedTest, APreparedWriteChangesNothingUntilApplied) {
  absl::StatusOr<PreparedBatch> p = a_.coll->PrepareWrite(Records({"x", "y"}), WriteMode::kInsert);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->after, 0u);
  EXPECT_FALSE(p->batch.empty());
  EXPECT_EQ(*a_.coll->Count(), 0u);
  EXPECT_EQ(a_.coll->Stats().last_seq, 0u);
  Replicate(a_, std::move(p));
  for (Replica* r : {&a_, &b_}) {
    EXPECT_EQ(*r->coll->Count(), 2u);
    EXPECT_EQ(r->coll->Get("y")->metadata, R"({"n":1})");
    EXPECT_EQ(r->coll->Stats().last_seq, 1u);
  }
  // Resolved against the replica's state, with Write's and Delete's answers.
  EXPECT_EQ(b_.coll->PrepareWrite(Records({"x"}), WriteMode::kInsert).status().code(),
            absl::StatusCode::kAlreadyExists);
  absl::StatusOr<PreparedBatch> d = b_.coll->PrepareDelete({"x", "missing"});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->deleted, 1u);
  EXPECT_EQ(d->after, 1u);
  Replicate(b_, std::move(d));
  EXPECT_EQ(*a_.coll->Count(), 1u);
  absl::StatusOr<PreparedBatch> nothing = a_.coll->PrepareDelete({"missing"});
  ASSERT_TRUE(nothing.ok());
  EXPECT_TRUE(nothing->batch.empty());
}

TEST_F(ReplicatedTest, PatchesReplacementsAndDeletesByFilterArePreparedToo) {
  Replicate(a_, a_.coll->PrepareWrite(Records({"x", "y", "z"}), WriteMode::kInsert));
  absl::StatusOr<PreparedBatch> patch = b_.coll->PreparePatch("x", R"({"tag": 1})");
  ASSERT_TRUE(patch.ok()) << patch.status();
  EXPECT_EQ(a_.coll->Get("x")->metadata, R"({"n":0})");  // nothing changes until applied
  Replicate(b_, std::move(patch));
  Replicate(a_, a_.coll->PrepareReplace("y", R"({"r": true})"));
  for (Replica* r : {&a_, &b_}) {
    EXPECT_EQ(r->coll->Get("x")->metadata, R"({"n":0,"tag":1})");
    EXPECT_EQ(r->coll->Get("y")->metadata, R"({"r":true})");
    EXPECT_EQ(r->coll->Get("y")->vector, (std::vector<float>{1, 1, 2}));
  }
  EXPECT_EQ(a_.coll->PreparePatch("gone", "{}").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(a_.coll->PrepareReplace("x", "7").status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<PreparedBatch> where = a_.coll->PrepareDeleteWhere(R"({"n": {"$gte": 0}})");
  ASSERT_TRUE(where.ok()) << where.status();
  EXPECT_EQ(where->deleted, 2u);  // x and z: y's metadata has no n any more
  Replicate(a_, std::move(where));
  for (Replica* r : {&a_, &b_}) EXPECT_EQ(*r->coll->Count(), 1u);
  EXPECT_EQ(a_.coll->PrepareDeleteWhere("{}").status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<PreparedBatch> none = b_.coll->PrepareDeleteWhere(R"({"n": 5})");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->batch.empty());
  EXPECT_EQ(a_.coll->Stats().last_seq, 4u);
}

TEST_F(ReplicatedTest, BadInputIsRefusedBeforeTheLog) {
  std::vector<Record> bad = Records({"x"});
  bad[0].vector = {1, 2};
  absl::Status s = a_.coll->PrepareWrite(std::move(bad), WriteMode::kUpsert).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(s.message(), "dimension")) << s;
  EXPECT_EQ(a_.coll->PrepareWrite(Records({"x", "x"}), WriteMode::kInsert).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ReplicatedTest, BatchesApplyOnlyInTheirOrder) {
  absl::StatusOr<PreparedBatch> p = a_.coll->PrepareWrite(Records({"x"}), WriteMode::kUpsert);
  ASSERT_TRUE(p.ok());
  // Not the next sequence: refused, nothing changed.
  absl::Status gap = a_.coll->ApplyReplicated(p->batch, 2);
  EXPECT_EQ(gap.code(), absl::StatusCode::kFailedPrecondition) << gap;
  EXPECT_EQ(a_.coll->Stats().last_seq, 0u);
  // An entry that changes nothing takes sequence 1: the batch prepared for 1 is now stale.
  ASSERT_TRUE(a_.coll->ApplyReplicated("", 1).ok());
  EXPECT_EQ(a_.coll->Stats().last_seq, 1u);
  absl::Status stale = a_.coll->ApplyReplicated(p->batch, 2);
  EXPECT_EQ(stale.code(), absl::StatusCode::kDataLoss) << stale;
  EXPECT_EQ(a_.coll->ApplyReplicated("garbage", 2).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(*a_.coll->Count(), 0u);
  // A batch of another dimension (another collection's) is refused too.
  CollectionConfig wide;
  wide.name = "wide";
  wide.dimension = 4;
  ASSERT_TRUE(b_.db->CreateCollection(wide).ok());
  absl::StatusOr<PreparedBatch> w = (*b_.db->GetCollection("wide"))
      ->PrepareWrite({{"x", {1, 2, 3, 4}, "{}"}}, WriteMode::kUpsert);
  ASSERT_TRUE(w.ok());
  absl::Status dim = b_.coll->ApplyReplicated(w->batch, 1);
  EXPECT_EQ(dim.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(dim.message(), "dimension 4")) << dim;
  EXPECT_EQ(b_.coll->Stats().last_seq, 0u);
}

// Applied batches are in the WAL like local writes, entries that change nothing (barriers)
// included: a power loss keeps every one, and the replica resumes at the next sequence.
TEST_F(ReplicatedTest, AppliedBatchesSurviveAPowerLoss) {
  auto power_cycle = [&] {
    a_.env.SimulatePowerLoss();
    a_.coll.reset();
    a_.db.reset();  // its last writes fail: the machine is off
    a_.env.Restart();
    ASSERT_NO_FATAL_FAILURE(a_.Open(false));
  };
  for (int i = 0; i < 5; ++i) {
    Replicate(a_, a_.coll->PrepareWrite(Records({"r" + std::to_string(i)}), WriteMode::kUpsert));
  }
  ASSERT_TRUE(a_.coll->ApplyReplicated("", 6).ok());
  absl::StatusOr<PreparedBatch> r5 = a_.coll->PrepareWrite(Records({"r5"}), WriteMode::kUpsert);
  ASSERT_TRUE(r5.ok());
  ASSERT_TRUE(a_.coll->ApplyReplicated(r5->batch, 7).ok());
  ASSERT_NO_FATAL_FAILURE(power_cycle());
  EXPECT_EQ(a_.coll->Stats().last_seq, 7u);
  EXPECT_EQ(*a_.coll->Count(), 6u);

  ASSERT_TRUE(a_.coll->ApplyReplicated("", 8).ok());  // a barrier at the tail
  ASSERT_NO_FATAL_FAILURE(power_cycle());
  EXPECT_EQ(a_.coll->Stats().last_seq, 8u);
  absl::StatusOr<PreparedBatch> next = a_.coll->PrepareWrite(Records({"z"}), WriteMode::kUpsert);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->after, 8u);
  ASSERT_TRUE(a_.coll->ApplyReplicated(next->batch, 9).ok());
  EXPECT_EQ(*a_.coll->Count(), 7u);
}

}  // namespace
}  // namespace proximadb
