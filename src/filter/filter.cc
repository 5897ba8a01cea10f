#include "filter/filter.h"

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace proximadb {

struct Filter::Impl {
  struct Condition {
    std::vector<std::string> path;
    nlohmann::json expected;
  };
  std::vector<Condition> conditions;
};

namespace {

bool ValueEquals(const nlohmann::json& a, const nlohmann::json& b) {
  if (a.is_number() && b.is_number()) return a.get<double>() == b.get<double>();
  return a == b;
}

std::vector<std::string> SplitPath(const std::string& key) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dot = key.find('.', start);
    parts.push_back(key.substr(start, dot - start));
    if (dot == std::string::npos) return parts;
    start = dot + 1;
  }
}

// Walks `path` from `node`; arrays on the way fan out (any element may lead to a match).
bool PathMatches(const nlohmann::json& node, const std::vector<std::string>& path, size_t i,
                 const nlohmann::json& expected) {
  if (i == path.size()) {
    if (ValueEquals(node, expected)) return true;
    if (node.is_array()) {
      for (const auto& e : node) {
        if (ValueEquals(e, expected)) return true;
      }
    }
    return false;
  }
  if (node.is_object()) {
    auto it = node.find(path[i]);
    return it != node.end() && PathMatches(*it, path, i + 1, expected);
  }
  if (node.is_array()) {
    for (const auto& e : node) {
      if (PathMatches(e, path, i, expected)) return true;
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<Filter> Filter::Parse(std::string_view json) {
  Filter f;
  if (json.empty()) return f;
  nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return absl::InvalidArgumentError("filter is not valid JSON");
  if (!doc.is_object()) {
    return absl::InvalidArgumentError(std::string("filter must be a JSON object, not ") +
                                      doc.type_name());
  }
  if (doc.empty()) return f;
  auto impl = std::make_shared<Impl>();
  for (auto& [key, value] : doc.items()) {
    if (key.empty() || key.front() == '$') {
      return absl::InvalidArgumentError("filter: '" + key +
                                        "' is not supported yet (only field equality is)");
    }
    if (value.is_object()) {
      for (auto& [op, unused] : value.items()) {
        if (!op.empty() && op.front() == '$') {
          return absl::InvalidArgumentError("filter: operator '" + op + "' at '" + key +
                                            "' is not supported yet (only equality is)");
        }
      }
    }
    for (const std::string& part : SplitPath(key)) {
      if (part.empty()) {
        return absl::InvalidArgumentError("filter: path '" + key + "' has an empty segment");
      }
    }
    impl->conditions.push_back({SplitPath(key), value});
  }
  f.impl_ = std::move(impl);
  return f;
}

bool Filter::Matches(std::string_view metadata) const {
  if (impl_ == nullptr) return true;
  nlohmann::json doc = nlohmann::json::parse(metadata, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return false;
  for (const auto& c : impl_->conditions) {
    if (!PathMatches(doc, c.path, 0, c.expected)) return false;
  }
  return true;
}

}  // namespace proximadb
