// Conversions between the gRPC API's messages (proto/proximadb/v1/proximadb.proto) and the
// engine's and service's types, for grpc_server.cc. Field lists come from fields.h, written
// once for REST, gRPC and metrics. Only the gRPC files include this header.
#pragma once

#include <string>
#include <string_view>

#include "proximadb/v1/proximadb.pb.h"
#include "server/service.h"

namespace proximadb::cluster {
struct ClusterView;
}  // namespace proximadb::cluster

namespace proximadb::server {

// A Struct as compact JSON text; `empty` for an absent one.
std::string StructToJson(bool present, const google::protobuf::Struct& s, std::string empty);
void JsonToStruct(const std::string& json, google::protobuf::Struct* out);

void ToProto(const TieringPolicy& t, v1::Tiering* out);
TieringPolicy FromProto(const v1::Tiering& in);
void ToProto(const CollectionInfo& info, v1::Collection* out);
void ToProto(const BackupInfo& backup, v1::Backup* out);
void ToProto(const MaintenanceEvent& event, v1::MaintenanceEvent* out);
void ToProto(const KeyInfo& key, v1::ApiKey* out);
// A cluster's view (grpc_cluster.cc); `enabled` is set, node_id and cluster are the view's.
void ToProto(const cluster::ClusterView& view, v1::ClusterInfo* out);
void ToProto(std::string_view name, const CollectionStats& s, v1::CollectionStats* out);
// A record to write; a UUID for one without an id.
Record FromProto(const v1::VectorInput& in);
void ToProto(const Record& r, v1::VectorRecord* out);
// A search; its vector views `in`'s.
SearchRequest FromProto(const v1::SearchRequest& in);
void ToProto(const SearchResponse& r, const SearchRequest& q, v1::SearchResponse* out);

}  // namespace proximadb::server
