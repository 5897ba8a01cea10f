// Where a collection's files go: the WAL on its own directory, segments over several hot
// directories by free space, the next one when a disk is full, and everything found again at
// open (on the in-memory Env, whose directories can be given a capacity).
#include <algorithm>
#include <atomic>
#include <thread>

#include "env/fault_injection_env.h"
#include "gtest/gtest.h"
#include "proximadb/database.h"
#include "storage/file_names.h"

namespace proximadb {
namespace {

class PlacementTest : public ::testing::Test {
 protected:
  // Options with the test's directories, without creating them.
  DatabaseOptions Options() {
    DatabaseOptions o;
    o.env = &env_;
    o.data_dir = "/db";
    o.catalog_path = tmp_catalog_;
    o.background_maintenance = false;
    o.background_indexing = false;
    o.wal_directory = wal_;
    o.hot_directories = hot_;
    return o;
  }

  std::unique_ptr<Database> Open() {
    for (const std::string& d : hot_) EXPECT_TRUE(env_.CreateDirs(d).ok());  // "mounted"
    if (!wal_.empty()) {
      EXPECT_TRUE(env_.CreateDirs(wal_).ok());
    }
    auto db = Database::Open(Options());
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? *std::move(db) : nullptr;
  }

  // Files of kind `kind` in every collection directory under `base`.
  int Count(const std::string& base, FileKind kind) {
    int n = 0;
    auto dirs = env_.ListDir(base + "/collections");
    if (!dirs.ok()) return 0;
    for (const std::string& d : *dirs) {
      const auto names = env_.ListDir(base + "/collections/" + d);
      for (const std::string& name : *names) {
        uint64_t number;
        n += ParseFileName(name, &number) == kind;
      }
    }
    return n;
  }

  std::shared_ptr<Collection> Create(Database& db, const std::string& name) {
    CollectionConfig config;
    config.name = name;
    config.dimension = 16;
    EXPECT_TRUE(db.CreateCollection(config).ok());
    return *db.GetCollection(name);
  }

  void Write(Collection& c, int first, int n) {
    std::vector<Record> batch;
    for (int i = first; i < first + n; ++i) {
      batch.push_back({"id" + std::to_string(i), std::vector<float>(16, float(i)), "{}"});
    }
    ASSERT_TRUE(c.Write(std::move(batch), WriteMode::kUpsert).ok());
  }

