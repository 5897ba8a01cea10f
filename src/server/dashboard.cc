#include "server/dashboard.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>

#include "common/strings.h"
#include "server/rest_body.h"

namespace proximadb::server {
namespace {

constexpr std::string_view kPrefix = "/dashboard";

struct Kind {
  std::string_view suffix, content_type;
};
constexpr Kind kKinds[] = {
    {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},   {".json", "application/json"},
    {".svg", "image/svg+xml"},             {".png", "image/png"},
    {".ico", "image/x-icon"},              {".woff2", "font/woff2"},
    {".map", "application/json"},          {".txt", "text/plain; charset=utf-8"},
};

std::string_view ContentType(std::string_view name) {
  for (const Kind& k : kKinds) {
    if (name.size() >= k.suffix.size() && name.substr(name.size() - k.suffix.size()) == k.suffix) {
      return k.content_type;
    }
  }
  return "application/octet-stream";
}

// `relative` split on '/', refusing empty segments, those starting with '.' ("..", ".", dot
// files such as the build's .inputs) and backslashes: what stays names a file under the
// directory.
bool SafeRelative(std::string_view relative) {
  for (std::string_view segment : Split(relative, '/')) {
    if (segment.empty() || segment.front() == '.' ||
        segment.find('\\') != std::string_view::npos ||
        segment.find('\0') != std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// The file `relative` names under `dir`, read whole; false if it is not a regular file there,
// or if it resolves (through a symbolic link) to somewhere outside `dir`.
bool ReadFile(const std::string& dir, std::string_view relative, std::string* out) {
  std::error_code ec;
  const std::filesystem::path base = std::filesystem::canonical(dir, ec);
  if (ec) return false;
  const std::filesystem::path path = std::filesystem::canonical(base / relative, ec);
  if (ec || !std::filesystem::is_regular_file(path, ec)) return false;
  if (std::mismatch(base.begin(), base.end(), path.begin(), path.end()).first != base.end()) {
    return false;  // outside the directory
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

HttpResponse File(std::string body, std::string_view name, bool immutable) {
  HttpResponse r;
  r.body = std::move(body);
  r.content_type = std::string(ContentType(name));
  // Vite names the files under assets/ by their content: they never change. index.html does.
  r.headers.emplace_back("Cache-Control",
                         immutable ? "public, max-age=31536000, immutable" : "no-cache");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'self'; img-src 'self' data:; base-uri 'none'; "
                         "form-action 'none'; frame-ancestors 'none'");
  return r;
}

}  // namespace

bool IsDashboardPath(std::string_view path) {
  return path.substr(0, kPrefix.size()) == kPrefix &&
         (path.size() == kPrefix.size() || path[kPrefix.size()] == '/');
}

HttpResponse ServeDashboard(bool enabled, const std::string& dir, const HttpRequest& request) {
  if (!enabled) {
    return ErrorResponse(404, "NOT_FOUND",
                         "the dashboard is off ([server] dashboard_enabled = false)");
  }
  if (request.method != "GET" && request.method != "HEAD") {
    HttpResponse r = ErrorResponse(405, "METHOD_NOT_ALLOWED",
                                   Cat("method ", request.method, " is not allowed on ",
                                       request.path, " (allowed: GET, HEAD)"));
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  if (request.path.size() == kPrefix.size()) {  // "/dashboard": relative links need the slash
    HttpResponse r;
    r.status = 308;
    r.headers.emplace_back("Location", "/dashboard/");
    return r;
  }
  const std::string decoded = PercentDecode(
      std::string_view(request.path).substr(kPrefix.size() + 1), false);
  std::string_view relative = decoded;
  if (relative.empty()) relative = "index.html";
  if (!SafeRelative(relative)) {
    return ErrorResponse(404, "NOT_FOUND", Cat("no dashboard file ", request.path));
  }
  std::string body;
  if (ReadFile(dir, relative, &body)) {
    return File(std::move(body), relative, relative.substr(0, 7) == "assets/");
  }
  // A path without a suffix is one of the app's own pages: the app answers it.
  const std::string_view last = relative.substr(relative.rfind('/') + 1);
  if (last.find('.') == std::string_view::npos && ReadFile(dir, "index.html", &body)) {
    return File(std::move(body), "index.html", false);
  }
  return ErrorResponse(404, "NOT_FOUND",
                       Cat("no dashboard file ", request.path,
                           relative == "index.html" ? " (is the dashboard built? make run "
                                                      "builds it)"
                                                    : ""));
}

}  // namespace proximadb::server
