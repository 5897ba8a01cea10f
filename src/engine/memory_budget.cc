#include "engine/memory_budget.h"

#include "absl/strings/str_cat.h"
#include "common/errors.h"

namespace proximadb {

absl::Status MemoryBudget::Admit() const {
  if (budget_ == 0 || used() <= 2 * budget_) return absl::OkStatus();
  return WithErrorCode(
      absl::ResourceExhaustedError(absl::StrCat(
          "memtables hold ", used() >> 20, " MiB, twice the memory budget of ", budget_ >> 20,
          " MiB ([storage] memtable_size_mb): flushes are catching up; retry shortly")),
      "RESOURCE_EXHAUSTED");
}

}  // namespace proximadb
