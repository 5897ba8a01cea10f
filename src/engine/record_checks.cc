#include "engine/record_checks.h"

#include <cmath>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/macros.h"
#include "filter/metadata.h"

namespace proximadb {
namespace {

std::string Quote(std::string_view s) { return absl::StrCat("'", std::string(s), "'"); }

}  // namespace

absl::Status CheckMetadataSize(std::string_view id, size_t bytes, size_t limit) {
  if (bytes <= limit) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("field 'metadata' of id ", Quote(id), " has ",
                                                 bytes, " bytes, the limit is ", limit));
}

absl::Status CheckRecord(Record& r, const RecordRules& rules) {
  if (r.id.empty() || r.id.size() > rules.max_id_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "field 'id' must have 1 to ", rules.max_id_bytes, " bytes, has ", r.id.size()));
  }
  if (r.vector.size() != rules.dimension) {
    return WithErrorCode(
        absl::InvalidArgumentError(absl::StrCat(
            "vector of id ", Quote(r.id), " has dimension ", r.vector.size(), ", collection ",
            Quote(rules.collection), " has dimension ", rules.dimension)),
        kDimensionMismatch);
  }
  for (size_t i = 0; i < r.vector.size(); ++i) {
    if (!std::isfinite(r.vector[i])) {
      return absl::InvalidArgumentError(absl::StrCat("vector of id ", Quote(r.id),
                                                      " has a non-finite value at index ", i));
    }
  }
  PROXIMADB_ASSIGN_OR_RETURN(
      r.metadata, CanonicalMetadata(r.metadata, absl::StrCat("metadata of id ", Quote(r.id))));
  return CheckMetadataSize(r.id, r.metadata.size(), rules.max_metadata_bytes);
}

absl::Status CheckRecords(std::vector<Record>& records, WriteMode mode,
                          const RecordRules& rules) {
  absl::flat_hash_set<std::string_view> seen;
  for (size_t i = 0; i < records.size(); ++i) {
    Record& r = records[i];
    if (absl::Status s = CheckRecord(r, rules); !s.ok()) {
      if (records.size() == 1) return s;
      // Which record, by its place in the batch (the id itself may be what is wrong).
      absl::Status named(s.code(), absl::StrCat("vectors[", i, "]: ", s.message()));
      if (const std::string code = ErrorCodeOf(s); !code.empty()) {
        return WithErrorCode(named, code);
      }
      return named;
    }
    if (mode == WriteMode::kInsert && !seen.insert(r.id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("id ", Quote(r.id), " appears more than once in the batch"));
    }
  }
  return absl::OkStatus();
}

}  // namespace proximadb
