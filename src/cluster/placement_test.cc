// Placement (docs/cluster.md#placement): three nodes (each a database on disk) sharing a real
// etcd and a real 3-node NATS JetStream cluster, whose shards are placed on some of them. The
// nodes reach each other's shards in process here (DirectShard), through the same
// ClusterDatabase::LocalShard a forwarded gRPC call is served by; tests/e2e/cluster_test.py
// covers the gRPC path between server processes.
#include <gtest/gtest.h>

#include <atomic>
#include <map>

#include "absl/strings/match.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "cluster/cluster_database.h"
#include "cluster/test_fixtures.h"
#include "common/errors.h"
#include "common/scoped_temp_dir.h"
#include "common/strings.h"
#include "env/fault_injection_env.h"

namespace proximadb::cluster {
namespace {

constexpr int kNodes = 3;

// A shard held by other nodes of the test, reached by calling their LocalShard directly. The
// "gRPC addresses" of the test's nodes are "node0".."node2".
class DirectShard final : public Shard {
 public:
  DirectShard(ShardAddress address, ShardHolders holders,
              std::vector<std::unique_ptr<ClusterDatabase>>* nodes)
      : address_(std::move(address)), holders_(std::move(holders)), nodes_(nodes) {}

  absl::Status Write(const std::vector<Record>& r, WriteMode m) override {
    return Run([&](Shard& s) { return s.Write(r, m); });
  }
  absl::StatusOr<uint64_t> Delete(const std::vector<std::string>& ids) override {
    return Run([&](Shard& s) { return s.Delete(ids); });
  }
  absl::Status Patch(std::string_view id, std::string_view p) override {
    return Run([&](Shard& s) { return s.Patch(id, p); });
  }
  absl::Status Replace(std::string_view id, std::string_view m) override {
    return Run([&](Shard& s) { return s.Replace(id, m); });
  }
  absl::StatusOr<uint64_t> DeleteWhere(std::string_view f) override {
    return Run([&](Shard& s) { return s.DeleteWhere(f); });
  }
  absl::StatusOr<Record> Get(std::string_view id, ReadConsistency c) override {
    return Run([&](Shard& s) { return s.Get(id, c); });
  }
  absl::StatusOr<std::vector<Record>> GetMany(const std::vector<std::string>& ids,
                                              ReadConsistency c) override {
    return Run([&](Shard& s) { return s.GetMany(ids, c); });
  }
  absl::StatusOr<uint64_t> Count(std::string_view f, ReadConsistency c) override {
    return Run([&](Shard& s) { return s.Count(f, c); });
  }
  absl::StatusOr<ScrollPage> Scroll(std::string_view a, uint32_t l, std::string_view f, bool v,
                                    ReadConsistency c) override {
    return Run([&](Shard& s) { return s.Scroll(a, l, f, v, c); });
  }
  absl::StatusOr<SearchResponse> Search(const SearchRequest& r, ReadConsistency c) override {
    return Run([&](Shard& s) { return s.Search(r, c); });
  }
  absl::StatusOr<CollectionStats> Stats() override {
    return Run([&](Shard& s) { return s.Stats(); });
  }
  absl::Status Maintain(ShardMaintenance what) override {
    return Run([&](Shard& s) { return s.Maintain(what); });
  }

 private:
  // fn on the first holder that has the shard, as the gRPC forwarder does.
  template <typename Fn>
  auto Run(Fn fn) -> decltype(fn(std::declval<Shard&>())) {
    absl::Status last = absl::UnavailableError("no live node holds a replica");
    for (const std::string& address : holders_(false)) {
      ClusterDatabase* node = (*nodes_)[address.back() - '0'].get();
      if (node == nullptr) continue;
      absl::StatusOr<std::shared_ptr<Shard>> shard =
          node->LocalShard(address_.collection, address_.uid, address_.shard);
      if (ErrorCodeOf(shard.status()) == kShardNotHere) {
        last = shard.status();
        continue;
      }
      if (!shard.ok()) return shard.status();
      return fn(**shard);
    }
    return WithErrorCode(absl::UnavailableError(last.message()), kShardNotReached);
  }

