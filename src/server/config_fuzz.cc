// Fuzz target: configuration loading. The input is a TOML file, optionally followed by a line
// "---" and environment entries (NAME=value, one per line). LoadConfig must give a
// configuration or an error naming the key, never crash or hang.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace proximadb::server;
  static const int fd = memfd_create("config.toml", 0);  // toml++ reads a path: this file's
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t split = input.find("\n---\n");
  const std::string_view toml = input.substr(0, split);
  if (ftruncate(fd, 0) != 0 || pwrite(fd, toml.data(), toml.size(), 0) != ssize_t(toml.size())) {
    std::abort();
  }
  ConfigSources sources;
  sources.file = path;
  if (split != std::string_view::npos) {
    for (std::string_view rest = input.substr(split + 5); !rest.empty();) {
      const size_t end = rest.find('\n');
      sources.environ.emplace_back(rest.substr(0, end));
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    }
  }
  (void)LoadConfig(sources);
  return 0;
}
