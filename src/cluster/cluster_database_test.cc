// ClusterDatabase: three nodes (each a database of its own on disk) sharing one catalog in a
// real etcd and their shards' logs on a real 3-node NATS JetStream cluster.
#include "cluster/cluster_database.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <tuple>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "cluster/test_fixtures.h"
#include "common/scoped_temp_dir.h"
#include "common/strings.h"
#include "nlohmann/json.hpp"

namespace proximadb::cluster {
namespace {

constexpr int kNodes = 3;

namespace http = boost::beast::http;
using boost::asio::ip::tcp;

// Between a node and etcd on loopback: passes each request on (one a connection, as the
// client makes them) and its answer back, except the answer to the one transaction on a key
// it is told of: etcd applies it, and the connection closes unanswered, as when a network or
// an overloaded machine drops the answer.
class AnswerLosingRelay {
 public:
  explicit AnswerLosingRelay(int etcd_port)
      : etcd_(boost::asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(etcd_port)),
        acceptor_(io_, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)),
        port_(acceptor_.local_endpoint().port()),
        thread_([this] { Serve(); }) {}
  ~AnswerLosingRelay() {
    stop_ = true;
    tcp::socket wake(io_);
    boost::system::error_code ec;
    wake.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port_), ec);
    // The accept returns, and sees stop_.
    thread_.join();
  }
  std::string endpoint() const { return Cat("http://127.0.0.1:", port_); }
  void LoseTheAnswerToATransactionOn(const std::string& key) {
    absl::MutexLock l(&mu_);
    lose_key_ = key;
  }
  bool lost() const { return lost_; }

 private:
  void Serve() {
    while (true) {
      tcp::socket client(io_);
      boost::system::error_code ec;
      acceptor_.accept(client, ec);
      if (stop_ || ec) return;
      Relay(client);
    }
  }
  void Relay(tcp::socket& client) {
    boost::system::error_code ec;
    boost::beast::flat_buffer in, out;
    http::request<http::string_body> request;
    http::response<http::string_body> response;
    tcp::socket server(io_);
    http::read(client, in, request, ec);
    if (!ec) server.connect(etcd_, ec);
    if (!ec) http::write(server, request, ec);
    if (!ec) http::read(server, out, response, ec);
    if (ec || Lose(request)) return;
    http::write(client, response, ec);
  }
  bool Lose(const http::request<http::string_body>& request) {
    if (request.target() != "/v3/kv/txn") return false;
    const nlohmann::json body = nlohmann::json::parse(request.body(), nullptr, false);
    if (!body.is_object()) return false;
    const nlohmann::json compare = body.value("compare", nlohmann::json::array());
    std::string key;
    if (compare.empty() || !compare[0].is_object() ||
        !absl::Base64Unescape(compare[0].value("key", ""), &key)) {
      return false;
    }
    absl::MutexLock l(&mu_);
    if (key != lose_key_) return false;
    lose_key_.clear();
    lost_ = true;
    return true;
  }

  boost::asio::io_context io_;
  const tcp::endpoint etcd_;
  tcp::acceptor acceptor_;
  const uint16_t port_;
  std::atomic<bool> stop_{false}, lost_{false};
  absl::Mutex mu_;
  std::string lose_key_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // last: starts once the rest is in place
};

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
  void OpenNode(int n, std::string cluster = "", int replication_factor = 3,
                std::string etcd_endpoint = "") {
    nodes_[n].reset();
    auto local = OpenNodeDatabase(dir_.path(), n);
    ASSERT_TRUE(local.ok()) << local.status();
    auto db = ClusterDatabase::Open(
        *std::move(local), {.cluster_name = cluster.empty() ? cluster_ : cluster,
                            .node_id = Cat("node", n),
                            .advertise_rest = Cat("127.0.0.1:", 8000 + n),
                            .etcd_endpoints = {etcd_endpoint.empty() ? etcd_->endpoint()
                                                                     : etcd_endpoint},
                            .nats_urls = nats_->urls(),
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
  void Write(int node, const std::string& name, int first, int n) {
    ASSERT_NO_FATAL_FAILURE(WriteNumbered(*nodes_[node], name, first, n));
  }
  uint64_t Count(int node, const std::string& name) { return CountAll(*nodes_[node], name); }

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

TEST_F(ClusterDatabaseTest, ACollectionHasItsOwnShardsAndReplicationFactor) {
  CollectionConfig narrow = Config("narrow");
  narrow.shards = 2;
  narrow.replication_factor = 1;
  absl::StatusOr<CollectionConfig> created = nodes_[0]->CreateCollection(narrow);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->shards, 2u);
  EXPECT_EQ(created->replication_factor, 1u);
  auto described = nodes_[2]->DescribeCollection("narrow");
  ASSERT_TRUE(described.ok()) << described.status();
  EXPECT_EQ(described->shards, 2u);
  EXPECT_EQ(described->replication_factor, 1u);
  Write(1, "narrow", 0, 20);
  EXPECT_EQ(Count(2, "narrow"), 20u);
  EXPECT_EQ((*nodes_[2]->GetCollection("narrow"))->config().shards, 2u);
  absl::StatusOr<ClusterView> view = nodes_[1]->View();
  ASSERT_TRUE(view.ok()) << view.status();
  ASSERT_EQ(view->collections.size(), 1u);
  ASSERT_EQ(view->collections[0].shards.size(), 2u);
  for (const ClusterView::Shard& s : view->collections[0].shards) {
    EXPECT_TRUE(s.log.replicas.empty());  // one copy: no follower
  }
  // Absent: the cluster's defaults (3 and 3 here).
  ASSERT_TRUE(nodes_[1]->CreateCollection(Config("wide")).ok());
  auto wide = nodes_[0]->DescribeCollection("wide");
  ASSERT_TRUE(wide.ok()) << wide.status();
  EXPECT_EQ(wide->shards, 3u);
  EXPECT_EQ(wide->replication_factor, 3u);
  // Out of range: refused, naming the field, and the name stays free.
  for (auto [shards, copies, field] : {std::tuple{257u, 1u, "shards"},
                                       std::tuple{2u, 6u, "replication_factor"}}) {
    CollectionConfig bad = Config("bad");
    bad.shards = shards;
    bad.replication_factor = copies;
    absl::Status s = nodes_[2]->CreateCollection(bad).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_TRUE(absl::StartsWith(s.message(), field)) << s;
    EXPECT_EQ(nodes_[0]->DescribeCollection("bad").status().code(),
              absl::StatusCode::kNotFound);
  }
}

// A strong read appends a barrier to each shard's log and waits for it; an eventual one reads
// this node's replicas as they are, and adds nothing to the logs.
TEST_F(ClusterDatabaseTest, EventualReadsPassNoBarrier) {
  ASSERT_TRUE(nodes_[0]->CreateCollection(Config("docs")).ok());
  Write(0, "docs", 0, 30);
  auto log_end = [&] {
    absl::StatusOr<ClusterView> view = nodes_[2]->View();
    EXPECT_TRUE(view.ok()) << view.status();
    uint64_t sum = 0;
    for (const ClusterView::Shard& s : view->collections.at(0).shards) sum += s.log.last_seq;
    return sum;
  };
  EXPECT_EQ(Count(2, "docs"), 30u);  // strong: node 2 has applied every write now
  const uint64_t before = log_end();
  auto eventual = nodes_[2]->GetCollectionForReads("docs", ReadConsistency::kEventual);
  ASSERT_TRUE(eventual.ok()) << eventual.status();
  EXPECT_EQ(*(*eventual)->Count(""), 30u);
  ASSERT_TRUE((*eventual)->Get("id-7").ok());
  SearchRequest q;
  const float v[] = {7, 1, 2, 3};
  q.vector = v;
  q.k = 1;
  absl::StatusOr<SearchResponse> hit = (*eventual)->Search(q);
  ASSERT_TRUE(hit.ok()) << hit.status();
  EXPECT_EQ(hit->hits.at(0).id, "id-7");
  EXPECT_EQ((*eventual)->Stats().replication_lag, 0u);
  EXPECT_EQ(log_end(), before);
  EXPECT_EQ(Count(2, "docs"), 30u);  // strong again: one barrier per shard
  EXPECT_EQ(log_end(), before + 3);
}

// A settings change is one transaction on the catalog; every node's replicas take it, at once
// on the node that made it, at their next refresh elsewhere, on reopening for a node away.
TEST_F(ClusterDatabaseTest, SettingsChangeClusterWide) {
  ASSERT_TRUE(nodes_[0]->CreateCollection(Config("docs")).ok());
  Write(0, "docs", 0, 10);
  EXPECT_EQ(Count(2, "docs"), 10u);  // node 2 has its replicas open
  auto ef_on = [&](int n) { return (*nodes_[n]->GetCollection("docs"))->config().index.ef_search; };
  CollectionUpdate u;
  u.ef_search = 99;
  u.max_vector_count = 1234;
  absl::StatusOr<CollectionConfig> updated = nodes_[1]->UpdateCollection("docs", u);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->index.ef_search, 99u);
  EXPECT_EQ(ef_on(1), 99u);
  EXPECT_EQ(nodes_[0]->DescribeCollection("docs")->index.ef_search, 99u);
  ASSERT_TRUE(nodes_[2]->Refresh().ok());  // what the refresh thread does every second
  EXPECT_EQ(ef_on(2), 99u);
  EXPECT_EQ((*nodes_[2]->GetCollection("docs"))->config().flush.max_vector_count, 1234u);
  CollectionUpdate bad;
  bad.ef_search = 0;
  absl::Status s = nodes_[2]->UpdateCollection("docs", bad).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "ef_search")) << s;
  EXPECT_EQ(nodes_[0]->DescribeCollection("docs")->index.ef_search, 99u);
  EXPECT_EQ(nodes_[2]->UpdateCollection("none", u).status().code(), absl::StatusCode::kNotFound);
  nodes_[2].reset();  // away during the next change
  u.ef_search = 77;
  ASSERT_TRUE(nodes_[0]->UpdateCollection("docs", u).ok());
  ASSERT_NO_FATAL_FAILURE(OpenNode(2));
  EXPECT_EQ(ef_on(2), 77u);
  EXPECT_EQ(Count(2, "docs"), 10u);
}