  const ShardAddress address_;
  const ShardHolders holders_;
  std::vector<std::unique_ptr<ClusterDatabase>>* const nodes_;
};

class PlacementTest : public EtcdAndNatsSuite {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(EtcdAndNatsSuite::SetUp());
    cluster_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    nodes_.resize(kNodes);
  }
  void TearDown() override {
    if (!exports_released_.HasBeenNotified()) exports_released_.Notify();
    for (auto& node : nodes_) {
      if (node == nullptr) continue;
      for (const CollectionConfig& c : node->ListCollections()) (void)node->DropCollection(c.name);
      break;
    }
    for (auto& node : nodes_) node.reset();
  }
  void OpenNode(int n, bool rebalance = false, Env* env = nullptr) {
    nodes_[n].reset();
    auto local = OpenNodeDatabase(dir_.path(), n, env);
    ASSERT_TRUE(local.ok()) << local.status();
    auto db = ClusterDatabase::Open(
        *std::move(local),
        {.cluster_name = cluster_, .node_id = Cat("node", n), .advertise_grpc = Cat("node", n),
         .etcd_endpoints = {etcd_->endpoint()}, .nats_urls = nats_->urls(),
         .default_shards = 3, .replication_factor = 1,
         .remote_shards = [this](ShardAddress a, ShardHolders h) -> std::shared_ptr<Shard> {
           return std::make_shared<DirectShard>(std::move(a), std::move(h), &nodes_);
         },
         .peer_exports = [this](const ShardAddress& a, const std::string& holder)
             -> absl::StatusOr<CollectionExport> {
           if (hold_exports_) exports_released_.WaitForNotification();
           ClusterDatabase* node = nodes_[holder.back() - '0'].get();
           if (node == nullptr) return absl::UnavailableError(Cat(holder, " is down"));
           return node->ExportShard(a.collection, a.uid, a.shard);
         },
         .replace_after_seconds = 1, .rebalance = rebalance, .lease_ttl_seconds = 2,
         .catalog_refresh_ms = 3600 * 1000});  // refreshed by the test
    ASSERT_TRUE(db.ok()) << db.status();
    nodes_[n] = *std::move(db);
  }
  CollectionConfig Config(const std::string& name, uint32_t shards, uint32_t copies) {
    CollectionConfig c;
    c.name = name;
    c.dimension = 4;
    c.metric = DistanceMetric::kL2;
    c.shards = shards;
    c.replication_factor = copies;
    return c;
  }
  // The catalog's placement of `name`, as node n sees it.
  std::vector<std::vector<std::string>> Placement(int n, const std::string& name) {
    std::vector<std::vector<std::string>> out;
    absl::StatusOr<ClusterView> view = nodes_[n]->View();
    EXPECT_TRUE(view.ok()) << view.status();
    if (!view.ok()) return out;
    for (const ClusterView::Collection& c : view->collections) {
      if (c.name != name) continue;
      for (const ClusterView::Shard& s : c.shards) out.push_back(s.nodes);
    }
    return out;
  }
  void Refresh() {
    for (auto& node : nodes_) {
      if (node != nullptr) {
        ASSERT_TRUE(node->Refresh().ok());
      }
    }
  }
  void Write(int node, const std::string& name, int first, int n) {
    ASSERT_NO_FATAL_FAILURE(WriteNumbered(*nodes_[node], name, first, n));
  }
  uint64_t Count(int node, const std::string& name) { return CountAll(*nodes_[node], name); }
  // Runs node n's placement pass (and every node's refresh) until `done` holds, up to 30 s.
  template <typename Done>
  bool PlaceUntil(int n, Done done) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      EXPECT_TRUE(nodes_[n]->Replace().ok());
      Refresh();
      if (done()) return true;
      absl::SleepFor(absl::Milliseconds(100));  // the gone node's time passing
    }
    return false;
  }

  // Flushes every replica of `name` on the open nodes, then trims the logs through them.
  void FlushAndTrim(const std::string& name) {
    for (int round = 0; round < 2; ++round) {  // the first publishes, the second trims
      for (auto& node : nodes_) {
        if (node == nullptr) continue;
        auto c = node->GetCollection(name);
        ASSERT_TRUE(c.ok()) << c.status();
        ASSERT_TRUE((*c)->Flush().ok());
        ASSERT_TRUE(node->TrimLogs().ok());
      }
    }
  }
  // The shards' views of `name` on node n.
  std::vector<ClusterView::Shard> Shards(int n, const std::string& name) {
    absl::StatusOr<ClusterView> view = nodes_[n]->View();
    EXPECT_TRUE(view.ok()) << view.status();
    if (!view.ok()) return {};
    for (const ClusterView::Collection& c : view->collections) {
      if (c.name == name) return c.shards;
    }
    return {};
  }

  // Whether node n has published that its replica of shard 0 of the test's collection is
  // ready; with `withdraw`, deletes that key (as a placement removing node n would).
  bool Ready(int n, bool withdraw = false) {
    auto etcd = EtcdClient::Create({.endpoints = {etcd_->endpoint()}});
    EXPECT_TRUE(etcd.ok()) << etcd.status();
    if (!etcd.ok()) return false;
    auto keys = etcd->GetPrefix(Cat("/proximadb/", cluster_, "/ready/"));
    EXPECT_TRUE(keys.ok()) << keys.status();
    if (!keys.ok()) return false;
    for (const KeyValue& kv : *keys) {
      if (!kv.key.ends_with(Cat("/0/node", n))) continue;
      if (withdraw) {
        EXPECT_TRUE(etcd->Delete(kv.key).ok());
      }
      return true;
    }
    return false;
  }
  // Waits up to 30 s until `done` holds, looking every 50 ms.
  template <typename Done>
  static bool WaitFor(Done done) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (!done()) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return true;
  }

  std::string cluster_;
  // With hold_exports_, exports wait for exports_released_: a test holds copies back until it
  // has seen them under way.
  std::atomic<bool> hold_exports_{false};
  absl::Notification exports_released_;
  ScopedTempDir dir_;
  // The files of a node whose disk a test fails (OpenNode's `env`): outlives the nodes.
  FaultInjectionEnv env_;
  std::vector<std::unique_ptr<ClusterDatabase>> nodes_;
};

