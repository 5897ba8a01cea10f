// RestApi: the REST API of DESIGN.md §6 as a function from a parsed HTTP request to a response,
// independent of the HTTP library (http_server.h carries the bytes). It parses and validates
// the JSON body (simdjson) into the engine's types, calls the Service shared with gRPC, and
// turns its errors into HTTP statuses and error bodies (docs/api.md). It also keeps the request
// metrics that GET /metrics reports.
//
// Thread-safe: Handle may run on any number of threads at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "proximadb/database.h"
#include "server/service.h"

namespace proximadb::server {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query string, percent-decoded
  std::map<std::string, std::string> query;
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

class RestApi {
 public:
  // Until the service has a database, API routes answer 503 UNAVAILABLE and /ready says so.
  explicit RestApi(Service* service);
  ~RestApi();

  HttpResponse Handle(const HttpRequest& request);

  // The response for a body over the configured limit (the server stops reading it).
  HttpResponse PayloadTooLarge(size_t limit) const;

 private:
  struct Metrics;
  HttpResponse Route(const HttpRequest& request, std::string* route);
  HttpResponse MetricsText();

  Service* const service_;
  std::unique_ptr<Metrics> metrics_;
};

}  // namespace proximadb::server
