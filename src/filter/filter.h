// Metadata filters: the filter language of DESIGN.md §1, the same in REST, gRPC and clients.
//
//   {"user": "alice"}                          equality (shorthand for {"user": {"$eq": ...}})
//   {"price": {"$gte": 5, "$lt": 20}}          several operators on one field: all must hold
//   {"$or": [{"tag": "a"}, {"n": {"$in": [1, 2]}}]}, {"$and": [...]}, {"$not": {...}}
//   {"a.b": true}                              a dotted path into nested objects
//
// Operators: $eq $ne (a string, number, boolean or null), $gt $gte $lt $lte (a number or a
// string; numbers compare by value, strings bytewise), $in $nin (an array of those scalars),
// $exists (a boolean). Several keys in one object are ANDed.
//
// Semantics, for a record's metadata:
//   - The values at a path: walking the path, an array fans out over its elements; at the end,
//     a scalar is one value and an array contributes its scalar elements. A path is present
//     when it leads anywhere, even to an object or an empty array.
//   - $eq, $in and the range operators match when ANY value satisfies them; values of another
//     type never do (5 never equals "5"; $gt 3 ignores strings). 5 and 5.0 are equal.
//   - $ne and $nin are their negations: true when NO value equals (so also when absent).
//   - $exists: true iff the path is present.
//
// Errors (kInvalidArgument) name the place in the filter, e.g. `filter.$or[1].price.$gt:
// expects a number or a string, got an array`: unknown operators, operands of the wrong type,
// empty or malformed paths, non-object filters, and objects given as field values (write
// {"a.b": 1}, not {"a": {"b": 1}}).
//
// Limits (Filter::kMax*): 1 MiB of text, $and/$or/$not nested 32 deep, 10,000 conditions and
// $in/$nin values in all.
//
// Numbers compare as doubles, so integers beyond 2^53 compare by their nearest double.
//
// A Filter is immutable after parsing and thread-safe. Two evaluators give identical answers
// on metadata that is a JSON object (the engine stores nothing else): Matches (one document)
// and FieldIndex::Select (a set of rows, through indexes).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace proximadb {

struct FilterNode;

class Filter {
 public:
  // Limits; past them Parse fails with INVALID_ARGUMENT saying which. The text's size; the
  // nesting of $and, $or and $not; conditions plus the values of $in and $nin lists.
  static constexpr size_t kMaxBytes = 1 << 20;
  static constexpr int kMaxDepth = 32;
  static constexpr size_t kMaxTerms = 10000;

  // Empty text or "{}" gives a filter that matches everything.
  static absl::StatusOr<Filter> Parse(std::string_view json);

  bool matches_all() const { return root_ == nullptr; }
  // `metadata` is a record's metadata (a JSON object). Malformed metadata matches nothing.
  bool Matches(std::string_view metadata) const;

  const FilterNode* root() const { return root_.get(); }
  // The distinct field paths the filter reads.
  const std::vector<std::string>& paths() const { return paths_; }
  // The filter in canonical JSON (keys sorted, no spaces): equal for equivalent spellings.
  const std::string& canonical() const { return canonical_; }

 private:
  std::shared_ptr<const FilterNode> root_;
  std::vector<std::string> paths_;
  std::string canonical_;
};

// The parsed form, for evaluators (see field_index.h).
struct FilterScalar {
  enum Type { kNull, kBool, kNumber, kString } type = kNull;
  bool boolean = false;
  double number = 0;
  std::string string;
};

struct FilterNode {
  enum Kind { kAnd, kOr, kNot, kCondition } kind = kAnd;
  std::vector<FilterNode> children;  // kAnd, kOr (one or more), kNot (exactly one)
  // kCondition:
  enum Op { kEq, kNe, kGt, kGte, kLt, kLte, kIn, kNin, kExists } op = kEq;
  std::string path;                  // as written, "a.b"
  std::vector<std::string> parts;    // split at dots
  std::vector<FilterScalar> values;  // one for all but $in/$nin (any number) and $exists (none)
  bool exists = true;                // $exists operand
};

}  // namespace proximadb
