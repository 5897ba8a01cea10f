// ClusterDatabase: the engine's Database interface over a cluster (docs/cluster.md). The
// catalog lives in etcd; each collection is split into shards, each shard's log is a JetStream
// stream, and this node keeps a replica of every shard in its local database (collections
// named s-<uid>-<shard>, hidden from users) of the shards placed on it. Any node answers any
// request, forwarding what concerns a shard it holds no replica of to a node that holds one.
//
// - Placement (docs/cluster.md#placement): a new collection's shards are each placed on
//   replication_factor of the live nodes (fewer if fewer are live), spread evenly, and the
//   placement is part of the collection's catalog entry. At each refresh, the live node with
//   the lowest id adds nodes to a shard placed on fewer than replication_factor, and replaces
//   a node gone longer than replace_after_seconds; a new replica applies the log from its
//   start (its node's own requests go to the other holders until it has caught up:
//   CatchingUpShard). Without a remote_shards factory every node holds every shard.
// - A replica that stops applying its log on an error that reopening may cure is opened again
//   (replica_restart.cc), copied from another holder if the log no longer holds what follows
//   its position (replica_copy.cc).
//
// - CreateCollection writes the definition in etcd only if the name is free (one transaction;
//   if its answer is lost, the definition read back with this create's uid says it was
//   written), then creates the shards' logs and this node's replicas. Other nodes open their
//   replicas when they first need the collection, or at their next catalog refresh.
// - DropCollection removes the definition (a transaction on its revision), this node's replicas
//   and the logs; other nodes drop their replicas at their next refresh.
// - A node whose local replicas are not in the catalog (a crash between the steps above, or a
//   drop while it was down) drops them at its next refresh.
//
// - UpdateCollection changes the definition in etcd (a transaction on the revision read) once
//   this node's replicas took the new settings; other nodes apply them at their next refresh,
//   and a node that was away when it opens its replicas.
//
// Not in cluster mode yet: backups and restores (kUnimplemented, saying so).
#pragma once

#include <map>
#include <set>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "cluster/etcd_client.h"
#include "cluster/membership.h"
#include "cluster/shard.h"
#include "cluster/shard_log.h"
#include "cluster/shard_replica.h"
#include "cluster/sharded_collection.h"
#include "proximadb/database.h"

namespace proximadb::cluster {

// The replicas of the log of a shard with `replication_factor` copies: the next odd number.
// A Raft group of an even size survives no more failures than one of one fewer (2 replicas
// stop at the loss of either), so a log of 2 copies has 3 replicas, one of 4 has 5.
int LogReplicas(int replication_factor);
// The local collection holding this node's replica of shard `shard` of the collection `uid`.
std::string ShardName(std::string_view uid, uint32_t shard);
// The JetStream stream holding the log of shard `shard` of the collection whose uid is `uid`.
std::string ShardStream(std::string_view uid, uint32_t shard);

struct ClusterOptions {
  std::string cluster_name = "proximadb";
  std::string node_id;
  std::string advertise_rest;
  std::string advertise_grpc;
  std::vector<std::string> etcd_endpoints;
  std::vector<std::string> nats_urls;
  uint32_t default_shards = 4;
  // Copies of each shard: the nodes holding a replica, and its log's replicas (LogReplicas).
  int replication_factor = 3;
  // Reaches the shards this node holds no replica of; null: every node holds every shard.
  RemoteShardFactory remote_shards;
  // Exports of the replicas of other nodes, to copy a replica from when a shard placed here
  // has a trimmed log; null: a new replica applies its log from the start, and a shard whose
  // log was trimmed is not placed on another node.
  PeerExports peer_exports;
  // A node gone (its lease expired) this long has its replicas placed on other nodes.
  int replace_after_seconds = 60;
  // Moves replicas, one at a time, from the live node holding the most to the one holding
  // the fewest while they differ by 2 or more (docs/cluster.md#rebalancing).
  bool rebalance = true;
  // The record limits writes are checked against before they are split by shard (the local
  // database's, DatabaseOptions).
  size_t max_id_bytes = kMaxIdBytes;
  size_t max_metadata_bytes = kMaxMetadataBytes;
  int64_t lease_ttl_seconds = 10;
  int catalog_refresh_ms = 1000;
  // Trims each shard's log through the lowest position every replica has flushed, every
  // trim_every_refreshes refreshes (docs/cluster.md#trimming-the-logs). Off: logs grow.
  bool trim_logs = false;
  int trim_every_refreshes = 10;
};

// What GET /api/v1/cluster shows.
struct ClusterView {
  std::string cluster;  // the cluster's name
  std::string node_id;  // this node's
  std::vector<NodeInfo> nodes;
  struct Shard {
    uint32_t index = 0;
    std::string stream;
    StreamState log;           // the log's positions, leader and replicas
    bool opened = false;       // this node has opened its replica
    uint64_t applied = 0;      // this node's replica's position
    std::string apply_error;   // empty while it applies (or before it is opened)
    std::vector<std::string> nodes;  // the nodes holding a replica (placement)
    bool placed_here = false;        // this node is one of them
    bool copying = false;  // this node copies its replica from another node's (not opened)
    // The entries this node's replica has still to apply.
    uint64_t lag() const { return log.last_seq > applied ? log.last_seq - applied : 0; }
  };
  struct Collection {
    std::string name;
    uint32_t replication_factor = 0;
    std::vector<Shard> shards;
  };
  std::vector<Collection> collections;  // the catalog's, in name order
};

class ClusterDatabase final : public Database {
 public:
  // Joins the cluster and opens this node's replicas of the catalog's collections. `local` is
  // the node's own database, which holds the replicas.
  static absl::StatusOr<std::unique_ptr<ClusterDatabase>> Open(std::unique_ptr<Database> local,
                                                               ClusterOptions options);
  ~ClusterDatabase() override;
  void BeginShutdown() override { local_->BeginShutdown(); }  // the replicas' rewrites

