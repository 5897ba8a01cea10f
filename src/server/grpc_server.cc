#include "server/grpc_server.h"

#include <chrono>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/escaping.h"
#include "cluster/cluster_database.h"
#include "common/logging.h"
#include "common/strings.h"
#include "server/grpc_convert.h"
#include "server/grpc_metrics.h"
#include "server/grpc_shards.h"
#include "server/request_id.h"
#include "proximadb/v1/proximadb.grpc.pb.h"

namespace proximadb::server {

namespace v1 = ::proximadb::v1;

class GrpcServer::Impl final : public v1::ProximaDB::CallbackService {
 public:
  explicit Impl(server::Service* service) : svc_(*service) {}

  absl::Status Start(const std::string& host, uint16_t port, size_t max_message_bytes,
                     const std::optional<GrpcServer::TlsPem>& tls) {
    // The standard health service (grpc.health.v1.Health), NOT_SERVING until SetServing(true).
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    int bound = 0;
    const std::string address =
        host.find(':') != std::string::npos ? Cat("[", host, "]:", port) : Cat(host, ":", port);
    builder.AddListeningPort(address, Credentials(tls), &bound);
    builder.SetMaxReceiveMessageSize(static_cast<int>(std::min<size_t>(max_message_bytes, INT32_MAX)));
    builder.RegisterService(this);
    shards_ = NewShardsService(&svc_);  // between the nodes of a cluster
    builder.RegisterService(shards_.get());
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> counted;
    counted.push_back(NewMetricsInterceptors(&svc_.metrics()));
    builder.experimental().SetInterceptorCreators(std::move(counted));
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || bound == 0) {
      return absl::UnavailableError(Cat("cannot listen for gRPC on ", address));
    }
    SetServing(false);
    return absl::OkStatus();
  }

  static std::shared_ptr<grpc::ServerCredentials> Credentials(
      const std::optional<GrpcServer::TlsPem>& tls) {
    if (!tls) return grpc::InsecureServerCredentials();
    grpc::SslServerCredentialsOptions options(
        tls->client_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                               : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    options.pem_key_cert_pairs.push_back({tls->private_key, tls->cert_chain});
    options.pem_root_certs = tls->client_ca;
    return grpc::SslServerCredentials(options);
  }

  void SetServing(bool serving) {
    grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
    if (health == nullptr) return;
    health->SetServingStatus(serving);  // the server as a whole ("") ...
    health->SetServingStatus(v1::ProximaDB::service_full_name(), serving);  // ... and the API
  }

  void Stop(int grace_ms) {
    if (server_ == nullptr) return;
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(grace_ms));
    server_->Wait();
    server_.reset();
  }

  // --- Collections ---------------------------------------------------------------------------

  grpc::ServerUnaryReactor* CreateCollection(grpc::CallbackServerContext* ctx,
                                             const v1::CreateCollectionRequest* req,
                                             v1::Collection* resp) override {
    // The role before the request's validation, as REST; the scope once the name is known.
    if (auto* denied = Deny(ctx, Access::kAdmin, "")) return denied;
    CollectionConfig c = svc_.NewCollectionConfig();
    c.name = req->name();
    c.dimension = req->dimension();
    CollectionNames names;
    if (req->has_distance_metric()) names.distance_metric = req->distance_metric();
    if (req->has_indexing_algorithm()) names.indexing_algorithm = req->indexing_algorithm();
    if (req->has_storage_strategy()) names.storage_strategy = req->storage_strategy();
    if (req->has_quantization()) names.quantization = req->quantization();
    if (req->has_metadata_compression()) names.metadata_compression = req->metadata_compression();
    if (req->has_id_index()) names.id_index = req->id_index();
    if (absl::Status s = ApplyCollectionNames(names, &c); !s.ok()) return Done(ctx, s);
    if (auto* denied = Deny(ctx, Access::kAdmin, c.name)) return denied;
    if (req->has_m()) c.index.m = req->m();
    if (req->has_ef_construction()) c.index.ef_construction = req->ef_construction();
    if (req->has_ef_search()) c.index.ef_search = req->ef_search();
    if (req->has_max_wal_age_hours()) c.flush.max_wal_age_hours = req->max_wal_age_hours();
    if (req->has_max_wal_size_mb()) c.flush.max_wal_size_mb = req->max_wal_size_mb();
    if (req->has_max_vector_count()) c.flush.max_vector_count = req->max_vector_count();
    if (req->has_flush_priority()) c.flush.flush_priority = req->flush_priority();
    if (req->has_pq_m()) c.quantization.pq_m = req->pq_m();
    if (req->has_rerank()) c.quantization.rerank = req->rerank();
    if (req->has_nprobe()) c.index.nprobe = req->nprobe();
    if (req->has_tiering()) c.tiering = FromProto(req->tiering());
    if (req->has_shards()) c.shards = req->shards();
    if (req->has_replication_factor()) c.replication_factor = req->replication_factor();
    return Reply(ctx, svc_.CreateCollection(c), resp);
  }