TEST_F(PlacementTest, ShardsAreSpreadAndEveryNodeServesThemAll) {
  for (int n = 0; n < kNodes; ++n) ASSERT_NO_FATAL_FAILURE(OpenNode(n));
  ASSERT_TRUE(nodes_[1]->CreateCollection(Config("docs", 6, 2)).ok());
  const auto placement = Placement(0, "docs");
  ASSERT_EQ(placement.size(), 6u);
  std::map<std::string, int> load;
  for (const auto& nodes : placement) {
    ASSERT_EQ(nodes.size(), 2u);
    EXPECT_NE(nodes[0], nodes[1]);
    for (const std::string& n : nodes) ++load[n];
  }
  EXPECT_EQ(load, (std::map<std::string, int>{{"node0", 4}, {"node1", 4}, {"node2", 4}}));

  Write(0, "docs", 0, 100);
  Write(2, "docs", 100, 50);
  for (int n = 0; n < kNodes; ++n) {
    EXPECT_EQ(Count(n, "docs"), 150u) << "node " << n;
    auto c = nodes_[n]->GetCollection("docs");
    ASSERT_TRUE(c.ok());
    EXPECT_EQ((*c)->Get("id-120")->metadata, R"({"i":120})");
    EXPECT_EQ((*c)->Stats().vector_count, 150u);
    SearchRequest q;
    std::vector<float> v = {42.2f, 1, 2, 3};
    q.vector = v;
    q.k = 2;
    auto found = (*c)->Search(q);
    ASSERT_TRUE(found.ok()) << found.status();
    ASSERT_EQ(found->hits.size(), 2u);
    EXPECT_EQ(found->hits[0].id, "id-42");
    EXPECT_EQ(found->hits[1].id, "id-43");
  }
  // Errors name the collection as users know it, not the replicas' local collections, and a
  // bad batch is refused whole, naming the record.
  auto docs = nodes_[2]->GetCollection("docs");
  ASSERT_TRUE(docs.ok());
  absl::Status exists = (*docs)->Write({{"id-7", {7, 1, 2, 3}, "{}"}}, WriteMode::kInsert);
  EXPECT_EQ(exists.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(exists.message(), "id 'id-7' already exists in collection 'docs'");
  // An id that looks like a replica's name stays as it is.
  const std::string lookalike = "s-0123456789abcdef-0";
  ASSERT_TRUE((*docs)->Write({{lookalike, {1, 1, 2, 3}, "{}"}}, WriteMode::kInsert).ok());
  EXPECT_EQ((*docs)->Write({{lookalike, {1, 1, 2, 3}, "{}"}}, WriteMode::kInsert).message(),
            "id 's-0123456789abcdef-0' already exists in collection 'docs'");
  ASSERT_TRUE((*docs)->Delete({lookalike}).ok());
  absl::Status missing = (*docs)->PatchMetadata("nope", R"({"a":1})");
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(absl::StrContains(missing.message(), "'s-")) << missing;
  std::vector<Record> bad = {{"id-500", {1, 1, 2, 3}, "{}"}, {"id-501", {1, 2}, "{}"}};
  absl::Status refused = (*docs)->Write(bad, WriteMode::kUpsert);
  EXPECT_EQ(ErrorCodeOf(refused), kDimensionMismatch);
  EXPECT_TRUE(absl::StrContains(refused.message(), "vectors[1]: vector of id 'id-501' has "
                                                   "dimension 2, collection 'docs' has")) << refused;
  EXPECT_EQ(Count(0, "docs"), 150u);
  // 2 copies: a log of 3 replicas (a leader and 2 followers), which survives a NATS server.
  EXPECT_EQ(LogReplicas(1), 1);
  EXPECT_EQ(LogReplicas(2), 3);
  EXPECT_EQ(LogReplicas(4), 5);
  absl::StatusOr<ClusterView> view = nodes_[0]->View();
  ASSERT_TRUE(view.ok()) << view.status();
  for (const ClusterView::Shard& s : view->collections[0].shards) {
    EXPECT_EQ(s.log.replicas.size(), 2u);
  }
  // A node answers a forwarded request only for a shard it holds, of that very collection.
  absl::StatusOr<std::shared_ptr<Shard>> here = nodes_[0]->LocalShard("docs", "0000", 0);
  EXPECT_EQ(here.status().code(), absl::StatusCode::kNotFound) << here.status();
  for (uint32_t shard = 0; shard < 6; ++shard) {
    const bool holds = placement[shard][0] == "node0" || placement[shard][1] == "node0";
    auto view = nodes_[0]->View();
    ASSERT_TRUE(view.ok());
    EXPECT_EQ(view->collections[0].shards[shard].opened, holds) << shard;
  }
}

TEST_F(PlacementTest, ANodeThatJoinsGetsTheReplicasOfShardsPlacedOnTooFewNodes) {
  ASSERT_NO_FATAL_FAILURE(OpenNode(0));
  ASSERT_NO_FATAL_FAILURE(OpenNode(1));
  ASSERT_TRUE(nodes_[0]->CreateCollection(Config("docs", 2, 3)).ok());
  for (const auto& nodes : Placement(0, "docs")) EXPECT_EQ(nodes.size(), 2u);
  Write(1, "docs", 0, 80);
  ASSERT_NO_FATAL_FAILURE(OpenNode(2));
  ASSERT_TRUE(PlaceUntil(0, [&] {
    for (const auto& nodes : Placement(0, "docs")) {
      if (nodes.size() != 3) return false;
    }
    return true;
  }));
  // The new replicas applied the logs from their start: node2 answers from its own.
  EXPECT_EQ(Count(2, "docs"), 80u);
  auto view = nodes_[2]->View();
  ASSERT_TRUE(view.ok());
  for (const ClusterView::Shard& s : view->collections[0].shards) {
    EXPECT_TRUE(s.opened);
    EXPECT_EQ(s.applied, s.log.last_seq);
  }
}

TEST_F(PlacementTest, AGoneNodeIsReplacedOnlyAfterItsTimeAndLosesNothing) {
  for (int n = 0; n < kNodes; ++n) ASSERT_NO_FATAL_FAILURE(OpenNode(n));
  ASSERT_TRUE(nodes_[0]->CreateCollection(Config("docs", 3, 1)).ok());
  Write(1, "docs", 0, 90);
  const auto before = Placement(0, "docs");
  nodes_[2].reset();  // leaves: its lease is revoked, its replicas are not reachable
  // Only the live node with the lowest id places: node1's pass changes nothing.
  ASSERT_TRUE(nodes_[1]->Replace().ok());
  EXPECT_EQ(Placement(0, "docs"), before);
  ASSERT_TRUE(PlaceUntil(0, [&] {
    for (const auto& nodes : Placement(0, "docs")) {
      if (nodes[0] == "node2") return false;
    }
    return true;
  }));
  const auto after = Placement(0, "docs");
  for (size_t i = 0; i < after.size(); ++i) {
    if (before[i][0] != "node2") {
      EXPECT_EQ(after[i], before[i]) << i;  // the others stay
    }
  }
  EXPECT_EQ(Count(0, "docs"), 90u);
  EXPECT_EQ(Count(1, "docs"), 90u);
}

TEST_F(PlacementTest, ANewReplicaOfATrimmedLogIsCopiedFromAHolder) {
  ASSERT_NO_FATAL_FAILURE(OpenNode(0));
  ASSERT_NO_FATAL_FAILURE(OpenNode(1));
  ASSERT_TRUE(nodes_[0]->CreateCollection(Config("docs", 2, 3)).ok());
  for (int i = 0; i < 80; i += 10) Write(1, "docs", i, 10);  // log entries to trim
  ASSERT_NO_FATAL_FAILURE(FlushAndTrim("docs"));
  for (const ClusterView::Shard& s : Shards(0, "docs")) {
    ASSERT_GT(s.log.first_seq, 1u) << "shard " << s.index << " was not trimmed";
  }
  Write(0, "docs", 80, 20);  // in the logs: applied after the copy
  hold_exports_ = true;
  ASSERT_NO_FATAL_FAILURE(OpenNode(2));
  // Placed on both shards, it copies them, and says so, until the holders' exports go on.
  ASSERT_TRUE(PlaceUntil(0, [&] {
    for (const ClusterView::Shard& s : Shards(2, "docs")) {
      if (!s.copying || s.opened) return false;
    }
    return true;
  }));
  EXPECT_EQ(Count(2, "docs"), 100u);  // forwarded to the holders meanwhile
  exports_released_.Notify();
  ASSERT_TRUE(PlaceUntil(0, [&] {
    for (const ClusterView::Shard& s : Shards(2, "docs")) {
      if (!s.opened || s.copying || s.applied != s.log.last_seq) return false;
    }
    return true;
  }));
  // node2 answers from its own replicas, and with the holders it was copied from gone, what
  // the logs no longer hold is still there.
  EXPECT_EQ(Count(2, "docs"), 100u);
  nodes_[0].reset();
  nodes_[1].reset();
  EXPECT_EQ(Count(2, "docs"), 100u);
  auto c = nodes_[2]->GetCollection("docs");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->Get("id-3")->metadata, R"({"i":3})");
  EXPECT_EQ((*c)->Get("id-90")->metadata, R"({"i":90})");
  Write(2, "docs", 100, 5);
  EXPECT_EQ(Count(2, "docs"), 105u);
}

