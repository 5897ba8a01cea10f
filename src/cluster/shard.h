// Shard: one shard of a collection as a ShardedCollection reaches it (docs/cluster.md#placement):
// this node's replica (ShardReplica), or, for a shard this node holds no replica of, the nodes
// that do (a RemoteShard made by the server's forwarder, server/shard_forwarding.cc).
//
// Writes go through the shard's log; reads with strong consistency first pass a barrier on it,
// eventual ones read a replica as it is. Thread-safety: every method may be called from any
// thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proximadb/collection.h"
#include "proximadb/database.h"

namespace proximadb::cluster {

// The error code of a request for a shard sent to a node that holds no replica of it (any
// more): the sender goes on to another node that holds one.
inline constexpr char kShardNotHere[] = "SHARD_NOT_HERE";
// The error code of a call for a shard held elsewhere that no holder took (none could be
// reached, or each answered SHARD_NOT_HERE): nothing was done, so the call may be made another
// way. The API answers it as UNAVAILABLE.
inline constexpr char kShardNotReached[] = "SHARD_NOT_REACHED";

enum class ShardMaintenance { kFlush, kCompact, kMigrate, kTiering };

class Shard {
 public:
  virtual ~Shard() = default;

  virtual absl::Status Write(const std::vector<Record>& records, WriteMode mode) = 0;
  // How many of the ids were live.
  virtual absl::StatusOr<uint64_t> Delete(const std::vector<std::string>& ids) = 0;
  // kNotFound if the id is not live.
  virtual absl::Status Patch(std::string_view id, std::string_view patch) = 0;
  virtual absl::Status Replace(std::string_view id, std::string_view metadata) = 0;
  // How many records the filter matched (and were deleted).
  virtual absl::StatusOr<uint64_t> DeleteWhere(std::string_view filter) = 0;

  virtual absl::StatusOr<Record> Get(std::string_view id, ReadConsistency reads) = 0;
  virtual absl::StatusOr<std::vector<Record>> GetMany(const std::vector<std::string>& ids,
                                                      ReadConsistency reads) = 0;
  virtual absl::StatusOr<uint64_t> Count(std::string_view filter, ReadConsistency reads) = 0;
  virtual absl::StatusOr<ScrollPage> Scroll(std::string_view after, uint32_t limit,
                                            std::string_view filter, bool include_vectors,
                                            ReadConsistency reads) = 0;
  virtual absl::StatusOr<SearchResponse> Search(const SearchRequest& request,
                                                ReadConsistency reads) = 0;

  // The replica's statistics, replication_lag included.
  virtual absl::StatusOr<CollectionStats> Stats() = 0;
  virtual absl::Status Maintain(ShardMaintenance what) = 0;
  // This node's replica's collection; null for a shard held elsewhere.
  virtual Collection* local() { return nullptr; }
};

// Which shard of which collection a RemoteShard reaches.
struct ShardAddress {
  std::string collection;
  std::string uid;  // the collection's: a collection dropped and created again has another
  uint32_t shard = 0;
};
// The gRPC addresses of the live nodes holding a replica of the shard, in the order to try them;
// with `refresh`, once this node has read the catalog again (every holder it knew answered that
// it holds the shard no longer: the shard moved since this node's last refresh).
using ShardHolders = std::function<std::vector<std::string>(bool refresh)>;
// Makes the Shard of a shard this node holds no replica of. It asks the holders in turn, going
// on to the next one when a holder cannot be reached or holds the shard no longer.
using RemoteShardFactory =
    std::function<std::shared_ptr<Shard>(ShardAddress address, ShardHolders holders)>;

// Asks the node at gRPC address `holder` to export its replica of the shard
// (Database::ExportCollection): a new replica is copied from it when the shard's log no longer
// holds every entry (docs/cluster.md#copying-a-replica). Reading the store reads the holder's
// files; dropping it ends the export there.
using PeerExports = std::function<absl::StatusOr<CollectionExport>(const ShardAddress& address,
                                                                   const std::string& holder)>;

}  // namespace proximadb::cluster
