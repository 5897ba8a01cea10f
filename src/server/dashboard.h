// The web dashboard's files, served under /dashboard when `[server] dashboard_enabled` is
// true (docs/api.md#the-dashboards-files): GET only, no key needed (the files hold no data;
// the dashboard's own API calls carry the key the user gives it), paths confined to
// `[server] dashboard_dir`, unknown paths without a file suffix answered with index.html (the
// app's own routes).
#pragma once

#include <string>
#include <string_view>

#include "server/rest_api.h"

namespace proximadb::server {

// Whether `path` is the dashboard's: "/dashboard" or under "/dashboard/".
bool IsDashboardPath(std::string_view path);

// The answer to `request` (a dashboard path) from the files of `dir`; 404 when `enabled` is
// false.
HttpResponse ServeDashboard(bool enabled, const std::string& dir, const HttpRequest& request);

}  // namespace proximadb::server
