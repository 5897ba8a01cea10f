// Membership against a real etcd on a loopback port.
#include "cluster/membership.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "cluster/test_fixtures.h"
#include "common/strings.h"

namespace proximadb::cluster {
namespace {

class MembershipTest : public EtcdSuite {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(EtcdSuite::SetUp());
    cluster_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  EtcdClient Client() { return *EtcdClient::Create({.endpoints = {etcd_->endpoint()}}); }
  absl::StatusOr<std::unique_ptr<Membership>> Join(const std::string& id, int64_t ttl = 10) {
    return Membership::Join(Client(), {.cluster = cluster_, .node_id = id,
                                       .advertise_rest = Cat(id, ":8080"),
                                       .advertise_grpc = Cat(id, ":5678"), .ttl_seconds = ttl});
  }
  std::vector<std::string> Ids(Membership& m) {
    std::vector<std::string> ids;
    absl::StatusOr<std::vector<NodeInfo>> nodes = m.Nodes();
    EXPECT_TRUE(nodes.ok()) << nodes.status();
    if (nodes.ok()) {
      for (const NodeInfo& n : *nodes) ids.push_back(n.id);
    }
    return ids;
  }

  std::string cluster_;
};

TEST_F(MembershipTest, NodesSeeEachOtherAndALeavingNodeGoesAtOnce) {
  auto a = Join("a");
  auto b = Join("b");
  ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
  EXPECT_EQ(Ids(**a), (std::vector<std::string>{"a", "b"}));
  absl::StatusOr<std::vector<NodeInfo>> nodes = (*b)->Nodes();
  ASSERT_TRUE(nodes.ok());
  EXPECT_EQ((*nodes)[0].rest, "a:8080");
  EXPECT_EQ((*nodes)[0].grpc, "a:5678");
  EXPECT_EQ((*nodes)[0].generation, 1);
  EXPECT_GT((*nodes)[0].started_unix_ms, 0);
  b->reset();
  EXPECT_EQ(Ids(**a), (std::vector<std::string>{"a"}));
}

TEST_F(MembershipTest, ALiveNodesIdCannotBeTaken) {
  auto a = Join("a", 2);
  ASSERT_TRUE(a.ok()) << a.status();
  absl::Status twice = Join("a", 2).status();  // refused once it waited out a TTL
  EXPECT_EQ(twice.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(twice.message().find("node_id"), std::string::npos) << twice;
  a->reset();
  EXPECT_TRUE(Join("a").ok());  // free again once it left
}

// A node that crashed left its key under a lease nobody renews: the same node, restarted,
// waits for that lease to expire and joins.
TEST_F(MembershipTest, ARestartedNodeTakesItsIdBackOnceItsOldLeaseExpires) {
  EtcdClient etcd = Client();
  absl::StatusOr<int64_t> old_lease = etcd.GrantLease(2);
  ASSERT_TRUE(old_lease.ok());
  ASSERT_TRUE(etcd.Put(Cat("/proximadb/", cluster_, "/nodes/a"), R"({"generation":1})",
                       *old_lease).ok());
  auto a = Join("a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(Ids(**a), (std::vector<std::string>{"a"}));
}

// The lease of a node that was paused or cut off past its TTL is gone (etcd expired it; here
// it is revoked, which etcd does the same way). The node finds out at its next renewal and
// joins again, one generation later.
TEST_F(MembershipTest, ANodeWhoseLeaseIsGoneJoinsAgain) {
  auto a = Join("a", 3);
  ASSERT_TRUE(a.ok()) << a.status();
  EtcdClient etcd = Client();
  absl::StatusOr<std::optional<KeyValue>> key =
      etcd.Get(Cat("/proximadb/", cluster_, "/nodes/a"));
  ASSERT_TRUE(key.ok() && key->has_value());
  ASSERT_TRUE(etcd.RevokeLease((*key)->lease).ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while ((*a)->generation() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polled, with a deadline
  }
  EXPECT_EQ((*a)->generation(), 2);
  EXPECT_TRUE((*a)->joined());
  absl::StatusOr<std::vector<NodeInfo>> nodes = (*a)->Nodes();
  ASSERT_TRUE(nodes.ok() && nodes->size() == 1);
  EXPECT_EQ((*nodes)[0].generation, 2);
}

TEST_F(MembershipTest, RefusesBadOptionsNamingThem) {
  absl::Status slash = Join("a/b").status();
  EXPECT_EQ(slash.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(slash.message().find("node_id"), std::string::npos) << slash;
  EXPECT_EQ(Join("").status().code(), absl::StatusCode::kInvalidArgument);
  absl::Status ttl = Join("a", 1).status();
  EXPECT_EQ(ttl.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(ttl.message().find("ttl_seconds"), std::string::npos) << ttl;
}

}  // namespace
}  // namespace proximadb::cluster
