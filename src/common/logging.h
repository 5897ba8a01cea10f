// Minimal logging for the engine's background events: one line per event on stderr with a UTC
// timestamp and a level. The server may redirect it through SetLogSink.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace proximadb {

enum class LogLevel { kInfo, kWarning, kError };

void Log(LogLevel level, std::string_view message);
// Debian's Abseil has its own string_view type (Status::message() returns it).
inline void Log(LogLevel level, absl::string_view message) {
  Log(level, std::string_view(message.data(), message.size()));
}
inline void Log(LogLevel level, const std::string& message) {
  Log(level, std::string_view(message));
}
// Replaces the destination of Log (nullptr restores stderr). Thread-safe.
void SetLogSink(std::function<void(LogLevel, std::string_view)> sink);

}  // namespace proximadb
