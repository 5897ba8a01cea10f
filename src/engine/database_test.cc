// Collections of a database on the real file system: catalog, directories, lock, reopen.
#include <thread>

#include "absl/strings/match.h"
#include "common/scoped_temp_dir.h"
#include "env/env.h"
#include "gtest/gtest.h"
#include "proximadb/database.h"

namespace proximadb {
namespace {

class DatabaseTest : public ::testing::Test {
 protected:
  std::unique_ptr<Database> Open() {
    DatabaseOptions o;
    o.data_dir = dir_;
    o.background_maintenance = false;
    auto db = Database::Open(o);
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? *std::move(db) : nullptr;
  }
  static CollectionConfig Config(std::string name, uint32_t dim) {
    CollectionConfig c;
    c.name = std::move(name);
    c.dimension = dim;
    return c;
  }
  ScopedTempDir tmp_;
  const std::string dir_ = tmp_.path();
};

TEST_F(DatabaseTest, CreateListDescribeDropAndReopen) {
  auto db = Open();
  auto created = db->CreateCollection(Config("b-docs", 3));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_GT(created->created_at_us, 0);
  CollectionConfig c = Config("a_imgs", 8);
  c.metric = DistanceMetric::kDot;
  c.flush.flush_priority = 90;
  ASSERT_TRUE(db->CreateCollection(c).ok());
  EXPECT_EQ(db->CreateCollection(c).status().code(), absl::StatusCode::kAlreadyExists);

  auto list = db->ListCollections();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].name, "a_imgs");
  EXPECT_EQ(list[1].name, "b-docs");
  ASSERT_TRUE((*db->GetCollection("b-docs"))->Insert({"x", {1, 2, 3}, "{}"}).ok());

  db.reset();
  db = Open();
  auto desc = db->DescribeCollection("a_imgs");
  ASSERT_TRUE(desc.ok());
  EXPECT_EQ(desc->metric, DistanceMetric::kDot);
  EXPECT_EQ(desc->flush.flush_priority, 90);
  EXPECT_EQ((*db->GetCollection("b-docs"))->Get("x")->vector[2], 3);

