#include "server/histograms.h"

#include <utility>

#include "common/strings.h"

namespace proximadb::server {

std::string EscapeLabel(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

LatencyHistograms::LatencyHistograms(std::string name, std::string help,
                                     std::vector<std::string> label_names, std::string counter,
                                     std::string counter_help)
    : name_(std::move(name)),
      help_(std::move(help)),
      counter_(std::move(counter)),
      counter_help_(std::move(counter_help)),
      label_names_(std::move(label_names)) {}

void LatencyHistograms::Observe(std::initializer_list<std::string_view> values, double seconds) {
  std::string labels;
  size_t i = 0;
  for (std::string_view v : values) {
    AppendCat(&labels, i == 0 ? "" : ",", label_names_[i], "=\"", EscapeLabel(v), "\"");
    ++i;
  }
  absl::MutexLock l(&mu_);
  auto [it, added] = series_.try_emplace(std::move(labels));
  Series& s = it->second;
  if (added) s.first = std::string(*values.begin());
  ++s.count;
  s.sum += seconds;
  for (size_t b = 0; b < kBuckets.size(); ++b) s.buckets[b] += seconds <= kBuckets[b];
}

void LatencyHistograms::Append(std::string* out,
                               absl::FunctionRef<bool(std::string_view first)> keep) const {
  std::string counter;
  if (!counter_.empty()) {
    counter = Cat("# HELP ", counter_, " ", counter_help_, "\n# TYPE ", counter_, " counter\n");
  }
  AppendCat(out, "# HELP ", name_, " ", help_, "\n# TYPE ", name_, " histogram\n");
  absl::MutexLock l(&mu_);
  for (const auto& [labels, s] : series_) {
    if (!keep(s.first)) continue;
    if (!counter_.empty()) AppendCat(&counter, counter_, "{", labels, "} ", s.count, "\n");
    for (size_t b = 0; b < kBuckets.size(); ++b) {
      AppendCat(out, name_, "_bucket{", labels, ",le=\"", kBuckets[b], "\"} ", s.buckets[b],
                "\n");
    }
    AppendCat(out, name_, "_bucket{", labels, ",le=\"+Inf\"} ", s.count, "\n");
    AppendCat(out, name_, "_sum{", labels, "} ", s.sum, "\n");
    AppendCat(out, name_, "_count{", labels, "} ", s.count, "\n");
  }
  *out += counter;
}

void LatencyHistograms::Forget(std::string_view first) {
  absl::MutexLock l(&mu_);
  std::erase_if(series_, [&](const auto& entry) { return entry.second.first == first; });
}

}  // namespace proximadb::server
