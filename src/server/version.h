// The server's version, as `--version`, the start-up log line and /metrics'
// proximadb_build_info show it.
#pragma once

namespace proximadb::server {

inline constexpr char kVersion[] = "0.1.0";

}  // namespace proximadb::server
