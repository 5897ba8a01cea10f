// Metadata documents: every record's metadata is a JSON object, stored in canonical compact
// text. These helpers validate and canonicalize input and apply merge patches.
// Thread-safe (pure functions).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace proximadb {

// Parses `json` and returns it in canonical compact form. Empty input means "{}".
// kInvalidArgument if it is not valid JSON or not an object; the message starts with `what`
// (for example "metadata of id 'doc-1'").
absl::StatusOr<std::string> CanonicalMetadata(std::string_view json, std::string_view what);

// Applies RFC 7386 merge patch `patch` (a JSON object) to the object `target`.
absl::StatusOr<std::string> MergeMetadata(std::string_view target, std::string_view patch,
                                          std::string_view what);

}  // namespace proximadb
