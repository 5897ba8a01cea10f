// GoogleTest fixtures whose suite shares one real etcd and/or one 3-node NATS cluster, started
// before the suite's first test and stopped after its last (test_servers.h). For tests only.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "cluster/test_servers.h"
#include "common/strings.h"
#include "proximadb/database.h"

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

// Node n's own database under `dir` (no background maintenance: tests flush when they mean to),
// its collections' files in `env` if not null.
inline absl::StatusOr<std::unique_ptr<Database>> OpenNodeDatabase(const std::string& dir, int n,
                                                                   Env* env = nullptr) {
  DatabaseOptions o;
  o.env = env;
  o.data_dir = Cat(dir, "/node", n);
  o.catalog_path = Cat(dir, "/node", n, ".db");
  o.background_maintenance = false;
  return Database::Open(o);
}

// Upserts records "id-<first>".."id-<first + n - 1>" (vector {i, 1, 2, 3}, metadata {"i": i})
// into the collection `name` of `db`.
inline void WriteNumbered(Database& db, const std::string& name, int first, int n) {
  auto c = db.GetCollection(name);
  ASSERT_TRUE(c.ok()) << c.status();
  std::vector<Record> batch;
  for (int i = first; i < first + n; ++i) {
    batch.push_back({Cat("id-", i), {float(i), 1, 2, 3}, Cat(R"({"i":)", i, "}")});
  }
  ASSERT_TRUE((*c)->Write(std::move(batch), WriteMode::kUpsert).ok());
}

// The records of the collection `name` of `db` (a strong count; 0 and a failure if it fails).
inline uint64_t CountAll(Database& db, const std::string& name) {
  auto c = db.GetCollection(name);
  EXPECT_TRUE(c.ok()) << c.status();
  if (!c.ok()) return 0;
  absl::StatusOr<uint64_t> n = (*c)->Count("");
  EXPECT_TRUE(n.ok()) << n.status();
  return n.value_or(0);
}

using EtcdSuite = ServersSuite<true, false>;
using NatsSuite = ServersSuite<false, true>;
using EtcdAndNatsSuite = ServersSuite<true, true>;

}  // namespace proximadb::cluster