  grpc::ServerUnaryReactor* ListCollections(grpc::CallbackServerContext* ctx,
                                            const v1::ListCollectionsRequest*,
                                            v1::ListCollectionsResponse* resp) override {
    auto caller = Caller(ctx, Access::kRead, "");
    if (!caller.ok()) return Done(ctx, caller.status());
    auto list = svc_.ListCollections(*caller ? &**caller : nullptr);
    if (list.ok()) {
      for (const CollectionInfo& c : *list) ToProto(c, resp->add_collections());
    }
    return Done(ctx, list.status());
  }

  grpc::ServerUnaryReactor* GetCollection(grpc::CallbackServerContext* ctx,
                                          const v1::CollectionRef* req,
                                          v1::Collection* resp) override {
    if (auto* denied = Deny(ctx, Access::kRead, req->name())) return denied;
    return Reply(ctx, svc_.DescribeCollection(req->name()), resp);
  }

  grpc::ServerUnaryReactor* GetCollectionStats(grpc::CallbackServerContext* ctx,
                                               const v1::CollectionRef* req,
                                               v1::CollectionStats* resp) override {
    if (auto* denied = Deny(ctx, Access::kRead, req->name())) return denied;
    return StatsDone(ctx, req->name(), svc_.Stats(req->name()), resp);
  }

  grpc::ServerUnaryReactor* GetCollectionHistory(grpc::CallbackServerContext* ctx,
                                                 const v1::CollectionRef* req,
                                                 v1::CollectionHistory* resp) override {
    if (auto* denied = Deny(ctx, Access::kRead, req->name())) return denied;
    auto events = svc_.History(req->name());
    if (events.ok()) {
      resp->set_name(req->name());
      for (const MaintenanceEvent& e : *events) ToProto(e, resp->add_events());
    }
    return Done(ctx, events.status());
  }

  grpc::ServerUnaryReactor* UpdateCollection(grpc::CallbackServerContext* ctx,
                                             const v1::UpdateCollectionRequest* req,
                                             v1::Collection* resp) override {
    if (auto* denied = Deny(ctx, Access::kAdmin, req->name())) return denied;
    CollectionUpdate u;
    if (req->has_ef_search()) u.ef_search = req->ef_search();
    if (req->has_rerank()) u.rerank = req->rerank();
    if (req->has_nprobe()) u.nprobe = req->nprobe();
    CollectionNames names;
    if (req->has_storage_strategy()) names.storage_strategy = req->storage_strategy();
    if (req->has_quantization()) names.quantization = req->quantization();
    if (req->has_indexing_algorithm()) names.indexing_algorithm = req->indexing_algorithm();
    if (req->has_metadata_compression()) names.metadata_compression = req->metadata_compression();
    if (absl::Status s = ApplyLayoutNames(names, &u); !s.ok()) return Done(ctx, s);
    if (req->has_pq_m()) u.pq_m = req->pq_m();
    if (req->has_max_wal_age_hours()) u.max_wal_age_hours = req->max_wal_age_hours();
    if (req->has_max_wal_size_mb()) u.max_wal_size_mb = req->max_wal_size_mb();
    if (req->has_max_vector_count()) u.max_vector_count = req->max_vector_count();
    if (req->has_flush_priority()) u.flush_priority = req->flush_priority();
    if (req->has_tiering()) u.tiering = FromProto(req->tiering());
    return Reply(ctx, svc_.UpdateCollection(req->name(), u), resp);
  }

