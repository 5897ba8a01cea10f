#include "server/grpc_metrics.h"

#include <array>
#include <chrono>
#include <map>
#include <string>
#include <string_view>

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include "google/protobuf/descriptor.h"
#include "proximadb/v1/proximadb.grpc.pb.h"  // links the API's descriptor

#include "server/metrics.h"

namespace proximadb::server {
namespace {

namespace gx = ::grpc::experimental;

// gRPC status codes by number, as the label shows them.
constexpr std::array<std::string_view, 17> kCodeNames = {
    "OK",        "CANCELLED",         "UNKNOWN",          "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",               "NOT_FOUND",        "ALREADY_EXISTS",
    "PERMISSION_DENIED",               "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",      "UNIMPLEMENTED",    "INTERNAL",
    "UNAVAILABLE", "DATA_LOSS",       "UNAUTHENTICATED"};

// The method label: the RPC's name ("/proximadb.v1.ProximaDB/Search" is "Search"; the health
// service's "grpc.health.v1.Health/Check"), or "other" for a path naming no RPC of this
// server, so that odd calls add no series.
std::string_view MethodLabel(const char* path) {
  if (path == nullptr) return "other";
  const std::string_view p(path);
  constexpr std::string_view kApi = "/proximadb.v1.ProximaDB/";
  static const google::protobuf::ServiceDescriptor* const api =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          "proximadb.v1.ProximaDB");
  if (p.starts_with(kApi) && api != nullptr &&
      api->FindMethodByName(std::string(p.substr(kApi.size()))) != nullptr) {
    return p.substr(kApi.size());
  }
  for (std::string_view health : {"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"}) {
    if (p == health) return p.substr(1);
  }
  return "other";
}

class MetricsInterceptor final : public gx::Interceptor {
 public:
  MetricsInterceptor(RequestMetrics* metrics, std::string_view method)
      : metrics_(metrics), method_(method), start_(std::chrono::steady_clock::now()) {}

  void Intercept(gx::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(gx::InterceptionHookPoints::PRE_SEND_STATUS)) {
      const int code = methods->GetSendStatus().error_code();
      const std::string_view name =
          code >= 0 && code < static_cast<int>(kCodeNames.size()) ? kCodeNames[code] : "UNKNOWN";
      // The API's error code (docs/api.md), which the service puts in the trailers: it tells
      // a full disk from an overload, both RESOURCE_EXHAUSTED here. Server-made, so bounded.
      std::string_view error;
      const std::multimap<std::string, std::string>* trailers =
          methods->GetSendTrailingMetadata();
      if (auto it = trailers->find("proximadb-error-code"); it != trailers->end()) {
        error = it->second;
      }
      metrics_->ObserveGrpc(
          method_, name, error,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    }
    methods->Proceed();
  }

 private:
  RequestMetrics* const metrics_;
  const std::string_view method_;  // a static string or a part of the call's method path
  const std::chrono::steady_clock::time_point start_;
};

class MetricsInterceptorFactory final : public gx::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(RequestMetrics* metrics) : metrics_(metrics) {}
  gx::Interceptor* CreateServerInterceptor(gx::ServerRpcInfo* info) override {
    return new MetricsInterceptor(metrics_, MethodLabel(info->method()));
  }

 private:
  RequestMetrics* const metrics_;
};

}  // namespace

std::unique_ptr<gx::ServerInterceptorFactoryInterface> NewMetricsInterceptors(
    RequestMetrics* metrics) {
  return std::make_unique<MetricsInterceptorFactory>(metrics);
}

}  // namespace proximadb::server
