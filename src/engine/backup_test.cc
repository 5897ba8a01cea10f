// Backups and restores of collections through a real S3 server (moto; s3proxy, which checks
// signatures, in the suite parameterized by kind).
#include <gtest/gtest.h>

#include "absl/time/clock.h"

#include <map>
#include <random>

#include "common/scoped_temp_dir.h"
#include "env/env.h"
#include "proximadb/database.h"
#include "storage/object_store.h"
#include "storage/s3_test_server.h"

namespace proximadb {
namespace {

using Kind = S3TestServer::Kind;
using Contents = std::map<std::string, Record>;

class BackupTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    auto server = S3TestServer::Start(GetParam(), "proximadb-backups");
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    auto store = NewS3ObjectStore(server_->Options("cluster-a"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::shared_ptr<ObjectStore>(std::move(*store));
    db_ = Open();
  }

  std::unique_ptr<Database> Open() {
    DatabaseOptions o;
    o.data_dir = tmp_.path();
    o.background_maintenance = false;
    o.object_store = store_;
    o.wal_archive = wal_archive_;
    auto db = Database::Open(o);
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? *std::move(db) : nullptr;
  }

  // A moment after every write so far and before every later one.
  static int64_t Moment() {
    const int64_t t = absl::ToUnixMicros(absl::Now());
    while (absl::ToUnixMicros(absl::Now()) <= t) {
    }
    return t;
  }

  std::shared_ptr<Collection> Create(const std::string& name) {
    CollectionConfig c;
    c.name = name;
    c.dimension = kDim;
    c.metric = DistanceMetric::kL2;
    EXPECT_TRUE(db_->CreateCollection(c).ok());
    return *db_->GetCollection(name);
  }

  // Upserts `n` records with ids from `first`, 100 per batch.
  void Write(Collection& c, int first, int n) {
    std::vector<Record> batch;
    for (int i = first; i < first + n; ++i) {
      Record r{"id-" + std::to_string(i), std::vector<float>(kDim), "{\"i\":" +
                                                                        std::to_string(i) + "}"};
      for (float& x : r.vector) x = dist_(rng_);
      batch.push_back(std::move(r));
      if (batch.size() == 100) {
        ASSERT_TRUE(c.Write(std::move(batch), WriteMode::kUpsert).ok());
        batch.clear();
      }
    }
    if (!batch.empty()) {
      ASSERT_TRUE(c.Write(std::move(batch), WriteMode::kUpsert).ok());
    }
  }

  static Contents Everything(Collection& c) {
    Contents out;
    std::string after;
    do {
      auto page = c.Scroll(after, 1000, "", /*include_vectors=*/true);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      for (Record& r : page->records) out[r.id] = std::move(r);
      after = page->next_after;
    } while (!after.empty());
    return out;
  }

  static constexpr uint32_t kDim = 16;
  bool wal_archive_ = false;
  ScopedTempDir tmp_;
  std::unique_ptr<S3TestServer> server_;
  std::shared_ptr<ObjectStore> store_;
  std::unique_ptr<Database> db_;
  std::mt19937 rng_{7};
  std::normal_distribution<float> dist_;
};

TEST_P(BackupTest, RestoreGivesBackTheSnapshotNotWhatCameAfter) {
  auto c = Create("docs");
  Write(*c, 0, 700);
  ASSERT_TRUE(c->Flush().ok());  // a segment, then rows only in the memtable and the WAL
  Write(*c, 500, 400);           // 200 of them overwrite segment rows
  ASSERT_EQ(*c->Delete({"id-3", "id-650", "id-899"}), 3u);
  const Contents snapshot = Everything(*c);
  ASSERT_EQ(snapshot.size(), 897u);

  auto backup = db_->BackupCollection("docs");
  ASSERT_TRUE(backup.ok()) << backup.status();
  EXPECT_EQ(backup->collection, "docs");
  EXPECT_EQ(backup->vector_count, snapshot.size());
  EXPECT_EQ(backup->dimension, kDim);
  EXPECT_GE(backup->segments, 1u);
  EXPECT_EQ(backup->uploaded_bytes, backup->bytes);

  Write(*c, 2000, 50);  // after the backup: not in it
  ASSERT_EQ(*c->Delete({"id-10"}), 1u);

  auto restored = db_->RestoreBackup(backup->backup_id, "docs-restored");
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->name, "docs-restored");
  EXPECT_EQ(restored->metric, DistanceMetric::kL2);
  auto r = *db_->GetCollection("docs-restored");
  EXPECT_TRUE(Everything(*r) == snapshot);
  // Its search structures came with it: a stored vector finds itself first.
  const Record& probe = snapshot.at("id-42");
  SearchRequest q;
  q.vector = probe.vector;
  q.k = 3;
  auto hits = r->Search(q);
  ASSERT_TRUE(hits.ok()) << hits.status();
  ASSERT_FALSE(hits->hits.empty());
  EXPECT_EQ(hits->hits[0].id, "id-42");
  // It takes writes, and keeps everything over a reopen.
  Write(*r, 5000, 10);
  r.reset();
  c.reset();
  db_.reset();
  db_ = Open();
  r = *db_->GetCollection("docs-restored");
  EXPECT_EQ(Everything(*r).size(), snapshot.size() + 10);
}

TEST_P(BackupTest, BackupsAreIncrementalAndDeletionCollectsUnsharedSegments) {
  auto c = Create("inc");
  Write(*c, 0, 600);
  auto first = db_->BackupCollection("inc");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_GT(first->uploaded_bytes, 0u);
  Write(*c, 600, 50);
  auto second = db_->BackupCollection("inc");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->segments, first->segments + 1);
  EXPECT_EQ(second->uploaded_bytes, second->bytes - first->bytes) << "only the new segment";
  EXPECT_EQ(second->vector_count, 650u);

