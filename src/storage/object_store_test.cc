// The S3 client against real S3 implementations: moto (in memory) and s3proxy (which checks
// SigV4 signatures), each started on loopback by the test.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "common/errors.h"
#include "common/logging.h"
#include "common/macros.h"
#include "storage/digest.h"
#include "storage/fault_proxy.h"
#include "storage/object_store.h"
#include "storage/s3_test_server.h"

namespace proximadb {
namespace {

using Kind = S3TestServer::Kind;

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

class ObjectStoreTest : public ::testing::TestWithParam<Kind> {
 protected:
  static void TearDownTestSuite() {
    for (S3TestServer*& s : servers_) {
      delete s;
      s = nullptr;
    }
  }

  // The parameter's server, started by the first test that needs it (ctest runs each test in a
  // process of its own, so a suite-wide start would start both servers for every test).
  S3TestServer& server() {
    S3TestServer*& s = servers_[static_cast<int>(GetParam())];
    if (s == nullptr) {
      auto started = S3TestServer::Start(GetParam(), "proximadb-test");
      PROXIMADB_CHECK(started.ok());
      s = started->release();
    }
    return *s;
  }

  std::unique_ptr<ObjectStore> Store(ObjectStoreOptions options) {
    auto store = NewS3ObjectStore(options);
    EXPECT_TRUE(store.ok()) << store.status();
    return std::move(*store);
  }
  std::unique_ptr<ObjectStore> Store(const std::string& prefix) {
    return Store(server().Options(prefix));
  }

  static inline S3TestServer* servers_[2] = {nullptr, nullptr};
};

TEST_P(ObjectStoreTest, PutGetRangeHeadDelete) {
  auto store = Store("pghd");
  const std::string data = RandomBytes(100000, 1);
  ASSERT_TRUE(store->Put("dir/a b+c.bin", data).ok());
  auto got = store->Get("dir/a b+c.bin");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, data);
  auto range = store->GetRange("dir/a b+c.bin", 1000, 500);
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(*range, data.substr(1000, 500));
  auto tail = store->GetRange("dir/a b+c.bin", 99990, 500);
  ASSERT_TRUE(tail.ok()) << tail.status();
  EXPECT_EQ(*tail, data.substr(99990));
  auto head = store->Head("dir/a b+c.bin");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->size, data.size());
  ASSERT_TRUE(store->Delete("dir/a b+c.bin").ok());
  EXPECT_TRUE(absl::IsNotFound(store->Get("dir/a b+c.bin").status()));
  EXPECT_TRUE(absl::IsNotFound(store->Head("dir/a b+c.bin").status()));
  EXPECT_TRUE(store->Delete("dir/a b+c.bin").ok()) << "deleting what is gone is OK";
  ASSERT_TRUE(store->Put("empty", "").ok());
  auto empty = store->Get("empty");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(*empty, "");
}

TEST_P(ObjectStoreTest, ListPagesThroughEveryKeyUnderThePrefix) {
  ObjectStoreOptions options = server().Options("list");
  options.list_page_size = 3;
  auto store = Store(options);
  std::vector<std::string> keys;
  for (int i = 0; i < 8; ++i) {
    keys.push_back("seg/" + std::to_string(100 + i));
    ASSERT_TRUE(store->Put(keys.back(), std::string(i, 'x')).ok());
  }
  ASSERT_TRUE(store->Put("other/1", "y").ok());
  auto listed = store->List("seg/");
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ((*listed)[i].key, keys[i]);
    EXPECT_EQ((*listed)[i].size, i);
  }
  auto all = store->List("");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), keys.size() + 1);
}

TEST_P(ObjectStoreTest, LargeObjectsGoInPartsAndReadBackWhole) {
  ObjectStoreOptions options = server().Options("multi");
  options.multipart_threshold = 6 << 20;
  options.part_size = 5 << 20;
  auto store = Store(options);
  const std::string data = RandomBytes((12 << 20) + 12345, 2);  // three parts, the last short
  ASSERT_TRUE(store->Put("big", data).ok());
  auto head = store->Head("big");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->size, data.size());
  // A multipart object's ETag is "<md5 of the parts' md5s>-<parts>"; s3proxy's filesystem
  // backend shows the whole object's MD5 instead once the parts are joined.
  if (GetParam() == Kind::kMoto) {
    EXPECT_TRUE(head->etag.ends_with("-3")) << head->etag;
  } else {
    EXPECT_EQ(head->etag, Md5Hex(data));
  }
  auto got = store->Get("big");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == data);
  auto range = store->GetRange("big", (5 << 20) - 10, 20);  // across a part boundary
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(*range, data.substr((5 << 20) - 10, 20));
}