  grpc::ServerUnaryReactor* DeleteCollection(grpc::CallbackServerContext* ctx,
                                             const v1::CollectionRef* req,
                                             v1::DeleteCollectionResponse* resp) override {
    if (auto* denied = Deny(ctx, Access::kAdmin, req->name())) return denied;
    absl::Status s = svc_.DropCollection(req->name());
    resp->set_name(req->name());
    resp->set_dropped(s.ok());
    return Done(ctx, s);
  }

  grpc::ServerUnaryReactor* Flush(grpc::CallbackServerContext* ctx, const v1::CollectionRef* req,
                                  v1::CollectionStats* resp) override {
    if (auto* denied = Deny(ctx, Access::kWrite, req->name())) return denied;
    return StatsDone(ctx, req->name(), svc_.Flush(req->name()), resp);
  }
  grpc::ServerUnaryReactor* Compact(grpc::CallbackServerContext* ctx,
                                    const v1::CollectionRef* req,
                                    v1::CollectionStats* resp) override {
    if (auto* denied = Deny(ctx, Access::kAdmin, req->name())) return denied;
    return StatsDone(ctx, req->name(), svc_.Compact(req->name()), resp);
  }
  grpc::ServerUnaryReactor* ApplyTiering(grpc::CallbackServerContext* ctx,
                                         const v1::CollectionRef* req,
                                         v1::CollectionStats* resp) override {
    if (auto* denied = Deny(ctx, Access::kAdmin, req->name())) return denied;
    return StatsDone(ctx, req->name(), svc_.ApplyTiering(req->name()), resp);
  }

  // --- Backups --------------------------------------------------------------------------------

  grpc::ServerUnaryReactor* CreateBackup(grpc::CallbackServerContext* ctx,
                                         const v1::CollectionRef* req, v1::Backup* resp) override {
    if (auto* denied = Deny(ctx, Access::kAdmin, req->name())) return denied;
    return Reply(ctx, svc_.Backup(req->name()), resp);
  }

  grpc::ServerUnaryReactor* ListBackups(grpc::CallbackServerContext* ctx,
                                        const v1::ListBackupsRequest* req,
                                        v1::ListBackupsResponse* resp) override {
    if (auto* denied = Deny(ctx, Access::kServerAdmin, "")) return denied;
    auto list = svc_.ListBackups();
    if (list.ok()) {
      for (const BackupInfo& b : *list) {
        if (!req->has_collection() || b.collection == req->collection()) {
          ToProto(b, resp->add_backups());
        }
      }
    }
    return Done(ctx, list.status());
  }

  grpc::ServerUnaryReactor* DeleteBackup(grpc::CallbackServerContext* ctx,
                                         const v1::BackupRef* req,
                                         v1::DeleteBackupResponse* resp) override {
    if (auto* denied = Deny(ctx, Access::kServerAdmin, "")) return denied;
    absl::Status s = svc_.DeleteBackup(req->backup_id());
    resp->set_backup_id(req->backup_id());
    resp->set_deleted(s.ok());
    return Done(ctx, s);
  }

  grpc::ServerUnaryReactor* Restore(grpc::CallbackServerContext* ctx,
                                    const v1::RestoreRequest* req, v1::Collection* resp) override {
    if (auto* denied = Deny(ctx, Access::kServerAdmin, "")) return denied;
    const bool by_time = !req->source_collection().empty() || !req->point_in_time().empty();
    if (req->target_collection().empty()) {
      return Done(ctx, absl::InvalidArgumentError("field 'target_collection' is required"));
    }
    if (by_time == !req->backup_id().empty() ||
        (by_time && (req->source_collection().empty() || req->point_in_time().empty()))) {
      return Done(ctx, absl::InvalidArgumentError(
                           "give either 'backup_id', or 'source_collection' and 'point_in_time'"));
    }
    if (by_time) {
      return Reply(ctx,
                   svc_.RestoreToTime(req->source_collection(), req->point_in_time(),
                                      req->target_collection()),
                   resp);
    }
    return Reply(ctx, svc_.Restore(req->backup_id(), req->target_collection()), resp);
  }

  // --- API keys -------------------------------------------------------------------------------

