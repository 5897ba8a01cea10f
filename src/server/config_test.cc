#include "server/config.h"

#include <fstream>

#include "absl/strings/match.h"
#include "common/scoped_temp_dir.h"
#include "gtest/gtest.h"

namespace proximadb::server {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& text) {
    const std::string path = dir_.path() + "/config.toml";
    std::ofstream(path) << text;
    return path;
  }
  ScopedTempDir dir_;
};

TEST_F(ConfigTest, DefaultsWithoutAnySource) {
  auto c = LoadConfig({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->rest_port, 8080);
  EXPECT_EQ(c->grpc_port, 5678);
  EXPECT_EQ(c->bind_address, "127.0.0.1");
  EXPECT_EQ(c->data_directory, "./data");
  EXPECT_TRUE(c->rebalance);
  EXPECT_FALSE(c->trim_logs);
  EXPECT_EQ(c->busy_poll_us, 0);  // I/O threads sleep as soon as they are idle
}

TEST_F(ConfigTest, FlagsOverrideEnvironmentOverrideFileOverrideDefaults) {
  ConfigSources s;
  s.file = Write(R"(
[server]
bind_address = "0.0.0.0:5678"   # the seed README's form: the port part is ignored
[api]
rest_port = 9001
grpc_port = 9002
max_k = 100
[flush]
max_wal_age_hours = 1.5
flush_priority = 70
)");
  s.environ = {"PROXIMADB_API__REST_PORT=9100", "PROXIMADB_SIMD=avx2", "HOME=/root",
               "PROXIMADB_FLUSH__MAX_WAL_SIZE_MB=64", "PROXIMADB_CLUSTER__REBALANCE=false"};
  s.flags = {{"api.rest_port", "9200"}};
  auto c = LoadConfig(s);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->rest_port, 9200);  // flag
  EXPECT_EQ(c->grpc_port, 9002);  // file
  EXPECT_EQ(c->max_k, 100);
  EXPECT_EQ(c->bind_address, "0.0.0.0");
  EXPECT_EQ(c->DefaultFlushPolicy().max_wal_age_hours, 1.5);
  EXPECT_EQ(c->DefaultFlushPolicy().max_wal_size_mb, 64);  // environment
  EXPECT_EQ(c->DefaultFlushPolicy().flush_priority, 70);
  EXPECT_FALSE(c->rebalance);  // environment
  s.flags.clear();
  EXPECT_EQ(LoadConfig(s)->rest_port, 9100);  // environment over file
}

TEST_F(ConfigTest, ErrorsNameTheKeyAndTheSource) {
  struct Case {
    std::string file;
    std::vector<std::string> environ;
    std::string expected;
  };
  for (const Case& c : {
           Case{"[api]\nrest_prot = 1\n", {}, "[api] rest_prot: unknown key"},
           Case{"[apis]\nrest_port = 1\n", {}, "[apis] rest_port: unknown key"},
           Case{"[api]\nrest_port = \"x\"\n", {}, "[api] rest_port: expects an integer"},
           Case{"[api]\nrest_port = 70000\n", {}, "[api] rest_port: must be between 1 and 65535"},
           Case{"[flush]\nflush_priority = 0\n", {}, "flush_priority: must be between 1 and 100"},
           Case{"[server]\nbusy_poll_us = 20000\n", {},
                "busy_poll_us: must be between 0 and 10000"},
           Case{"[server]\nlog_level = \"loud\"\n", {}, "server.log_level: must be one of"},
           Case{"[server]\nlog_format = \"xml\"\n", {}, "server.log_format: must be text or json"},
           Case{"[storage]\ndurability = \"maybe\"\n", {}, "storage.durability"},
           Case{"[api\n", {}, "config.toml:1"},
           Case{"", {"PROXIMADB_API__REST_PROT=1"}, "PROXIMADB_API__REST_PROT: unknown key"},
           Case{"", {"PROXIMADB_API__REST_PORT=abc"}, "PROXIMADB_API__REST_PORT: expects an integer"},
           Case{"", {"PROXIMADB_MONITORING__METRICS_ENABLED=maybe"}, "expects true or false"},
           Case{"[server]\nbind_address = \"0.0.0.0\"\n[cluster]\nenabled = true\n"
                "etcd_endpoints = [\"http://e:2379\"]\nnats_urls = [\"nats://n:4222\"]\n",
                {}, "cluster.advertise_grpc: is needed when server.bind_address is 0.0.0.0"},
           Case{"[cluster]\nreplace_after_seconds = 0\n", {}, "replace_after_seconds"},
           Case{"[cluster]\nrebalance = \"yes\"\n", {}, "[cluster] rebalance: expects true"},
       }) {
    ConfigSources s;
    if (!c.file.empty()) s.file = Write(c.file);
    s.environ = c.environ;
    auto loaded = LoadConfig(s);
    ASSERT_FALSE(loaded.ok()) << c.expected;
    EXPECT_TRUE(absl::StrContains(loaded.status().message(), c.expected))
        << loaded.status().message() << " lacks " << c.expected;
  }
}

}  // namespace
}  // namespace proximadb::server