TEST_P(ObjectStoreTest, AStoppedStoreIsUnavailableAndRetriesCarryOverARestart) {
  if (GetParam() == Kind::kMoto) {
    GTEST_SKIP() << "moto restarts empty: its bucket comes back only after it listens";
  }
  ObjectStoreOptions options = server().Options("restart");
  options.max_attempts = 2;
  options.initial_backoff_ms = 10;
  auto impatient = Store(options);
  options.max_attempts = 60;
  options.initial_backoff_ms = 50;
  auto patient = Store(options);
  server().Kill();
  const absl::Status down = impatient->Put("k", "v");
  EXPECT_TRUE(absl::IsUnavailable(down)) << down;
  EXPECT_EQ(std::string(down.message()).find(S3TestServer::kSecret), std::string::npos);
  // The restart waits for the patient writer's first failed attempt (its log line), so the
  // retry is what carries the write over the outage.
  std::mutex mu;
  std::condition_variable changed;
  bool failed = false;
  bool returned = false;  // a writer that never fails must not leave the test waiting
  SetLogSink([&](LogLevel, std::string_view message) {
    if (message.find("put of k:") == std::string_view::npos) return;
    std::lock_guard<std::mutex> lock(mu);
    failed = true;
    changed.notify_all();
  });
  absl::Status put;
  std::thread writer([&] {
    absl::Status s = patient->Put("k", "value");
    std::lock_guard<std::mutex> lock(mu);
    put = std::move(s);
    returned = true;
    changed.notify_all();
  });
  bool failed_first;
  {
    std::unique_lock<std::mutex> lock(mu);
    changed.wait(lock, [&] { return failed || returned; });
    failed_first = failed;
  }
  const absl::Status restarted = server().Restart();
  writer.join();
  SetLogSink(nullptr);
  ASSERT_TRUE(failed_first) << "the put ended without a failed attempt: " << put;
  ASSERT_TRUE(restarted.ok()) << restarted;
  ASSERT_TRUE(put.ok()) << put;
  auto got = patient->Get("k");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "value");
}

TEST_P(ObjectStoreTest, BadOptionsNameTheirField) {
  ObjectStoreOptions options = server().Options();
  options.bucket = "A";
  EXPECT_NE(std::string(NewS3ObjectStore(options).status().message()).find(
                "object_store.bucket"), std::string::npos);
  options = server().Options();
  options.endpoint = "127.0.0.1:9000";
  EXPECT_NE(std::string(NewS3ObjectStore(options).status().message()).find(
                "object_store.endpoint"), std::string::npos);
}

TEST_P(ObjectStoreTest, AMissingBucketIsTheStoresProblemNotAMissingObject) {
  ObjectStoreOptions options = server().Options();
  options.bucket = "no-such-bucket";
  options.max_attempts = 1;
  const absl::Status s = Store(options)->Put("k", "v");
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_EQ(ErrorCodeOf(s), kObjectStoreUnavailable);
  EXPECT_NE(std::string(s.message()).find("NoSuchBucket"), std::string::npos) << s;
}

INSTANTIATE_TEST_SUITE_P(Servers, ObjectStoreTest, ::testing::Values(Kind::kMoto, Kind::kS3Proxy),
                         [](const auto& info) {
                           return std::string(info.param == Kind::kMoto ? "Moto" : "S3Proxy");
                         });

// Only s3proxy checks signatures.
TEST(S3ProxyTest, AWrongSecretIsRefusedWithoutEchoingIt) {
  auto server = S3TestServer::Start(Kind::kS3Proxy, "proximadb-sig");
  ASSERT_TRUE(server.ok()) << server.status();
  ObjectStoreOptions options = (*server)->Options();
  options.secret_access_key = "not-the-secret";
  auto store = NewS3ObjectStore(options);
  ASSERT_TRUE(store.ok());
  const absl::Status s = (*store)->Put("k", "v");
  EXPECT_TRUE(absl::IsPermissionDenied(s)) << s;
  EXPECT_EQ(std::string(s.message()).find("not-the-secret"), std::string::npos) << s;
}

}  // namespace
}  // namespace proximadb

