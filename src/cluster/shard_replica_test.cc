// ShardReplica: three replicas of one shard, each a database of its own on disk, kept equal
// through a log on a 3-node NATS JetStream cluster (real servers on loopback).
#include "cluster/shard_replica.h"
#include "cluster/sharded_collection.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "cluster/test_fixtures.h"
#include "common/scoped_temp_dir.h"
#include "common/strings.h"
#include "env/fault_injection_env.h"
#include "proximadb/database.h"

namespace proximadb::cluster {
namespace {

// One node's replica: a database in a directory of its own, and its ShardReplica.
struct Node {
  Node(const std::string& dir, std::string node_id) : id(std::move(node_id)) {
    options.data_dir = dir + "/" + id;
    options.catalog_path = dir + "/" + id + ".db";
    options.background_maintenance = false;
  }
  void Open(ShardLog* log, const std::string& stream, int apply_timeout_ms = 60000) {
    replica.reset();
    coll.reset();
    db.reset();
    auto opened = Database::Open(options);
    ASSERT_TRUE(opened.ok()) << opened.status();
    db = *std::move(opened);
    if (!db->GetCollection("c").ok()) {
      CollectionConfig c;
      c.name = "c";
      c.dimension = 4;
      ASSERT_TRUE(db->CreateCollection(c).ok());
    }
    coll = *db->GetCollection("c");
    auto started = ShardReplica::Start(
        log, coll, {.stream = stream, .node_id = id, .apply_timeout_ms = apply_timeout_ms});
    ASSERT_TRUE(started.ok()) << started.status();
    replica = *std::move(started);
  }
  void Close() {
    replica.reset();
    coll.reset();
    db.reset();
  }
  std::string id;
  DatabaseOptions options;
  std::unique_ptr<Database> db;
  std::shared_ptr<Collection> coll;
  std::unique_ptr<ShardReplica> replica;
};

Record Rec(const std::string& id, float x, const std::string& who) {
  return {id, {x, 1, 2, 3}, Cat(R"({"by":")", who, R"("})")};
}

class ShardReplicaTest : public NatsSuite {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(NatsSuite::SetUp());
    // One test kills a server: a new leader takes 4-7 s here, more on a loaded machine.
    absl::StatusOr<std::unique_ptr<ShardLog>> log =
        ShardLog::Connect({.urls = nats_->urls(), .retry_deadline_ms = 60000});
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
    stream_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_TRUE(log_->EnsureStream(stream_, 3).ok());
    for (int i = 0; i < 3; ++i) {
      nodes_.push_back(std::make_unique<Node>(dir_.path(), Cat("node", i)));
      ASSERT_NO_FATAL_FAILURE(nodes_.back()->Open(log_.get(), stream_));
    }
  }
  void TearDown() override {
    nodes_.clear();
    if (log_ != nullptr) (void)log_->DeleteStream(stream_);
  }

  // Every replica, once it applied the whole log, holds the same records as node 0.
  void ExpectReplicasEqual(size_t expected_count) {
    ASSERT_TRUE(nodes_[0]->replica->Barrier().ok());
    absl::StatusOr<StreamState> state = log_->State(stream_);
    ASSERT_TRUE(state.ok()) << state.status();
    for (auto& n : nodes_) ASSERT_TRUE(n->replica->WaitApplied(state->last_seq).ok()) << n->id;
    absl::StatusOr<ScrollPage> want = nodes_[0]->coll->Scroll("", 100000, "", true);
    ASSERT_TRUE(want.ok()) << want.status();
    EXPECT_EQ(want->records.size(), expected_count);
    for (auto& n : nodes_) {
      absl::StatusOr<ScrollPage> got = n->coll->Scroll("", 100000, "", true);
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_EQ(got->records.size(), want->records.size()) << n->id;
      for (size_t i = 0; i < got->records.size(); ++i) {
        EXPECT_EQ(got->records[i].id, want->records[i].id) << n->id;
        EXPECT_EQ(got->records[i].metadata, want->records[i].metadata) << n->id;
        EXPECT_EQ(got->records[i].vector, want->records[i].vector) << n->id;
      }
      EXPECT_EQ(n->coll->Stats().last_seq, state->last_seq) << n->id;
    }
  }

