#include "storage/id_index.h"

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"

namespace proximadb {
namespace {

class HashIdIndex final : public IdIndex {
 public:
  std::optional<uint32_t> Find(std::string_view id) const override {
    auto it = map_.find(id);
    if (it == map_.end()) return std::nullopt;
    return it->second;
  }
  void Set(std::string_view id, uint32_t row) override {
    auto [it, inserted] = map_.try_emplace(id, row);
    if (!inserted) it->second = row;
  }
  size_t size() const override { return map_.size(); }
  size_t MemoryBytes() const override {
    return map_.capacity() * (sizeof(std::pair<std::string_view, uint32_t>) + 1);
  }

 private:
  struct Hash {
    size_t operator()(std::string_view s) const {
      return absl::HashOf(absl::string_view(s.data(), s.size()));
    }
  };
  absl::flat_hash_map<std::string_view, uint32_t, Hash> map_;
};

}  // namespace

absl::StatusOr<IdIndexKind> ParseIdIndexKind(std::string_view name) {
  if (name == "hashmap") return IdIndexKind::kHashMap;
  return absl::InvalidArgumentError("unknown id index '" + std::string(name) +
                                    "' (supported: hashmap)");
}

std::unique_ptr<IdIndex> NewIdIndex(IdIndexKind kind) {
  switch (kind) {
    case IdIndexKind::kHashMap:
      return std::make_unique<HashIdIndex>();
  }
  return nullptr;
}

}  // namespace proximadb
