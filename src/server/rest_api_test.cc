// The REST route table: which requests wait for a worker, 404 against 405, and literal path
// segments before parameters.
#include "gtest/gtest.h"
#include "common/errors.h"
#include "common/strings.h"
#include "server/rest_api.h"
#include "server/rest_body.h"
#include "server/service.h"

namespace proximadb::server {
namespace {

HttpRequest Req(std::string method, std::string path) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

TEST(RestApiTest, WritesWaitOnWorkersMaintenanceOnItsOwnReadsNot) {
  struct Case {
    const char* method;
    const char* path;
    Served served;
  };
  using enum Served;
  for (const Case& c : std::vector<Case>{
           {"POST", "/api/v1/collections", kWorker},
           {"PATCH", "/api/v1/collections/c", kWorker},
           {"POST", "/api/v1/collections/c/vectors", kWorker},
           {"POST", "/api/v1/collections/c/vectors/batch", kWorker},
           {"POST", "/api/v1/collections/c/vectors/delete", kWorker},
           {"PUT", "/api/v1/collections/c/vectors/x", kWorker},
           {"DELETE", "/api/v1/collections/c/vectors/x", kWorker},
           {"POST", "/api/v1/keys", kWorker},
           {"DELETE", "/api/v1/collections/c", kSlow},
           {"POST", "/api/v1/collections/c/flush", kSlow},
           {"POST", "/api/v1/collections/c/compact", kSlow},
           {"POST", "/api/v1/collections/c/tiering", kSlow},
           {"POST", "/api/v1/collections/c/backups", kSlow},
           {"POST", "/api/v1/restore", kSlow},
           {"GET", "/health", kInline},
           {"GET", "/api/v1/collections", kInline},
           {"GET", "/api/v1/collections/c/vectors/x", kInline},
           {"GET", "/api/v1/collections/c/vectors", kInline},
           {"POST", "/api/v1/collections/c/search", kInline},
           {"POST", "/api/v1/collections/c/search/batch", kInline},
           {"POST", "/api/v1/collections/c/count", kInline},
           {"POST", "/no/such/route", kInline},
           {"DELETE", "/api/v1/collections/c/search", kInline},
       }) {
    EXPECT_EQ(RestApi::ServedBy(Req(c.method, c.path)), c.served) << c.method << " " << c.path;
  }
}

TEST(RestApiTest, UnknownPathsAre404WrongMethodsAre405) {
  ServerConfig config;
  Service service(config);
  RestApi api(&service);
  EXPECT_EQ(api.Handle(Req("GET", "/health")).status, 200);
  auto allow = [](const HttpResponse& r) {
    for (const auto& [name, value] : r.headers) {
      if (name == "Allow") return value;
    }
    return std::string("(none)");
  };
  const HttpResponse post_health = api.Handle(Req("POST", "/health"));
  EXPECT_EQ(post_health.status, 405);
  // RFC 9110: a 405 names the allowed methods, HEAD wherever GET is.
  EXPECT_EQ(allow(post_health), "GET, HEAD");
  EXPECT_EQ(allow(api.Handle(Req("POST", "/api/v1/collections/c/vectors/x"))),
            "GET, HEAD, PUT, PATCH, DELETE");
  // HEAD is GET's answer, marked to be sent without its body.
  const HttpResponse get_health = api.Handle(Req("GET", "/health"));
  const HttpResponse head_health = api.Handle(Req("HEAD", "/health"));
  EXPECT_EQ(head_health.status, 200);
  EXPECT_TRUE(head_health.head);
  EXPECT_FALSE(get_health.head);
  EXPECT_EQ(head_health.body, get_health.body);
  EXPECT_EQ(api.Handle(Req("GET", "/api/v1/nothing")).status, 404);
  EXPECT_EQ(api.Handle(Req("GET", "/api/v1/collections/c/bogus")).status, 404);
  // "batch" is the batch route's, not an id: GET is not allowed there.
  const HttpResponse get_batch = api.Handle(Req("GET", "/api/v1/collections/c/vectors/batch"));
  EXPECT_EQ(get_batch.status, 405);
  EXPECT_EQ(allow(get_batch), "POST");
  // Without a database every API route is unavailable, and /ready says so.
  EXPECT_EQ(api.Handle(Req("GET", "/api/v1/collections/c/vectors/x")).status, 503);
  // The path is split before it is decoded: "%2F" is a '/' inside the id, a route's (503).
  EXPECT_EQ(api.Handle(Req("GET", "/api/v1/collections/c/vectors/a%2Fb")).status, 503);
  EXPECT_EQ(api.Handle(Req("GET", "/api/v1/collections/c%2Fd/vectors/a")).status, 503);
  EXPECT_EQ(api.Handle(Req("GET", "/api/v1/collections/c/vectors/a/b")).status, 404);
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

// Cluster mode: a collection changed by another node during a change or a drop.
TEST(RestApiTest, AnAbortedChangeIsAConflictToRetry) {
  const ApiError e = ApiErrorOf(absl::AbortedError("changed during the update; retry"));
  EXPECT_EQ(e.code, "ABORTED");
  EXPECT_EQ(e.http_status, 409);
  EXPECT_EQ(e.grpc_code, 10);
}

// Integers beyond 64 bits are valid JSON: they are read as doubles (simdjson 3.0 cannot hold
// them; a slower parser takes over), while numbers beyond the doubles and bodies nested too
// deep stay errors.
TEST(RestBodyTest, HugeIntegersAreNumbersAndOverflowsAreErrors) {
  Body b;
  ASSERT_TRUE(b.Parse(R"({"x": 123456789012345678901234567890, "v": [1, 2e3]})", {"x", "v"}))
      << b.error;
  double x = 0;
  ASSERT_TRUE(b.Number("x", &x)) << b.error;
  EXPECT_DOUBLE_EQ(x, 1.2345678901234568e29);
  std::vector<float> v;
  ASSERT_TRUE(b.Vector("v", &v)) << b.error;
  EXPECT_EQ(v, (std::vector<float>{1, 2000}));

  Body overflow;
  EXPECT_FALSE(overflow.Parse(R"({"x": 1e999})", {"x"}));
  EXPECT_NE(overflow.error.find("not valid JSON"), std::string::npos) << overflow.error;
  Body unknown;
  EXPECT_FALSE(unknown.Parse(R"({"x": 1, "y": 123456789012345678901234567890})", {"x"}));
  EXPECT_NE(unknown.error.find("unknown field 'y'"), std::string::npos) << unknown.error;
  // Deeper than the limit, with a huge integer at the bottom: still refused, not recursed.
  const std::string deep = std::string(100000, '[') + "123456789012345678901234567890" +
                           std::string(100000, ']');
  Body nested;
  EXPECT_FALSE(nested.Parse(Cat(R"({"x": )", deep, "}"), {"x"}));
}

}  // namespace
}  // namespace proximadb::server
