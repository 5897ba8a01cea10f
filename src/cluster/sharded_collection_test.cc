// ShardedCollection: a collection of four shards, each replicated on three nodes (databases
// on disk) through its own log on a 3-node NATS JetStream cluster (real servers on loopback).
#include "cluster/sharded_collection.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/match.h"
#include "cluster/shard_replica.h"
#include "cluster/test_fixtures.h"
#include "common/scoped_temp_dir.h"
#include "common/strings.h"
#include "proximadb/database.h"

namespace proximadb::cluster {
namespace {

constexpr int kShards = 4;
constexpr int kNodes = 3;

Record Rec(int i) {
  return {Cat("id-", i), {float(i % 17), float(i % 5), float(i) / 10, 1},
          Cat(R"({"i":)", i, "}")};
}

class ShardedCollectionTest : public NatsSuite {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(NatsSuite::SetUp());
    auto log = ShardLog::Connect({.urls = nats_->urls()});
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (int s = 0; s < kShards; ++s) {
      streams_.push_back(Cat(test, "_", s));
      ASSERT_TRUE(log_->EnsureStream(streams_.back(), 3).ok());
    }
    for (int n = 0; n < kNodes; ++n) ASSERT_NO_FATAL_FAILURE(OpenNode(n));
  }
  void TearDown() override {
    sharded_.clear();
    dbs_.clear();
    for (const std::string& s : streams_) (void)log_->DeleteStream(s);
  }
  // Node n: a database holding one collection per shard, and the sharded view over them.
  void OpenNode(int n) {
    DatabaseOptions o;
    o.data_dir = Cat(dir_.path(), "/node", n);
    o.catalog_path = Cat(dir_.path(), "/node", n, ".db");
    o.background_maintenance = false;
    auto db = Database::Open(o);
    ASSERT_TRUE(db.ok()) << db.status();
    std::vector<std::shared_ptr<Shard>> replicas;
    for (int s = 0; s < kShards; ++s) {
      CollectionConfig c;
      c.name = Cat("c-", s);
      c.dimension = 4;
      c.metric = DistanceMetric::kL2;
      ASSERT_TRUE((*db)->CreateCollection(c).ok());
      auto replica = ShardReplica::Start(log_.get(), *(*db)->GetCollection(c.name),
                                         {.stream = streams_[s], .node_id = Cat("node", n)});
      ASSERT_TRUE(replica.ok()) << replica.status();
      replicas.push_back(*std::move(replica));
    }
    CollectionConfig config;
    config.name = "c";
    config.dimension = 4;
    config.metric = DistanceMetric::kL2;
    config.shards = kShards;
    config.replication_factor = 3;
    sharded_.push_back(std::make_unique<ShardedCollection>(std::move(replicas), config));
    dbs_.push_back(*std::move(db));
  }
  void WriteRecords(ShardedCollection& c, int first, int n) {
    std::vector<Record> batch;
    for (int i = first; i < first + n; ++i) batch.push_back(Rec(i));
    ASSERT_TRUE(c.Write(std::move(batch), WriteMode::kUpsert).ok());
  }

  ScopedTempDir dir_;
  std::unique_ptr<ShardLog> log_;
  std::vector<std::string> streams_;
  std::vector<std::unique_ptr<Database>> dbs_;
  std::vector<std::unique_ptr<ShardedCollection>> sharded_;
};

TEST(ShardOfTest, IsCrc32cModuloTheShardsForEver) {
  // Stored data is placed by this function: it must never change.
  EXPECT_EQ(ShardedCollection::ShardOf("a", 7), 1u);          // CRC32C 0xc1d04330
  EXPECT_EQ(ShardedCollection::ShardOf("id-42", 4), 2u);      // 0xaeca0ec2
  EXPECT_EQ(ShardedCollection::ShardOf("123456789", 4), 3u);  // 0xe3069283, the check value
}

TEST_F(ShardedCollectionTest, WritesSpreadOverShardsAndEveryNodeReadsThemAll) {
  for (int b = 0; b < 4; ++b) WriteRecords(*sharded_[b % kNodes], b * 50, 50);
  ShardedCollection& other = *sharded_[2];
  absl::StatusOr<uint64_t> count = other.Count("");
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 200u);
  uint64_t per_shard_total = 0;
  for (int s = 0; s < kShards; ++s) {
    const uint64_t n = *other.shard(s).local()->Count("");
    EXPECT_GT(n, 20u) << "shard " << s;  // CRC32C spreads 200 ids over 4 shards
    per_shard_total += n;
  }
  EXPECT_EQ(per_shard_total, 200u);
  EXPECT_EQ(*sharded_[1]->Count(R"({"i": {"$lt": 10}})"), 10u);

  EXPECT_EQ(sharded_[1]->Get("id-123")->metadata, R"({"i":123})");
  absl::StatusOr<std::vector<Record>> many = sharded_[0]->GetMany({"id-7", "nope", "id-3"});
  ASSERT_TRUE(many.ok());
  ASSERT_EQ(many->size(), 2u);
  EXPECT_EQ((*many)[0].id, "id-7");  // in the order asked
  EXPECT_EQ((*many)[1].id, "id-3");

