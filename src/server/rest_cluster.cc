// REST handler of GET /api/v1/cluster: the nodes, and each collection's shards with their logs
// and this node's replicas (docs/cluster.md). A single node says it is not a cluster.
#include "cluster/cluster_database.h"
#include "server/rest_body.h"
#include "server/rest_handlers.h"

namespace proximadb::server {
namespace {

json ShardJson(const cluster::ClusterView::Shard& s) {
  json replicas = json::array();
  for (const cluster::StreamState::Replica& r : s.log.replicas) {
    replicas.push_back({{"name", r.name}, {"current", r.current}, {"lag", r.lag}});
  }
  return {{"shard", s.index},
          {"log", {{"stream", s.stream},
                   {"leader", s.log.leader},
                   {"first_position", s.log.first_seq},
                   {"last_position", s.log.last_seq},
                   {"entries", s.log.entries},
                   {"bytes", s.log.bytes},
                   {"followers", replicas}}},
          {"nodes", s.nodes},
          {"opened", s.opened},
          {"copying", s.copying},
          {"applied_position", s.applied},
          {"lag", s.lag()},
          {"apply_error", s.apply_error}};
}

}  // namespace

HttpResponse ClusterInfo(const RestCall& call) {
  const ServerConfig& config = call.service.config();
  cluster::ClusterDatabase* cluster = call.service.cluster();
  if (cluster == nullptr) {
    return Json(200, {{"enabled", false}, {"node_id", config.node_id}});
  }
  absl::StatusOr<cluster::ClusterView> view = cluster->View();
  if (!view.ok()) return FromStatus(view.status());
  json nodes = json::array();
  for (const cluster::NodeInfo& n : view->nodes) {
    nodes.push_back({{"id", n.id}, {"rest", n.rest}, {"grpc", n.grpc},
                     {"started_unix_ms", n.started_unix_ms}, {"generation", n.generation}});
  }
  json collections = json::array();
  for (const cluster::ClusterView::Collection& c : view->collections) {
    json shards = json::array();
    for (const cluster::ClusterView::Shard& s : c.shards) shards.push_back(ShardJson(s));
    collections.push_back(
        {{"name", c.name}, {"replication_factor", c.replication_factor}, {"shards", shards}});
  }
  return Json(200, {{"enabled", true},
                    {"cluster", view->cluster},
                    {"node_id", view->node_id},
                    {"nodes", nodes},
                    {"collections", collections}});
}

}  // namespace proximadb::server