namespace proximadb {
namespace {

// Faults between the client and a real server (moto), through FaultProxy.
class FaultyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = S3TestServer::Start(S3TestServer::Kind::kMoto, "proximadb-faults");
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    proxy_ = std::make_unique<FaultProxy>(server_->port(), /*slow_ms=*/2000);
  }
  // A store through the proxy: new connections, so the proxy's next faults apply.
  std::unique_ptr<ObjectStore> Store(int max_attempts, int request_timeout_ms = 10000) {
    ObjectStoreOptions o = server_->Options("faults");
    o.endpoint = proxy_->endpoint();
    o.max_attempts = max_attempts;
    o.initial_backoff_ms = 10;
    o.request_timeout_ms = request_timeout_ms;
    return std::move(*NewS3ObjectStore(o));
  }
  std::unique_ptr<S3TestServer> server_;
  std::unique_ptr<FaultProxy> proxy_;
};

TEST_F(FaultyStoreTest, ServerErrorsAreRetried) {
  proxy_->Add(FaultProxy::Fault::k500, 3);
  auto store = Store(6);
  const std::string data = RandomBytes(4096, 3);
  ASSERT_TRUE(store->Put("a", data).ok());
  EXPECT_EQ(proxy_->requests(), 4);
  EXPECT_EQ(*store->Get("a"), data);
}

TEST_F(FaultyStoreTest, SlowAnswersTimeOutAndAreRetried) {
  proxy_->Add(FaultProxy::Fault::kSlow, 2);
  auto store = Store(5, /*request_timeout_ms=*/300);
  const std::string data = RandomBytes(4096, 4);
  ASSERT_TRUE(store->Put("slow", data).ok());
  EXPECT_EQ(proxy_->requests(), 3) << "two timed out, the third went through";
  EXPECT_EQ(*store->Get("slow"), data);
}

TEST_F(FaultyStoreTest, AnUploadCutMidwayIsSentAgainWhole) {
  proxy_->Add(FaultProxy::Fault::kCutRequest, 2);
  auto store = Store(5);
  const std::string data = RandomBytes(1 << 20, 5);
  ASSERT_TRUE(store->Put("cut", data).ok());
  EXPECT_EQ(proxy_->requests(), 3) << "two cut, the third went through";
  EXPECT_TRUE(*store->Get("cut") == data);
}

TEST_F(FaultyStoreTest, AStoreThatKeepsFailingIsUnavailableAfterItsAttempts) {
  proxy_->Add(FaultProxy::Fault::k500, 100);
  auto store = Store(3);
  const absl::Status s = store->Put("never", "x");
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_EQ(ErrorCodeOf(s), kObjectStoreUnavailable);
  EXPECT_EQ(proxy_->requests(), 3);
  auto direct = NewS3ObjectStore(server_->Options("faults"));  // around the proxy
  EXPECT_TRUE(absl::IsNotFound((*direct)->Head("never").status()));
}

}  // namespace
}  // namespace proximadb

namespace proximadb {
namespace {

// The store completes the upload, but its answer never arrives. The client sends the complete
// again; moto completes it again (an AWS store may answer NoSuchUpload instead, which the
// client checks with a HEAD: that path is not reached here).
TEST_F(FaultyStoreTest, AnUploadWhoseCompleteAnswerWasLostEndsWhole) {
  ObjectStoreOptions o = server_->Options("lost");
  o.endpoint = proxy_->endpoint();
  o.initial_backoff_ms = 10;
  o.multipart_threshold = 6 << 20;
  o.part_size = 5 << 20;
  auto store = std::move(*NewS3ObjectStore(o));
  const std::string data = RandomBytes((10 << 20) - 7, 6);  // initiate, two parts, complete
  proxy_->Add(FaultProxy::Fault::kPass, 3);
  proxy_->Add(FaultProxy::Fault::kLoseAnswer, 1);  // the store completes it; the client times out
  ASSERT_TRUE(store->Put("big", data).ok());
  EXPECT_GE(proxy_->requests(), 5) << "the complete was sent again";
  auto got = store->Get("big");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == data);
}

}  // namespace
}  // namespace proximadb
