// GoogleTest fixtures whose suite shares one real etcd and/or one 3-node NATS cluster, started
// before the suite's first test and stopped after its last (test_servers.h). For tests only.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "cluster/test_servers.h"

namespace proximadb::cluster {

// kEtcd and kNats say which servers the suite needs.
template <bool kEtcd, bool kNats>
class ServersSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (kEtcd) {
      absl::StatusOr<std::unique_ptr<EtcdTestServer>> etcd = EtcdTestServer::Start();
      ASSERT_TRUE(etcd.ok()) << etcd.status();
      etcd_ = std::move(*etcd);
    }
    if (kNats) {
      absl::StatusOr<std::unique_ptr<NatsTestCluster>> nats = NatsTestCluster::Start(3);
      ASSERT_TRUE(nats.ok()) << nats.status();
      nats_ = std::move(*nats);
    }
  }
  static void TearDownTestSuite() {
    nats_.reset();
    etcd_.reset();
  }
  void SetUp() override {
    ASSERT_TRUE((!kEtcd || etcd_ != nullptr) && (!kNats || nats_ != nullptr))
        << "the suite's servers did not start";
  }

  static inline std::unique_ptr<EtcdTestServer> etcd_;
  static inline std::unique_ptr<NatsTestCluster> nats_;
};

using EtcdSuite = ServersSuite<true, false>;
using NatsSuite = ServersSuite<false, true>;
using EtcdAndNatsSuite = ServersSuite<true, true>;

}  // namespace proximadb::cluster
