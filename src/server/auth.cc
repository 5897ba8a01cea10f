#include "server/auth.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <chrono>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "common/errors.h"
#include "common/macros.h"
#include "common/strings.h"

namespace proximadb::server {
namespace {

using json = nlohmann::json;

constexpr int kFormat = 1;                 // of the key file (docs/security.md#the-key-file)
constexpr std::string_view kKeyPrefix = "pxk_";
constexpr size_t kSecretBytes = 32;
constexpr size_t kMaxPresentedKey = 512;   // longer is not one of ours; not even hashed

std::string Sha256(std::string_view data) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

absl::Status Unauthenticated(std::string_view message) {
  return WithErrorCode(absl::UnauthenticatedError(std::string(message)), kUnauthenticated);
}

absl::Status Denied(std::string_view message) {
  return WithErrorCode(absl::PermissionDeniedError(std::string(message)), kPermissionDenied);
}

absl::Status BadField(std::string_view field, std::string_view why) {
  return absl::InvalidArgumentError(Cat("'", field, "' ", why));
}

json ToJson(const KeyInfo& info, std::string_view sha256) {
  json scope = info.collections ? json(*info.collections) : json(nullptr);
  return {{"name", info.name},
          {"role", RoleName(info.role)},
          {"collections", scope},
          {"created_at_ms", info.created_at_ms},
          {"sha256", absl::BytesToHexString(absl::string_view(sha256.data(), sha256.size()))}};
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kRead: return "read";
    case Role::kWrite: return "write";
    case Role::kAdmin: return "admin";
  }
  return "read";
}

absl::StatusOr<Role> ParseRole(std::string_view name) {
  for (Role r : {Role::kRead, Role::kWrite, Role::kAdmin}) {
    if (name == RoleName(r)) return r;
  }
  return BadField("role", Cat("must be read, write or admin, got '", name, "'"));
}

std::string_view BearerKey(std::string_view authorization) {
  constexpr std::string_view kBearer = "bearer ";
  if (authorization.size() < kBearer.size()) return authorization;
  for (size_t i = 0; i < kBearer.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kBearer[i]) {
      return authorization;
    }
  }
  return authorization.substr(kBearer.size());
}

bool Principal::Covers(std::string_view collection) const {
  if (!collections) return true;
  for (std::string_view entry : *collections) {
    const bool prefix = entry.back() == '*';  // entries are never empty (ValidateKeyInfo)
    if (prefix ? collection.starts_with(entry.substr(0, entry.size() - 1)) : collection == entry) {
      return true;
    }
  }
  return false;
}

absl::Status Principal::Allow(Access access, std::string_view collection) const {
  if (access == Access::kOpen) return absl::OkStatus();
  if (access == Access::kMetrics || access == Access::kServerAdmin) {
    if (collections) {
      return Denied(Cat("key '", name, "' is limited to some collections; this operation needs ",
                        access == Access::kMetrics ? "a key" : "an admin key",
                        " for every collection"));
    }
    if (access == Access::kMetrics) return absl::OkStatus();
  }
  const Role needed = access == Access::kRead    ? Role::kRead
                      : access == Access::kWrite ? Role::kWrite
                                                 : Role::kAdmin;
  if (role < needed) {
    return Denied(Cat("key '", name, "' has role ", RoleName(role), "; this operation needs ",
                      RoleName(needed)));
  }
  if (!collection.empty() && !Covers(collection)) {
    return Denied(Cat("key '", name, "' does not cover collection '", collection, "'"));
  }
  return absl::OkStatus();
}

absl::Status ValidateKeyInfo(const KeyInfo& info) {
  if (info.name.empty() || info.name.size() > 64) {
    return BadField("name", "must be 1 to 64 characters");
  }
  for (char c : info.name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) {
      return BadField("name", "may hold only letters, digits, '_', '-' and '.'");
    }
  }
  if (info.name == "admin") return BadField("name", "'admin' is the bootstrap key's name");
  if (!info.collections) return absl::OkStatus();
  if (info.collections->empty() || info.collections->size() > 256) {
    return BadField("collections", "must be null (every collection) or 1 to 256 entries");
  }
  for (const std::string& entry : *info.collections) {
    if (entry.empty() || entry == "*" || entry.size() > 256) {
      return BadField("collections",
                      "entries must be collection names or prefixes ending in '*' "
                      "(null for every collection)");
    }
    if (entry.find('*') < entry.size() - 1) {
      return BadField("collections", Cat("'", entry, "': '*' may only end an entry"));
    }
  }
  return absl::OkStatus();
}

KeyStore::KeyStore(Env* env, std::string path, std::string admin_sha256)
    : env_(env),
      path_(std::move(path)),
      admin_sha256_(std::move(admin_sha256)),
      keys_(std::make_shared<const std::vector<Stored>>()) {}

