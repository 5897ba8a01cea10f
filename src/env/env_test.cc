#include <stdlib.h>

#include <algorithm>
#include <memory>
#include <set>

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

// Directory changes not yet made durable survive or not one by one, in program order.
TEST(MemEnvTest, EachUnsyncedDirectoryChangeMaySurviveOnItsOwn) {
  // Pending: 0 create /d/new, 1 create /d/tmp, 2 rename /d/tmp -> /d/current, 3 remove /d/old.
  auto run = [](uint64_t kept, std::set<std::string>* names) {
    MemEnv env;
    ASSERT_TRUE(env.CreateDirs("/d").ok());
    ASSERT_TRUE(env.WriteFileAtomically("/d/current", "old").ok());
    ASSERT_TRUE(env.WriteFileAtomically("/d/old", "x").ok());
    for (const char* name : {"/d/new", "/d/tmp"}) {
      auto f = env.NewWritableFile(name);
      ASSERT_TRUE((*f)->Append(name).ok());
      ASSERT_TRUE((*f)->Sync().ok());
    }
    ASSERT_TRUE(env.RenameFile("/d/tmp", "/d/current").ok());
    ASSERT_TRUE(env.RemoveFile("/d/old").ok());
    ASSERT_EQ(env.pending_entry_ops(), 4u);
    env.SimulatePowerLoss(PowerLoss{.kept_entry_ops = kept});
    env.Restart();
    EXPECT_EQ(env.pending_entry_ops(), 0u);
    const std::vector<std::string> list = *env.ListDir("/d");
    for (const std::string& name : list) {
      names->insert(name + "=" + *env.ReadFile("/d/" + name));
    }
  };
  std::set<std::string> names;
  run(0b0000, &names);
  EXPECT_EQ(names, (std::set<std::string>{"current=old", "old=x"}));
  names.clear();
  run(0b1111, &names);
  EXPECT_EQ(names, (std::set<std::string>{"current=/d/tmp", "new=/d/new"}));
  names.clear();
  run(0b1110, &names);  // all but the creation of /d/new
  EXPECT_EQ(names, (std::set<std::string>{"current=/d/tmp"}));
  names.clear();
  run(0b1000, &names);  // the removal alone
  EXPECT_EQ(names, (std::set<std::string>{"current=old"}));
  names.clear();
  run(0b0100, &names);  // a rename of a file whose creation was lost moves nothing
  EXPECT_EQ(names, (std::set<std::string>{"current=old", "old=x"}));
}

TEST(MemEnvTest, TornTailsKeepAPrefixOfUnsyncedBytes) {
  const std::string unsynced(200, 'u');
  bool shorter = false, garbage = false;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    MemEnv env;
    ASSERT_TRUE(env.CreateDirs("/d").ok());
    auto f = env.NewWritableFile("/d/log");
    ASSERT_TRUE(env.SyncDir("/d").ok());
    ASSERT_TRUE((*f)->Append("synced").ok());
    ASSERT_TRUE((*f)->Sync().ok());
    ASSERT_TRUE((*f)->Append(unsynced).ok());
    env.SimulatePowerLoss(PowerLoss{.tail = PowerLoss::Tail::kTorn, .seed = seed});
    env.Restart();
    const std::string after = *env.ReadFile("/d/log");
    ASSERT_GE(after.size(), 6u);
    ASSERT_LE(after.size(), 206u);
    EXPECT_EQ(after.substr(0, 6), "synced") << "synced bytes are never torn";
    shorter |= after.size() < 206;
    garbage |= after.find_first_not_of('u', 6) != std::string::npos;
  }
  EXPECT_TRUE(shorter);
  EXPECT_TRUE(garbage);
  // Garbled: every byte is there, the last few are garbage.
  MemEnv env;
  ASSERT_TRUE(env.CreateDirs("/d").ok());
  auto f = env.NewWritableFile("/d/log");
  ASSERT_TRUE(env.SyncDir("/d").ok());
  ASSERT_TRUE((*f)->Append(unsynced).ok());
  env.SimulatePowerLoss(PowerLoss{.tail = PowerLoss::Tail::kGarbled, .seed = 1});
  env.Restart();
  const std::string after = *env.ReadFile("/d/log");
  EXPECT_EQ(after.size(), unsynced.size());
  EXPECT_NE(after, unsynced);
  EXPECT_EQ(after.substr(0, 168), unsynced.substr(0, 168));
}

TEST(FaultInjectionEnvTest, CutsThePowerAfterTheNthOperation) {
  FaultInjectionEnv env;
  ASSERT_TRUE(env.CreateDirs("/d").ok());
  env.PowerLossAfterOps(4, PowerLoss{.kept_entry_ops = 1});
  auto f = env.NewWritableFile("/d/a");  // 1 (pending 0)
  ASSERT_TRUE((*f)->Append("a").ok());   // 2
  ASSERT_TRUE((*f)->Sync().ok());        // 3
  auto g = env.NewWritableFile("/d/b");  // 4 (pending 1): the power goes
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(env.power_loss_happened());
  EXPECT_EQ(env.pending_at_power_loss(), 2u);
  EXPECT_FALSE((*f)->Append("x").ok());
  env.Restart();
  EXPECT_EQ(*env.ReadFile("/d/a"), "a");  // its creation was kept, its bytes synced
  EXPECT_FALSE(env.FileExists("/d/b"));
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

namespace proximadb {
namespace {

TEST(MemEnvCapacityTest, AFullDiskRefusesAppendsUntilSpaceReturns) {
  MemEnv env;
  ASSERT_TRUE(env.CreateDirs("/small/a").ok());
  ASSERT_TRUE(env.CreateDirs("/big").ok());
  env.SetCapacity("/small", 100);
  EXPECT_EQ(*env.FreeSpace("/small/a"), 100u);
  EXPECT_EQ(*env.FreeSpace("/big"), uint64_t{1} << 40);
  auto f = env.NewWritableFile("/small/a/f");
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append(std::string(60, 'x')).ok());
  EXPECT_EQ(*env.FreeSpace("/small"), 40u);
  const absl::Status full = (*f)->Append(std::string(41, 'x'));
  EXPECT_TRUE(absl::IsResourceExhausted(full)) << full;
  EXPECT_EQ(*env.FreeSpace("/small"), 40u) << "a refused append writes nothing";
  auto g = env.NewWritableFile("/big/g");
  ASSERT_TRUE((*g)->Append(std::string(1000, 'y')).ok()) << "other disks are not limited";
  ASSERT_TRUE(env.RemoveFile("/small/a/f").ok());
  EXPECT_EQ(*env.FreeSpace("/small"), 100u);
}

}  // namespace
}  // namespace proximadb
