// The cold tier (docs/storage.md#the-cold-tier): segments to a real S3 server (moto; the round
// trip also to s3proxy, which checks signatures) and back, searched through the local cache,
// with files on the fault Env (power loss at every step) and the store behind a fault proxy
// (unreachable).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>

#include "absl/time/clock.h"
#include "common/errors.h"
#include "env/fault_injection_env.h"
#include "proximadb/database.h"
#include "storage/fault_proxy.h"
#include "storage/file_names.h"
#include "storage/object_store.h"
#include "storage/s3_test_server.h"

namespace proximadb {
namespace {

using Hits = std::vector<std::vector<std::string>>;

using Kind = S3TestServer::Kind;

class ColdTierTest : public ::testing::Test {
 protected:
  // One server of each kind for the suite, started when first needed.
  static S3TestServer& Server(Kind kind) {
    std::unique_ptr<S3TestServer>& server = servers_[static_cast<int>(kind)];
    if (server == nullptr) {
      auto started = S3TestServer::Start(kind, "proximadb-cold");
      EXPECT_TRUE(started.ok()) << started.status();
      if (!started.ok()) std::abort();
      server = *std::move(started);
    }
    return *server;
  }
  static void TearDownTestSuite() {
    for (auto& server : servers_) server.reset();
  }

  void SetUp() override { ConnectTo(Kind::kMoto); }

  void ConnectTo(Kind kind) {
    server_ = &Server(kind);
    ObjectStoreOptions o = server_->Options(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    if (proxy_) o.endpoint = proxy_->endpoint();
    o.max_attempts = 2;
    o.initial_backoff_ms = 10;
    auto store = NewS3ObjectStore(o);
    ASSERT_TRUE(store.ok()) << store.status();
    for (const ObjectInfo& old : *store.value()->List("")) {  // an earlier parameter's
      ASSERT_TRUE((*store)->Delete(old.key).ok());
    }
    store_ = std::shared_ptr<ObjectStore>(std::move(*store));
    std::remove(catalog_.c_str());
  }

  std::unique_ptr<Database> Open() {
    DatabaseOptions o;
    o.env = env_.get();
    o.data_dir = "/db";
    o.catalog_path = catalog_;
    o.background_maintenance = background_;
    o.maintenance_interval_ms = 20;
    o.background_indexing = false;
    o.object_store = store_;
    o.cache_size_mb = cache_mb_;
    o.warm_directories = {"/warm"};
    EXPECT_TRUE(env_->CreateDirs("/warm").ok());
    auto db = Database::Open(o);
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? *std::move(db) : nullptr;
  }

  // Collection "t" with `policy`: two flushed segments of kRows rows, every 60th row deleted.
  std::shared_ptr<Collection> Fill(Database& db, const TieringPolicy& policy) {
    CollectionConfig config;
    config.name = "t";
    config.dimension = dim_;
    config.metric = DistanceMetric::kL2;
    config.tiering = policy;
    EXPECT_TRUE(db.CreateCollection(config).ok());
    auto c = *db.GetCollection("t");
    std::mt19937 rng(5);
    std::normal_distribution<float> normal;
    for (int part = 0; part < 2; ++part) {
      std::vector<Record> batch;
      for (int i = part * rows_; i < (part + 1) * rows_; ++i) {
        Record r{"id" + std::to_string(i), std::vector<float>(dim_),
                 "{\"i\":" + std::to_string(i) + "}"};
        for (float& x : r.vector) x = normal(rng);
        r.vector[0] = static_cast<float>(i);
        batch.push_back(std::move(r));
      }
      EXPECT_TRUE(c->Write(std::move(batch), WriteMode::kUpsert).ok());
      EXPECT_TRUE(c->Flush().ok());
    }
    std::vector<std::string> dead;
    for (int i = 0; i < 2 * rows_; i += 60) dead.push_back("id" + std::to_string(i));
    EXPECT_EQ(*c->Delete(dead), dead.size());
    return c;
  }

  // Collection "t" (Fill) with both segments cold, in a database opened again: nothing of
  // them is cached.
  void FillColdAndReopen(std::unique_ptr<Database>& db, std::shared_ptr<Collection>& c) {
    db = Open();
    c = Fill(*db, TieringPolicy{.cold_after_hours = 0.0});
    ASSERT_TRUE(c->ApplyTiering().ok());
    c.reset();
    db.reset();
    db = Open();
    c = *db->GetCollection("t");
  }

  // The top 10 ids of 20 queries, or the first error.
  absl::StatusOr<Hits> Searches(Collection& c) {
    Hits out;
    std::mt19937 rng(11);
    std::normal_distribution<float> normal;
    for (int q = 0; q < 20; ++q) {
      std::vector<float> v(dim_);
      for (float& x : v) x = normal(rng);
      v[0] = static_cast<float>(q * 2 * rows_ / 20);
      SearchRequest r;
      r.vector = v;
      r.k = 10;
      absl::StatusOr<SearchResponse> found = c.Search(r);
      if (!found.ok()) return found.status();
      out.emplace_back();
      for (const SearchHit& h : found->hits) out.back().push_back(h.id);
    }
    return out;
  }

  // Files of `kind` in the collection directories under /db and /warm.
  int Files(FileKind kind) {
    int n = 0;
    for (const std::string base : {"/db/collections", "/warm/collections"}) {
      auto dirs = env_->ListDir(base);
      if (!dirs.ok()) continue;
      for (const std::string& d : *dirs) {
        const auto names = env_->ListDir(base + "/" + d);
        for (const std::string& name : *names) {
          uint64_t number;
          n += ParseFileName(name, &number) == kind;
        }
      }
    }
    return n;
  }

  int Objects() {
    auto listed = store_->List("cold/");
    EXPECT_TRUE(listed.ok()) << listed.status();
    return listed.ok() ? static_cast<int>(listed->size()) : -1;
  }

  // What every test expects of "t" whatever its tier.
  void ExpectContents(Collection& c) {
    EXPECT_EQ(*c.Count(""), static_cast<uint64_t>(2 * rows_ - (2 * rows_ + 59) / 60));
    EXPECT_FALSE(c.Get("id60").ok()) << "deleted stays deleted";
    auto r = c.Get("id333");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->vector[0], 333.0f);
    EXPECT_EQ(r->metadata, "{\"i\":333}");
  }

