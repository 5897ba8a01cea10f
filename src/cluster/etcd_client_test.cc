// EtcdClient against a real etcd (Debian's) on a loopback port.
#include "cluster/etcd_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "cluster/test_fixtures.h"
#include "common/child_process.h"
#include "common/strings.h"

namespace proximadb::cluster {
namespace {

class EtcdClientTest : public EtcdSuite {
 protected:
  EtcdClient Client() { return *EtcdClient::Create({.endpoints = {etcd_->endpoint()}}); }
};

TEST_F(EtcdClientTest, PutsGetsListsAndDeletesKeys) {
  EtcdClient etcd = Client();
  const std::string binary("v\0\xff\x01", 4);  // values are bytes
  absl::StatusOr<int64_t> r1 = etcd.Put("/kv/a", "1");
  absl::StatusOr<int64_t> r2 = etcd.Put("/kv/b", binary);
  ASSERT_TRUE(r1.ok() && r2.ok()) << r1.status() << r2.status();
  EXPECT_GT(*r2, *r1);
  ASSERT_TRUE(etcd.Put("/kv/c", "3").ok());
  ASSERT_TRUE(etcd.Put("/kw", "outside the prefix").ok());

  absl::StatusOr<std::optional<KeyValue>> b = etcd.Get("/kv/b");
  ASSERT_TRUE(b.ok() && b->has_value()) << b.status();
  EXPECT_EQ((*b)->value, binary);
  EXPECT_EQ((*b)->mod_revision, *r2);
  EXPECT_EQ((*b)->version, 1);
  absl::StatusOr<std::optional<KeyValue>> missing = etcd.Get("/kv/none");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());

  absl::StatusOr<std::vector<KeyValue>> listed = etcd.GetPrefix("/kv/");
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ((*listed)[0].key, "/kv/a");
  EXPECT_EQ((*listed)[2].key, "/kv/c");

  EXPECT_EQ(etcd.Delete("/kv/a").value_or(false), true);
  EXPECT_EQ(etcd.Delete("/kv/a").value_or(true), false);
  EXPECT_EQ(etcd.GetPrefix("/kv/")->size(), 2u);
  EXPECT_EQ(etcd.DeletePrefix("/kv/").value_or(0), 2);
  EXPECT_TRUE(etcd.GetPrefix("/kv/")->empty());
  EXPECT_TRUE(etcd.Get("/kw")->has_value());  // outside the prefix
}

TEST_F(EtcdClientTest, CreateIfAbsentWritesOnce) {
  EtcdClient etcd = Client();
  EXPECT_EQ(etcd.CreateIfAbsent("/create/x", "first").value_or(false), true);
  EXPECT_EQ(etcd.CreateIfAbsent("/create/x", "second").value_or(true), false);
  EXPECT_EQ((*etcd.Get("/create/x"))->value, "first");
}

TEST_F(EtcdClientTest, CompareAndSwapNeedsTheLastRevision) {
  EtcdClient etcd = Client();
  ASSERT_TRUE(etcd.Put("/cas/x", "v1").ok());
  const int64_t rev = (*etcd.Get("/cas/x"))->mod_revision;
  EXPECT_EQ(etcd.CompareAndSwap("/cas/x", "v2", rev).value_or(false), true);
  EXPECT_EQ(etcd.CompareAndSwap("/cas/x", "v3", rev).value_or(true), false);  // stale
  EXPECT_EQ((*etcd.Get("/cas/x"))->value, "v2");
  EXPECT_EQ(etcd.CompareAndDelete("/cas/x", rev).value_or(true), false);
  const int64_t now = (*etcd.Get("/cas/x"))->mod_revision;
  EXPECT_EQ(etcd.CompareAndDelete("/cas/x", now).value_or(false), true);
  EXPECT_FALSE(etcd.Get("/cas/x")->has_value());
}

TEST_F(EtcdClientTest, ALeaseKeepsItsKeysUntilRevokedOrExpired) {
  EtcdClient etcd = Client();
  absl::StatusOr<int64_t> lease = etcd.GrantLease(30);
  ASSERT_TRUE(lease.ok()) << lease.status();
  ASSERT_EQ(etcd.CreateIfAbsent("/lease/node", "up", *lease).value_or(false), true);
  EXPECT_EQ((*etcd.Get("/lease/node"))->lease, *lease);
  absl::StatusOr<int64_t> ttl = etcd.KeepAlive(*lease);
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_GT(*ttl, 20);
  ASSERT_TRUE(etcd.RevokeLease(*lease).ok());
  EXPECT_FALSE(etcd.Get("/lease/node")->has_value());
  EXPECT_EQ(etcd.KeepAlive(*lease).status().code(), absl::StatusCode::kNotFound);
  // A key cannot be attached to a lease that no longer exists: etcd's NOT_FOUND.
  EXPECT_EQ(etcd.Put("/lease/other", "x", *lease).status().code(), absl::StatusCode::kNotFound);

  // Without keep-alives the lease expires and etcd deletes its key.
  absl::StatusOr<int64_t> short_lease = etcd.GrantLease(2);
  ASSERT_TRUE(short_lease.ok());
  ASSERT_TRUE(etcd.Put("/lease/short", "x", *short_lease).ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  auto present = [&] {
    absl::StatusOr<std::optional<KeyValue>> kv = etcd.Get("/lease/short");
    return !kv.ok() || kv->has_value();
  };
  while (present() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // polled, with a deadline
  }
  EXPECT_FALSE(present());
  EXPECT_EQ(etcd.KeepAlive(*short_lease).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(EtcdClientTest, MovesToTheNextEndpointWhenOneCannotBeReached) {
  const std::string dead = Cat("http://127.0.0.1:", FreeLoopbackPort());
  EtcdClient etcd = *EtcdClient::Create({.endpoints = {dead, etcd_->endpoint()}});
  ASSERT_TRUE(etcd.Put("/failover/x", "1").ok());
  EXPECT_EQ((*etcd.Get("/failover/x"))->value, "1");

  const std::string dead2 = Cat("http://127.0.0.1:", FreeLoopbackPort());
  EtcdClient nowhere = *EtcdClient::Create({.endpoints = {dead, dead2}});
  absl::Status s = nowhere.Put("/failover/y", "1").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(s.message().find(dead2), std::string::npos) << s;
}

// A loopback port that takes connections (the kernel completes them into its listen queue)
// and never answers: an etcd that stalls.
class StalledEndpoint {
 public:
  StalledEndpoint() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), len), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    EXPECT_EQ(getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len), 0);
    endpoint_ = Cat("http://127.0.0.1:", ntohs(a.sin_port));
  }
  ~StalledEndpoint() { close(fd_); }
  const std::string& endpoint() const { return endpoint_; }

