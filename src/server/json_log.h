// `[server] log_format = "json"`: each log line one JSON object,
// {"time": "2026-12-03T07:20:00.123456Z", "level": "info", "node": "node-1", "message": "..."},
// for log collectors that parse JSON lines. Any message text is escaped properly.
#pragma once

#include <memory>
#include <string>

#include <spdlog/formatter.h>

namespace proximadb::server {

class JsonLogFormatter final : public spdlog::formatter {
 public:
  explicit JsonLogFormatter(std::string node_id) : node_id_(std::move(node_id)) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonLogFormatter>(node_id_);
  }

 private:
  const std::string node_id_;
};

}  // namespace proximadb::server
