#include "engine/memory_budget.h"

#include "absl/strings/str_cat.h"
#include "common/errors.h"

namespace proximadb {

absl::Status MemoryBudget::Admit() const {
  if (budget_ == 0 || used() <= 2 * budget_) return absl::OkStatus();
  if (disk_full_.load(std::memory_order_relaxed)) {
    return WithErrorCode(
        absl::ResourceExhaustedError(absl::StrCat(
            "memtables hold ", used() >> 20, " MiB, twice the memory budget of ", budget_ >> 20,
            " MiB, and the disk is too full to flush them: writes go on once there is space")),
        kInsufficientStorage);
  }
  return WithErrorCode(
      absl::ResourceExhaustedError(absl::StrCat(
          "memtables hold ", used() >> 20, " MiB, twice the memory budget of ", budget_ >> 20,
          " MiB ([storage] memtable_size_mb): flushes are catching up; retry shortly")),
      "RESOURCE_EXHAUSTED");
}

}  // namespace proximadb
