// Stable error codes on top of absl::Status. The engine returns the most specific absl code and,
// where one absl code covers several API error codes, attaches the API code as a payload, which
// the server maps to its HTTP/gRPC status and to the `code` field of its error body.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace proximadb {

inline constexpr char kErrorCodePayload[] = "type.proximadb.io/error_code";

// Error codes beyond what absl's codes say on their own.
inline constexpr char kDimensionMismatch[] = "DIMENSION_MISMATCH";
// A layout change while the previous one's migration has not finished (HTTP 409).
inline constexpr char kMigrationInProgress[] = "MIGRATION_IN_PROGRESS";
// The object store (the cold tier, backups) cannot be reached or keeps failing (HTTP 503).
inline constexpr char kObjectStoreUnavailable[] = "OBJECT_STORE_UNAVAILABLE";
// A backup operation on a server without an object store (HTTP 409).
inline constexpr char kObjectStoreNotConfigured[] = "OBJECT_STORE_NOT_CONFIGURED";

// A write refused because the disk is full (ENOSPC, EDQUOT): nothing of it was made, and
// writes go on once there is space (HTTP 507).
inline constexpr char kInsufficientStorage[] = "INSUFFICIENT_STORAGE";

inline absl::Status WithErrorCode(absl::Status status, std::string_view code) {
  status.SetPayload(kErrorCodePayload, absl::Cord(absl::string_view(code.data(), code.size())));
  return status;
}

// The attached code, or "" if none.
inline std::string ErrorCodeOf(const absl::Status& status) {
  auto payload = status.GetPayload(kErrorCodePayload);
  return payload ? std::string(*payload) : std::string();
}

}  // namespace proximadb