  absl::StatusOr<CollectionConfig> CreateCollection(const CollectionConfig& config) override;
  std::vector<CollectionConfig> ListCollections() override;
  absl::StatusOr<CollectionConfig> DescribeCollection(std::string_view name) override;
  absl::StatusOr<CollectionConfig> UpdateCollection(std::string_view name,
                                                    const CollectionUpdate& update) override;
  absl::Status DropCollection(std::string_view name) override;
  absl::StatusOr<std::shared_ptr<Collection>> GetCollection(std::string_view name) override;
  // Eventual reads skip the barriers: this node's replicas as they are.
  absl::StatusOr<std::shared_ptr<Collection>> GetCollectionForReads(
      std::string_view name, ReadConsistency consistency) override;
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
  // The replica this node holds of shard `shard` of the collection `name` whose uid is `uid`,
  // to serve a request another node forwarded: kNotFound if the collection is not that one,
  // kUnavailable with error code SHARD_NOT_HERE if this node holds no replica of it, or one
  // that stopped, or a new one still catching up with the log.
  absl::StatusOr<std::shared_ptr<Shard>> LocalShard(std::string_view name, std::string_view uid,
                                                    uint32_t shard);
  // An export of this node's replica of the shard (as LocalShard finds it) for another node to
  // copy (Database::ExportCollection).
  absl::StatusOr<CollectionExport> ExportShard(std::string_view name, std::string_view uid,
                                               uint32_t shard);
  // Places the shards of collections placed on too few nodes, or on nodes gone longer than
  // replace_after_seconds (the refresh thread's, on the live node with the lowest id).
  absl::Status Replace();
  // Publishes in etcd which of this node's replicas have caught up with their log and apply
  // it, and withdraws what it published of the others of the collections it has open (at the
  // end of each refresh; a move of a replica to this node ends after it is published).
  absl::Status PublishReady();
  // Publishes in etcd the position each of this node's replicas has flushed, and trims each
  // shard's log through the lowest one published (the refresh thread's, with trim_logs).
  absl::Status TrimLogs();

