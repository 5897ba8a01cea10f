// API keys and what they allow (docs/security.md). A key has a role (read, write, admin) and a
// scope (every collection, or a list of names and `prefix_*` patterns). The KeyStore keeps the
// keys in one JSON file, stored only as SHA-256 hashes and replaced atomically on every change;
// the secret is shown once, when the key is made. `[auth] admin_key` from the configuration is
// the bootstrap admin key, never stored. Authenticate compares the hash of the presented key
// with every stored hash in constant time and never logs a key.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "env/env.h"

namespace proximadb::server {

// Stable error codes of authentication and key management (docs/api.md).
inline constexpr char kUnauthenticated[] = "UNAUTHENTICATED";        // 401
inline constexpr char kPermissionDenied[] = "PERMISSION_DENIED";     // 403
inline constexpr char kKeyNotFound[] = "KEY_NOT_FOUND";              // 404
inline constexpr char kAuthNotEnabled[] = "AUTH_NOT_ENABLED";        // 409

enum class Role { kRead, kWrite, kAdmin };
std::string_view RoleName(Role role);
// INVALID_ARGUMENT naming the field "role" unless `name` is read, write or admin.
absl::StatusOr<Role> ParseRole(std::string_view name);

// The key in an Authorization header's (or gRPC metadata's) value: what follows "Bearer " (in
// any case), or the whole value for any other scheme, so that it fails as an unknown key.
std::string_view BearerKey(std::string_view authorization);

// What an API operation asks of the caller's key.
enum class Access {
  kOpen,         // /health, /ready: no key needed
  kRead,         // describe, stats, get, scroll, count, search; listing shows what is in scope
  kWrite,        // write and delete records, flush
  kAdmin,        // create, patch, drop, compact, tiering, back up: a collection in scope
  kServerAdmin,  // keys, the backup catalogue, restores: an admin key for every collection
  kMetrics,      // /metrics: any key for every collection, or none if [auth] public_metrics
};

// The holder of a key, as the checks see it.
struct Principal {
  std::string name;
  Role role = Role::kRead;
  std::optional<std::vector<std::string>> collections;  // nullopt: every collection

  bool Covers(std::string_view collection) const;
  // OK, or PERMISSION_DENIED saying what is missing. `collection` is the one the operation
  // names ("" for none).
  absl::Status Allow(Access access, std::string_view collection) const;
};

// A stored key without its secret.
struct KeyInfo {
  std::string name;
  Role role = Role::kRead;
  std::optional<std::vector<std::string>> collections;
  int64_t created_at_ms = 0;  // Unix time
};

// INVALID_ARGUMENT naming the field: a name of 1-64 letters, digits, '_', '-' and '.', not
// "admin"; a scope of 1-256 non-empty entries, each a collection name or a prefix ending in '*'.
absl::Status ValidateKeyInfo(const KeyInfo& info);

class KeyStore {
 public:
  // The keys in `path` (absent: none yet; unreadable or malformed: an error naming the file).
  // `admin_key` is the bootstrap admin key ("" for none).
  static absl::StatusOr<std::unique_ptr<KeyStore>> Open(Env* env, std::string path,
                                                         std::string_view admin_key);

  // The key's holder, or UNAUTHENTICATED (missing or unknown key).
  absl::StatusOr<Principal> Authenticate(std::string_view key) const;

  // Makes a key: its stored form and its secret (shown this once). ALREADY_EXISTS if the name
  // is taken; the file is rewritten durably before the key works.
  absl::StatusOr<std::pair<KeyInfo, std::string>> Create(KeyInfo info);
  std::vector<KeyInfo> List() const;
  // KEY_NOT_FOUND if there is no such key; it stops working once this returns.
  absl::Status Delete(std::string_view name);

 private:
  struct Stored {
    KeyInfo info;
    std::string sha256;  // raw 32 bytes
  };
  KeyStore(Env* env, std::string path, std::string admin_sha256);
  std::shared_ptr<const std::vector<Stored>> Snapshot() const;
  // Writes `keys` to the file; on success (or once renamed) they become the keys in force.
  absl::Status Save(std::vector<Stored> keys) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);

  Env* const env_;
  const std::string path_;
  const std::string admin_sha256_;  // "" without a bootstrap key
  absl::Mutex write_mu_;            // one change at a time, file and memory together
  mutable absl::Mutex mu_;
  std::shared_ptr<const std::vector<Stored>> keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace proximadb::server