TEST_F(PlacementTest, ATrimmedShardIsNotMovedOffItsOnlyHolder) {
  ASSERT_NO_FATAL_FAILURE(OpenNode(0));
  ASSERT_NO_FATAL_FAILURE(OpenNode(1));
  ASSERT_TRUE(nodes_[0]->CreateCollection(Config("docs", 1, 1)).ok());
  for (int i = 0; i < 30; i += 10) Write(0, "docs", i, 10);
  ASSERT_NO_FATAL_FAILURE(FlushAndTrim("docs"));
  ASSERT_GT(Shards(0, "docs")[0].log.first_seq, 1u);
  const auto before = Placement(0, "docs");
  ASSERT_EQ(before[0].size(), 1u);
  const int holder = before[0][0].back() - '0', other = 1 - holder;
  nodes_[holder].reset();  // gone, with the only copy of what the log no longer holds
  // Past replace_after_seconds (1), the shard stays where it is: a new replica would have
  // nothing to start from.
  const absl::Time until = absl::Now() + absl::Seconds(3);
  while (absl::Now() < until) {
    ASSERT_TRUE(nodes_[other]->Replace().ok());
    ASSERT_TRUE(nodes_[other]->Refresh().ok());  // sees the holder gone
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_EQ(Placement(other, "docs"), before);
  ASSERT_NO_FATAL_FAILURE(OpenNode(holder));
  EXPECT_EQ(Count(other, "docs"), 30u);
}

TEST_F(PlacementTest, ReplicasMoveToANodeThatJoinsUntilTheLoadIsEven) {
  ASSERT_NO_FATAL_FAILURE(OpenNode(0, /*rebalance=*/false));
  ASSERT_NO_FATAL_FAILURE(OpenNode(1));
  ASSERT_TRUE(nodes_[0]->CreateCollection(Config("docs", 4, 1)).ok());
  for (int i = 0; i < 100; i += 10) Write(1, "docs", i, 10);
  ASSERT_NO_FATAL_FAILURE(OpenNode(2));
  auto loads = [&] {
    std::map<std::string, int> load = {{"node0", 0}, {"node1", 0}, {"node2", 0}};
    for (const auto& nodes : Placement(0, "docs")) {
      for (const std::string& n : nodes) ++load[n];
    }
    return load;
  };
  // Not while the placing node (node0, the lowest id) has rebalancing off.
  const auto before = Placement(0, "docs");
  for (int pass = 0; pass < 5; ++pass) {
    ASSERT_TRUE(nodes_[0]->Replace().ok());
    Refresh();
  }
  EXPECT_EQ(Placement(0, "docs"), before);
  EXPECT_EQ(loads()["node2"], 0);

  ASSERT_NO_FATAL_FAILURE(OpenNode(0, /*rebalance=*/true));
  // Moves one at a time: a shard has one node more while its new replica gets ready.
  size_t most_nodes = 1;
  ASSERT_TRUE(PlaceUntil(0, [&] {
    for (const auto& nodes : Placement(0, "docs")) most_nodes = std::max(most_nodes, nodes.size());
    const auto load = loads();
    if (load.at("node0") + load.at("node1") + load.at("node2") != 4) return false;
    for (const ClusterView::Shard& s : Shards(2, "docs")) {
      if (s.placed_here && (!s.opened || s.applied != s.log.last_seq)) return false;
    }
    return load.at("node2") >= 1 && std::abs(load.at("node0") - load.at("node1")) <= 1;
  }));
  EXPECT_EQ(most_nodes, 2u);
  const auto after = loads();
  for (const auto& [node, n] : after) EXPECT_GE(n, 1) << node;
  // The nodes moved off dropped their replicas, and nothing was lost.
  for (int n = 0; n < kNodes; ++n) {
    for (const ClusterView::Shard& s : Shards(n, "docs")) {
      EXPECT_EQ(s.opened, s.placed_here) << "node" << n << " shard " << s.index;
    }
    EXPECT_EQ(Count(n, "docs"), 100u) << "node" << n;
  }
  // Even: nothing moves any more.
  const auto even = Placement(0, "docs");
  for (int pass = 0; pass < 3; ++pass) {
    ASSERT_TRUE(nodes_[0]->Replace().ok());
    Refresh();
  }
  EXPECT_EQ(Placement(0, "docs"), even);
}

// A node that receives a moved replica and is gone before the move ends is removed from the
// shard past replace_after_seconds, though no other node could take its place: the move ends
// without it, and nothing is lost.
TEST_F(PlacementTest, AMoveToANodeThatIsGoneEndsWithoutIt) {
  ASSERT_NO_FATAL_FAILURE(OpenNode(0, /*rebalance=*/true));
  ASSERT_NO_FATAL_FAILURE(OpenNode(1));
  ASSERT_TRUE(nodes_[0]->CreateCollection(Config("docs", 2, 2)).ok());
  Write(0, "docs", 0, 40);
  ASSERT_NO_FATAL_FAILURE(OpenNode(2));
  Refresh();
  ASSERT_TRUE(nodes_[0]->Replace().ok());  // starts a move to node2: a shard on 3 nodes
  size_t most = 0;
  for (const auto& nodes : Placement(0, "docs")) most = std::max(most, nodes.size());
  ASSERT_EQ(most, 3u);
  nodes_[2].reset();
  ASSERT_TRUE(PlaceUntil(0, [&] {
    for (const auto& nodes : Placement(0, "docs")) {
      if (nodes.size() != 2 || std::count(nodes.begin(), nodes.end(), "node2") > 0) return false;
    }
    return true;
  }));
  EXPECT_EQ(Count(0, "docs"), 40u);
  EXPECT_EQ(Count(1, "docs"), 40u);
}

// A node whose new replica cannot apply its log yet (its disk refuses the WAL's appends) has
// the other holder serve its requests for the shard meanwhile, reads and writes alike, and does
// not say the replica is ready. Once the replica caught up, the node says so (again if the key
// was deleted behind its back) and serves the shard from it.
TEST_F(PlacementTest, ANewReplicaIsServedByTheOtherHoldersUntilItCatchesUp) {
  ASSERT_NO_FATAL_FAILURE(OpenNode(0));
  ASSERT_TRUE(nodes_[0]->CreateCollection(Config("docs", 1, 2)).ok());
  ASSERT_EQ(Placement(0, "docs")[0].size(), 1u);  // the only live node
  Write(0, "docs", 0, 20);
  env_.FailAfter(FaultInjectionEnv::Op::kAppend, "wal-", 0, 1 << 30,
                 absl::StatusCode::kResourceExhausted);
  ASSERT_NO_FATAL_FAILURE(OpenNode(1, /*rebalance=*/false, &env_));
  ASSERT_TRUE(PlaceUntil(0, [&] { return Shards(1, "docs")[0].opened; }));
  EXPECT_EQ(Shards(1, "docs")[0].applied, 0u);
  EXPECT_FALSE(Ready(1));
  EXPECT_EQ(Count(1, "docs"), 20u);  // its own replica would wait 30 s, then fail
  Write(1, "docs", 20, 5);
  EXPECT_EQ(Count(0, "docs"), 25u);
  auto eventual = nodes_[1]->GetCollectionForReads("docs", ReadConsistency::kEventual);
  ASSERT_TRUE(eventual.ok()) << eventual.status();
  EXPECT_EQ((*eventual)->Count("").value_or(0), 25u);

  env_.ClearFaults();
  ASSERT_TRUE(PlaceUntil(0, [&] {
    const ClusterView::Shard s = Shards(1, "docs")[0];
    return s.applied == s.log.last_seq;
  }));
  ASSERT_TRUE(nodes_[1]->Refresh().ok());
  EXPECT_TRUE(Ready(1));
  ASSERT_TRUE(Ready(1, /*withdraw=*/true));  // a move off node1 and back it did not see
  ASSERT_TRUE(nodes_[1]->Refresh().ok());
  EXPECT_TRUE(Ready(1));
  nodes_[0].reset();  // node1 serves from its own replica
  EXPECT_EQ(Count(1, "docs"), 25u);
}

// A replica that stops applying its log because the log no longer holds its next entries (they
// were trimmed while its disk refused them) is opened again, a moment later, from a copy of the
// other holder's, and goes on applying the log.
TEST_F(PlacementTest, AReplicaThatStopsOnAGapInItsLogIsCopiedAgain) {
  ASSERT_NO_FATAL_FAILURE(OpenNode(0));
  ASSERT_NO_FATAL_FAILURE(OpenNode(1, /*rebalance=*/false, &env_));
  ASSERT_TRUE(nodes_[0]->CreateCollection(Config("docs", 1, 2)).ok());
  Write(0, "docs", 0, 10);
  EXPECT_EQ(Count(1, "docs"), 10u);
  ASSERT_TRUE(WaitFor([&] {  // its own replica applied them
    const ClusterView::Shard s = Shards(1, "docs")[0];
    return s.applied == s.log.last_seq;
  }));
  ASSERT_TRUE(nodes_[1]->Refresh().ok());
  EXPECT_TRUE(Ready(1));
  env_.FailAfter(FaultInjectionEnv::Op::kAppend, "wal-", 0, 1 << 30,
                 absl::StatusCode::kResourceExhausted);
  Write(0, "docs", 10, 5);
  Write(0, "docs", 15, 5);  // the trim keeps the last entry: node1 misses the one before
  auto log = ShardLog::Connect({.urls = nats_->urls()});
  ASSERT_TRUE(log.ok()) << log.status();
  const std::string stream = Shards(0, "docs")[0].stream;
  auto state = (*log)->State(stream);
  ASSERT_TRUE(state.ok()) << state.status();
  ASSERT_TRUE((*log)->TrimBefore(stream, state->last_seq).ok());
  // (Faults go on until it stops: an entry it read before the trim is not applied meanwhile.)
  ASSERT_TRUE(WaitFor([&] { return !Shards(1, "docs")[0].apply_error.empty(); }));
  env_.ClearFaults();
  EXPECT_TRUE(absl::StrContains(Shards(1, "docs")[0].apply_error, "stopped applying its log"));
  ASSERT_TRUE(nodes_[1]->Refresh().ok());
  EXPECT_FALSE(Ready(1));  // withdrawn
  ASSERT_TRUE(PlaceUntil(0, [&] {
    const ClusterView::Shard s = Shards(1, "docs")[0];
    return s.opened && s.apply_error.empty() && s.applied == s.log.last_seq;
  }));
  ASSERT_TRUE(nodes_[1]->Refresh().ok());
  EXPECT_TRUE(Ready(1));
  nodes_[0].reset();
  EXPECT_EQ(Count(1, "docs"), 20u);
  Write(1, "docs", 20, 5);
  EXPECT_EQ(Count(1, "docs"), 25u);
}

}  // namespace
}  // namespace proximadb::cluster