  ScopedTempDir dir_;
  std::unique_ptr<ShardLog> log_;
  std::string stream_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

TEST_F(ShardReplicaTest, AWriteOnOneReplicaIsReadOnTheOthersAfterABarrier) {
  ASSERT_TRUE(nodes_[0]->replica->Write({Rec("a", 1, "n0")}, WriteMode::kInsert).ok());
  // The writer reads its own write at once: it was applied before the acknowledgement.
  EXPECT_TRUE(nodes_[0]->coll->Get("a").ok());
  for (int i : {1, 2}) {
    ASSERT_TRUE(nodes_[i]->replica->Barrier().ok());
    absl::StatusOr<Record> got = nodes_[i]->coll->Get("a");
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->metadata, R"({"by":"n0"})");
    const std::vector<float> query = {1, 1, 2, 3};
    SearchRequest q;
    q.vector = query;
    q.k = 1;
    absl::StatusOr<SearchResponse> hits = nodes_[i]->coll->Search(q);
    ASSERT_TRUE(hits.ok() && hits->hits.size() == 1) << hits.status();
    EXPECT_EQ(hits->hits[0].id, "a");
  }
  absl::StatusOr<uint64_t> deleted = nodes_[2]->replica->Delete({"a", "never"});
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 1u);
  ExpectReplicasEqual(0);
}

// Concurrent strong reads share barriers, and each still sees every write acknowledged before
// it began: a writer on node 0 upserts versions of one id while 32 readers on node 1, released
// together, note the version acknowledged before their barrier and then read at least it.
TEST_F(ShardReplicaTest, ConcurrentBarriersShareEntriesAndOrderEveryRead) {
  constexpr int kReaders = 32;
  ASSERT_TRUE(nodes_[0]->replica->Write({Rec("v", 0, "0")}, WriteMode::kUpsert).ok());
  std::atomic<int> acked{0}, writes{0};
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int v = 1; !stop; ++v) {
      if (nodes_[0]->replica->Write({Rec("v", float(v), Cat(v))}, WriteMode::kUpsert).ok()) {
        acked = v;
        ++writes;
      }
    }
  });
  const uint64_t before = log_->State(stream_)->last_seq;
  std::atomic<int> go{0}, stale{0}, failed{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&] {
      ++go;
      while (go < kReaders) std::this_thread::yield();  // released together
      const int floor = acked;
      if (!nodes_[1]->replica->Barrier().ok()) {
        ++failed;
        return;
      }
      absl::StatusOr<Record> got = nodes_[1]->coll->Get("v");
      if (!got.ok() || got->vector[0] < float(floor)) ++stale;
    });
  }
  for (std::thread& t : readers) t.join();
  stop = true;
  writer.join();
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(stale, 0);
  // Fewer entries than the writes and barriers made one each: the barriers shared theirs.
  const uint64_t appended = log_->State(stream_)->last_seq - before;
  EXPECT_LT(appended, static_cast<uint64_t>(writes + kReaders));
}

