// The checks of records to write that need no collection state (docs/api.md#limits), in one
// place for a collection's own writes and for a cluster's sharded batches, which are checked
// whole before any shard's part is written (cluster/sharded_collection.cc).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "proximadb/collection.h"

namespace proximadb {

struct RecordRules {
  std::string collection;  // its name, as a dimension mismatch names it
  size_t dimension = 0;
  size_t max_id_bytes = kMaxIdBytes;
  size_t max_metadata_bytes = kMaxMetadataBytes;
};

// kInvalidArgument naming the field and the id: an id of 0 or too many bytes, a vector of
// another dimension (error code DIMENSION_MISMATCH) or with a non-finite value, metadata that
// is not a JSON object or is too large. Makes the metadata canonical.
absl::Status CheckRecord(Record& r, const RecordRules& rules);
// Every record's (naming it vectors[i] in a batch of several), and no id twice in an insert.
absl::Status CheckRecords(std::vector<Record>& records, WriteMode mode, const RecordRules& rules);
// kInvalidArgument if `bytes` of metadata of `id` are over `limit`.
absl::Status CheckMetadataSize(std::string_view id, size_t bytes, size_t limit);

}  // namespace proximadb
