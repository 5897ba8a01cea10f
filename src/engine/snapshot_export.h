// A collection's durable state exported as a read-only ObjectStore that holds one backup of it
// (engine/backup.h's layout): what a cluster node copies a shard replica from
// (Database::ExportCollection, docs/cluster.md#copying-a-replica). The backup's objects are
// served from the snapshot's own segments, which it keeps alive (cold ones are read from the
// cold tier's store); nothing is copied at export but the segments' SHA-256s.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/collection_impl.h"
#include "storage/object_store.h"

namespace proximadb {

// The store of backup `backup_id` of `snapshot`, of the collection `config` defines.
// `cold_store` (may be null without cold segments) must outlive it.
absl::StatusOr<std::unique_ptr<ObjectStore>> NewSnapshotStore(const CollectionConfig& config,
                                                              DurableSnapshot snapshot,
                                                              ObjectStore* cold_store,
                                                              std::string backup_id);

}  // namespace proximadb