  auto listed = db_->ListBackups();
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].backup_id, first->backup_id);
  EXPECT_EQ((*listed)[1].backup_id, second->backup_id);
  EXPECT_EQ((*listed)[1].bytes, second->bytes);

  ASSERT_TRUE(db_->DeleteBackup(first->backup_id).ok());
  auto segments = store_->List("segments/");
  ASSERT_TRUE(segments.ok());
  EXPECT_EQ(segments->size(), second->segments) << "the shared segment stays";
  auto restored = db_->RestoreBackup(second->backup_id, "inc2");
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(Everything(**db_->GetCollection("inc2")).size(), 650u);

  ASSERT_TRUE(db_->DeleteBackup(second->backup_id).ok());
  segments = store_->List("segments/");
  ASSERT_TRUE(segments.ok());
  EXPECT_TRUE(segments->empty());
  EXPECT_TRUE(absl::IsNotFound(db_->DeleteBackup(second->backup_id)));
  EXPECT_TRUE(db_->ListBackups()->empty());
}

TEST_P(BackupTest, BadRestoresChangeNothing) {
  auto c = Create("src");
  Write(*c, 0, 100);
  auto backup = db_->BackupCollection("src");
  ASSERT_TRUE(backup.ok()) << backup.status();
  EXPECT_TRUE(absl::IsAlreadyExists(db_->RestoreBackup(backup->backup_id, "src").status()));
  EXPECT_TRUE(absl::IsNotFound(db_->RestoreBackup("src-nope", "other").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(db_->RestoreBackup(backup->backup_id, "bad name").status()));
  EXPECT_TRUE(absl::IsNotFound(db_->BackupCollection("missing").status()));
  // The store gone midway: the restore fails as unavailable and leaves nothing behind.
  server_->Kill();
  const auto failed = db_->RestoreBackup(backup->backup_id, "other");
  EXPECT_TRUE(absl::IsUnavailable(failed.status())) << failed.status();
  EXPECT_EQ(db_->ListCollections().size(), 1u);
  auto dirs = Env::Default()->ListDir(JoinPath(tmp_.path(), "collections"));
  ASSERT_TRUE(dirs.ok());
  EXPECT_EQ(dirs->size(), 1u);
}

TEST_P(BackupTest, RestoredSegmentsGoToTheHotDirectory) {
  auto c = Create("placed");
  Write(*c, 0, 200);
  auto backup = db_->BackupCollection("placed");
  ASSERT_TRUE(backup.ok()) << backup.status();
  // Another database on the same store, whose segments go to a hot directory.
  ScopedTempDir other;
  const std::string hot = other.path() + "/hot";
  ASSERT_TRUE(Env::Default()->CreateDirs(hot).ok());
  DatabaseOptions o;
  o.data_dir = other.path() + "/data";
  o.hot_directories = {hot};
  o.background_maintenance = false;
  o.object_store = store_;
  auto db = Database::Open(o);
  ASSERT_TRUE(db.ok()) << db.status();
  auto restored = (*db)->RestoreBackup(backup->backup_id, "placed");
  ASSERT_TRUE(restored.ok()) << restored.status();
  auto dirs = Env::Default()->ListDir(hot + "/collections");
  ASSERT_TRUE(dirs.ok() && dirs->size() == 1u);
  auto files = Env::Default()->ListDir(hot + "/collections/" + (*dirs)[0]);
  ASSERT_TRUE(files.ok());
  EXPECT_EQ(files->size(), backup->segments);
  EXPECT_EQ(Everything(**(*db)->GetCollection("placed")).size(), 200u);
}

TEST_P(BackupTest, PointInTimeRestoreReplaysTheArchivedWalUpToTheMoment) {
  EXPECT_TRUE(absl::IsFailedPrecondition(
      db_->RestoreToTime("none", absl::ToUnixMicros(absl::Now()), "t").status()))
      << "without wal_archive";
  db_.reset();
  wal_archive_ = true;
  db_ = Open();
  auto c = Create("pit");
  Write(*c, 0, 300);
  const int64_t before_backup = Moment();
  ASSERT_TRUE(db_->BackupCollection("pit").ok());
  Write(*c, 300, 100);
  const int64_t t1 = Moment();
  ASSERT_EQ(*c->Delete({"id-5"}), 1u);
  Write(*c, 400, 50);
  const int64_t t2 = Moment();
  Write(*c, 450, 50);
  ASSERT_TRUE(c->Flush().ok());  // archives the WAL that holds all of it
  const Contents now = Everything(*c);
  ASSERT_EQ(now.size(), 499u);

  auto at_t1 = db_->RestoreToTime("pit", t1, "pit-t1");
  ASSERT_TRUE(at_t1.ok()) << at_t1.status();
  const Contents r1 = Everything(**db_->GetCollection("pit-t1"));
  EXPECT_EQ(r1.size(), 400u);
  EXPECT_TRUE(r1.contains("id-5"));
  EXPECT_FALSE(r1.contains("id-400"));
  auto at_t2 = db_->RestoreToTime("pit", t2, "pit-t2");
  ASSERT_TRUE(at_t2.ok()) << at_t2.status();
  const Contents r2 = Everything(**db_->GetCollection("pit-t2"));
  EXPECT_EQ(r2.size(), 449u);
  EXPECT_FALSE(r2.contains("id-5"));
  EXPECT_TRUE(r2.contains("id-449"));
  EXPECT_FALSE(r2.contains("id-450"));
  for (const auto& [id, record] : r2) EXPECT_TRUE(record == now.at(id)) << id;
  EXPECT_TRUE(absl::IsNotFound(db_->RestoreToTime("pit", before_backup, "early").status()));
  // The restored collections survive a reopen (their WAL was replayed into their memtables).
  c.reset();
  db_.reset();
  db_ = Open();
  EXPECT_EQ(Everything(**db_->GetCollection("pit-t1")).size(), 400u);
}

TEST_P(BackupTest, WalFilesWaitForTheArchiveAcrossARestart) {
  if (GetParam() == Kind::kMoto) GTEST_SKIP() << "moto restarts empty";
  db_.reset();
  wal_archive_ = true;
  db_ = Open();
  auto c = Create("arch");
  Write(*c, 0, 100);
  ASSERT_TRUE(db_->BackupCollection("arch").ok());
  Write(*c, 100, 50);
  const int64_t moment = Moment();
  Write(*c, 150, 10);
  server_->Kill();
  ASSERT_TRUE(c->Flush().ok()) << "a flush does not wait for the archive";
  c.reset();
  db_.reset();
  db_ = Open();  // the covered, unarchived WAL files are still there
  ASSERT_TRUE(server_->Restart().ok());
  c = *db_->GetCollection("arch");
  Write(*c, 160, 5);
  ASSERT_TRUE(c->Flush().ok());  // uploads them now
  auto restored = db_->RestoreToTime("arch", moment, "arch-t");
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(Everything(**db_->GetCollection("arch-t")).size(), 150u);
}

TEST(BackupWithoutStoreTest, IsAFailedPrecondition) {
  ScopedTempDir tmp;
  DatabaseOptions o;
  o.data_dir = tmp.path();
  o.background_maintenance = false;
  auto db = Database::Open(o);
  ASSERT_TRUE(db.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition((*db)->ListBackups().status()));
  EXPECT_TRUE(absl::IsFailedPrecondition((*db)->BackupCollection("x").status()));
}

INSTANTIATE_TEST_SUITE_P(Servers, BackupTest, ::testing::Values(Kind::kMoto, Kind::kS3Proxy),
                         [](const auto& info) {
                           return std::string(info.param == Kind::kMoto ? "Moto" : "S3Proxy");
                         });

}  // namespace
}  // namespace proximadb

