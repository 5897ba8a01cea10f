#include "cluster/membership.h"

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"
#include "common/strings.h"
#include "nlohmann/json.hpp"

namespace proximadb::cluster {

namespace {

using json = nlohmann::json;

bool ValidId(std::string_view id) {
  return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.';
  });
}

// A field of a node's record, or the default when absent or of another type (the record may
// have been written by another version, or by hand).
std::string Text(const json& v, const char* field) {
  auto it = v.find(field);
  return it != v.end() && it->is_string() ? it->get<std::string>() : "";
}

int64_t Number(const json& v, const char* field) {
  auto it = v.find(field);
  return it != v.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

}  // namespace

Membership::Membership(EtcdClient etcd, MembershipOptions options)
    : etcd_(std::move(etcd)),
      options_(std::move(options)),
      started_unix_ms_(absl::ToUnixMillis(absl::Now())) {}

absl::StatusOr<std::unique_ptr<Membership>> Membership::Join(EtcdClient etcd,
                                                             MembershipOptions options) {
  if (!ValidId(options.node_id)) {
    return absl::InvalidArgumentError(Cat("node_id: '", options.node_id,
                                          "' must be 1 to 128 letters, digits, '-', '_' or '.'"));
  }
  if (!ValidId(options.cluster)) {
    return absl::InvalidArgumentError(Cat("cluster name: '", options.cluster,
                                          "' must be 1 to 128 letters, digits, '-', '_' or '.'"));
  }
  if (options.ttl_seconds < 2) {
    return absl::InvalidArgumentError(
        Cat("ttl_seconds: ", options.ttl_seconds, " is too short (at least 2)"));
  }
  std::unique_ptr<Membership> m(new Membership(std::move(etcd), std::move(options)));
  // A node restarted after a crash finds its old key until that lease expires: wait that long
  // before calling the id taken by another live node.
  const absl::Time patience = absl::Now() + absl::Seconds(m->options_.ttl_seconds + 2);
  absl::StatusOr<int64_t> lease = m->Register(1);
  while (absl::IsAlreadyExists(lease.status()) && absl::Now() < patience) {
    absl::SleepFor(absl::Milliseconds(250));
    lease = m->Register(1);
  }
  if (!lease.ok()) return lease.status();
  {
    absl::MutexLock l(&m->mu_);
    m->lease_ = *lease;
    m->generation_ = 1;
    m->joined_ = true;
  }
  m->renewer_ = std::thread([p = m.get()] { p->RenewLoop(); });
  return m;
}

Membership::~Membership() {
  int64_t lease;
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
    lease = lease_;
  }
  if (renewer_.joinable()) renewer_.join();  // not started when Join failed
  if (lease != 0) (void)etcd_.RevokeLease(lease);  // best effort: else it expires
}

std::string Membership::Key() const {
  return Cat("/proximadb/", options_.cluster, "/nodes/", options_.node_id);
}

absl::StatusOr<int64_t> Membership::Register(int64_t generation) {
  absl::StatusOr<int64_t> lease = etcd_.GrantLease(options_.ttl_seconds);
  if (!lease.ok()) return lease.status();
  const json value = {{"rest", options_.advertise_rest},
                      {"grpc", options_.advertise_grpc},
                      {"started_unix_ms", started_unix_ms_},
                      {"generation", generation}};
  absl::StatusOr<bool> created = etcd_.CreateIfAbsent(Key(), value.dump(), *lease);
  if (!created.ok() || !*created) {
    (void)etcd_.RevokeLease(*lease);
    if (!created.ok()) return created.status();
    return absl::AlreadyExistsError(Cat("node_id: a live node of cluster '", options_.cluster,
                                        "' already has the id '", options_.node_id, "'"));
  }
  return *lease;
}

void Membership::RenewLoop() {
  // Every third of the TTL; after a failure, again soon: the lease ends a TTL after the last
  // renewal that reached etcd, not after the last attempt.
  const absl::Duration every = absl::Seconds(options_.ttl_seconds) / 3;
  const absl::Duration retry = std::min(every, absl::Milliseconds(500));
  bool renewed = true;
  absl::MutexLock l(&mu_);
  while (true) {
    mu_.AwaitWithTimeout(absl::Condition(&stop_), renewed ? every : retry);
    if (stop_) return;
    const int64_t lease = lease_;
    mu_.Unlock();
    absl::StatusOr<int64_t> ttl = etcd_.KeepAlive(lease);
    mu_.Lock();
    if (stop_) return;
    renewed = ttl.ok();
    if (ttl.ok()) continue;
    if (ttl.status().code() != absl::StatusCode::kNotFound) continue;  // etcd unreachable: soon
    // The lease expired: the node is out until it joins again.
    joined_ = false;
    lease_ = 0;
    const int64_t generation = generation_ + 1;
    mu_.Unlock();
    absl::StatusOr<int64_t> joined = Register(generation);
    mu_.Lock();
    if (!joined.ok()) continue;  // tried again soon
    if (stop_) {
      mu_.Unlock();
      (void)etcd_.RevokeLease(*joined);
      mu_.Lock();
      return;
    }
    renewed = true;
    lease_ = *joined;
    generation_ = generation;
    joined_ = true;
  }
}

absl::StatusOr<std::vector<NodeInfo>> Membership::Nodes() {
  absl::StatusOr<std::vector<KeyValue>> kvs =
      etcd_.GetPrefix(Cat("/proximadb/", options_.cluster, "/nodes/"));
  if (!kvs.ok()) return kvs.status();
  std::vector<NodeInfo> out;
  for (const KeyValue& kv : *kvs) {
    const json v = json::parse(kv.value, nullptr, /*allow_exceptions=*/false);
    if (!v.is_object()) continue;  // not written by a node
    NodeInfo n;
    n.id = kv.key.substr(kv.key.rfind('/') + 1);
    n.rest = Text(v, "rest");
    n.grpc = Text(v, "grpc");
    n.started_unix_ms = Number(v, "started_unix_ms");
    n.generation = Number(v, "generation");
    out.push_back(std::move(n));
  }
  return out;
}

int64_t Membership::generation() const {
  absl::MutexLock l(&mu_);
  return generation_;
}

bool Membership::joined() const {
  absl::MutexLock l(&mu_);
  return joined_;
}

}  // namespace proximadb::cluster
