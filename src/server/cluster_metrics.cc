// Cluster mode's Prometheus series (docs/cluster.md, docs/api.md#metrics): the live
// nodes, and for each shard its log's positions and size and, for the shards placed on this
// node, its replica's position.
#include <string>

#include "cluster/cluster_database.h"
#include "common/strings.h"
#include "server/histograms.h"
#include "server/metrics.h"

namespace proximadb::server {
namespace {

struct ShardSeries {
  const char* name;
  const char* help;
  uint64_t (*value)(const cluster::ClusterView::Shard&);
  bool replica = false;  // of this node's replica: only for the shards placed on this node
};

const ShardSeries kShardSeries[] = {
    {"proximadb_shard_applied_position", "The last log position this node's replica applied.",
     [](const cluster::ClusterView::Shard& s) { return s.applied; }, true},
    {"proximadb_shard_log_last_position", "The shard's log's last position.",
     [](const cluster::ClusterView::Shard& s) { return s.log.last_seq; }},
    {"proximadb_shard_lag", "Log entries this node's replica has still to apply.",
     [](const cluster::ClusterView::Shard& s) { return s.lag(); }, true},
    {"proximadb_shard_log_entries", "Entries held by the shard's log (after any trimming).",
     [](const cluster::ClusterView::Shard& s) { return s.log.entries; }},
    {"proximadb_shard_log_bytes", "Bytes held by the shard's log.",
     [](const cluster::ClusterView::Shard& s) { return s.log.bytes; }},
    {"proximadb_shard_apply_stopped",
     "1 when this node's replica stopped applying its log (see GET /api/v1/cluster).",
     [](const cluster::ClusterView::Shard& s) { return uint64_t{!s.apply_error.empty()}; },
     true},
    {"proximadb_shard_opened", "1 once this node has opened its replica of the shard.",
     [](const cluster::ClusterView::Shard& s) { return uint64_t{s.opened}; }, true},
};

}  // namespace

void AppendClusterMetrics(const Service& service, std::string* out) {
  cluster::ClusterDatabase* cluster = service.cluster();
  if (cluster == nullptr) return;
  absl::StatusOr<cluster::ClusterView> view = cluster->View();
  AppendCat(out, "# HELP proximadb_cluster_view_ok 1 when this node could read the cluster's "
                 "view (etcd and the logs), else 0 and no node or shard series.\n"
                 "# TYPE proximadb_cluster_view_ok gauge\nproximadb_cluster_view_ok ",
            view.ok() ? 1 : 0, "\n");
  if (!view.ok()) return;
  AppendCat(out, "# HELP proximadb_cluster_nodes Live nodes of the cluster.\n"
                 "# TYPE proximadb_cluster_nodes gauge\nproximadb_cluster_nodes ",
            view->nodes.size(), "\n");
  for (const ShardSeries& series : kShardSeries) {
    AppendCat(out, "# HELP ", series.name, " ", series.help, "\n# TYPE ", series.name,
              " gauge\n");
    for (const cluster::ClusterView::Collection& c : view->collections) {
      const std::string label = EscapeLabel(c.name);
      for (const cluster::ClusterView::Shard& s : c.shards) {
        if (series.replica && !s.placed_here) continue;
        AppendCat(out, series.name, "{collection=\"", label, "\",shard=\"", s.index, "\"} ",
                  series.value(s), "\n");
      }
    }
  }
}

}  // namespace proximadb::server
