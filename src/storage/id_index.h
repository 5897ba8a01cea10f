// IdIndex: maps a client id to the newest memtable row that holds it. An interface so that other
// structures (btree, skiplist, ART) can replace the default hash map; all implementations must
// pass id_index_test.cc.
//
// Keys are views: the memtable keeps the id bytes alive for the index's lifetime.
// Thread-compatible: the Memtable serializes access.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"

namespace proximadb {

enum class IdIndexKind { kHashMap };

absl::StatusOr<IdIndexKind> ParseIdIndexKind(std::string_view name);

class IdIndex {
 public:
  virtual ~IdIndex() = default;
  virtual std::optional<uint32_t> Find(std::string_view id) const = 0;
  // Points `id` at `row`, replacing any previous row.
  virtual void Set(std::string_view id, uint32_t row) = 0;
  virtual size_t size() const = 0;
  virtual size_t MemoryBytes() const = 0;
};

std::unique_ptr<IdIndex> NewIdIndex(IdIndexKind kind);

}  // namespace proximadb
