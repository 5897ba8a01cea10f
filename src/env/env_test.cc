#include <stdlib.h>

#include <algorithm>
#include <memory>

#include "env/env.h"
#include "env/fault_injection_env.h"
#include "env/mem_env.h"
#include "gtest/gtest.h"

namespace proximadb {
namespace {

// The same contract tests run against the POSIX Env (in a fresh temp directory) and MemEnv.
class EnvContractTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) {
      env_ = Env::Default();
      char tmpl[] = "/tmp/proximadb-env-test-XXXXXX";
      ASSERT_NE(::mkdtemp(tmpl), nullptr);
      dir_ = tmpl;
    } else {
      mem_ = std::make_unique<MemEnv>();
      env_ = mem_.get();
      dir_ = "/mem/test";
      ASSERT_TRUE(env_->CreateDirs(dir_).ok());
    }
  }
  void TearDown() override {
    if (GetParam()) {
      ASSERT_TRUE(env_->RemoveDirRecursively(dir_).ok());
    }
  }

  std::unique_ptr<MemEnv> mem_;
  Env* env_ = nullptr;
  std::string dir_;
};

TEST_P(EnvContractTest, WriteMapListRenameRemove) {
  const std::string a = JoinPath(dir_, "a"), b = JoinPath(dir_, "b");
  auto file = env_->NewWritableFile(a);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->Append("hello ").ok());
  ASSERT_TRUE((*file)->Append("world").ok());
  EXPECT_EQ((*file)->Size(), 11u);
  ASSERT_TRUE((*file)->Sync().ok());
  ASSERT_TRUE((*file)->Close().ok());

  auto mapped = env_->MapFile(a);
  ASSERT_TRUE(mapped.ok());
  EXPECT_EQ((*mapped)->view(), "hello world");
  EXPECT_EQ(*env_->FileSize(a), 11u);

  ASSERT_TRUE(env_->RenameFile(a, b).ok());
  EXPECT_FALSE(env_->FileExists(a));
  EXPECT_EQ(*env_->ReadFile(b), "hello world");
  auto names = env_->ListDir(dir_);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::vector<std::string>{"b"});

  ASSERT_TRUE(env_->TruncateFile(b, 5).ok());
  EXPECT_EQ(*env_->ReadFile(b), "hello");
  ASSERT_TRUE(env_->RemoveFile(b).ok());
  EXPECT_EQ(env_->RemoveFile(b).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(env_->MapFile(b).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(EnvContractTest, AtomicWriteReplaces) {
  const std::string p = JoinPath(dir_, "CURRENT");
  ASSERT_TRUE(env_->WriteFileAtomically(p, "one").ok());
  ASSERT_TRUE(env_->WriteFileAtomically(p, "two").ok());
  EXPECT_EQ(*env_->ReadFile(p), "two");
  EXPECT_FALSE(env_->FileExists(p + ".tmp"));
}

TEST_P(EnvContractTest, LockIsExclusive) {
  const std::string p = JoinPath(dir_, "LOCK");
  auto first = env_->LockFile(p);
  ASSERT_TRUE(first.ok());
  // flock conflicts between open file descriptions, so this holds within one process too.
  EXPECT_EQ(env_->LockFile(p).status().code(), absl::StatusCode::kFailedPrecondition);
  first->reset();
  EXPECT_TRUE(env_->LockFile(p).ok());
}

INSTANTIATE_TEST_SUITE_P(PosixAndMem, EnvContractTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Posix" : "Mem"; });

TEST(MemEnvTest, PowerLossForgetsUnsyncedBytes) {
  MemEnv env;
  ASSERT_TRUE(env.CreateDirs("/d").ok());
  auto f = env.NewWritableFile("/d/log");
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(env.SyncDir("/d").ok());
  ASSERT_TRUE((*f)->Append("synced").ok());
  ASSERT_TRUE((*f)->Sync().ok());
  ASSERT_TRUE((*f)->Append("-lost").ok());
  EXPECT_EQ(*env.ReadFile("/d/log"), "synced-lost");

  env.SimulatePowerLoss();
  EXPECT_FALSE((*f)->Append("after").ok());  // nothing written while the power is out
  EXPECT_FALSE((*f)->Sync().ok());
  env.Restart();
  EXPECT_EQ(*env.ReadFile("/d/log"), "synced");
}

TEST(MemEnvTest, PowerLossForgetsUnsyncedDirectoryChanges) {
  MemEnv env;
  ASSERT_TRUE(env.CreateDirs("/d").ok());
  ASSERT_TRUE(env.WriteFileAtomically("/d/kept", "k").ok());  // syncs the directory
  // Created and fsynced, but the directory entry was never made durable.
  auto f = env.NewWritableFile("/d/orphan");
  ASSERT_TRUE((*f)->Append("x").ok());
  ASSERT_TRUE((*f)->Sync().ok());
  // Renamed without a directory fsync: the old name comes back.
  ASSERT_TRUE(env.RenameFile("/d/kept", "/d/renamed").ok());

  env.SimulatePowerLoss();
  env.Restart();
  EXPECT_FALSE(env.FileExists("/d/orphan"));
  EXPECT_FALSE(env.FileExists("/d/renamed"));
  EXPECT_EQ(*env.ReadFile("/d/kept"), "k");
}

TEST(FaultInjectionEnvTest, FailsChosenOperationOnce) {
  FaultInjectionEnv env;
  ASSERT_TRUE(env.CreateDirs("/d").ok());
  env.FailAfter(FaultInjectionEnv::Op::kSync, "MANIFEST", /*skip=*/1);
  auto f = env.NewWritableFile("/d/MANIFEST");
  ASSERT_TRUE((*f)->Append("a").ok());
  EXPECT_TRUE((*f)->Sync().ok());   // skipped
  EXPECT_FALSE((*f)->Sync().ok());  // failed
  EXPECT_TRUE((*f)->Sync().ok());   // count exhausted
  EXPECT_EQ(env.injected_failures(), 1);

  env.FailAfter(FaultInjectionEnv::Op::kRename, "", 0);
  EXPECT_FALSE(env.RenameFile("/d/MANIFEST", "/d/other").ok());
  EXPECT_TRUE(env.FileExists("/d/MANIFEST"));  // a failed rename renames nothing

  env.FailAfter(FaultInjectionEnv::Op::kAppend, "", 0);
  EXPECT_FALSE((*f)->Append("b").ok());
  EXPECT_EQ(*env.ReadFile("/d/MANIFEST"), "a");  // a failed append writes nothing
}

}  // namespace
}  // namespace proximadb