// Each replica publishes the position it has flushed; a shard's log is trimmed below the
// lowest, so nothing a replica (running or down) still needs from the log goes.
TEST_F(ClusterDatabaseTest, LogsAreTrimmedBelowWhatEveryReplicaFlushed) {
  CollectionConfig config = Config("docs");
  config.shards = 1;
  ASSERT_TRUE(nodes_[0]->CreateCollection(config).ok());
  Write(0, "docs", 0, 20);
  Write(1, "docs", 20, 20);
  for (int n = 0; n < kNodes; ++n) EXPECT_EQ(Count(n, "docs"), 40u);
  auto log = [&] { return nodes_[0]->View()->collections.at(0).shards.at(0).log; };
  auto flush = [&](int n) { ASSERT_TRUE((*nodes_[n]->GetCollection("docs"))->Flush().ok()); };
  auto trim = [&] {
    for (int n = 0; n < kNodes; ++n) ASSERT_TRUE(nodes_[n]->TrimLogs().ok()) << n;
  };
  flush(0);
  flush(1);
  trim();
  EXPECT_EQ(log().first_seq, 1u);  // node 2 has flushed nothing: it may need everything
  flush(2);
  uint64_t lowest = UINT64_MAX;
  for (int n = 0; n < kNodes; ++n) {
    lowest = std::min(lowest, (*nodes_[n]->GetCollection("docs"))->Stats().flushed_seq);
  }
  ASSERT_GT(lowest, 1u);
  trim();
  EXPECT_EQ(log().first_seq, std::min(lowest + 1, log().last_seq));
  // Writes and reads go on, and a node that restarts resumes the log after what it holds.
  Write(2, "docs", 40, 10);
  nodes_[1].reset();
  Write(0, "docs", 50, 10);
  ASSERT_NO_FATAL_FAILURE(OpenNode(1));
  EXPECT_EQ(Count(1, "docs"), 60u);
  // The drop takes the published positions with it.
  ASSERT_TRUE(nodes_[2]->DropCollection("docs").ok());
  auto etcd = EtcdClient::Create({.endpoints = {etcd_->endpoint()}});
  ASSERT_TRUE(etcd.ok());
  EXPECT_TRUE(etcd->GetPrefix(Cat("/proximadb/", cluster_, "/progress/"))->empty());
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

// A create whose transaction etcd applied but whose answer was lost finds its own definition
// in the catalog (its uid) and goes on: the caller learns the collection was created, rather
// than a 503 for a collection that exists.
TEST_F(ClusterDatabaseTest, ACreateWhoseAnswerWasLostFindsItsOwnDefinition) {
  const std::string endpoint = etcd_->endpoint();
  AnswerLosingRelay relay(std::stoi(endpoint.substr(endpoint.rfind(':') + 1)));
  ASSERT_NO_FATAL_FAILURE(OpenNode(1, "", 3, relay.endpoint()));
  relay.LoseTheAnswerToATransactionOn(Cat("/proximadb/", cluster_, "/collections/lost"));
  absl::StatusOr<CollectionConfig> created = nodes_[1]->CreateCollection(Config("lost"));
  EXPECT_TRUE(relay.lost());
  ASSERT_TRUE(created.ok()) << created.status();
  Write(1, "lost", 0, 20);
  EXPECT_EQ(Count(0, "lost"), 20u);
  EXPECT_EQ(nodes_[2]->CreateCollection(Config("lost")).status().code(),
            absl::StatusCode::kAlreadyExists);
  nodes_[1].reset();  // before the relay it talks to etcd through
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
