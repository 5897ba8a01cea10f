// Fuzz target: the filter language. The first line of the input is a filter, each further line
// a record's metadata. A filter must parse or fail with an error, never crash; and where it
// parses, its two evaluators (Filter::Matches on one document, FieldIndex::Select over rows
// through typed indexes) must agree on every record whose metadata is a JSON object.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "filter/field_index.h"
#include "filter/filter.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using proximadb::FieldIndex;
  using proximadb::Filter;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  auto filter = Filter::Parse(input.substr(0, newline));
  if (!filter.ok() || filter->matches_all() || newline == std::string_view::npos) return 0;
  std::vector<std::string_view> rows;
  for (std::string_view rest = input.substr(newline + 1); !rest.empty();) {
    const size_t end = rest.find('\n');
    const std::string_view row = rest.substr(0, end);
    if (nlohmann::json::accept(row) && nlohmann::json::parse(row).is_object()) {
      rows.push_back(row);
    }
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  }
  if (rows.empty()) return 0;
  FieldIndex index;
  const auto selected = index.Select(*filter, static_cast<uint32_t>(rows.size()),
                                     [&](uint32_t row) { return rows[row]; });
  for (uint32_t r = 0; r < rows.size(); ++r) {
    if (filter->Matches(rows[r]) != selected.contains(r)) std::abort();
  }
  return 0;
}