  static std::unique_ptr<S3TestServer> servers_[2];
  S3TestServer* server_ = nullptr;
  std::unique_ptr<FaultProxy> proxy_;
  std::shared_ptr<ObjectStore> store_;
  std::unique_ptr<FaultInjectionEnv> env_ = std::make_unique<FaultInjectionEnv>();
  uint32_t dim_ = 8;
  int rows_ = 300;
  uint64_t cache_mb_ = 10240;
  bool background_ = false;
  const std::string catalog_ = [] {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '-');  // a parameterized test's
    return ::testing::TempDir() + "/cold-" + name + ".db";
  }();
};

std::unique_ptr<S3TestServer> ColdTierTest::servers_[2];

class ColdRoundTripTest : public ColdTierTest, public ::testing::WithParamInterface<Kind> {
 protected:
  void SetUp() override { ConnectTo(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Servers, ColdRoundTripTest,
                         ::testing::Values(Kind::kMoto, Kind::kS3Proxy),
                         [](const auto& info) {
                           return std::string(info.param == Kind::kMoto ? "moto" : "s3proxy");
                         });

TEST_P(ColdRoundTripTest, HotWarmColdSearchAndBackAnswerTheSame) {
  auto db = Open();
  auto c = Fill(*db, TieringPolicy{});
  const absl::StatusOr<Hits> before = Searches(*c);
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_TRUE(db->UpdateCollection("t", {.tiering = TieringPolicy{.warm_after_hours = 0.0}})
                  .ok());
  ASSERT_TRUE(c->ApplyTiering().ok());
  ASSERT_EQ(c->Stats().tier_warm_segments, 2u);

  ASSERT_TRUE(db->UpdateCollection("t", {.tiering = TieringPolicy{.warm_after_hours = 0.0,
                                                                   .cold_after_hours = 0.0}})
                  .ok());
  ASSERT_TRUE(c->ApplyTiering().ok());
  CollectionStats st = c->Stats();
  EXPECT_EQ(st.tier_warm_segments, 0u);
  EXPECT_EQ(st.tier_cold_segments, 2u);
  EXPECT_EQ(st.tier_hot_segments, 0u);
  EXPECT_GT(st.tier_cold_bytes, 2u * rows_ * dim_ * sizeof(float));
  EXPECT_LT(st.disk_bytes, st.tier_cold_bytes) << "stubs hold no vectors";
  EXPECT_EQ(st.cache_bytes, 0u);
  EXPECT_EQ(Files(FileKind::kSegment), 0);
  EXPECT_EQ(Files(FileKind::kColdStub), 2);
  EXPECT_EQ(Objects(), 2);

  EXPECT_EQ(*c->Count(R"({"i": {"$gte": 100}})"), 492u)
      << "from the stubs: 500 rows, 8 of them deleted";
  EXPECT_EQ(c->Stats().cache_bytes, 0u) << "a count needs no vectors";
  EXPECT_EQ(*Searches(*c), *before);
  EXPECT_EQ(c->Stats().cache_bytes, st.tier_cold_bytes) << "both fetched";
  ExpectContents(*c);
  ASSERT_TRUE(c->Compact().ok());
  EXPECT_EQ(c->Stats().tier_cold_segments, 2u) << "compaction leaves cold segments alone";

  // Writes reach cold rows: a delete, and a metadata update that keeps the vector.
  ASSERT_EQ(*c->Delete({"id100"}), 1u);
  ASSERT_TRUE(c->ReplaceMetadata("id301", "{\"i\":-1}").ok());
  ASSERT_TRUE(c->Flush().ok());

  c.reset();
  db.reset();
  db = Open();  // the cache starts empty; the stubs and the manifest say cold
  c = *db->GetCollection("t");
  EXPECT_EQ(c->Stats().tier_cold_segments, 2u);
  EXPECT_EQ(c->Stats().cache_bytes, 0u);
  EXPECT_FALSE(c->Get("id100").ok());
  EXPECT_EQ(c->Get("id301")->vector[0], 301.0f);
  EXPECT_EQ(c->Get("id301")->metadata, "{\"i\":-1}");
  ASSERT_TRUE(c->Delete({"id301"}).ok());  // its old row in a stub, its new one in a segment
  ASSERT_TRUE(c->Write({{"id100", std::vector<float>(dim_, 100.0f), "{\"i\":100}"}},
                       WriteMode::kUpsert)
                  .ok());
  ASSERT_TRUE(c->Write({{"id301", c->Get("id333")->vector, "{\"i\":301}"}}, WriteMode::kUpsert)
                  .ok());

  ASSERT_TRUE(db->UpdateCollection("t", {.tiering = TieringPolicy{}}).ok());
  ASSERT_TRUE(c->ApplyTiering().ok());
  st = c->Stats();
  EXPECT_EQ(st.tier_cold_segments, 0u);
  EXPECT_EQ(st.tier_hot_segments, 3u) << "back to a hot directory, with the flushed one";
  EXPECT_EQ(Files(FileKind::kColdStub), 0);
  EXPECT_EQ(Objects(), 0) << "objects of segments back home are deleted";
  ExpectContents(*c);
  EXPECT_EQ(c->Get("id301")->vector[0], 333.0f);
}

TEST_F(ColdTierTest, TheCacheKeepsWithinItsSizeAndSearchesStayRight) {
  dim_ = 128;
  rows_ = 1200;  // each segment's file is about 0.7 MB: one fits in 1 MB, not two
  cache_mb_ = 1;
  auto db = Open();
  auto c = Fill(*db, TieringPolicy{});
  const absl::StatusOr<Hits> before = Searches(*c);
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_TRUE(db->UpdateCollection("t", {.tiering = TieringPolicy{.cold_after_hours = 0.0}})
                  .ok());
  ASSERT_TRUE(c->ApplyTiering().ok());
  ASSERT_EQ(c->Stats().tier_cold_segments, 2u);
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(*Searches(*c), *before) << "each search fetches what the cache let go";
    const CollectionStats st = c->Stats();
    EXPECT_GT(st.cache_bytes, 0u);
    EXPECT_LE(st.cache_bytes, uint64_t{1} << 20);
  }
  ExpectContents(*c);
  auto cached = env_->ListDir("/db/cache");
  ASSERT_TRUE(cached.ok());
  ASSERT_EQ(cached->size(), 1u);
  EXPECT_EQ(env_->ListDir("/db/cache/" + cached->at(0))->size(), 1u) << "evicted files go";
}

TEST_F(ColdTierTest, AnUnreachableStoreFailsOnlyReadsOfUncachedVectors) {
  proxy_ = std::make_unique<FaultProxy>(server_->port());
  ConnectTo(Kind::kMoto);  // the store through the proxy
  auto db = Open();
  auto c = Fill(*db, TieringPolicy{.cold_after_hours = 0.0});
  ASSERT_TRUE(c->ApplyTiering().ok());
  c.reset();
  db.reset();
  db = Open();  // an empty cache
  c = *db->GetCollection("t");

  proxy_->Add(FaultProxy::Fault::k500, 2);  // both attempts of the next request
  const std::vector<float> ones(dim_, 1.0f);
  SearchRequest q;
  q.vector = ones;
  q.k = 3;
  absl::StatusOr<SearchResponse> failed = c->Search(q);
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(absl::IsUnavailable(failed.status())) << failed.status();
  EXPECT_EQ(ErrorCodeOf(failed.status()), kObjectStoreUnavailable);
  // Everything that needs no vectors from the store goes on.
  EXPECT_EQ(*c->Count(R"({"i": {"$lt": 300}})"), 295u);
  auto page = c->Scroll("", 5, "", /*include_vectors=*/false);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->records.size(), 5u);
  ASSERT_TRUE(c->Write({{"new", std::vector<float>(dim_, 1.0f), "{}"}}, WriteMode::kInsert).ok());
  ASSERT_EQ(*c->Delete({"id7"}), 1u);
  // The store answers again: so do the searches.
  absl::StatusOr<SearchResponse> found = c->Search(q);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->hits.at(0).id, "new");
  EXPECT_FALSE(c->Get("id7").ok());
  ExpectContents(*c);
}