absl::StatusOr<std::unique_ptr<KeyStore>> KeyStore::Open(Env* env, std::string path,
                                                         std::string_view admin_key) {
  auto store = std::unique_ptr<KeyStore>(
      new KeyStore(env, path, admin_key.empty() ? "" : Sha256(admin_key)));
  if (!env->FileExists(path)) return store;
  PROXIMADB_ASSIGN_OR_RETURN(std::string text, env->ReadFile(path));
  auto bad = [&](std::string_view why) {
    return absl::DataLossError(Cat("key file ", path, ": ", why));
  };
  const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("format") || doc["format"] != kFormat ||
      !doc.contains("keys") || !doc["keys"].is_array()) {
    return bad(Cat("not a key file of format ", kFormat));
  }
  auto keys = std::make_shared<std::vector<Stored>>();
  for (const json& k : doc["keys"]) {
    Stored s;
    std::string role, hex;
    try {
      s.info.name = k.at("name").get<std::string>();
      role = k.at("role").get<std::string>();
      if (!k.at("collections").is_null()) {
        s.info.collections = k.at("collections").get<std::vector<std::string>>();
      }
      s.info.created_at_ms = k.at("created_at_ms").get<int64_t>();
      hex = k.at("sha256").get<std::string>();
    } catch (const json::exception& e) {
      return bad(e.what());
    }
    absl::StatusOr<Role> r = ParseRole(role);
    s.sha256 = absl::HexStringToBytes(hex);
    if (!r.ok() || !ValidateKeyInfo(s.info).ok() || s.sha256.size() != SHA256_DIGEST_LENGTH) {
      return bad(Cat("key '", s.info.name, "' is malformed"));
    }
    s.info.role = *r;
    keys->push_back(std::move(s));
  }
  store->keys_ = std::move(keys);
  return store;
}

absl::StatusOr<Principal> KeyStore::Authenticate(std::string_view key) const {
  if (key.empty()) {
    return Unauthenticated("an API key is required (Authorization: Bearer <key>, or api-key)");
  }
  if (key.size() <= kMaxPresentedKey) {
    const std::string hash = Sha256(key);
    const std::shared_ptr<const std::vector<Stored>> keys = Snapshot();
    // Every stored hash is compared, whole, whichever matches.
    const Stored* found = nullptr;
    for (const Stored& s : *keys) {
      if (CRYPTO_memcmp(s.sha256.data(), hash.data(), hash.size()) == 0) found = &s;
    }
    const bool admin = !admin_sha256_.empty() &&
                       CRYPTO_memcmp(admin_sha256_.data(), hash.data(), hash.size()) == 0;
    if (admin) return Principal{"admin", Role::kAdmin, std::nullopt};
    if (found != nullptr) {
      return Principal{found->info.name, found->info.role, found->info.collections};
    }
  }
  return Unauthenticated("the API key is not valid");
}

absl::StatusOr<std::pair<KeyInfo, std::string>> KeyStore::Create(KeyInfo info) {
  PROXIMADB_RETURN_IF_ERROR(ValidateKeyInfo(info));
  absl::MutexLock write(&write_mu_);
  std::vector<Stored> keys = *Snapshot();
  for (const Stored& s : keys) {
    if (s.info.name == info.name) {
      return absl::AlreadyExistsError(Cat("a key named '", info.name, "' already exists"));
    }
  }
  std::string random(kSecretBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(random.data()), kSecretBytes) != 1) {
    return absl::InternalError("no random bytes for a new key (OpenSSL RAND_bytes failed)");
  }
  std::string secret(kKeyPrefix);
  secret += absl::WebSafeBase64Escape(random);
  info.created_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  keys.push_back({info, Sha256(secret)});
  PROXIMADB_RETURN_IF_ERROR(Save(std::move(keys)));
  return std::make_pair(std::move(info), std::move(secret));
}

std::shared_ptr<const std::vector<KeyStore::Stored>> KeyStore::Snapshot() const {
  absl::ReaderMutexLock lock(&mu_);
  return keys_;
}

std::vector<KeyInfo> KeyStore::List() const {
  std::vector<KeyInfo> out;
  for (const Stored& s : *Snapshot()) out.push_back(s.info);
  return out;
}

absl::Status KeyStore::Delete(std::string_view name) {
  absl::MutexLock write(&write_mu_);
  std::vector<Stored> keys = *Snapshot();
  const auto it = std::find_if(keys.begin(), keys.end(),
                               [&](const Stored& s) { return s.info.name == name; });
  if (it == keys.end()) {
    return WithErrorCode(absl::NotFoundError(Cat("no key named '", name, "'")), kKeyNotFound);
  }
  keys.erase(it);
  return Save(std::move(keys));
}

absl::Status KeyStore::Save(std::vector<Stored> keys) {
  json doc = {{"format", kFormat}, {"keys", json::array()}};
  for (const Stored& s : keys) doc["keys"].push_back(ToJson(s.info, s.sha256));
  PROXIMADB_RETURN_IF_ERROR(env_->CreateDirs(DirName(path_)));
  bool renamed = false;
  absl::Status s = env_->WriteFileAtomically(path_, doc.dump(2) + "\n", &renamed);
  // Once renamed, the file holds the new keys (perhaps not yet durably): so does memory.
  if (s.ok() || renamed) {
    absl::MutexLock lock(&mu_);
    keys_ = std::make_shared<const std::vector<Stored>>(std::move(keys));
  }
  return s;
}

}  // namespace proximadb::server
