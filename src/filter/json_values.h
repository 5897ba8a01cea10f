// The values a filter path reaches in a metadata document, and how they compare with a filter
// operand: the one definition that Filter::Matches and FieldIndex both use. Internal to
// src/filter.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "filter/filter.h"

namespace proximadb {

// Walks `parts` from `node`: arrays fan out over their elements; at the end a scalar is one
// value and an array contributes its scalar elements. `present` is set when the path leads
// anywhere at all.
inline void CollectValues(const nlohmann::json& node, const std::vector<std::string>& parts,
                          bool* present, std::vector<const nlohmann::json*>* values,
                          size_t i = 0) {
  if (i == parts.size()) {
    *present = true;
    if (node.is_array()) {
      for (const auto& e : node) {
        if (e.is_primitive()) values->push_back(&e);
      }
    } else if (node.is_primitive()) {
      values->push_back(&node);
    }
    return;
  }
  if (node.is_object()) {
    auto it = node.find(parts[i]);
    if (it != node.end()) CollectValues(*it, parts, present, values, i + 1);
  } else if (node.is_array()) {
    for (const auto& e : node) CollectValues(e, parts, present, values, i);
  }
}

inline bool ScalarEquals(const nlohmann::json& v, const FilterScalar& s) {
  switch (s.type) {
    case FilterScalar::kNull: return v.is_null();
    case FilterScalar::kBool: return v.is_boolean() && v.get<bool>() == s.boolean;
    case FilterScalar::kNumber: return v.is_number() && v.get<double>() == s.number;
    case FilterScalar::kString:
      return v.is_string() && v.get_ref<const std::string&>() == s.string;
  }
  return false;
}

inline constexpr int kIncomparable = 2;

// -1, 0 or 1 as `v` is below, equal to or above `s`; kIncomparable unless both are numbers or
// both are strings.
inline int ScalarCompare(const nlohmann::json& v, const FilterScalar& s) {
  if (s.type == FilterScalar::kNumber && v.is_number()) {
    const double d = v.get<double>();
    return d < s.number ? -1 : d > s.number ? 1 : 0;
  }
  if (s.type == FilterScalar::kString && v.is_string()) {
    const int c = std::string_view(v.get_ref<const std::string&>()).compare(s.string);
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  return kIncomparable;
}

}  // namespace proximadb