TEST_F(ColdTierTest, PowerLossAtEveryStepOfATierChangeLosesNothing) {
  for (bool coming_back : {false, true}) {
    int n = 1;
    for (;; ++n) {
      std::remove(catalog_.c_str());
      env_ = std::make_unique<FaultInjectionEnv>();
      const auto objects = store_->List("");
      for (const ObjectInfo& o : *objects) ASSERT_TRUE(store_->Delete(o.key).ok());
      auto db = Open();
      auto c = Fill(*db, TieringPolicy{.cold_after_hours = 0.0});
      ASSERT_TRUE(c->Flush().ok());  // the deletions into the manifest
      if (coming_back) {
        ASSERT_TRUE(c->ApplyTiering().ok());
        ASSERT_TRUE(db->UpdateCollection("t", {.tiering = TieringPolicy{}}).ok());
      }
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
      const std::string at = (coming_back ? "back, op " : "cold, op ") + std::to_string(n);
      EXPECT_EQ(Files(FileKind::kSegment) + Files(FileKind::kColdStub), 2) << at;
      // The next pass finishes the change and collects what the cut left in the store.
      ASSERT_TRUE(c->ApplyTiering().ok()) << at;
      EXPECT_EQ(Objects(), coming_back ? 0 : 2) << at;
      EXPECT_EQ(c->Stats().tier_cold_segments, coming_back ? 0u : 2u) << at;
      ExpectContents(*c);
      if (!cut) break;  // the change ran to the end: every step has had its cut
    }
    EXPECT_GE(n, 2 * 5) << "two segments of at least five file operations each";
  }
}

