#include "common/logging.h"

#include <atomic>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/enum_names.h"

namespace proximadb {
namespace {

std::mutex& SinkMutex() {
  static std::mutex mu;
  return mu;
}

std::function<void(LogLevel, std::string_view)>& Sink() {
  static std::function<void(LogLevel, std::string_view)> sink;
  return sink;
}

constexpr EnumName<LogLevel> kLevelNames[] = {{LogLevel::kDebug, "debug"},
                                               {LogLevel::kInfo, "info"},
                                               {LogLevel::kWarning, "warning"},
                                               {LogLevel::kError, "error"},
                                               {LogLevel::kOff, "off"}};

std::atomic<LogLevel> min_level{LogLevel::kInfo};  // relaxed: a setting

}  // namespace

bool LogEnabled(LogLevel level) {
  return level != LogLevel::kOff && level >= min_level.load(std::memory_order_relaxed);
}

void SetMinLogLevel(LogLevel level) { min_level.store(level, std::memory_order_relaxed); }

void Log(LogLevel level, std::string_view message) {
  if (!LogEnabled(level)) return;
  std::lock_guard<std::mutex> l(SinkMutex());
  if (Sink()) {
    Sink()(level, message);
    return;
  }
  const std::string now =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  std::fprintf(stderr, "%s [%s] %.*s\n", now.c_str(), NameOf(kLevelNames, level),
               static_cast<int>(message.size()), message.data());
}

void SetLogSink(std::function<void(LogLevel, std::string_view)> sink) {
  std::lock_guard<std::mutex> l(SinkMutex());
  Sink() = std::move(sink);
}

}  // namespace proximadb
