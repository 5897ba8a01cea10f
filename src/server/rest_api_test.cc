// The REST route table: which requests wait for a worker, 404 against 405, and literal path
// segments before parameters.
#include "gtest/gtest.h"
#include "common/errors.h"
#include "server/rest_api.h"
#include "server/service.h"

namespace proximadb::server {
namespace {

HttpRequest Req(std::string method, std::string path) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

TEST(RestApiTest, WritesAndMaintenanceWaitReadsDoNot) {
  struct Case {
    const char* method;
    const char* path;
    bool waits;
  };
  for (const Case& c : std::vector<Case>{
           {"POST", "/api/v1/collections", true},
           {"DELETE", "/api/v1/collections/c", true},
           {"PATCH", "/api/v1/collections/c", true},
           {"POST", "/api/v1/collections/c/vectors", true},
           {"POST", "/api/v1/collections/c/vectors/batch", true},
           {"POST", "/api/v1/collections/c/vectors/delete", true},
           {"PUT", "/api/v1/collections/c/vectors/x", true},
           {"DELETE", "/api/v1/collections/c/vectors/x", true},
           {"POST", "/api/v1/collections/c/flush", true},
           {"POST", "/api/v1/collections/c/compact", true},
           {"GET", "/health", false},
           {"GET", "/api/v1/collections", false},
           {"GET", "/api/v1/collections/c/vectors/x", false},
           {"GET", "/api/v1/collections/c/vectors", false},
           {"POST", "/api/v1/collections/c/search", false},
           {"POST", "/api/v1/collections/c/search/batch", false},
           {"POST", "/api/v1/collections/c/count", false},
           {"POST", "/no/such/route", false},
           {"DELETE", "/api/v1/collections/c/search", false},
       }) {
    EXPECT_EQ(RestApi::MayWait(Req(c.method, c.path)), c.waits) << c.method << " " << c.path;
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

// A layout change during a migration: 409 over REST, FAILED_PRECONDITION over gRPC, with its
// own code; a failed precondition without it stays 503 (writes stopped).
TEST(RestApiTest, MigrationInProgressIsAConflict) {
  const ApiError e = ApiErrorOf(
      WithErrorCode(absl::FailedPreconditionError("still migrating"), kMigrationInProgress));
  EXPECT_EQ(e.code, "MIGRATION_IN_PROGRESS");
  EXPECT_EQ(e.http_status, 409);
  EXPECT_EQ(e.grpc_code, 9);
  EXPECT_EQ(ApiErrorOf(absl::FailedPreconditionError("stopped")).http_status, 503);
}

}  // namespace
}  // namespace proximadb::server
