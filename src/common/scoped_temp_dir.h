// ScopedTempDir: a fresh directory under /tmp for a test, removed with everything in it when the
// object goes away. Header-only; for tests and benchmarks.
#pragma once

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace proximadb {

class ScopedTempDir {
 public:
  ScopedTempDir() {
    std::string tmpl = "/tmp/proximadb-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    path_ = tmpl;
  }
  ~ScopedTempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace proximadb
