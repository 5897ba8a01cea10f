#include "server/json_log.h"

#include <string_view>

#include <nlohmann/json.hpp>
#include <spdlog/details/log_msg.h>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace proximadb::server {

void JsonLogFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  const auto level = spdlog::level::to_string_view(msg.level);
  const nlohmann::json line = {
      {"time", absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::FromChrono(msg.time),
                                absl::UTCTimeZone())},
      {"level", std::string_view(level.data(), level.size())},
      {"node", node_id_},
      {"message", std::string_view(msg.payload.data(), msg.payload.size())},
  };
  // Invalid UTF-8 in a message (a client's id, say) is replaced rather than thrown on.
  const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  dest.append(text.data(), text.data() + text.size());
  dest.push_back('\n');
}

}  // namespace proximadb::server
