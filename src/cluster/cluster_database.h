// ClusterDatabase: the engine's Database interface over a cluster (docs/cluster.md). The
// catalog lives in etcd; each collection is split into shards, each shard's log is a JetStream
// stream, and this node keeps a replica of every shard in its local database (collections
// named s-<uid>-<shard>, hidden from users). Any node answers any request.
//
// - CreateCollection writes the definition in etcd only if the name is free (one transaction),
//   then creates the shards' logs and this node's replicas. Other nodes open their replicas
//   when they first need the collection, or at their next catalog refresh.
// - DropCollection removes the definition (a transaction on its revision), this node's replicas
//   and the logs; other nodes drop their replicas at their next refresh.
// - A node whose local replicas are not in the catalog (a crash between the steps above, or a
//   drop while it was down) drops them at its next refresh.
//
// Not in cluster mode yet: settings updates, backups and restores (kUnimplemented, saying so).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "cluster/etcd_client.h"
#include "cluster/membership.h"
#include "cluster/shard_log.h"
#include "cluster/sharded_collection.h"
#include "proximadb/database.h"

namespace proximadb::cluster {

struct ClusterOptions {
  std::string cluster_name = "proximadb";
  std::string node_id;
  std::string advertise_rest;
  std::string advertise_grpc;
  std::vector<std::string> etcd_endpoints;
  std::vector<std::string> nats_urls;
  uint32_t default_shards = 4;
  int replication_factor = 3;   // copies of each shard's log (JetStream replicas)
  int64_t lease_ttl_seconds = 10;
  int catalog_refresh_ms = 1000;
};

// What GET /api/v1/cluster shows.
struct ClusterView {
  std::vector<NodeInfo> nodes;
  struct Shard {
    uint32_t index = 0;
    std::string stream;
    StreamState log;           // the log's positions, leader and replicas
    uint64_t applied = 0;      // this node's replica's position
    std::string apply_error;   // empty while it applies
  };
  struct Collection {
    std::string name;
    uint32_t replication_factor = 0;
    std::vector<Shard> shards;
  };
  std::vector<Collection> collections;
};

class ClusterDatabase final : public Database {
 public:
  // Joins the cluster and opens this node's replicas of the catalog's collections. `local` is
  // the node's own database, which holds the replicas.
  static absl::StatusOr<std::unique_ptr<ClusterDatabase>> Open(std::unique_ptr<Database> local,
                                                               ClusterOptions options);
  ~ClusterDatabase() override;

  absl::StatusOr<CollectionConfig> CreateCollection(const CollectionConfig& config) override;
  std::vector<CollectionConfig> ListCollections() override;
  absl::StatusOr<CollectionConfig> DescribeCollection(std::string_view name) override;
  absl::StatusOr<CollectionConfig> UpdateCollection(std::string_view name,
                                                    const CollectionUpdate& update) override;
  absl::Status DropCollection(std::string_view name) override;
  absl::StatusOr<std::shared_ptr<Collection>> GetCollection(std::string_view name) override;
  absl::StatusOr<BackupInfo> BackupCollection(std::string_view name) override;
  absl::StatusOr<std::vector<BackupInfo>> ListBackups() override;
  absl::StatusOr<CollectionConfig> RestoreBackup(std::string_view backup_id,
                                                 std::string_view target) override;
  absl::Status DeleteBackup(std::string_view backup_id) override;
  absl::StatusOr<CollectionConfig> RestoreToTime(std::string_view source, int64_t time_us,
                                                 std::string_view target) override;

  absl::StatusOr<ClusterView> View();
  // Brings this node's replicas in line with the catalog now (the refresh thread's pass).
  absl::Status Refresh();

 private:
  struct Entry;  // a collection of the catalog, as stored in etcd
  struct Replicas;  // this node's replicas of one collection
  ClusterDatabase(std::unique_ptr<Database> local, EtcdClient etcd, ClusterOptions options);
  std::string CatalogKey(std::string_view name) const;
  absl::StatusOr<std::vector<Entry>> ReadCatalog();
  // A catalog key's value as an Entry (kDataLoss naming the collection if it is not one).
  static absl::StatusOr<Entry> ParseEntry(std::string_view name, const KeyValue& kv);
  absl::StatusOr<std::optional<Entry>> ReadEntry(std::string_view name);
  // Creates what is missing of this node's replicas of `entry` and starts them.
  absl::StatusOr<std::shared_ptr<Replicas>> OpenReplicas(const Entry& entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(change_mu_);
  // Stops serving this node's replicas of the collection whose uid is `uid`, and with
  // `delete_files` drops their local collections.
  absl::Status DropReplicas(const std::string& uid, bool delete_files)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(change_mu_);
  absl::Status RefreshLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(change_mu_);
  void RefreshLoop();

  std::unique_ptr<Database> local_;
  EtcdClient etcd_;
  const ClusterOptions options_;
  std::unique_ptr<ShardLog> log_;
  std::unique_ptr<Membership> membership_;
  absl::Mutex change_mu_;  // serializes opening and dropping replicas (network calls inside)
  mutable absl::Mutex mu_ ABSL_ACQUIRED_AFTER(change_mu_);
  std::map<std::string, std::shared_ptr<Replicas>, std::less<>> open_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread refresher_;
};

}  // namespace proximadb::cluster