  FaultInjectionEnv env_;
  const std::string tmp_catalog_ = ::testing::TempDir() + "/placement-" +
                                   ::testing::UnitTest::GetInstance()->current_test_info()->name() +
                                   ".db";
  std::string wal_ = "/wal";
  std::vector<std::string> hot_ = {"/hot1", "/hot2"};
};

TEST_F(PlacementTest, WalAndSegmentsGoWhereConfiguredAndAreFoundAgain) {
  std::remove(tmp_catalog_.c_str());
  env_.SetCapacity("/hot1", 64 << 20);
  env_.SetCapacity("/hot2", 256 << 20);  // the most free space: it takes the segment
  auto db = Open();
  auto c = Create(*db, "p");
  Write(*c, 0, 500);
  EXPECT_GE(Count("/wal", FileKind::kWal), 1);
  EXPECT_EQ(Count("/db", FileKind::kWal), 0);
  ASSERT_TRUE(c->Flush().ok());
  EXPECT_EQ(Count("/hot2", FileKind::kSegment), 1);
  EXPECT_EQ(Count("/hot1", FileKind::kSegment), 0);
  EXPECT_EQ(Count("/db", FileKind::kSegment), 0);
  EXPECT_EQ(Count("/db", FileKind::kManifest), 1);

  // hot2 fills up (its free space now below hot1's): the next segment goes to hot1.
  const uint64_t used = (uint64_t{256} << 20) - *env_.FreeSpace("/hot2");
  env_.SetCapacity("/hot2", used + (1 << 20));
  Write(*c, 500, 300);
  ASSERT_TRUE(c->Flush().ok());
  EXPECT_EQ(Count("/hot1", FileKind::kSegment), 1);
  ASSERT_TRUE(c->Compact().ok());
  EXPECT_EQ(Count("/hot1", FileKind::kSegment) + Count("/hot2", FileKind::kSegment), 1)
      << "the compacted segments' files are removed wherever they were";
  Write(*c, 800, 10);  // in the WAL only
  c.reset();
  db.reset();

  db = Open();
  c = *db->GetCollection("p");
  EXPECT_EQ(c->Stats().vector_count, 810u);
  EXPECT_EQ(c->Get("id805")->vector[0], 805.0f);
  EXPECT_EQ(c->Get("id10")->vector[3], 10.0f);
  // Dropped: every directory goes.
  c.reset();
  ASSERT_TRUE(db->DropCollection("p").ok());
  EXPECT_EQ(Count("/hot1", FileKind::kSegment) + Count("/hot2", FileKind::kSegment) +
                Count("/wal", FileKind::kWal),
            0);
}

TEST_F(PlacementTest, AFullDiskMovesTheSegmentToTheNextAndAllFullKeepsTheWrites) {
  std::remove(tmp_catalog_.c_str());
  auto db = Open();
  auto c = Create(*db, "f");
  Write(*c, 0, 400);
  // Both report the same free space; the first in order is tried first and is full
  // (ENOSPC although statvfs said otherwise: a quota, another writer).
  env_.FailAfter(FaultInjectionEnv::Op::kAppend, "/hot1/", 0, 1 << 30,
                 absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(c->Flush().ok());
  EXPECT_EQ(Count("/hot2", FileKind::kSegment), 1);
  EXPECT_EQ(Count("/hot1", FileKind::kSegment), 0) << "no partial file left behind";

  // Every disk full: the flush fails as kResourceExhausted, nothing is lost, writes and reads
  // go on, and the flush succeeds once space returns.
  env_.FailAfter(FaultInjectionEnv::Op::kAppend, "/hot2/", 0, 1 << 30,
                 absl::StatusCode::kResourceExhausted);
  Write(*c, 400, 100);
  const absl::Status full = c->Flush();
  EXPECT_TRUE(absl::IsResourceExhausted(full)) << full;
  Write(*c, 500, 10);
  EXPECT_EQ(c->Stats().vector_count, 510u);
  env_.ClearFaults();
  ASSERT_TRUE(c->Flush().ok());
  EXPECT_EQ(c->Stats().memtable_rows, 0u);
  c.reset();
  db.reset();
  db = Open();
  EXPECT_EQ((*db->GetCollection("f"))->Stats().vector_count, 510u);
}

TEST_F(PlacementTest, ChangingTheWalDirectoryKeepsTheWritesOfTheOldOne) {
  std::remove(tmp_catalog_.c_str());
  auto db = Open();
  Write(*Create(*db, "w"), 0, 50);  // in /wal only
  db.reset();
  wal_ = "/wal2";
  db = Open();
  auto c = *db->GetCollection("w");
  EXPECT_EQ(c->Stats().vector_count, 50u);
  Write(*c, 50, 50);  // in /wal2
  c.reset();
  db.reset();
  db = Open();  // both directories' files replayed
  c = *db->GetCollection("w");
  EXPECT_EQ(c->Stats().vector_count, 100u);
  ASSERT_TRUE(c->Flush().ok());
  EXPECT_EQ(Count("/wal", FileKind::kWal), 0) << "the old directory's files once covered";
  c.reset();
  db.reset();
  wal_ = "";
  db = Open();
  EXPECT_EQ((*db->GetCollection("w"))->Stats().vector_count, 100u);
}

TEST_F(PlacementTest, MissingOrRepeatedDirectoriesAreRefused) {
  std::remove(tmp_catalog_.c_str());
  DatabaseOptions o = Options();
  o.hot_directories = {};
  o.wal_directory = "/not-mounted";
  auto missing = Database::Open(o);
  EXPECT_TRUE(absl::IsFailedPrecondition(missing.status())) << missing.status();
  EXPECT_NE(std::string(missing.status().message()).find("wal_directory"), std::string::npos);
  ASSERT_TRUE(env_.CreateDirs("/hot1").ok());
  o.wal_directory = "";
  o.hot_directories = {"/hot1", "/hot1/"};
  auto twice = Database::Open(o);
  EXPECT_TRUE(absl::IsInvalidArgument(twice.status())) << twice.status();
}

TEST_F(PlacementTest, AWarmPolicyNeedsWarmDirectories) {
  std::remove(tmp_catalog_.c_str());
  auto db = Open();  // hot directories only
  CollectionConfig config;
  config.name = "nw";
  config.dimension = 4;
  config.tiering.warm_after_hours = 1.0;
  const auto created = db->CreateCollection(config);
  EXPECT_TRUE(absl::IsInvalidArgument(created.status())) << created.status();
  EXPECT_NE(std::string(created.status().message()).find("warm_after_hours"), std::string::npos);
  config.tiering = TieringPolicy{.ultra_hot = true};
  ASSERT_TRUE(db->CreateCollection(config).ok());
  CollectionUpdate u;
  u.tiering = TieringPolicy{.warm_after_hours = 0.0};
  EXPECT_TRUE(absl::IsInvalidArgument(db->UpdateCollection("nw", u).status()));
  EXPECT_TRUE((*db->GetCollection("nw"))->config().tiering.ultra_hot) << "nothing changed";
}

TEST_F(PlacementTest, AWalDirectoryThatHeldWritesMustBeThere) {
  std::remove(tmp_catalog_.c_str());
  auto db = Open();
  Write(*Create(*db, "m"), 0, 20);  // in /wal only
  db.reset();
  // The WAL device's files vanish (not mounted, say): the open fails instead of dropping them.
  auto dirs = env_.ListDir("/wal/collections");
  ASSERT_TRUE(dirs.ok());
  ASSERT_EQ(dirs->size(), 1u);
  ASSERT_TRUE(env_.RemoveDirRecursively("/wal/collections/" + (*dirs)[0]).ok());
  auto reopened = Database::Open(Options());
  EXPECT_TRUE(absl::IsFailedPrecondition(reopened.status())) << reopened.status();
}

TEST_F(PlacementTest, ATornSecondCopyOfASegmentIsDroppedAndTheWholeOneKept) {
  std::remove(tmp_catalog_.c_str());
  env_.SetCapacity("/hot1", 256 << 20);  // the segment goes here
  env_.SetCapacity("/hot2", 64 << 20);
  auto db = Open();
  auto c = Create(*db, "t");
  Write(*c, 0, 300);
  ASSERT_TRUE(c->Flush().ok());  // into /hot1
  auto dirs = env_.ListDir("/hot1/collections");
  ASSERT_TRUE(dirs.ok() && dirs->size() == 1);
  const std::string uid = (*dirs)[0];
  auto names = env_.ListDir("/hot1/collections/" + uid);
  ASSERT_TRUE(names.ok() && names->size() == 1);
  c.reset();
  db.reset();
  // What a power loss after an unsynced removal could bring back: a torn copy in hot2, later
  // in the order of directories (which once decided which copy stayed).
  ASSERT_TRUE(env_.CreateDirs("/hot2/collections/" + uid).ok());
  auto torn = env_.NewWritableFile("/hot2/collections/" + uid + "/" + (*names)[0]);
  ASSERT_TRUE(torn.ok());
  ASSERT_TRUE((*torn)->Append(std::string(100, 'x')).ok());
  ASSERT_TRUE((*torn)->Sync().ok());
  db = Open();
  ASSERT_NE(db, nullptr);
  c = *db->GetCollection("t");
  EXPECT_EQ(c->Stats().vector_count, 300u);
  EXPECT_EQ(c->Get("id7")->vector[0], 7.0f);
  EXPECT_EQ(Count("/hot1", FileKind::kSegment), 1);
  EXPECT_EQ(Count("/hot2", FileKind::kSegment), 0);
}

}  // namespace
}  // namespace proximadb

namespace proximadb {
namespace {

class TieringTest : public ::testing::Test {
 protected:
  std::unique_ptr<Database> Open() {
    DatabaseOptions o;
    o.env = env_.get();
    o.data_dir = "/db";
    o.catalog_path = catalog_;
    o.background_maintenance = false;
    o.background_indexing = false;
    o.hot_directories = {"/hot"};
    o.warm_directories = {"/warm"};
    EXPECT_TRUE(env_->CreateDirs("/hot").ok());
    EXPECT_TRUE(env_->CreateDirs("/warm").ok());
    auto db = Database::Open(o);
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? *std::move(db) : nullptr;
  }

