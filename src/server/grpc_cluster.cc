// The gRPC form of cluster mode's view (GetCluster), the twin of REST's GET /api/v1/cluster
// (rest_cluster.cc).
#include "cluster/cluster_database.h"
#include "server/grpc_convert.h"

namespace proximadb::server {

void ToProto(const cluster::ClusterView& view, v1::ClusterInfo* out) {
  out->set_enabled(true);
  out->set_cluster(view.cluster);
  out->set_node_id(view.node_id);
  for (const cluster::NodeInfo& n : view.nodes) {
    v1::ClusterNode* node = out->add_nodes();
    node->set_id(n.id);
    node->set_rest(n.rest);
    node->set_grpc(n.grpc);
    node->set_started_unix_ms(n.started_unix_ms);
    node->set_generation(n.generation);
  }
  for (const cluster::ClusterView::Collection& c : view.collections) {
    v1::ClusterCollection* collection = out->add_collections();
    collection->set_name(c.name);
    collection->set_replication_factor(c.replication_factor);
    for (const cluster::ClusterView::Shard& s : c.shards) {
      v1::ClusterShard* shard = collection->add_shards();
      shard->set_shard(s.index);
      v1::ShardLog* log = shard->mutable_log();
      log->set_stream(s.stream);
      log->set_leader(s.log.leader);
      log->set_first_position(s.log.first_seq);
      log->set_last_position(s.log.last_seq);
      log->set_entries(s.log.entries);
      log->set_bytes(s.log.bytes);
      for (const cluster::StreamState::Replica& r : s.log.replicas) {
        v1::LogFollower* follower = log->add_followers();
        follower->set_name(r.name);
        follower->set_current(r.current);
        follower->set_lag(r.lag);
      }
      shard->set_opened(s.opened);
      shard->set_copying(s.copying);
      for (const std::string& node : s.nodes) shard->add_nodes(node);
      shard->set_applied_position(s.applied);
      shard->set_lag(s.lag());
      shard->set_apply_error(s.apply_error);
    }
  }
}

}  // namespace proximadb::server
