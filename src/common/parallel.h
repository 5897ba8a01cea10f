// Work over rows split across threads.
#pragma once

#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

#include "absl/functional/function_ref.h"

namespace proximadb {

// Calls rows(begin, end) for even ranges of [0, n) on up to `threads` threads, the caller's
// among them, each range of at least a few hundred rows (a thread costs more than it brings on
// fewer); returns when every range is done.
inline void ForRowRanges(uint32_t n, int threads,
                         absl::FunctionRef<void(uint32_t begin, uint32_t end)> rows) {
  constexpr uint32_t kMinRowsPerThread = 256;
  const auto workers = static_cast<uint32_t>(
      std::clamp<int64_t>(n / kMinRowsPerThread, 1, std::max(threads, 1)));
  std::vector<std::thread> helpers;
  for (uint32_t w = 1; w < workers; ++w) {
    helpers.emplace_back([&, w] {
      rows(static_cast<uint32_t>(uint64_t{n} * w / workers),
           static_cast<uint32_t>(uint64_t{n} * (w + 1) / workers));
    });
  }
  rows(0, n / workers);
  for (std::thread& t : helpers) t.join();
}

}  // namespace proximadb
