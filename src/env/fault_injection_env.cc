#include "env/fault_injection_env.h"

#include "absl/strings/str_cat.h"
#include "common/enum_names.h"

namespace proximadb {
namespace {

using Op = FaultInjectionEnv::Op;
constexpr EnumName<Op> kOpNames[] = {
    {Op::kAppend, "append"},   {Op::kSync, "fsync"},     {Op::kRename, "rename"},
    {Op::kSyncDir, "fsync of directory"}, {Op::kCreate, "create"}, {Op::kRemove, "remove"},
    {Op::kTruncate, "truncate"}};

}  // namespace

void FaultInjectionEnv::FailAfter(Op op, std::string path_substring, int skip, int count,
                                  absl::StatusCode code) {
  absl::MutexLock l(&fault_mu_);
  rules_.push_back(Rule{op, std::move(path_substring), skip, count, 0, code});
}

void FaultInjectionEnv::FailOneIn(Op op, std::string path_substring, int n, uint64_t seed) {
  absl::MutexLock l(&fault_mu_);
  rng_.seed(seed);
  rules_.push_back(Rule{op, std::move(path_substring), 0, 0, n});
}

void FaultInjectionEnv::ClearFaults() {
  absl::MutexLock l(&fault_mu_);
  rules_.clear();
}

int FaultInjectionEnv::injected_failures() const {
  absl::MutexLock l(&fault_mu_);
  return injected_;
}

absl::Status FaultInjectionEnv::MaybeFail(Op op, const std::string& path) {
  absl::MutexLock l(&fault_mu_);
  for (Rule& r : rules_) {
    if (r.op != op || path.find(r.path_substring) == std::string::npos) continue;
    bool fail = false;
    if (r.one_in > 0) {
      fail = std::uniform_int_distribution<int>(0, r.one_in - 1)(rng_) == 0;
    } else if (r.skip > 0) {
      --r.skip;
    } else if (r.count > 0) {
      --r.count;
      fail = true;
    }
    if (fail) {
      ++injected_;
      return absl::Status(r.code, absl::StrCat("injected ", NameOf(kOpNames, op), " failure on ",
                                               path, r.code == absl::StatusCode::kResourceExhausted
                                                         ? ": No space left on device"
                                                         : ""));
    }
  }
  return absl::OkStatus();
}

void FaultInjectionEnv::PowerLossAfterOps(int n, PowerLoss loss) {
  absl::MutexLock l(&fault_mu_);
  power_loss_after_ = n;
  ops_counted_ = 0;
  power_loss_ = loss;
  power_loss_happened_ = false;
}

int FaultInjectionEnv::ops_counted() const {
  absl::MutexLock l(&fault_mu_);
  return ops_counted_;
}

bool FaultInjectionEnv::power_loss_happened() const {
  absl::MutexLock l(&fault_mu_);
  return power_loss_happened_;
}

size_t FaultInjectionEnv::pending_at_power_loss() const {
  absl::MutexLock l(&fault_mu_);
  return pending_at_power_loss_;
}

void FaultInjectionEnv::AfterOp(Op, const std::string&) {
  absl::MutexLock l(&fault_mu_);
  if (power_loss_after_ == 0 || ++ops_counted_ != power_loss_after_) return;
  pending_at_power_loss_ = pending_entry_ops();
  power_loss_happened_ = true;
  SimulatePowerLoss(power_loss_);
}

}  // namespace proximadb
