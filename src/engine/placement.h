// The directory settings of a database (docs/storage.md#directories-and-placement); where
// each collection's files go is CollectionImpl's (placement.cc).
#pragma once

#include "absl/status/status.h"
#include "env/env.h"
#include "proximadb/database.h"

namespace proximadb {

// The WAL, hot and warm directories must exist (a device not mounted must not turn into an
// empty directory on another disk), and no two settings may name one place: a segment found
// "twice" there would be removed as its own duplicate.
absl::Status CheckDirectories(const DatabaseOptions& options, Env* env);

}  // namespace proximadb
