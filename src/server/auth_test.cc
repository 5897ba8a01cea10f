// API keys: what each role and scope allows, the key file (hashes only, durable, atomic under
// power loss), and the bootstrap admin key.
#include "server/auth.h"

#include "gtest/gtest.h"
#include "common/errors.h"
#include "env/fault_injection_env.h"

namespace proximadb::server {
namespace {

constexpr char kPath[] = "/data/auth/keys.json";
constexpr char kAdminKey[] = "bootstrap-admin-key-0123456789";

Principal Key(Role role, std::optional<std::vector<std::string>> scope = std::nullopt) {
  return Principal{"k", role, std::move(scope)};
}

TEST(AuthTest, RolesAllowWhatTheyNameAndNoMore) {
  struct Case {
    Access access;
    bool read, write, admin;
  };
  for (const Case& c : std::vector<Case>{{Access::kOpen, true, true, true},
                                         {Access::kMetrics, true, true, true},
                                         {Access::kRead, true, true, true},
                                         {Access::kWrite, false, true, true},
                                         {Access::kAdmin, false, false, true},
                                         {Access::kServerAdmin, false, false, true}}) {
    const int access = static_cast<int>(c.access);
    EXPECT_EQ(Key(Role::kRead).Allow(c.access, "c").ok(), c.read) << access;
    EXPECT_EQ(Key(Role::kWrite).Allow(c.access, "c").ok(), c.write) << access;
    EXPECT_EQ(Key(Role::kAdmin).Allow(c.access, "c").ok(), c.admin) << access;
  }
  absl::Status denied = Key(Role::kRead).Allow(Access::kWrite, "c");
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrorCodeOf(denied), kPermissionDenied);
  EXPECT_NE(denied.message().find("has role read; this operation needs write"),
            std::string_view::npos)
      << denied;
}

TEST(AuthTest, ScopesCoverNamesAndPrefixes) {
  const Principal p = Key(Role::kAdmin, std::vector<std::string>{"docs", "logs_*"});
  EXPECT_TRUE(p.Covers("docs"));
  EXPECT_FALSE(p.Covers("docs2"));
  EXPECT_FALSE(p.Covers("doc"));
  EXPECT_TRUE(p.Covers("logs_"));
  EXPECT_TRUE(p.Covers("logs_2026"));
  EXPECT_FALSE(p.Covers("logs"));
  EXPECT_TRUE(p.Allow(Access::kWrite, "logs_a").ok());
  absl::Status s = p.Allow(Access::kRead, "other");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("does not cover collection 'other'"), std::string_view::npos) << s;
  // Keys, restores and metrics are for keys of every collection, even an admin's.
  EXPECT_EQ(p.Allow(Access::kServerAdmin, "").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(p.Allow(Access::kMetrics, "").code(), absl::StatusCode::kPermissionDenied);
  // Listing (no collection named) is a read; the lister filters by Covers.
  EXPECT_TRUE(p.Allow(Access::kRead, "").ok());
}

TEST(AuthTest, BadKeyDefinitionsNameTheField) {
  auto error = [](KeyInfo info) { return std::string(ValidateKeyInfo(info).message()); };
  EXPECT_NE(error({.name = ""}).find("'name'"), std::string::npos);
  EXPECT_NE(error({.name = std::string(65, 'a')}).find("'name'"), std::string::npos);
  EXPECT_NE(error({.name = "a b"}).find("'name'"), std::string::npos);
  EXPECT_NE(error({.name = "admin"}).find("'name'"), std::string::npos);
  using Scope = std::vector<std::string>;
  EXPECT_NE(error({.name = "k", .collections = Scope{}}).find("'collections'"), std::string::npos);
  EXPECT_NE(error({.name = "k", .collections = Scope{""}}).find("'collections'"),
            std::string::npos);
  EXPECT_NE(error({.name = "k", .collections = Scope{"*"}}).find("'collections'"),
            std::string::npos);
  EXPECT_NE(error({.name = "k", .collections = Scope{"a*b"}}).find("'*' may only end"),
            std::string::npos);
  EXPECT_TRUE(ValidateKeyInfo({.name = "ci-reader.2", .collections = Scope{"a", "b_*"}}).ok());
  EXPECT_EQ(ParseRole("owner").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*ParseRole("write"), Role::kWrite);
}

TEST(AuthTest, BearerKeyTakesAnyCaseOfTheScheme) {
  EXPECT_EQ(BearerKey("Bearer abc"), "abc");
  EXPECT_EQ(BearerKey("bearer abc"), "abc");
  EXPECT_EQ(BearerKey("BEARER abc"), "abc");
  EXPECT_EQ(BearerKey("Basic abc"), "Basic abc");
  EXPECT_EQ(BearerKey("abc"), "abc");
}

class KeyStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<KeyStore> Open(std::string_view admin = kAdminKey) {
    auto store = KeyStore::Open(&env_, kPath, admin);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  FaultInjectionEnv env_;
};

TEST_F(KeyStoreTest, KeysWorkUntilDeletedAndOnlyTheirHashIsStored) {
  auto store = Open();
  auto made = store->Create({.name = "reader", .role = Role::kRead,
                             .collections = std::vector<std::string>{"docs"}});
  ASSERT_TRUE(made.ok()) << made.status();
  const std::string secret = made->second;
  EXPECT_EQ(secret.substr(0, 4), "pxk_");
  EXPECT_GT(made->first.created_at_ms, 0);

  auto who = store->Authenticate(secret);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->name, "reader");
  EXPECT_EQ(who->role, Role::kRead);
  EXPECT_EQ(who->collections, std::vector<std::string>{"docs"});

