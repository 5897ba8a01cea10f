#include "server/shard_exports.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/errors.h"
#include "common/strings.h"
#include "server/shard_channels.h"
#include "server/shard_codec.h"
#include "storage/object_store.h"

namespace proximadb::server {

namespace {

constexpr uint64_t kMaxRead = 4 << 20;  // bytes per EXPORT_READ
constexpr absl::Duration kIdle = absl::Minutes(1);  // an export unused this long ends

}  // namespace

bool IsExportCall(v1::ShardCall::Op op) {
  return op == v1::ShardCall::EXPORT || op == v1::ShardCall::EXPORT_READ ||
         op == v1::ShardCall::EXPORT_HEAD || op == v1::ShardCall::EXPORT_CLOSE;
}

absl::Status ShardExports::Serve(cluster::ClusterDatabase* db, const v1::ShardCall& call,
                                 v1::ShardReply* reply) {
  {
    const absl::Time now = absl::Now();
    absl::MutexLock l(&mu_);
    for (auto it = open_.begin(); it != open_.end();) {  // those their readers left
      it = now - it->second->used > kIdle ? open_.erase(it) : std::next(it);
    }
  }
  if (call.op() == v1::ShardCall::EXPORT) return Open(db, call, reply);
  if (call.op() == v1::ShardCall::EXPORT_CLOSE) {
    absl::MutexLock l(&mu_);
    open_.erase(call.export_id());
    return absl::OkStatus();
  }
  absl::StatusOr<std::shared_ptr<Export>> found = Find(call.export_id());
  if (!found.ok()) return found.status();
  ObjectStore& store = *(*found)->exported.store;
  if (call.op() == v1::ShardCall::EXPORT_HEAD) {
    absl::StatusOr<ObjectInfo> info = store.Head(call.key());
    if (info.ok()) reply->set_size(info->size);
    return info.status();
  }
  absl::StatusOr<std::string> bytes =
      store.GetRange(call.key(), call.offset(), std::min(call.length(), kMaxRead));
  if (bytes.ok()) reply->set_data(*std::move(bytes));
  return bytes.status();
}

absl::Status ShardExports::Open(cluster::ClusterDatabase* db, const v1::ShardCall& call,
                                v1::ShardReply* reply) {
  if (db == nullptr) {
    return WithErrorCode(
        absl::UnavailableError("this node is not in cluster mode, or not ready yet"),
        cluster::kShardNotHere);
  }
  absl::StatusOr<CollectionExport> exported =
      db->ExportShard(call.collection(), call.uid(), call.shard());
  if (!exported.ok()) return exported.status();
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const uint64_t hi = rng(), lo = rng();
  const std::string id = absl::StrFormat("%016x%016x", hi, lo);
  absl::MutexLock l(&mu_);
  reply->set_backup_id(exported->backup_id);
  open_[id] = std::make_shared<Export>(Export{*std::move(exported), absl::Now()});
  reply->set_export_id(id);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<ShardExports::Export>> ShardExports::Find(const std::string& id) {
  absl::MutexLock l(&mu_);
  auto it = open_.find(id);
  if (it == open_.end()) {
    return absl::NotFoundError(Cat("export '", id, "' does not exist (it ended, or was left "
                                   "unused for ", absl::FormatDuration(kIdle), ")"));
  }
  it->second->used = absl::Now();
  return it->second;
}

namespace {

// An export on another node, read through calls to it.
class RemoteExport final : public ObjectStore {
 public:
  RemoteExport(std::shared_ptr<ShardChannels> channels, std::string address, std::string id)
      : channels_(std::move(channels)), address_(std::move(address)), id_(std::move(id)) {}
  ~RemoteExport() override {  // best effort: an export left open ends by itself
    v1::ShardCall call;
    call.set_op(v1::ShardCall::EXPORT_CLOSE);
    (void)Ask(call);
  }

  absl::Status Put(std::string_view key, std::string_view) override { return ReadOnly(key); }
  absl::Status Delete(std::string_view key) override { return ReadOnly(key); }
  absl::StatusOr<std::vector<ObjectInfo>> List(std::string_view prefix) override {
    return absl::UnimplementedError(Cat("export of node ", address_, ": objects under '",
                                        prefix, "' cannot be listed"));
  }
  absl::StatusOr<std::string> Get(std::string_view key) override {
    return GetRange(key, 0, UINT64_MAX);
  }
  absl::StatusOr<std::string> GetRange(std::string_view key, uint64_t offset,
                                       uint64_t length) override {
    std::string out;
    while (out.size() < length) {  // in pieces of at most kMaxRead
      const uint64_t want = std::min<uint64_t>(kMaxRead, length - out.size());
      v1::ShardCall call;
      call.set_op(v1::ShardCall::EXPORT_READ);
      call.set_key(std::string(key));
      call.set_offset(offset + out.size());
      call.set_length(want);
      absl::StatusOr<v1::ShardReply> reply = Ask(call);
      if (!reply.ok()) return reply.status();
      out += reply->data();
      if (reply->data().size() < want) break;  // the object's end
    }
    return out;
  }
  absl::StatusOr<ObjectInfo> Head(std::string_view key) override {
    v1::ShardCall call;
    call.set_op(v1::ShardCall::EXPORT_HEAD);
    call.set_key(std::string(key));
    absl::StatusOr<v1::ShardReply> reply = Ask(call);
    if (!reply.ok()) return reply.status();
    return ObjectInfo{.key = std::string(key), .size = reply->size()};
  }

 private:
  absl::StatusOr<v1::ShardReply> Ask(v1::ShardCall call) {
    call.set_export_id(id_);
    bool sent = false;
    absl::StatusOr<v1::ShardReply> reply = channels_->Call(address_, call, &sent);
    if (!reply.ok()) return reply.status();
    if (absl::Status s = StatusOf(*reply); !s.ok()) return s;
    return reply;
  }
  absl::Status ReadOnly(std::string_view key) const {
    return absl::FailedPreconditionError(
        Cat("export of node ", address_, ": ", key, " cannot be changed"));
  }

  const std::shared_ptr<ShardChannels> channels_;
  const std::string address_, id_;
};

}  // namespace

cluster::PeerExports NewPeerExports(std::shared_ptr<ShardChannels> channels) {
  return [channels](const cluster::ShardAddress& address,
                    const std::string& holder) -> absl::StatusOr<CollectionExport> {
    v1::ShardCall call;
    call.set_op(v1::ShardCall::EXPORT);
    call.set_collection(address.collection);
    call.set_uid(address.uid);
    call.set_shard(address.shard);
    bool sent = false;
    absl::StatusOr<v1::ShardReply> reply = channels->Call(holder, call, &sent);
    if (!reply.ok()) return reply.status();
    if (absl::Status s = StatusOf(*reply); !s.ok()) return s;
    return CollectionExport{
        .backup_id = reply->backup_id(),
        .store = std::make_shared<RemoteExport>(channels, holder, reply->export_id())};
  };
}

}  // namespace proximadb::server
