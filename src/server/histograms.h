// Prometheus latency histograms by label values, in the text format: the request latencies of
// REST and gRPC, and each collection's operations (metrics.h).
//
// Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"

namespace proximadb::server {

// A label value as the text format writes it: backslash, double quote and newline escaped.
std::string EscapeLabel(std::string_view value);

class LatencyHistograms {
 public:
  // The histogram <name>_bucket, _sum and _count over the labels `label_names`; with
  // `counter`, also the counter <counter> of the same labels (the count again, under the name
  // dashboards and alerts know).
  LatencyHistograms(std::string name, std::string help, std::vector<std::string> label_names,
                    std::string counter = "", std::string counter_help = "");

  // One observation of `seconds` for `values` (one per label name, in their order).
  void Observe(std::initializer_list<std::string_view> values, double seconds)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Appends the families, with only the series whose first label value `keep` accepts.
  void Append(std::string* out, absl::FunctionRef<bool(std::string_view first)> keep) const
      ABSL_LOCKS_EXCLUDED(mu_);
  void Append(std::string* out) const {
    Append(out, [](std::string_view) { return true; });
  }
  // Forgets the series whose first label value is `first`.
  void Forget(std::string_view first) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1,    2.5};
  struct Series {
    std::string first;  // the first label's value, unescaped
    uint64_t count = 0;
    double sum = 0;
    std::array<uint64_t, kBuckets.size()> buckets{};
  };

  const std::string name_, help_, counter_, counter_help_;
  const std::vector<std::string> label_names_;
  mutable absl::Mutex mu_;
  std::map<std::string, Series> series_ ABSL_GUARDED_BY(mu_);  // by label text
};

}  // namespace proximadb::server