// A replica's lag is the log's end as it last saw it, less what it applied: 0 once caught up,
// and what it could not apply while its apply thread is stopped.
TEST_F(ShardReplicaTest, ALagIsWhatTheReplicaKnowsItHasNotApplied) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(nodes_[0]->replica->Write({Rec(Cat("r", i), 1, "a")}, WriteMode::kUpsert).ok());
  }
  for (auto& n : nodes_) {
    ASSERT_TRUE(n->replica->WaitApplied(5).ok()) << n->id;
    EXPECT_EQ(n->replica->lag(), 0u) << n->id;
  }
  // A replica whose collection has another dimension cannot apply the log: it stops at 0,
  // knowing the log ends at 5.
  Node wide(dir_.path(), "wide");
  auto db = Database::Open(wide.options);
  ASSERT_TRUE(db.ok()) << db.status();
  CollectionConfig c;
  c.name = "c";
  c.dimension = 8;
  ASSERT_TRUE((*db)->CreateCollection(c).ok());
  auto replica = ShardReplica::Start(log_.get(), *(*db)->GetCollection("c"),
                                     {.stream = stream_, .node_id = "wide"});
  ASSERT_TRUE(replica.ok()) << replica.status();
  EXPECT_EQ((*replica)->WaitApplied(1).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ((*replica)->applied(), 0u);
  EXPECT_EQ((*replica)->lag(), 5u);
  // Not read by eventual reads either: its state is not the log's.
  ShardedCollection eventual({std::shared_ptr<ShardReplica>(*std::move(replica))}, c,
                             ReadConsistency::kEventual);
  EXPECT_EQ(eventual.Count("").status().code(), absl::StatusCode::kDataLoss);
  // A caught-up replica that receives an entry it cannot apply lags by it from then on.
  ASSERT_TRUE(log_->Append(stream_, "not a batch", 5, "garbage").ok());
  EXPECT_EQ(nodes_[1]->replica->WaitApplied(6).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(nodes_[1]->replica->lag(), 1u);
}

TEST_F(ShardReplicaTest, AnInsertRaceHasOneWinnerOnEveryReplica) {
  std::atomic<int> won{0}, lost{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      absl::Status s = nodes_[i]->replica->Write({Rec("same", float(i), Cat("n", i))},
                                                 WriteMode::kInsert);
      if (s.ok()) ++won;
      if (s.code() == absl::StatusCode::kAlreadyExists) ++lost;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(lost.load(), 2);
  ExpectReplicasEqual(1);
}

// A refusal or a no-op decided by a replica's state waits until that state holds every write
// acknowledged before: a delete right after an insert on another node finds it, and an insert
// right after that delete is not refused.
TEST_F(ShardReplicaTest, RefusalsAndNoOpsAreNeverFromAStaleReplica) {
  for (int i = 0; i < 15; ++i) {
    const std::string id = Cat("r", i);
    ASSERT_TRUE(nodes_[0]->replica->Write({Rec(id, 1, "n0")}, WriteMode::kInsert).ok());
    absl::StatusOr<uint64_t> deleted = nodes_[1]->replica->Delete({id});
    ASSERT_TRUE(deleted.ok()) << deleted.status();
    EXPECT_EQ(*deleted, 1u) << id;
    absl::Status again = nodes_[2]->replica->Write({Rec(id, 2, "n2")}, WriteMode::kInsert);
    EXPECT_TRUE(again.ok()) << id << ": " << again;
    EXPECT_EQ(nodes_[0]->replica->Write({Rec(id, 3, "n0")}, WriteMode::kInsert).code(),
              absl::StatusCode::kAlreadyExists) << id;
  }
  ExpectReplicasEqual(15);
}

// Three writers on three replicas, upserting and deleting overlapping ids: every replica ends
// with the same records, and every acknowledged write's effect is there.
TEST_F(ShardReplicaTest, ConcurrentWritersOnEveryReplicaConverge) {
  constexpr int kRounds = 25;
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      for (int r = 0; r < kRounds; ++r) {
        const std::string own = Cat("n", i, "-", r), shared = Cat("shared-", r % 5);
        ASSERT_TRUE(nodes_[i]->replica->Write({Rec(own, float(r), Cat("n", i)),
                                               Rec(shared, float(i), Cat("n", i))},
                                              WriteMode::kUpsert).ok());
        if (r % 4 == 3) {
          ASSERT_TRUE(nodes_[i]->replica->Delete({Cat("n", i, "-", r - 1)}).ok());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  // Each writer's own ids: kRounds written, one in four deleted; plus 5 shared ids.
  const size_t own_left = kRounds - kRounds / 4;
  ExpectReplicasEqual(3 * own_left + 5);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(nodes_[1]->coll->Get(Cat("n", i, "-", kRounds - 1)).ok());
    EXPECT_EQ(nodes_[1]->coll->Get(Cat("n", i, "-", 2)).status().code(),
              absl::StatusCode::kNotFound);
  }
}

// A replica that was down catches up from the log where its own WAL ends.
TEST_F(ShardReplicaTest, AReplicaThatWasDownCatchesUpFromTheLog) {
  ASSERT_TRUE(nodes_[0]->replica->Write({Rec("before", 1, "n0")}, WriteMode::kUpsert).ok());
  ASSERT_TRUE(nodes_[2]->replica->Barrier().ok());
  nodes_[2]->Close();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(nodes_[i % 2]->replica->Write({Rec(Cat("while-down-", i), float(i), "n")},
                                              WriteMode::kUpsert).ok());
  }
  ASSERT_NO_FATAL_FAILURE(nodes_[2]->Open(log_.get(), stream_));
  ExpectReplicasEqual(11);
}

// kill -9 of the NATS server that leads the shard's log, while every replica writes: the
// writes go on once the log has a new leader, and no acknowledged write is missing anywhere.
TEST_F(ShardReplicaTest, WritesGoOnWhenTheLogsLeaderIsKilled) {
  std::atomic<int> acknowledged{0};
  std::atomic<int> killed{-1};
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      for (int r = 0; r < 20; ++r) {
        if (i == 0 && r == 5) {
          absl::StatusOr<StreamState> state = log_->State(stream_);
          ASSERT_TRUE(state.ok()) << state.status();
          const std::string leader = state->leader;
          for (int n = 0; n < 3; ++n) {
            if (NatsTestCluster::Name(n) == leader) {
              nats_->Kill(n);
              killed = n;
            }
          }
        }
        absl::Status s = nodes_[i]->replica->Write({Rec(Cat("k", i, "-", r), 1, "n")},
                                                   WriteMode::kUpsert);
        ASSERT_TRUE(s.ok()) << "write " << r << " of node " << i << ": " << s;
        ++acknowledged;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_GE(killed.load(), 0) << "the log had no leader to kill";
  ExpectReplicasEqual(60);
  EXPECT_EQ(acknowledged.load(), 60);
  // Bring the cluster back whole for the tests after this one.
  absl::Status restarted = nats_->Restart(killed);
  ASSERT_TRUE(restarted.ok()) << restarted;
}

// Strong reads on a replica that cannot apply its log (its disk refuses the WAL's appends) give
// up after apply_timeout_ms each: the round of barrier before theirs counts in that time.
TEST_F(ShardReplicaTest, ABarrierWaitsNoLongerThanItsTimeoutBehindAnother) {
  FaultInjectionEnv env;
  Node stuck(dir_.path(), "stuck");
  stuck.options.env = &env;
  ASSERT_NO_FATAL_FAILURE(stuck.Open(log_.get(), stream_, /*apply_timeout_ms=*/2000));
  env.FailAfter(FaultInjectionEnv::Op::kAppend, "wal-", 0, 1 << 30,
                absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(nodes_[0]->replica->Write({Rec("a", 1, "n0")}, WriteMode::kUpsert).ok());
  absl::StatusOr<StreamState> before = log_->State(stream_);
  ASSERT_TRUE(before.ok()) << before.status();
  std::thread first([&] { EXPECT_TRUE(absl::IsUnavailable(stuck.replica->Barrier())); });
  // Once the first barrier's entry is in the log, the next calls wait for its round.
  const absl::Time until = absl::Now() + absl::Seconds(30);
  bool appended = false;
  while (!appended && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(10));
    absl::StatusOr<StreamState> now = log_->State(stream_);
    appended = now.ok() && now->last_seq != before->last_seq;
  }
  if (!appended) {
    first.join();
    FAIL() << "the first barrier appended no entry";
  }
  std::vector<std::thread> next;
  for (int i = 0; i < 4; ++i) {
    next.emplace_back([&] {
      const absl::Time start = absl::Now();
      absl::Status s = stuck.replica->Barrier();
      const absl::Duration waited = absl::Now() - start;
      EXPECT_TRUE(absl::IsUnavailable(s)) << s;
      // Not the rest of the first round's 2 s and then 2 s of its own.
      EXPECT_GE(waited, absl::Milliseconds(1900));
      EXPECT_LT(waited, absl::Milliseconds(3200));
    });
  }
  first.join();
  for (std::thread& t : next) t.join();
  env.ClearFaults();
  ASSERT_TRUE(stuck.replica->Barrier().ok());  // it applies the log again
  EXPECT_TRUE(stuck.coll->Get("a").ok());
  stuck.Close();
}

}  // namespace
}  // namespace proximadb::cluster