namespace proximadb {
namespace {

// Damage in the store, on moto.
class DamagedBackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = S3TestServer::Start(S3TestServer::Kind::kMoto, "proximadb-damaged");
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    store_ = std::shared_ptr<ObjectStore>(std::move(*NewS3ObjectStore(server_->Options("d"))));
    DatabaseOptions o;
    o.data_dir = tmp_.path();
    o.background_maintenance = false;
    o.object_store = store_;
    db_ = *Database::Open(o);
    CollectionConfig c;
    c.name = "src";
    c.dimension = 4;
    ASSERT_TRUE(db_->CreateCollection(c).ok());
    ASSERT_TRUE((*db_->GetCollection("src"))->Insert({"a", {1, 2, 3, 4}, "{}"}).ok());
  }
  ScopedTempDir tmp_;
  std::unique_ptr<S3TestServer> server_;
  std::shared_ptr<ObjectStore> store_;
  std::unique_ptr<Database> db_;
};

TEST_F(DamagedBackupTest, BadIdsAreRefusedByName) {
  for (const char* id : {"../x", "a/b", ""}) {
    EXPECT_TRUE(absl::IsInvalidArgument(db_->RestoreBackup(id, "t").status())) << id;
    EXPECT_TRUE(absl::IsInvalidArgument(db_->DeleteBackup(id))) << id;
  }
}