  // Creates collection "t" with `policy` and two flushed segments of 300 rows, 10 deleted.
  std::shared_ptr<Collection> Fill(Database& db, const TieringPolicy& policy) {
    CollectionConfig config;
    config.name = "t";
    config.dimension = 8;
    config.metric = DistanceMetric::kL2;
    config.tiering = policy;
    EXPECT_TRUE(db.CreateCollection(config).ok());
    auto c = *db.GetCollection("t");
    for (int part = 0; part < 2; ++part) {
      std::vector<Record> batch;
      for (int i = part * 300; i < (part + 1) * 300; ++i) {
        batch.push_back({"id" + std::to_string(i), std::vector<float>(8, float(i)), "{}"});
      }
      EXPECT_TRUE(c->Write(std::move(batch), WriteMode::kUpsert).ok());
      EXPECT_TRUE(c->Flush().ok());
    }
    std::vector<std::string> dead;
    for (int i = 0; i < 600; i += 60) dead.push_back("id" + std::to_string(i));
    EXPECT_EQ(*c->Delete(dead), 10u);
    return c;
  }

  int Segments(const std::string& base) {
    int n = 0;
    auto dirs = env_->ListDir(base + "/collections");
    if (!dirs.ok()) return 0;
    for (const std::string& d : *dirs) {
      const auto names = env_->ListDir(base + "/collections/" + d);
      for (const std::string& name : *names) {
        uint64_t number;
        n += ParseFileName(name, &number) == FileKind::kSegment;
      }
    }
    return n;
  }