  grpc::ServerUnaryReactor* CreateKey(grpc::CallbackServerContext* ctx,
                                      const v1::CreateKeyRequest* req, v1::ApiKey* resp) override {
    if (auto* denied = Deny(ctx, Access::kServerAdmin, "")) return denied;
    KeyInfo info;
    info.name = req->name();
    absl::StatusOr<Role> role = ParseRole(req->role());
    if (!role.ok()) return Done(ctx, role.status());
    info.role = *role;
    if (req->has_scope()) {
      const auto& scope = req->scope().collections();
      info.collections.emplace(scope.begin(), scope.end());
    }
    auto created = svc_.CreateKey(std::move(info));
    if (created.ok()) {
      ToProto(created->first, resp);
      resp->set_key(created->second);
    }
    return Done(ctx, created.status());
  }

  grpc::ServerUnaryReactor* ListKeys(grpc::CallbackServerContext* ctx, const v1::ListKeysRequest*,
                                     v1::ListKeysResponse* resp) override {
    if (auto* denied = Deny(ctx, Access::kServerAdmin, "")) return denied;
    auto keys = svc_.ListKeys();
    if (keys.ok()) {
      for (const KeyInfo& key : *keys) ToProto(key, resp->add_keys());
    }
    return Done(ctx, keys.status());
  }

  grpc::ServerUnaryReactor* GetCluster(grpc::CallbackServerContext* ctx,
                                       const v1::GetClusterRequest*,
                                       v1::ClusterInfo* resp) override {
    if (auto* denied = Deny(ctx, Access::kServerAdmin, "")) return denied;
    cluster::ClusterDatabase* cluster = svc_.cluster();
    if (cluster == nullptr) {
      resp->set_node_id(svc_.config().node_id);
      return Done(ctx, absl::OkStatus());
    }
    absl::StatusOr<cluster::ClusterView> view = cluster->View();
    if (view.ok()) ToProto(*view, resp);
    return Done(ctx, view.status());
  }

  grpc::ServerUnaryReactor* DeleteKey(grpc::CallbackServerContext* ctx, const v1::KeyRef* req,
                                      v1::DeleteKeyResponse* resp) override {
    if (auto* denied = Deny(ctx, Access::kServerAdmin, "")) return denied;
    absl::Status s = svc_.DeleteKey(req->name());
    resp->set_name(req->name());
    resp->set_deleted(s.ok());
    return Done(ctx, s);
  }

  // --- Records --------------------------------------------------------------------------------

  grpc::ServerUnaryReactor* Insert(grpc::CallbackServerContext* ctx, const v1::InsertRequest* req,
                                   v1::WriteResponse* resp) override {
    if (auto* denied = Deny(ctx, Access::kWrite, req->collection())) return denied;
    Record r = FromProto(req->record());
    resp->set_id(r.id);
    return Done(ctx, svc_.Write(req->collection(), {std::move(r)}, WriteMode::kInsert));
  }

  grpc::ServerUnaryReactor* BatchWrite(grpc::CallbackServerContext* ctx,
                                       const v1::BatchWriteRequest* req,
                                       v1::BatchWriteResponse* resp) override {
    if (auto* denied = Deny(ctx, Access::kWrite, req->collection())) return denied;
    return Done(ctx, WriteBatch(*req, resp));
  }

  grpc::ServerReadReactor<v1::BatchWriteRequest>* StreamUpsert(
      grpc::CallbackServerContext* ctx, v1::StreamUpsertResponse* resp) override {
    // Reads one batch at a time and writes it before asking for the next, so a slow disk
    // slows the client (flow control) instead of queueing batches in memory.
    class Reader final : public grpc::ServerReadReactor<v1::BatchWriteRequest> {
     public:
      Reader(Impl* impl, grpc::CallbackServerContext* ctx, v1::StreamUpsertResponse* resp)
          : impl_(impl), ctx_(ctx), resp_(resp) {
        StartRead(&batch_);
      }
      void OnReadDone(bool ok) override {
        if (!ok) return Finish(grpc::Status::OK);
        v1::BatchWriteResponse written;
        absl::Status s = impl_->Check(ctx_, Access::kWrite, batch_.collection());
        if (s.ok()) s = impl_->WriteBatch(batch_, &written);
        if (!s.ok()) {
          return Finish(impl_->ToGrpc(ctx_, s));
        }
        resp_->set_batches(resp_->batches() + 1);
        resp_->set_count(resp_->count() + written.count());
        batch_.Clear();
        StartRead(&batch_);
      }
      void OnDone() override { delete this; }

     private:
      Impl* impl_;
      grpc::CallbackServerContext* ctx_;
      v1::StreamUpsertResponse* resp_;
      v1::BatchWriteRequest batch_;
    };
    return new Reader(this, ctx, resp);
  }

