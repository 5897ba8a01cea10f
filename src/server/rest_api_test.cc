// The REST route table: which requests wait for a worker, 404 against 405, and literal path
// segments before parameters.
#include "gtest/gtest.h"
#include "server/rest_api.h"

namespace proximadb::server {
namespace {

HttpRequest Req(std::string method, std::string path) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

TEST(RestApiTest, WritesAndMaintenanceWaitReadsDoNot) {
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"POST", "/api/v1/collections"},
           {"DELETE", "/api/v1/collections/c"},
           {"PATCH", "/api/v1/collections/c"},
           {"POST", "/api/v1/collections/c/vectors"},
           {"POST", "/api/v1/collections/c/vectors/batch"},
           {"POST", "/api/v1/collections/c/vectors/delete"},
           {"PUT", "/api/v1/collections/c/vectors/x"},
           {"DELETE", "/api/v1/collections/c/vectors/x"},
           {"POST", "/api/v1/collections/c/flush"},
           {"POST", "/api/v1/collections/c/compact"}}) {
    EXPECT_TRUE(RestApi::MayWait(Req(method, path))) << method << " " << path;
  }
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/health"},
           {"GET", "/api/v1/collections"},
           {"GET", "/api/v1/collections/c/vectors/x"},
           {"GET", "/api/v1/collections/c/vectors"},
           {"POST", "/api/v1/collections/c/search"},
           {"POST", "/api/v1/collections/c/search/batch"},
           {"POST", "/api/v1/collections/c/count"},
           {"POST", "/no/such/route"},
           {"DELETE", "/api/v1/collections/c/search"}}) {
    EXPECT_FALSE(RestApi::MayWait(Req(method, path))) << method << " " << path;
  }
}

TEST(RestApiTest, UnknownPathsAre404WrongMethodsAre405) {
  ServerConfig config;
  Service service(config);
  RestApi api(&service);
  EXPECT_EQ(api.Handle(Req("GET", "/health")).status, 200);
  EXPECT_EQ(api.Handle(Req("POST", "/health")).status, 405);
  EXPECT_EQ(api.Handle(Req("GET", "/api/v1/nothing")).status, 404);
  EXPECT_EQ(api.Handle(Req("GET", "/api/v1/collections/c/bogus")).status, 404);
  // "batch" is the batch route's, not an id: GET is not allowed there.
  EXPECT_EQ(api.Handle(Req("GET", "/api/v1/collections/c/vectors/batch")).status, 405);
  // Without a database every API route is unavailable, and /ready says so.
  EXPECT_EQ(api.Handle(Req("GET", "/api/v1/collections/c/vectors/x")).status, 503);
  EXPECT_EQ(api.Handle(Req("GET", "/ready")).status, 503);
}

}  // namespace
}  // namespace proximadb::server