TEST_F(ColdTierTest, BackupsOfColdSegmentsRestoreWholeAndDropsDeleteTheObjects) {
  std::unique_ptr<Database> db;
  std::shared_ptr<Collection> c;
  ASSERT_NO_FATAL_FAILURE(FillColdAndReopen(db, c));  // the backup reads the cold objects
  absl::StatusOr<BackupInfo> backup = db->BackupCollection("t");
  ASSERT_TRUE(backup.ok()) << backup.status();
  ASSERT_TRUE(db->RestoreBackup(backup->backup_id, "copy").ok());
  auto copy = *db->GetCollection("copy");
  EXPECT_EQ(copy->Stats().tier_cold_segments, 0u) << "a restore is local";
  ExpectContents(*copy);
  EXPECT_EQ(*Searches(*copy), *Searches(*c));

  EXPECT_EQ(Objects(), 2);
  ASSERT_TRUE(db->DropCollection("t").ok());
  EXPECT_EQ(Objects(), 0);
}

TEST_F(ColdTierTest, AnExportOfColdSegmentsCopiesThemWhole) {
  // A cluster's replica copied from another node's (docs/cluster.md#copying-a-replica).
  std::unique_ptr<Database> db;
  std::shared_ptr<Collection> c;
  ASSERT_NO_FATAL_FAILURE(FillColdAndReopen(db, c));  // the export reads the cold objects
  absl::StatusOr<CollectionExport> exported = db->ExportCollection("t");
  ASSERT_TRUE(exported.ok()) << exported.status();
  ASSERT_TRUE(db->RestoreFrom(*exported->store, exported->backup_id, "copy").ok());
  auto copy = *db->GetCollection("copy");
  EXPECT_EQ(copy->Stats().tier_cold_segments, 0u) << "a copy is local";
  EXPECT_EQ(copy->Stats().last_seq, c->Stats().last_seq);
  ExpectContents(*copy);
  EXPECT_EQ(*Searches(*copy), *Searches(*c));
}