  grpc::ServerUnaryReactor* GetVector(grpc::CallbackServerContext* ctx, const v1::VectorRef* req,
                                      v1::VectorRecord* resp) override {
    if (auto* denied = Deny(ctx, Access::kRead, req->collection())) return denied;
    absl::StatusOr<ReadConsistency> consistency = ParseConsistency(req->consistency());
    if (!consistency.ok()) return Done(ctx, consistency.status());
    return Reply(ctx, svc_.Get(req->collection(), req->id(), *consistency), resp);
  }

  grpc::ServerUnaryReactor* UpsertVector(grpc::CallbackServerContext* ctx,
                                         const v1::UpsertVectorRequest* req,
                                         v1::WriteResponse* resp) override {
    if (auto* denied = Deny(ctx, Access::kWrite, req->collection())) return denied;
    Record r;
    r.id = req->id();
    r.vector.assign(req->vector().begin(), req->vector().end());
    r.metadata = StructToJson(req->has_metadata(), req->metadata(), "{}");
    resp->set_id(r.id);
    return Done(ctx, svc_.Write(req->collection(), {std::move(r)}, WriteMode::kUpsert));
  }

  grpc::ServerUnaryReactor* PatchMetadata(grpc::CallbackServerContext* ctx,
                                          const v1::PatchMetadataRequest* req,
                                          v1::WriteResponse* resp) override {
    if (auto* denied = Deny(ctx, Access::kWrite, req->collection())) return denied;
    resp->set_id(req->id());
    return Done(ctx, svc_.PatchMetadata(req->collection(), req->id(),
                                        StructToJson(req->has_metadata(), req->metadata(), "{}")));
  }

  grpc::ServerUnaryReactor* DeleteVector(grpc::CallbackServerContext* ctx,
                                         const v1::VectorRef* req,
                                         v1::DeleteVectorsResponse* resp) override {
    if (auto* denied = Deny(ctx, Access::kWrite, req->collection())) return denied;
    if (!req->consistency().empty()) {
      return Done(ctx, absl::InvalidArgumentError(
                           "field 'consistency' applies to reads; a delete is a write"));
    }
    absl::Status s = svc_.DeleteOne(req->collection(), req->id());
    if (s.ok()) resp->set_deleted(1);
    return Done(ctx, s);
  }

  grpc::ServerUnaryReactor* DeleteVectors(grpc::CallbackServerContext* ctx,
                                          const v1::DeleteVectorsRequest* req,
                                          v1::DeleteVectorsResponse* resp) override {
    if (auto* denied = Deny(ctx, Access::kWrite, req->collection())) return denied;
    if (req->has_filter() == (req->ids_size() > 0)) {
      return Done(ctx, absl::InvalidArgumentError("give exactly one of 'ids' and 'filter'"));
    }
    absl::StatusOr<uint64_t> n =
        req->has_filter()
            ? svc_.DeleteWhere(req->collection(), StructToJson(true, req->filter(), ""))
            : svc_.DeleteIds(req->collection(),
                             std::vector<std::string>(req->ids().begin(), req->ids().end()));
    if (n.ok()) resp->set_deleted(*n);
    return Done(ctx, n.status());
  }

  // --- Reads ----------------------------------------------------------------------------------

  grpc::ServerUnaryReactor* Search(grpc::CallbackServerContext* ctx, const v1::SearchRequest* req,
                                   v1::SearchResponse* resp) override {
    if (auto* denied = Deny(ctx, Access::kRead, req->collection())) return denied;
    return Done(ctx, SearchOne(req->collection(), *req, resp));
  }

  grpc::ServerUnaryReactor* SearchBatch(grpc::CallbackServerContext* ctx,
                                        const v1::SearchBatchRequest* req,
                                        v1::SearchBatchResponse* resp) override {
    if (auto* denied = Deny(ctx, Access::kRead, req->collection())) return denied;
    absl::Status s = svc_.CheckBatchSize(req->queries_size(), "queries");
    for (int i = 0; s.ok() && i < req->queries_size(); ++i) {
      s = SearchOne(req->collection(), req->queries(i), resp->add_results());
      if (!s.ok()) s = absl::Status(s.code(), Cat("queries[", i, "]: ", s.message()));
    }
    return Done(ctx, s);
  }