  static void ExpectContents(Collection& c) {
    EXPECT_EQ(c.Stats().vector_count, 590u);
    EXPECT_FALSE(c.Get("id60").ok()) << "deleted stays deleted";
    auto r = c.Get("id333");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->vector[0], 333.0f);
    SearchRequest q;
    std::vector<float> v(8, 451.2f);
    q.vector = v;
    q.k = 1;
    EXPECT_EQ(c.Search(q)->hits.at(0).id, "id451");
  }

  std::unique_ptr<FaultInjectionEnv> env_ = std::make_unique<FaultInjectionEnv>();
  const std::string catalog_ = ::testing::TempDir() + "/tiering-" +
                               ::testing::UnitTest::GetInstance()->current_test_info()->name() +
                               ".db";
};

TEST_F(TieringTest, UnsearchedSegmentsGoWarmAndComeBackWhenSearched) {
  std::remove(catalog_.c_str());
  auto db = Open();
  auto c = Fill(*db, TieringPolicy{.warm_after_hours = 0.0});
  EXPECT_EQ(Segments("/hot"), 2);
  ASSERT_TRUE(c->ApplyTiering().ok());
  EXPECT_EQ(Segments("/hot"), 0);
  EXPECT_EQ(Segments("/warm"), 2);
  CollectionStats st = c->Stats();
  EXPECT_EQ(st.tier_warm_segments, 2u);
  EXPECT_EQ(st.tier_hot_segments, 0u);
  EXPECT_GT(st.tier_warm_bytes, 0u);
  ExpectContents(*c);  // searched just now
  // An hour's grace: the segments searched a moment ago belong in hot again.
  CollectionUpdate u;
  u.tiering = TieringPolicy{.warm_after_hours = 1.0};
  ASSERT_TRUE(db->UpdateCollection("t", u).ok());
  ASSERT_TRUE(c->ApplyTiering().ok());
  EXPECT_EQ(Segments("/hot"), 2);
  EXPECT_EQ(Segments("/warm"), 0);
  ExpectContents(*c);
  c.reset();
  db.reset();
  db = Open();  // the policy is in the catalog; the segments are found where they are
  c = *db->GetCollection("t");
  EXPECT_EQ(c->config().tiering.warm_after_hours, 1.0);
  ExpectContents(*c);
}

TEST_F(TieringTest, DeletionsDuringMovesStayDeleted) {
  std::remove(catalog_.c_str());
  auto db = Open();
  auto c = Fill(*db, TieringPolicy{});
  std::atomic<bool> stop{false};
  std::vector<std::string> deleted;
  std::thread deleter([&] {
    for (int i = 1; i < 600 && !stop.load(); i += 7) {
      const std::string id = "id" + std::to_string(i);
      if (i % 60 != 0 && c->Delete({id}).ok()) deleted.push_back(id);
    }
  });
  for (int round = 0; round < 20; ++round) {
    CollectionUpdate u;
    u.tiering = round % 2 ? TieringPolicy{} : TieringPolicy{.warm_after_hours = 0.0};
    ASSERT_TRUE(db->UpdateCollection("t", u).ok());
    ASSERT_TRUE(c->ApplyTiering().ok());
  }
  stop.store(true);
  deleter.join();
  const uint64_t expected = 590 - deleted.size();
  EXPECT_EQ(c->Stats().vector_count, expected);
  for (const std::string& id : deleted) EXPECT_FALSE(c->Get(id).ok()) << id;
  ASSERT_TRUE(c->Flush().ok());  // the marks into the manifest, the WAL that held them gone
  c.reset();
  db.reset();
  db = Open();
  c = *db->GetCollection("t");
  EXPECT_EQ(c->Stats().vector_count, expected);
  for (const std::string& id : deleted) EXPECT_FALSE(c->Get(id).ok()) << id;
}

TEST_F(TieringTest, AFailedMoveChangesNothing) {
  std::remove(catalog_.c_str());
  auto db = Open();
  auto c = Fill(*db, TieringPolicy{.warm_after_hours = 0.0});
  env_->FailAfter(FaultInjectionEnv::Op::kRename, "/warm/", 0, 1);
  EXPECT_FALSE(c->ApplyTiering().ok());
  EXPECT_EQ(Segments("/hot") + Segments("/warm"), 2) << "one moved at most, none lost";
  ExpectContents(*c);
  ASSERT_TRUE(c->ApplyTiering().ok());
  EXPECT_EQ(Segments("/warm"), 2);
  auto names = env_->ListDir("/warm/collections");
  ASSERT_TRUE(names.ok());
}

TEST_F(TieringTest, PowerLossAtEveryStepOfAMoveLosesNothing) {
  int n = 1;
  for (;; ++n) {
    std::remove(catalog_.c_str());
    env_ = std::make_unique<FaultInjectionEnv>();
    auto db = Open();
    auto c = Fill(*db, TieringPolicy{.warm_after_hours = 0.0});
    ASSERT_TRUE(c->Flush().ok());  // the deletions into the manifest
    env_->PowerLossAfterOps(n, PowerLoss{});
    c->ApplyTiering().IgnoreError();
    const bool cut = env_->power_loss_happened();
    env_->PowerLossAfterOps(0, PowerLoss{});
    c.reset();
    db.reset();
    env_->Restart();
    db = Open();
    ASSERT_NE(db, nullptr) << "after op " << n;
    c = *db->GetCollection("t");
    ExpectContents(*c);
    EXPECT_EQ(Segments("/hot") + Segments("/warm"), 2) << "after op " << n;
    if (!cut) break;  // the moves ran to the end: every step has had its cut
  }
  EXPECT_GE(n, 2 * 6) << "two moves of at least six file operations each";
}

}  // namespace
}  // namespace proximadb
