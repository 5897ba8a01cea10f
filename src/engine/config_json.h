// A collection's definition as JSON: in a backup's backup.json (docs/backups.md) and in the
// cluster's catalog in etcd (docs/cluster.md). Every field, so a definition read back is the
// one written.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "proximadb/types.h"

namespace proximadb {

nlohmann::json ConfigToJson(const CollectionConfig& config);
// kDataLoss naming `where` (say "backup <id>") when `j` is not a definition.
absl::StatusOr<CollectionConfig> ConfigFromJson(const nlohmann::json& j, std::string_view where);

}  // namespace proximadb
