// ClusterDatabase: three nodes (each a database of its own on disk) sharing one catalog in a
// real etcd and their shards' logs on a real 3-node NATS JetStream cluster.
#include "cluster/cluster_database.h"

#include <gtest/gtest.h>

#include "cluster/test_fixtures.h"
#include "common/scoped_temp_dir.h"
#include "common/strings.h"

namespace proximadb::cluster {
namespace {

constexpr int kNodes = 3;

class ClusterDatabaseTest : public EtcdAndNatsSuite {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(EtcdAndNatsSuite::SetUp());
    cluster_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (int n = 0; n < kNodes; ++n) {
      nodes_.emplace_back();
      ASSERT_NO_FATAL_FAILURE(OpenNode(n));
    }
  }
  void TearDown() override {
    if (!nodes_.empty() && nodes_[0] != nullptr) {
      for (const CollectionConfig& c : nodes_[0]->ListCollections()) {
        (void)nodes_[0]->DropCollection(c.name);
      }
    }
    nodes_.clear();
  }
  // Node n on its own directory; `cluster` and `replication_factor` as the test's unless given.
  void OpenNode(int n, std::string cluster = "", int replication_factor = 3) {
    nodes_[n].reset();
    DatabaseOptions o;
    o.data_dir = Cat(dir_.path(), "/node", n);
    o.catalog_path = Cat(dir_.path(), "/node", n, ".db");
    o.background_maintenance = false;
    auto local = Database::Open(o);
    ASSERT_TRUE(local.ok()) << local.status();
    auto db = ClusterDatabase::Open(
        *std::move(local), {.cluster_name = cluster.empty() ? cluster_ : cluster,
                            .node_id = Cat("node", n),
                            .advertise_rest = Cat("127.0.0.1:", 8000 + n),
                            .etcd_endpoints = {etcd_->endpoint()}, .nats_urls = nats_->urls(),
                            .default_shards = 3, .replication_factor = replication_factor});
    ASSERT_TRUE(db.ok()) << db.status();
    nodes_[n] = *std::move(db);
  }
  static CollectionConfig Config(const std::string& name) {
    CollectionConfig c;
    c.name = name;
    c.dimension = 4;
    c.metric = DistanceMetric::kL2;
    return c;
  }
  void Write(int node, const std::string& collection, int first, int n) {
    auto c = nodes_[node]->GetCollection(collection);
    ASSERT_TRUE(c.ok()) << c.status();
    std::vector<Record> batch;
    for (int i = first; i < first + n; ++i) {
      batch.push_back({Cat("id-", i), {float(i), 1, 2, 3}, Cat(R"({"i":)", i, "}")});
    }
    ASSERT_TRUE((*c)->Write(std::move(batch), WriteMode::kUpsert).ok());
  }
  uint64_t Count(int node, const std::string& collection) {
    auto c = nodes_[node]->GetCollection(collection);
    EXPECT_TRUE(c.ok()) << c.status();
    if (!c.ok()) return 0;
    absl::StatusOr<uint64_t> n = (*c)->Count("");
    EXPECT_TRUE(n.ok()) << n.status();
    return n.value_or(0);
  }

