// Counts every gRPC call in /metrics (proximadb_grpc_requests_total and the latency histogram
// proximadb_grpc_request_duration_seconds, by method, status code and the API's error code),
// through a server interceptor: from the call's start to its status, streams included.
#pragma once

#include <memory>

namespace grpc::experimental {
class ServerInterceptorFactoryInterface;
}  // namespace grpc::experimental

namespace proximadb::server {

class RequestMetrics;

// For grpc::ServerBuilder::experimental().SetInterceptorCreators; `metrics` outlives the
// server.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewMetricsInterceptors(
    RequestMetrics* metrics);

}  // namespace proximadb::server