TEST_F(ColdTierTest, ColdSegmentsStayColdAcrossARestartUntilSearched) {
  auto db = Open();
  auto c = Fill(*db, TieringPolicy{.cold_after_hours = 0.0});
  ASSERT_TRUE(c->ApplyTiering().ok());
  ASSERT_TRUE(db->UpdateCollection("t", {.tiering = TieringPolicy{.cold_after_hours = 1.0}})
                  .ok());
  c.reset();
  db.reset();
  // What a cache directory holds that the cache did not write stays.
  ASSERT_TRUE(env_->CreateDirs("/db/cache/other").ok());
  for (const std::string name : {"keep.txt", "seg-000001.pxs.3.cache"}) {
    auto file = env_->NewWritableFile("/db/cache/other/" + name);
    ASSERT_TRUE(file.ok() && (*file)->Append("x").ok() && (*file)->Close().ok());
  }
  db = Open();
  EXPECT_TRUE(env_->FileExists("/db/cache/other/keep.txt"));
  EXPECT_FALSE(env_->FileExists("/db/cache/other/seg-000001.pxs.3.cache"));
  c = *db->GetCollection("t");
  ASSERT_TRUE(c->ApplyTiering().ok());
  EXPECT_EQ(c->Stats().tier_cold_segments, 2u) << "unsearched for an hour, restart or not";
  ExpectContents(*c);  // a get fetches one segment, but does not search it
  EXPECT_EQ(c->Stats().tier_cold_segments, 2u);
  ASSERT_TRUE(Searches(*c).ok());
  ASSERT_TRUE(c->ApplyTiering().ok());
  EXPECT_EQ(c->Stats().tier_cold_segments, 0u) << "searched: back to local disk";
  EXPECT_EQ(Objects(), 0);
}

TEST_F(ColdTierTest, ObjectsOfDroppedCollectionsAreCollected) {
  ASSERT_TRUE(store_->Put("cold/gone-uid/seg-000004.pxs", "left by a drop").ok());
  auto db = Open();
  auto c = Fill(*db, TieringPolicy{.cold_after_hours = 0.0});
  ASSERT_TRUE(c->ApplyTiering().ok());
  ASSERT_EQ(Objects(), 3);
  c.reset();
  db.reset();
  background_ = true;  // the first maintenance pass collects them
  db = Open();
  for (int i = 0; i < 400 && Objects() != 2; ++i) absl::SleepFor(absl::Milliseconds(25));
  EXPECT_EQ(Objects(), 2) << "the live collection's stay";
  ExpectContents(**db->GetCollection("t"));
}

TEST_F(ColdTierTest, TheCacheMayNotBeADataDirectory) {
  DatabaseOptions o;
  o.env = env_.get();
  o.data_dir = "/db";
  o.catalog_path = catalog_;
  o.object_store = store_;
  o.cache_directory = "/db/";
  absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(o);
  ASSERT_FALSE(db.ok());
  EXPECT_NE(db.status().message().find("cache_directory"), std::string::npos) << db.status();
}

TEST_F(ColdTierTest, ColdPoliciesNeedAnObjectStore) {
  store_ = nullptr;
  auto db = Open();
  CollectionConfig config;
  config.name = "t";
  config.dimension = 4;
  config.tiering.cold_after_hours = 1.0;
  absl::StatusOr<CollectionConfig> created = db->CreateCollection(config);
  ASSERT_FALSE(created.ok());
  EXPECT_NE(created.status().message().find("tiering.cold_after_hours"), std::string::npos);
  config.tiering.cold_after_hours = -1.0;
  EXPECT_FALSE(db->CreateCollection(config).ok());
}

}  // namespace
}  // namespace proximadb