  std::string cluster_;
  ScopedTempDir dir_;
  std::vector<std::unique_ptr<ClusterDatabase>> nodes_;
};

TEST_F(ClusterDatabaseTest, ACollectionCreatedOnOneNodeIsServedByEvery) {
  absl::StatusOr<CollectionConfig> created = nodes_[0]->CreateCollection(Config("docs"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_GT(created->created_at_us, 0);
  Write(1, "docs", 0, 60);  // node 1 had not heard of it: it reads the catalog
  Write(2, "docs", 60, 40);
  for (int n = 0; n < kNodes; ++n) EXPECT_EQ(Count(n, "docs"), 100u) << "node " << n;
  auto described = nodes_[2]->DescribeCollection("docs");
  ASSERT_TRUE(described.ok()) << described.status();
  EXPECT_EQ(described->dimension, 4u);
  EXPECT_EQ(described->metric, DistanceMetric::kL2);
  ASSERT_EQ(nodes_[1]->ListCollections().size(), 1u);

  absl::StatusOr<ClusterView> view = nodes_[1]->View();
  ASSERT_TRUE(view.ok()) << view.status();
  ASSERT_EQ(view->nodes.size(), 3u);
  EXPECT_EQ(view->nodes[1].rest, "127.0.0.1:8001");
  ASSERT_EQ(view->collections.size(), 1u);
  ASSERT_EQ(view->collections[0].shards.size(), 3u);
  uint64_t positions = 0;
  for (const ClusterView::Shard& s : view->collections[0].shards) {
    EXPECT_FALSE(s.log.leader.empty());
    EXPECT_EQ(s.log.replicas.size(), 2u);
    EXPECT_LE(s.applied, s.log.last_seq);
    EXPECT_TRUE(s.apply_error.empty()) << s.apply_error;
    positions += s.log.last_seq;
  }
  EXPECT_GE(positions, 3u);  // each shard got some of the writes
}

TEST_F(ClusterDatabaseTest, NamesAreClusterWideAndBadDefinitionsAreRefused) {
  ASSERT_TRUE(nodes_[0]->CreateCollection(Config("docs")).ok());
  EXPECT_EQ(nodes_[2]->CreateCollection(Config("docs")).status().code(),
            absl::StatusCode::kAlreadyExists);
  CollectionConfig bad = Config("bad");
  bad.dimension = 0;
  absl::Status s = nodes_[1]->CreateCollection(bad).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("dimension"), std::string::npos) << s;
  EXPECT_EQ(nodes_[0]->DescribeCollection("bad").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(nodes_[0]->BackupCollection("docs").status().code(),
            absl::StatusCode::kUnimplemented);
}

TEST_F(ClusterDatabaseTest, ADropReachesEveryNode) {
  ASSERT_TRUE(nodes_[0]->CreateCollection(Config("gone")).ok());
  Write(1, "gone", 0, 10);
  ASSERT_TRUE(nodes_[2]->DropCollection("gone").ok());
  EXPECT_EQ(nodes_[2]->DropCollection("gone").code(), absl::StatusCode::kNotFound);
  for (int n = 0; n < kNodes; ++n) {
    ASSERT_TRUE(nodes_[n]->Refresh().ok());  // what the refresh thread does every second
    EXPECT_EQ(nodes_[n]->GetCollection("gone").status().code(), absl::StatusCode::kNotFound);
  }
  // The name can be used again, for a new collection that starts empty.
  ASSERT_TRUE(nodes_[1]->CreateCollection(Config("gone")).ok());
  EXPECT_EQ(Count(0, "gone"), 0u);
}

// A node pointed at the wrong catalog (another cluster name, an etcd that lost its data) no
// longer serves its replicas, but keeps their files while their logs exist.
TEST_F(ClusterDatabaseTest, AWrongCatalogCostsNoData) {
  ASSERT_TRUE(nodes_[0]->CreateCollection(Config("docs")).ok());
  Write(0, "docs", 0, 20);
  EXPECT_EQ(Count(2, "docs"), 20u);
  ASSERT_NO_FATAL_FAILURE(OpenNode(2, "another-cluster"));
  EXPECT_EQ(nodes_[2]->GetCollection("docs").status().code(), absl::StatusCode::kNotFound);
  ASSERT_NO_FATAL_FAILURE(OpenNode(2));
  auto docs = nodes_[2]->GetCollection("docs");
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_EQ((*docs)->Stats().vector_count, 20u);  // from its own files, before any barrier
}

// A collection this node cannot hold (here more log replicas than NATS servers) is not
// created: the error, and the name stays free.
TEST_F(ClusterDatabaseTest, ACreateThatCannotBeServedLeavesNothing) {
  ASSERT_NO_FATAL_FAILURE(OpenNode(1, "", 5));
  absl::Status s = nodes_[1]->CreateCollection(Config("wide")).status();
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(nodes_[0]->DescribeCollection("wide").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(nodes_[0]->CreateCollection(Config("wide")).ok());
}

TEST_F(ClusterDatabaseTest, ANodeThatWasDownCatchesUpOnReopening) {
  ASSERT_TRUE(nodes_[0]->CreateCollection(Config("docs")).ok());
  Write(0, "docs", 0, 30);
  EXPECT_EQ(Count(2, "docs"), 30u);
  nodes_[2].reset();  // leaves the cluster; its files stay
  Write(1, "docs", 30, 30);
  ASSERT_NO_FATAL_FAILURE(OpenNode(2));
  EXPECT_EQ(Count(2, "docs"), 60u);
  auto got = (*nodes_[2]->GetCollection("docs"))->Get("id-45");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->metadata, R"({"i":45})");
}

}  // namespace
}  // namespace proximadb::cluster
