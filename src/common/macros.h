// Error-propagation and invariant macros used across ProximaDB.
//
// PROXIMADB_RETURN_IF_ERROR(expr): returns the Status of `expr` when it is not OK.
// PROXIMADB_ASSIGN_OR_RETURN(lhs, expr): unwraps a StatusOr or returns its error.
// PROXIMADB_CHECK(cond): aborts with file, line and the condition when an invariant breaks;
// always on, also in release builds, because a broken invariant in a storage engine must not
// be allowed to write more data.
#pragma once

#include <cstdio>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define PROXIMADB_CONCAT_INNER(a, b) a##b
#define PROXIMADB_CONCAT(a, b) PROXIMADB_CONCAT_INNER(a, b)

#define PROXIMADB_RETURN_IF_ERROR(expr)            \
  do {                                             \
    ::absl::Status _proximadb_status = (expr);     \
    if (!_proximadb_status.ok()) return _proximadb_status; \
  } while (0)

#define PROXIMADB_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                    \
  if (!tmp.ok()) return std::move(tmp).status();        \
  lhs = std::move(tmp).value()

#define PROXIMADB_ASSIGN_OR_RETURN(lhs, expr) \
  PROXIMADB_ASSIGN_OR_RETURN_IMPL(PROXIMADB_CONCAT(_proximadb_or_, __LINE__), lhs, expr)

#define PROXIMADB_CHECK(cond)                                                        \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      std::fprintf(stderr, "%s:%d: PROXIMADB_CHECK failed: %s\n", __FILE__, __LINE__, \
                   #cond);                                                           \
      std::abort();                                                                  \
    }                                                                                \
  } while (0)