 private:
  int fd_;
  std::string endpoint_;
};

TEST_F(EtcdClientTest, ReadsButNotWritesGoOnToTheNextEndpointWhenOneStalls) {
  ASSERT_TRUE(Client().Put("/stall/x", "1").ok());
  StalledEndpoint stalled;
  const EtcdOptions options{.endpoints = {stalled.endpoint(), etcd_->endpoint()},
                            .request_timeout_ms = 300};
  // A write sent to an endpoint that did not answer may have been applied: not sent again.
  absl::Status put = EtcdClient::Create(options)->Put("/stall/y", "1").status();
  EXPECT_EQ(put.code(), absl::StatusCode::kUnavailable) << put;
  EXPECT_NE(put.message().find(stalled.endpoint()), std::string::npos) << put;
  EXPECT_FALSE(Client().Get("/stall/y")->has_value());
  // A read is: each client starts at the stalled endpoint.
  absl::StatusOr<std::optional<KeyValue>> got = EtcdClient::Create(options)->Get("/stall/x");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)->value, "1");
  absl::StatusOr<std::vector<KeyValue>> listed =
      EtcdClient::Create(options)->GetPrefix("/stall/");
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->size(), 1u);
  // A read of a single stalled endpoint is tried twice, then fails.
  absl::Status alone = EtcdClient::Create({.endpoints = {stalled.endpoint()},
                                           .request_timeout_ms = 300})
                           ->Get("/stall/x")
                           .status();
  EXPECT_EQ(alone.code(), absl::StatusCode::kUnavailable) << alone;
}

TEST_F(EtcdClientTest, RefusesBadInputNamingIt) {
  EXPECT_EQ(EtcdClient::Create({}).status().code(), absl::StatusCode::kInvalidArgument);
  absl::Status bad_url = EtcdClient::Create({.endpoints = {"127.0.0.1:2379"}}).status();
  EXPECT_EQ(bad_url.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad_url.message().find("etcd_endpoints"), std::string::npos) << bad_url;
  EtcdClient etcd = Client();
  EXPECT_EQ(etcd.Put("", "x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(etcd.GetPrefix("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(etcd.GrantLease(0).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace proximadb::cluster
