// StrCat over std::string_view too. Debian's Abseil is built with its own absl::string_view
// (not an alias of std::string_view), so absl::StrCat does not take std::string_view
// arguments; Cat (and AppendCat) convert them and pass everything else through.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"

namespace proximadb {

namespace strings_internal {
inline absl::string_view Arg(std::string_view s) { return {s.data(), s.size()}; }
template <typename T>
const T& Arg(const T& v) {
  return v;
}
}  // namespace strings_internal

template <typename... Args>
std::string Cat(const Args&... args) {
  return absl::StrCat(strings_internal::Arg(args)...);
}

// Cat appended to `out`.
template <typename... Args>
void AppendCat(std::string* out, const Args&... args) {
  absl::StrAppend(out, strings_internal::Arg(args)...);
}

}  // namespace proximadb

namespace proximadb {

// The pieces of `s` between `sep`s (empty pieces included), viewing `s`, in any container of
// string_views (an absl::InlinedVector spares the allocation for a few pieces).
template <typename Pieces = std::vector<std::string_view>>
Pieces Split(std::string_view s, char sep) {
  Pieces out;
  for (size_t start = 0;;) {
    const size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

}  // namespace proximadb