namespace proximadb::server {
namespace {

TEST(ConfigListTest, DirectoriesFromTheFileAndTheEnvironment) {
  ScopedTempDir dir;
  const std::string path = dir.path() + "/config.toml";
  std::ofstream(path) << "[storage]\nwal_directory = \"/ssd/wal\"\n"
                         "hot_directories = [\"/nvme1/px\", \"/nvme2/px\"]\n";
  ConfigSources s;
  s.file = path;
  s.environ = {"PROXIMADB_STORAGE__WARM_DIRECTORIES=/hdd1/px,/hdd2/px"};
  auto c = LoadConfig(s);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->wal_directory, "/ssd/wal");
  EXPECT_EQ(c->hot_directories, (std::vector<std::string>{"/nvme1/px", "/nvme2/px"}));
  EXPECT_EQ(c->warm_directories, (std::vector<std::string>{"/hdd1/px", "/hdd2/px"}));

  std::ofstream(path) << "[storage]\nhot_directories = \"/one\"\n";
  auto bad = LoadConfig(s);
  EXPECT_NE(std::string(bad.status().message()).find("hot_directories"), std::string::npos);
  ConfigSources env_only;
  env_only.environ = {"PROXIMADB_STORAGE__HOT_DIRECTORIES=/a,,/b"};
  bad = LoadConfig(env_only);
  EXPECT_NE(std::string(bad.status().message()).find("HOT_DIRECTORIES"), std::string::npos);
}

TEST(ConfigListTest, ObjectStoreSettingsAreChecked) {
  ConfigSources s;
  s.environ = {"PROXIMADB_OBJECT_STORE__ENDPOINT=http://127.0.0.1:9000",
               "PROXIMADB_OBJECT_STORE__BUCKET=Bad_Bucket",
               "PROXIMADB_OBJECT_STORE__SECRET_ACCESS_KEY=hunter2"};
  auto bad = LoadConfig(s);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("object_store.bucket"), std::string::npos);
  EXPECT_EQ(std::string(bad.status().message()).find("hunter2"), std::string::npos);
  s.environ[1] = "PROXIMADB_OBJECT_STORE__BUCKET=good-bucket";
  auto good = LoadConfig(s);
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->object_store.bucket, "good-bucket");
  EXPECT_EQ(good->object_store.region, "us-east-1");
  EXPECT_EQ(good->cache_size_mb, 10240);
  s.environ.push_back("PROXIMADB_OBJECT_STORE__CACHE_SIZE_MB=0");
  bad = LoadConfig(s);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("CACHE_SIZE_MB"), std::string::npos);
  s.environ.back() = "PROXIMADB_OBJECT_STORE__CACHE_SIZE_MB=512";
  s.environ.push_back("PROXIMADB_OBJECT_STORE__CACHE_DIRECTORY=/ssd/cache");
  good = LoadConfig(s);
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->cache_size_mb, 512);
  EXPECT_EQ(good->cache_directory, "/ssd/cache");
}

}  // namespace
}  // namespace proximadb::server
