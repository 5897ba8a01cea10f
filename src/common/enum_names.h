// The names of an enum's values, written once as a table that serves both directions (value to
// name for output, name to value for parsing), so that no enum has its names in two switches.
//
//   constexpr EnumName<Plan> kPlanNames[] = {{Plan::kExact, "exact"}, {Plan::kGraph, "graph"}};
//   NameOf(kPlanNames, Plan::kGraph)  -> "graph"
//   ValueOf(kPlanNames, "exact")      -> Plan::kExact
//
// A value may have several names (aliases): NameOf returns its first.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace proximadb {

template <typename E>
struct EnumName {
  E value;
  const char* name;
};

// The first name of `value`, or "?" for a value the table lacks.
template <typename E, size_t N>
constexpr const char* NameOf(const EnumName<E> (&table)[N], E value) {
  for (const EnumName<E>& e : table) {
    if (e.value == value) return e.name;
  }
  return "?";
}

// The value named `name`, if the table has it.
template <typename E, size_t N>
constexpr std::optional<E> ValueOf(const EnumName<E> (&table)[N], std::string_view name) {
  for (const EnumName<E>& e : table) {
    if (name == e.name) return e.value;
  }
  return std::nullopt;
}

// Every name, comma-separated ("cosine, l2, euclidean, dot"), for error messages.
template <typename E, size_t N>
std::string NamesOf(const EnumName<E> (&table)[N]) {
  std::string out;
  for (const EnumName<E>& e : table) {
    if (!out.empty()) out += ", ";
    out += e.name;
  }
  return out;
}

}  // namespace proximadb