  // Scroll: pages in id order across the shards, every id once.
  std::vector<std::string> scrolled;
  std::string after;
  do {
    absl::StatusOr<ScrollPage> page = sharded_[1]->Scroll(after, 30, "", false);
    ASSERT_TRUE(page.ok()) << page.status();
    ASSERT_LE(page->records.size(), 30u);
    for (const Record& r : page->records) scrolled.push_back(r.id);
    after = page->next_after;
  } while (!after.empty());
  EXPECT_EQ(scrolled.size(), 200u);
  EXPECT_TRUE(std::is_sorted(scrolled.begin(), scrolled.end()));
  EXPECT_EQ(std::set<std::string>(scrolled.begin(), scrolled.end()).size(), 200u);
}

TEST_F(ShardedCollectionTest, SearchMergesTheShardsIntoTheExactTopK) {
  WriteRecords(*sharded_[0], 0, 300);
  const std::vector<float> q = {3.2f, 1.1f, 7.7f, 1};
  // The true top 10 by L2 over all 300 records.
  std::vector<std::pair<float, std::string>> all;
  for (int i = 0; i < 300; ++i) {
    const Record r = Rec(i);
    float d = 0;
    for (int j = 0; j < 4; ++j) d += (r.vector[j] - q[j]) * (r.vector[j] - q[j]);
    all.push_back({std::sqrt(d), r.id});
  }
  std::sort(all.begin(), all.end());
  SearchRequest request;
  request.vector = q;
  request.k = 10;
  request.exact = true;
  absl::StatusOr<SearchResponse> got = sharded_[2]->Search(request);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->hits.size(), 10u);
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_NEAR(got->hits[i].score, all[i].first, 1e-4) << i;
  }
  EXPECT_EQ(got->plan, "exact");
  request.filter = R"({"i": {"$gte": 290}})";
  got = sharded_[1]->Search(request);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->hits.size(), 10u);  // k hits whenever k records match, across shards
}

TEST_F(ShardedCollectionTest, DeletesAcrossShardsAndRefusesBadInputBeforeTheLog) {
  WriteRecords(*sharded_[0], 0, 100);
  std::vector<std::string> ids;
  for (int i = 0; i < 100; i += 2) ids.push_back(Cat("id-", i));
  ids.push_back("never-written");
  absl::StatusOr<uint64_t> deleted = sharded_[1]->Delete(ids);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 50u);
  EXPECT_EQ(*sharded_[2]->Count(""), 50u);
  EXPECT_EQ(sharded_[2]->Get("id-4").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*sharded_[0]->Count(""), 50u);  // its barriers: node 0 has applied the delete
  EXPECT_EQ(sharded_[0]->Stats().vector_count, 50u);
  // Bad input is refused before any log, the whole batch: a batch over every shard with one
  // bad record writes nothing, and names the record by its place in the batch.
  std::vector<Record> bad;
  for (int i = 200; i < 240; ++i) bad.push_back(Rec(i));
  bad[37].vector = {1, 2};
  absl::Status refused = sharded_[0]->Write(bad, WriteMode::kUpsert);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(refused.message(), "vectors[37]: vector of id 'id-237' has "
                                                   "dimension 2, collection 'c' has dimension 4"))
      << refused;
  bad[37] = Rec(237);
  bad[39].id = bad[2].id;  // an id twice in an insert
  refused = sharded_[1]->Write(bad, WriteMode::kInsert);
  EXPECT_TRUE(absl::StrContains(refused.message(), "appears more than once")) << refused;
  ASSERT_TRUE(sharded_[0]->Flush().ok());
  EXPECT_EQ(sharded_[0]->Stats().memtable_rows, 0u);
  EXPECT_EQ(*sharded_[0]->Count(""), 50u);
  EXPECT_EQ(*sharded_[2]->Count(""), 50u);
}

// Metadata patches and replacements go through the id's shard's log; a delete by filter
// through every shard's, each resolved against the state its append follows.
TEST_F(ShardedCollectionTest, PatchesReplacementsAndDeletesByFilterReachEveryNode) {
  WriteRecords(*sharded_[0], 0, 40);
  ASSERT_TRUE(sharded_[1]->PatchMetadata("id-3", R"({"tag": "x", "i": null})").ok());
  ASSERT_TRUE(sharded_[2]->ReplaceMetadata("id-4", R"({"only": true})").ok());
  for (auto& node : sharded_) {
    EXPECT_EQ(node->Get("id-3")->metadata, R"({"tag":"x"})");
    EXPECT_EQ(node->Get("id-4")->metadata, R"({"only":true})");
    EXPECT_EQ(node->Get("id-4")->vector, Rec(4).vector);  // the record keeps its vector
  }
  EXPECT_EQ(sharded_[0]->PatchMetadata("id-99", "{}").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(sharded_[0]->ReplaceMetadata("id-1", "[1]").code(),
            absl::StatusCode::kInvalidArgument);
  // Records 10-39 match, over every shard; written on node 0, deleted from node 2.
  absl::StatusOr<uint64_t> deleted = sharded_[2]->DeleteWhere(R"({"i": {"$gte": 10}})");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 30u);
  for (auto& node : sharded_) EXPECT_EQ(*node->Count(""), 10u);
  EXPECT_EQ(*sharded_[1]->DeleteWhere(R"({"i": {"$gte": 10}})"), 0u);
  for (const char* bad : {"{}", R"({"i": {"$near": 1}})"}) {
    EXPECT_EQ(sharded_[0]->DeleteWhere(bad).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(*sharded_[0]->Count(""), 10u);
}

}  // namespace
}  // namespace proximadb::cluster