  grpc::ServerUnaryReactor* Count(grpc::CallbackServerContext* ctx, const v1::CountRequest* req,
                                  v1::CountResponse* resp) override {
    if (auto* denied = Deny(ctx, Access::kRead, req->collection())) return denied;
    absl::StatusOr<ReadConsistency> consistency = ParseConsistency(req->consistency());
    if (!consistency.ok()) return Done(ctx, consistency.status());
    auto n = svc_.Count(req->collection(), StructToJson(req->has_filter(), req->filter(), ""),
                        *consistency);
    if (n.ok()) resp->set_count(*n);
    return Done(ctx, n.status());
  }

  grpc::ServerUnaryReactor* Scroll(grpc::CallbackServerContext* ctx, const v1::ScrollRequest* req,
                                   v1::ScrollResponse* resp) override {
    if (auto* denied = Deny(ctx, Access::kRead, req->collection())) return denied;
    absl::StatusOr<ReadConsistency> consistency = ParseConsistency(req->consistency());
    if (!consistency.ok()) return Done(ctx, consistency.status());
    auto page = svc_.Scroll(req->collection(), req->cursor(), req->has_limit() ? req->limit() : 100,
                            StructToJson(req->has_filter(), req->filter(), ""),
                            req->include_vectors(), *consistency);
    if (page.ok()) {
      for (const Record& r : page->records) ToProto(r, resp->add_vectors());
      resp->set_next_cursor(page->next_cursor);
    }
    return Done(ctx, page.status());
  }

 private:
  // Whether the call's key allows `access` on `collection` ("" for none): its holder (nullopt
  // while authentication is off), UNAUTHENTICATED or PERMISSION_DENIED.
  absl::StatusOr<std::optional<Principal>> Caller(grpc::CallbackServerContext* ctx, Access access,
                                                  std::string_view collection) {
    return svc_.Authorize(GrpcKeyOf(*ctx), access, collection);  // the key: grpc_shards.h
  }
  absl::Status Check(grpc::CallbackServerContext* ctx, Access access,
                     std::string_view collection) {
    return Caller(ctx, access, collection).status();
  }
  // The call finished with its error if the key does not allow it; nullptr if it does.
  grpc::ServerUnaryReactor* Deny(grpc::CallbackServerContext* ctx, Access access,
                                 std::string_view collection) {
    absl::Status s = Check(ctx, access, collection);
    return s.ok() ? nullptr : Done(ctx, s);
  }

  // The call's status; gives the call its request id (initial metadata `x-request-id`) and
  // logs it (at debug; server errors at warning).
  grpc::Status ToGrpc(grpc::CallbackServerContext* ctx, const absl::Status& s) {
    const auto& metadata = ctx->client_metadata();
    const auto given = metadata.find("x-request-id");
    const std::string id = RequestId(given == metadata.end() ? std::string_view()
                                     : std::string_view(given->second.data(),
                                                        given->second.size()));
    ctx->AddInitialMetadata("x-request-id", id);
    const ApiError e = s.ok() ? ApiError{"OK", 200, 0} : ApiErrorOf(s);
    const LogLevel level = e.http_status >= 500 ? LogLevel::kWarning : LogLevel::kDebug;
    if (LogEnabled(level)) {
      // Messages may echo a client's input (an id): escaped, no line can be forged.
      Log(level, Cat("grpc call ", id, ": ", e.code, s.ok() ? "" : ": ",
                     absl::CHexEscape(s.message())));
    }
    if (s.ok()) return grpc::Status::OK;
    ctx->AddTrailingMetadata("proximadb-error-code", e.code);
    return grpc::Status(static_cast<grpc::StatusCode>(e.grpc_code), std::string(s.message()));
  }

