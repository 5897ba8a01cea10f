// Minimal logging for the engine's background events and the server's requests: one line per
// event on stderr with a UTC timestamp and a level. The server may redirect it through
// SetLogSink. Events below the minimum level (info by default) are dropped.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace proximadb {

enum class LogLevel { kDebug, kInfo, kWarning, kError, kOff };

void Log(LogLevel level, std::string_view message);
// Debian's Abseil has its own string_view type (Status::message() returns it).
inline void Log(LogLevel level, absl::string_view message) {
  Log(level, std::string_view(message.data(), message.size()));
}
inline void Log(LogLevel level, const std::string& message) {
  Log(level, std::string_view(message));
}
// Whether an event of `level` is logged: check it before building a costly message.
bool LogEnabled(LogLevel level);
// Events below `level` are dropped (kOff: all). Thread-safe.
void SetMinLogLevel(LogLevel level);
// Replaces the destination of Log (nullptr restores stderr). Thread-safe.
void SetLogSink(std::function<void(LogLevel, std::string_view)> sink);

}  // namespace proximadb
