// Fuzz target: the REST API's request parsing and validation, every route. The first byte of
// the input picks a route, the rest is the body (for a GET, the query string); from kPathMode
// on, the second byte picks a method and the rest is the path as sent (split, percent-decoded
// and routed). The service has no database, so a request that validates ends in 503
// UNAVAILABLE; one that does not must end in a 4xx naming the problem. Never a crash, a hang,
// or a 5xx other than that 503.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/strings.h"
#include "server/rest_api.h"
#include "server/service.h"

namespace {

using namespace proximadb::server;

struct Target {
  const char* method;
  const char* path;
};

constexpr Target kTargets[] = {
    {"POST", "/api/v1/collections"},
    {"PATCH", "/api/v1/collections/c"},
    {"POST", "/api/v1/collections/c/vectors"},
    {"POST", "/api/v1/collections/c/vectors/batch"},
    {"POST", "/api/v1/collections/c/vectors/delete"},
    {"PUT", "/api/v1/collections/c/vectors/x"},
    {"PATCH", "/api/v1/collections/c/vectors/x"},
    {"GET", "/api/v1/collections/c/vectors"},
    {"POST", "/api/v1/collections/c/search"},
    {"POST", "/api/v1/collections/c/search/batch"},
    {"POST", "/api/v1/collections/c/count"},
    {"POST", "/api/v1/collections/c/backups"},
    {"GET", "/api/v1/backups"},
    {"POST", "/api/v1/restore"},
    {"POST", "/api/v1/keys"},
};

constexpr uint8_t kPathMode = 0xF0;  // first bytes from here: a method byte, then a raw path
constexpr const char* kMethods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Service* const service = new Service(ServerConfig{});
  static RestApi* const api = new RestApi(service);
  if (size == 0) return 0;
  HttpRequest request;
  if (data[0] >= kPathMode) {
    if (size < 2) return 0;
    request.method = kMethods[data[1] % std::size(kMethods)];
    request.path.assign(reinterpret_cast<const char*>(data + 2), size - 2);
  } else {
    const Target& target = kTargets[data[0] % std::size(kTargets)];
    request.method = target.method;
    request.path = target.path;
    const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
    if (request.method == "GET") {
      for (std::string_view pair : proximadb::Split(rest, '&')) {
        const size_t eq = pair.find('=');
        request.query[std::string(pair.substr(0, eq))] =
            eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1));
      }
    } else {
      request.body = std::string(rest);
    }
  }
  const HttpResponse response = api->Handle(request);
  if (response.status >= 500 && response.status != 503) std::abort();
  return 0;
}