  // Finishes with `result`: its value into `resp`, or its error.
  template <typename T, typename Message>
  grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* ctx,
                                  const absl::StatusOr<T>& result, Message* resp) {
    if (result.ok()) ToProto(*result, resp);
    return Done(ctx, result.status());
  }

  grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* ctx, const absl::Status& s) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(ToGrpc(ctx, s));
    return reactor;
  }

  grpc::ServerUnaryReactor* StatsDone(grpc::CallbackServerContext* ctx, const std::string& name,
                                      const absl::StatusOr<CollectionStats>& stats,
                                      v1::CollectionStats* resp) {
    if (stats.ok()) ToProto(name, *stats, resp);
    return Done(ctx, stats.status());
  }

  absl::Status WriteBatch(const v1::BatchWriteRequest& req, v1::BatchWriteResponse* resp) {
    std::vector<Record> records;
    if (req.has_columns()) {
      if (req.vectors_size() > 0) {
        return absl::InvalidArgumentError("give either 'vectors' or 'columns', not both");
      }
      auto columns = FromColumns(req.columns());
      if (!columns.ok()) return columns.status();
      records = *std::move(columns);
    } else {
      if (absl::Status s = svc_.CheckBatchSize(req.vectors_size(), "vectors"); !s.ok()) return s;
      records.reserve(req.vectors_size());
      for (const v1::VectorInput& in : req.vectors()) records.push_back(FromProto(in));
    }
    for (const Record& r : records) resp->add_ids(r.id);
    resp->set_count(records.size());
    return svc_.Write(req.collection(), std::move(records),
                      req.upsert() ? WriteMode::kUpsert : WriteMode::kInsert);
  }

  absl::StatusOr<std::vector<Record>> FromColumns(const v1::BatchColumns& c) {
    const size_t n = c.ids_size();
    if (absl::Status s = svc_.CheckBatchSize(n, "vectors"); !s.ok()) return s;
    const size_t floats = c.vectors_f32().size() / sizeof(float);
    if (n == 0 || c.vectors_f32().size() % sizeof(float) != 0 || floats % n != 0) {
      return absl::InvalidArgumentError(
          Cat("columns: vectors_f32 has ", c.vectors_f32().size(), " bytes, not ", n,
              " equal runs of float32 values (one per id)"));
    }
    if (c.metadata_size() != 0 && static_cast<size_t>(c.metadata_size()) != n) {
      return absl::InvalidArgumentError(Cat("columns: ", c.metadata_size(),
                                            " metadata objects for ", n, " ids"));
    }
    const size_t dim = floats / n;
    std::vector<Record> records(n);
    for (size_t i = 0; i < n; ++i) {
      Record& r = records[i];
      r.id = c.ids(i);
      r.vector.resize(dim);
      std::memcpy(r.vector.data(), c.vectors_f32().data() + i * dim * sizeof(float),
                  dim * sizeof(float));
      if (c.metadata_size() != 0) r.metadata = StructToJson(true, c.metadata(i), "{}");
    }
    return records;
  }

  absl::Status SearchOne(const std::string& collection, const v1::SearchRequest& req,
                         v1::SearchResponse* resp) {
    absl::StatusOr<ReadConsistency> consistency = ParseConsistency(req.consistency());
    if (!consistency.ok()) return consistency.status();
    SearchRequest q = FromProto(req);
    std::vector<float> query;  // from vector_f32, aligned
    if (!req.vector_f32().empty()) {
      const std::string& bytes = req.vector_f32();
      if (req.vector_size() != 0) {
        return absl::InvalidArgumentError(
            "give either 'vector' (floats) or 'vector_f32' (their float32 bytes), not both");
      }
      if (bytes.size() % sizeof(float) != 0) {
        return absl::InvalidArgumentError(Cat("field 'vector_f32' has ", bytes.size(),
                                              " bytes, not a whole number of float32 values"));
      }
      query.resize(bytes.size() / sizeof(float));
      std::memcpy(query.data(), bytes.data(), bytes.size());
      q.vector = query;
    }
    auto r = svc_.Search(collection, q, *consistency);
    if (r.ok()) ToProto(*r, q, resp);
    return r.status();
  }

  server::Service& svc_;  // (plain `Service` names the generated base class here)
  std::unique_ptr<grpc::Service> shards_;  // outlives server_
  std::unique_ptr<grpc::Server> server_;
};

GrpcServer::GrpcServer(Service* service) : impl_(std::make_unique<Impl>(service)) {}
GrpcServer::~GrpcServer() { impl_->Stop(0); }

void GrpcServer::SetServing(bool serving) { impl_->SetServing(serving); }

absl::Status GrpcServer::Start(const std::string& host, uint16_t port, size_t max_message_bytes,
                               const std::optional<TlsPem>& tls) {
  return impl_->Start(host, port, max_message_bytes, tls);
}
void GrpcServer::Stop(int grace_ms) { impl_->Stop(grace_ms); }

}  // namespace proximadb::server