 private:
  struct Entry {  // a collection of the catalog, as stored in etcd
    CollectionConfig config;
    std::string uid;
    uint32_t shards = 0;
    int replication_factor = 0;
    // The nodes holding a replica of each shard; empty: every node (no remote_shards factory,
    // or a catalog written before placement).
    std::vector<std::vector<std::string>> placement;
    int64_t mod_revision = 0;
    bool Holds(std::string_view node, uint32_t shard) const;
  };
  struct Replicas {  // this node's replicas of one collection
    Replicas(std::string u, uint32_t n) : uid(std::move(u)), shards(n) {}
    const std::string uid;  // entry's, which never change: read without a lock
    const uint32_t shards;
    Entry entry;  // written under change_mu_ and mu_; mod_revision 0: to be brought in line
    std::shared_ptr<ShardedCollection> collection;  // strong reads
    std::shared_ptr<ShardedCollection> eventual;    // the same replicas, eventual reads
    std::vector<std::shared_ptr<ShardReplica>> local;  // by shard; null where not held here
  };
  ClusterDatabase(std::unique_ptr<Database> local, EtcdClient etcd, ClusterOptions options);
  std::string CatalogKey(std::string_view name) const;
  absl::StatusOr<std::vector<Entry>> ReadCatalog();
  // A catalog key's value as an Entry (kDataLoss naming the collection if it is not one).
  static absl::StatusOr<Entry> ParseEntry(std::string_view name, const KeyValue& kv);
  // The catalog value of `entry`.
  static std::string EntryValue(const Entry& entry);
  absl::StatusOr<std::optional<Entry>> ReadEntry(std::string_view name);
  // This node's replicas of the collection `name`, opened now if another node created it.
  absl::StatusOr<std::shared_ptr<Replicas>> Find(std::string_view name);
  // Creates what is missing of this node's replicas of `entry` and starts them, keeping those
  // of `reuse` (the same collection, opened before a change of its placement).
  absl::StatusOr<std::shared_ptr<Replicas>> OpenReplicas(const Entry& entry,
                                                         const Replicas* reuse = nullptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(change_mu_);
  // This node's replica of shard `shard` of `entry`, created if missing, started.
  absl::StatusOr<std::shared_ptr<ShardReplica>> OpenReplica(const Entry& entry, uint32_t shard)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(change_mu_);
  // Follows a change of `open`'s placement: opens the replicas placed here since, and stops
  // those placed here no longer (the refresh drops their files once nothing uses them).
  absl::Status Reopen(std::shared_ptr<Replicas> open, const Entry& entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(change_mu_);
  // The placement of a new collection of `shards` shards with `copies` replicas each, on the
  // live nodes.
  std::vector<std::vector<std::string>> Place(uint32_t shards, int copies);
  // The gRPC addresses of the live nodes holding shard `shard` of the collection `uid`, but
  // this one; if there are none, or with `refresh`, after a refresh (RefreshIfOlder).
  std::vector<std::string> Holders(const std::string& uid, uint32_t shard, bool refresh = false);
  // The gRPC addresses of the live nodes holding the shard, but this one, as this node knows.
  std::vector<std::string> LiveHolders(const std::string& uid, uint32_t shard);
  // Reads the live nodes into live_.
  absl::Status ReadNodes();
  // Replaces in `entry` the nodes of shard `shard` gone longer than replace_after_seconds (or
  // removes them while the shard is on more nodes than its replication factor: a move), and
  // adds nodes while it has fewer than its replication factor, from the live nodes of `load`
  // (their replicas, counted on) the least loaded first; whether it changed anything.
  bool PlaceShard(Entry& entry, uint32_t shard, std::map<std::string, size_t>& load,
                  int64_t now_ms);
  // Writes `after`, the placement of `before` changed, on `before`'s revision; the progress
  // keys of the nodes it adds to a shard are set to 0 first, those of the nodes it removes are
  // deleted after.
  absl::Status WritePlacement(const Entry& before, const Entry& after);
  // Whether a new replica of the shard can start: from its log, if it was not trimmed yet, or
  // from a copy of a replica of one of the live nodes among `holders` that published it ready.
  bool CanStartReplica(const Entry& entry, uint32_t shard,
                       const std::vector<std::string>& holders);
  // Copying replicas from other nodes (replica_copy.cc). Whether this node's replica of
  // shard `shard` of `entry` is to be copied from another node's, because the log no longer
  // holds the entries after its own (or it has none): then the copy is started, unless it is
  // under way or failed a moment ago.
  absl::StatusOr<bool> CopyIfTrimmed(const Entry& entry, uint32_t shard)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(change_mu_);
  // Copies the replica of one of the shard's live holders into the local database.
  absl::Status CopyShard(const Entry& entry, uint32_t shard);
  // Whether one of `open`'s shards placed here has a replica to open: its copy ended (or may
  // start again), its replica stopped and may restart, or the replica it had was still
  // closing when it was opened last.
  bool ToReopen(const Replicas& open);
  // Whether `replica` stopped on an error that opening it again may cure (a gap in its log,
  // which a copy fills, or a batch it could not apply), a moment ago or longer, and other
  // holders can serve the shard meanwhile.
  bool Restartable(ShardReplica& replica) const;
  // Whether the local replica `name` was retired and a request still uses it.
  bool Retiring(std::string_view name);
  // The Shard of shard `shard` of `entry`, placed on this node: `kept` (this node's replica
  // opened before, null if none), or a new replica, or the other holders while this node's
  // is copied or still closing. Sets `*opened` to this node's replica, if it has one.
  absl::StatusOr<std::shared_ptr<Shard>> OpenPlaced(const Entry& entry, uint32_t shard,
                                                    std::shared_ptr<ShardReplica> kept,
                                                    std::shared_ptr<ShardReplica>* opened)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(change_mu_);
  // Whether a copy of the local replica `name` is under way.
  bool Copying(std::string_view name);
  // Rebalancing (rebalancing.cc). One step: ends a move under way (a shard placed on more
  // than its replication factor of nodes) once its new holders are ready, else starts one
  // from the most loaded of the live nodes of `load` (their replicas) to the least loaded.
  absl::Status Rebalance(const std::vector<Entry>& catalog,
                         const std::map<std::string, size_t>& load);
  // Removes the most loaded holder from shard `shard` of `e` if every other holder is live and
  // ready; whether it did.
  absl::StatusOr<bool> EndMove(const Entry& e, uint32_t shard,
                               const std::map<std::string, size_t>& load);
  // Where nodes publish that their replicas of the collection `uid` caught up with the log.
  std::string ReadyPrefix(std::string_view uid) const;
  std::string ReadyKey(std::string_view uid, uint32_t shard, std::string_view node) const;
  // The Shard that forwards to the holders of shard `shard` of `entry`; without `refresh`, to
  // those this node knows only (no catalog refresh when none is live or all moved).
  std::shared_ptr<Shard> RemoteShard(const Entry& entry, uint32_t shard, bool refresh = true);
  bool stopping() const;
  // Stops serving this node's replicas of the collection whose uid is `uid`, and with
  // `delete_files` drops their local collections.
  absl::Status DropReplicas(const std::string& uid, bool delete_files)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(change_mu_);
  // This node's replicas of `entry`, opened if they are not (under change_mu_).
  absl::StatusOr<std::shared_ptr<Replicas>> OpenLocked(const Entry& entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(change_mu_);
  // Gives this node's replicas `entry`'s settings, and records it as theirs.
  absl::Status ApplySettings(Replicas& open, const Entry& entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(change_mu_);
  absl::Status RefreshLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(change_mu_);
  // Refreshes unless a refresh started at `since_us` (Unix µs) or after: a request that found
  // this node's view stale at since_us waits for one that is not (the requests that found it
  // stale before a refresh started share that one).
  absl::Status RefreshIfOlder(int64_t since_us) ABSL_LOCKS_EXCLUDED(change_mu_);
  // Where the replicas of shard `shard` of the collection `uid` publish their flushed
  // positions, one key per node.
  std::string ProgressPrefix(std::string_view uid, uint32_t shard) const;
  std::string ProgressPrefix(std::string_view uid) const;  // every shard's
  // Where every node that joined is listed, under no lease (until removed by hand).
  std::string MembersPrefix() const;
  // Publishes the position `replica` (this node's of that shard) has flushed, if it changed.
  absl::Status PublishFlushed(std::string_view uid, uint32_t shard, Collection& replica)
      ABSL_LOCKS_EXCLUDED(published_mu_);
  // Trims the shard's log through the lowest position `members` published, once every one of
  // them has published one, unless the collection's entry changed since it was `read`.
  absl::Status TrimShard(const Replicas& open, uint32_t shard,
                         const std::vector<std::string>& members, const Entry& read);
  void RefreshLoop();

  std::unique_ptr<Database> local_;
  EtcdClient etcd_;
  const ClusterOptions options_;
  std::unique_ptr<ShardLog> log_;
  std::unique_ptr<Membership> membership_;
  absl::Mutex change_mu_;  // serializes opening and dropping replicas (network calls inside)
  mutable absl::Mutex mu_ ABSL_ACQUIRED_AFTER(change_mu_);
  std::map<std::string, std::shared_ptr<Replicas>, std::less<>> open_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, NodeInfo, std::less<>> live_ ABSL_GUARDED_BY(mu_);  // by id
  // When this node first saw each node of a placement gone, by id.
  std::map<std::string, int64_t, std::less<>> gone_since_ms_ ABSL_GUARDED_BY(mu_);
  int64_t refresh_started_us_ ABSL_GUARDED_BY(mu_) = 0;  // the last refresh's start
  // The replicas of shards moved off this node, by local name, until nothing uses them.
  // (ShardReplica::lifetime(): until its apply thread has ended, not only its last use.)
  std::map<std::string, std::weak_ptr<const void>, std::less<>> retired_
      ABSL_GUARDED_BY(mu_);

  struct Copy {  // of a replica from another node's, by local name
    std::thread thread;
    bool done = false;
    absl::Status status;
    int64_t retry_at_ms = 0;  // after a failure
  };
  std::map<std::string, Copy, std::less<>> copies_ ABSL_GUARDED_BY(mu_);

  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex published_mu_;
  // What this process last published, by progress key.
  std::map<std::string, uint64_t> published_ ABSL_GUARDED_BY(published_mu_);
  std::thread refresher_;
};

}  // namespace proximadb::cluster