  auto handle = *db->GetCollection("b-docs");
  ASSERT_TRUE(db->DropCollection("b-docs").ok());
  EXPECT_EQ(db->GetCollection("b-docs").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(db->DropCollection("b-docs").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(handle->Insert({"y", {1, 2, 3}, "{}"}).code(), absl::StatusCode::kFailedPrecondition);
  handle.reset();
  // The same name can be created again and starts empty.
  ASSERT_TRUE(db->CreateCollection(Config("b-docs", 3)).ok());
  EXPECT_EQ(*(*db->GetCollection("b-docs"))->Count(), 0u);
  db.reset();
  db = Open();
  EXPECT_EQ(db->ListCollections().size(), 2u);
  EXPECT_EQ(*(*db->GetCollection("b-docs"))->Count(), 0u);
}

TEST_F(DatabaseTest, InvalidConfigsNameTheSetting) {
  auto db = Open();
  struct Case {
    CollectionConfig config;
    std::string field;
  };
  std::vector<Case> cases;
  for (const std::string& bad :
       std::vector<std::string>{"", "-x", "a b", "a/b", std::string(65, 'a'), "é"}) {
    cases.push_back({Config(bad, 3), "name"});
  }
  cases.push_back({Config("ok", 0), "dimension"});
  cases.push_back({Config("ok", 65537), "dimension"});
  CollectionConfig c = Config("ok", 3);
  c.flush.flush_priority = 0;
  cases.push_back({c, "flush_priority"});
  c = Config("ok", 3);
  c.flush.max_wal_size_mb = -1;
  cases.push_back({c, "max_wal_size_mb"});
  c = Config("pq", 10);
  c.quantization = {Quantization::kPq, 3, 0};
  cases.push_back({c, "pq_m"});
  c = Config("pq_m", 10);
  c.quantization = {Quantization::kSq8, 5, 0};
  cases.push_back({c, "pq_m"});
  c = Config("rerank", 10);
  c.quantization.rerank = 10001;
  cases.push_back({c, "rerank"});
  c = Config("nprobe", 10);
  c.index.nprobe = 0;
  cases.push_back({c, "nprobe"});
  c = Config("flat", 10);
  c.indexing_algorithm = IndexingAlgorithm::kFlat;
  c.quantization.kind = Quantization::kSq8;
  cases.push_back({c, "quantization"});
  c = Config("ivf", 10);
  c.indexing_algorithm = IndexingAlgorithm::kIvf;  // custom only
  cases.push_back({c, "indexing_algorithm"});
  c = Config("sharded", 10);
  c.shards = 2;  // cluster mode only
  cases.push_back({c, "shards: 2 needs cluster mode"});
  c = Config("copied", 10);
  c.replication_factor = 3;
  cases.push_back({c, "replication_factor: 3 needs cluster mode"});
  for (const Case& k : cases) {
    auto s = db->CreateCollection(k.config).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << k.config.name;
    EXPECT_TRUE(absl::StrContains(s.message(), k.field)) << s;
  }
  EXPECT_TRUE(db->ListCollections().empty());
  EXPECT_TRUE(db->CreateCollection(Config(std::string(64, 'a'), 65536)).ok());
  c = Config("one", 3);
  c.shards = c.replication_factor = 1;  // what a single node is
  EXPECT_TRUE(db->CreateCollection(c).ok());
}

TEST_F(DatabaseTest, OneProcessPerDataDirectory) {
  auto db = Open();
  DatabaseOptions o;
  o.data_dir = dir_;
  auto second = Database::Open(o);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(second.status().message(), "LOCK")) << second.status();
}

TEST_F(DatabaseTest, OrphanedCollectionDirectoryIsRemovedOnOpen) {
  Open().reset();
  Env* env = Env::Default();
  const std::string orphan = dir_ + "/collections/left-behind";
  ASSERT_TRUE(env->CreateDirs(orphan).ok());
  ASSERT_TRUE(env->WriteFileAtomically(orphan + "/MANIFEST", "x").ok());
  auto db = Open();
  EXPECT_FALSE(env->FileExists(orphan));
}

TEST_F(DatabaseTest, BackgroundFlushHonoursTheVectorCountPolicy) {
  DatabaseOptions o;
  o.data_dir = dir_;
  o.maintenance_interval_ms = 20;
  auto db = *Database::Open(o);
  CollectionConfig c = Config("small", 2);
  c.flush.max_vector_count = 100;
  ASSERT_TRUE(db->CreateCollection(c).ok());
  auto coll = *db->GetCollection("small");
  std::vector<Record> batch;
  for (int i = 0; i < 250; ++i) batch.push_back({"id" + std::to_string(i), {1, float(i)}, "{}"});
  ASSERT_TRUE(coll->Write(batch, WriteMode::kInsert).ok());
  EXPECT_GT(coll->Stats().oldest_unflushed_age_seconds, 0);
  for (int i = 0; i < 200 && coll->Stats().flushes == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CollectionStats st = coll->Stats();
  EXPECT_GE(st.flushes, 1u);
  EXPECT_EQ(st.memtable_rows, 0u);
  EXPECT_EQ(st.oldest_unflushed_age_seconds, 0);
  EXPECT_EQ(st.vector_count, 250u);
}

TEST_F(DatabaseTest, UpdateCollectionChangesSettingsDurably) {
  {
    auto db = Open();
    ASSERT_TRUE(db->CreateCollection(Config("u", 2)).ok());
    CollectionUpdate u;
    u.ef_search = 128;
    u.flush_priority = 80;
    u.max_wal_size_mb = 16;
    auto updated = db->UpdateCollection("u", u);
    ASSERT_TRUE(updated.ok()) << updated.status();
    EXPECT_EQ(updated->index.ef_search, 128u);
    EXPECT_EQ(updated->index.m, 16u);  // untouched
    EXPECT_EQ((*db->GetCollection("u"))->config().flush.flush_priority, 80);
    CollectionUpdate bad;
    bad.flush_priority = 0;
    auto rejected = db->UpdateCollection("u", bad);
    EXPECT_EQ(rejected.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(rejected.status().message(), "flush_priority"));
    EXPECT_EQ((*db->GetCollection("u"))->config().flush.flush_priority, 80);  // unchanged
    EXPECT_EQ(db->UpdateCollection("none", u).status().code(), absl::StatusCode::kNotFound);
  }
  auto db = Open();
  const CollectionConfig c = *db->DescribeCollection("u");
  EXPECT_EQ(c.index.ef_search, 128u);
  EXPECT_EQ(c.flush.flush_priority, 80);
  EXPECT_EQ(c.flush.max_wal_size_mb, 16);
}

}  // namespace
}  // namespace proximadb