  const std::string file = *env_.ReadFile(kPath);
  EXPECT_EQ(file.find(secret), std::string::npos);
  EXPECT_EQ(file.find(secret.substr(4)), std::string::npos);
  EXPECT_NE(file.find("\"sha256\""), std::string::npos);

  // Durable: a power cut right after Create returned loses nothing.
  store.reset();
  env_.SimulatePowerLoss(PowerLoss{});
  env_.Restart();
  store = Open();
  ASSERT_TRUE(store->Authenticate(secret).ok());
  ASSERT_EQ(store->List().size(), 1u);
  EXPECT_EQ(store->Create({.name = "reader"}).status().code(), absl::StatusCode::kAlreadyExists);

  ASSERT_TRUE(store->Delete("reader").ok());
  EXPECT_EQ(store->Authenticate(secret).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(ErrorCodeOf(store->Delete("reader")), kKeyNotFound);
  store.reset();
  env_.SimulatePowerLoss(PowerLoss{});
  env_.Restart();
  EXPECT_TRUE(Open()->List().empty());
}

TEST_F(KeyStoreTest, TheBootstrapKeyIsAnAdminForEverythingAndNeverStored) {
  auto store = Open();
  auto admin = store->Authenticate(kAdminKey);
  ASSERT_TRUE(admin.ok());
  EXPECT_EQ(admin->role, Role::kAdmin);
  EXPECT_TRUE(admin->Allow(Access::kServerAdmin, "").ok());
  EXPECT_TRUE(store->List().empty());
  EXPECT_FALSE(env_.FileExists(kPath));

  for (std::string_view bad : {"", "x", "pxk_nothing", "bootstrap-admin-key-012345678"}) {
    absl::Status s = store->Authenticate(bad).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << bad;
    EXPECT_EQ(ErrorCodeOf(s), kUnauthenticated);
  }
  EXPECT_FALSE(store->Authenticate(std::string(100000, 'k')).ok());
  // Without a bootstrap key, nothing matches an empty hash.
  EXPECT_FALSE(Open("")->Authenticate("").ok());
}

TEST_F(KeyStoreTest, AMalformedKeyFileIsRefusedNamingIt) {
  ASSERT_TRUE(env_.CreateDirs("/data/auth").ok());
  for (std::string_view text :
       {"", "{", "[]", R"({"format": 2, "keys": []})", R"({"format": "1", "keys": []})",
        R"({"format": 1, "keys": [{"name": "a"}]})",
        R"({"format": 1, "keys": [{"name": "a", "role": "root", "collections": null,
            "created_at_ms": 1, "sha256": "00"}]})"}) {
    ASSERT_TRUE(env_.WriteFileAtomically(kPath, text).ok());
    auto store = KeyStore::Open(&env_, kPath, kAdminKey);
    ASSERT_FALSE(store.ok()) << text;
    EXPECT_NE(store.status().message().find(kPath), std::string_view::npos) << store.status();
  }
}

// A power cut after every file operation of a Create and of a Delete leaves the key file whole,
// holding either the old keys or the new.
TEST_F(KeyStoreTest, PowerLossDuringAChangeLeavesOldOrNewKeys) {
  for (bool deleting : {false, true}) {
    int n = 1;
    for (;; ++n) {
      env_.ClearFaults();
      (void)env_.RemoveFile(kPath);
      auto store = Open();
      auto kept = store->Create({.name = "kept", .role = Role::kWrite});
      ASSERT_TRUE(kept.ok());
      std::string secret;
      if (deleting) secret = store->Create({.name = "k", .role = Role::kRead})->second;
      env_.PowerLossAfterOps(n, PowerLoss{});
      absl::Status s;
      if (deleting) {
        s = store->Delete("k");
      } else {
        auto made = store->Create({.name = "k", .role = Role::kRead});
        s = made.status();
        if (made.ok()) secret = made->second;
      }
      const bool cut = env_.power_loss_happened();
      env_.PowerLossAfterOps(0, PowerLoss{});
      store.reset();
      env_.Restart();
      store = Open();
      ASSERT_NE(store, nullptr) << "after op " << n;
      ASSERT_TRUE(store->Authenticate(kept->second).ok()) << "after op " << n;
      const size_t count = store->List().size();
      ASSERT_TRUE(count == 1 || count == 2) << "after op " << n;
      if (!cut) {
        EXPECT_TRUE(s.ok()) << s;
        EXPECT_EQ(count, deleting ? 1u : 2u);
        EXPECT_EQ(store->Authenticate(secret).ok(), !deleting);
        break;
      }
    }
    EXPECT_GE(n, 4) << "a temp file, its append and fsync, the rename, the directory sync";
  }
}

}  // namespace
}  // namespace proximadb::server
