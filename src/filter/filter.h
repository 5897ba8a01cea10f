// Metadata filters. This version supports equality on fields, the first part of the filter
// language of DESIGN.md §1:
//
//   {"user": "alice", "price": 5, "a.b": true}
//
// Every listed field must match (AND). A dotted key is a path into nested objects; when the
// value at the path is an array, the field matches if any element equals the expected value.
// Numbers compare by value (5 == 5.0). Operators ($gt, $in, ...) and combinators ($and, $or) are
// rejected with kInvalidArgument naming them until they are implemented.
//
// A Filter is immutable after parsing; Matches is thread-safe.
#pragma once

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"

namespace proximadb {

class Filter {
 public:
  // Empty text or "{}" gives a filter that matches everything. kInvalidArgument naming the path
  // for anything else that is not a supported filter.
  static absl::StatusOr<Filter> Parse(std::string_view json);

  bool matches_all() const { return impl_ == nullptr; }
  // `metadata` is a record's metadata (a JSON object). Malformed metadata matches nothing.
  bool Matches(std::string_view metadata) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

}  // namespace proximadb