TEST_F(DamagedBackupTest, ADamagedBackupHidesNothingElseAndHoldsTheCollectionBack) {
  auto good = db_->BackupCollection("src");
  ASSERT_TRUE(good.ok()) << good.status();
  ASSERT_TRUE(store_->Put("backups/src-broken/backup.json", "{not json").ok());
  ASSERT_TRUE(store_->Put("backups/src-broken/MANIFEST", "x").ok());
  ASSERT_TRUE(store_->Put("backups/src-half/MANIFEST", "x").ok());  // no backup.json
  ASSERT_TRUE(store_->Put("segments/0123.pxs", "orphan").ok());
  auto listed = db_->ListBackups();
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].backup_id, good->backup_id);
  EXPECT_TRUE(absl::IsDataLoss(db_->RestoreBackup("src-broken", "t").status()));
  // While an unreadable backup.json exists, nothing is collected (its segments are unknown).
  ASSERT_TRUE(db_->DeleteBackup(good->backup_id).ok());
  EXPECT_TRUE(store_->Head("segments/0123.pxs").ok());
  EXPECT_TRUE(store_->Head("backups/src-half/MANIFEST").ok());
  // Deleting the damaged one collects everything nothing names.
  ASSERT_TRUE(db_->DeleteBackup("src-broken").ok());
  EXPECT_TRUE(absl::IsNotFound(store_->Head("segments/0123.pxs").status()));
  EXPECT_TRUE(absl::IsNotFound(store_->Head("backups/src-half/MANIFEST").status()));
  EXPECT_TRUE(store_->List("segments/")->empty());
}

TEST_F(DamagedBackupTest, AListedBackupWithAMissingSegmentIsDataLoss) {
  auto backup = db_->BackupCollection("src");
  ASSERT_TRUE(backup.ok()) << backup.status();
  auto segments = store_->List("segments/");
  ASSERT_TRUE(segments.ok() && segments->size() == 1u);
  ASSERT_TRUE(store_->Delete((*segments)[0].key).ok());
  const auto restored = db_->RestoreBackup(backup->backup_id, "t");
  EXPECT_TRUE(absl::IsDataLoss(restored.status())) << restored.status();
  EXPECT_EQ(db_->ListCollections().size(), 1u);
}

}  // namespace
}  // namespace proximadb
