// FaultInjectionEnv: a MemEnv (so power loss can be simulated) that also fails chosen
// operations: "fail the 3rd fsync of a file whose path contains 'MANIFEST'", or a failure one
// time in N at random. A failed append writes nothing, a failed fsync makes nothing durable, a
// failed rename renames nothing. It can also cut the power right after the n-th operation, so
// a test can cut it at every step of a flush in turn.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "env/mem_env.h"

namespace proximadb {

class FaultInjectionEnv : public MemEnv {
 public:
  using Op = MemEnv::Op;

  // After `skip` matching calls have succeeded, fails the next `count` calls of `op` whose path
  // contains `path_substring` (empty matches all paths), with an error of `code`
  // (kResourceExhausted reads as ENOSPC: a full disk).
  void FailAfter(Op op, std::string path_substring, int skip, int count = 1,
                 absl::StatusCode code = absl::StatusCode::kInternal);
  // Fails each call of `op` (on paths containing `path_substring`) with probability 1/n.
  void FailOneIn(Op op, std::string path_substring, int n, uint64_t seed);
  void ClearFaults();

  // Cuts the power (SimulatePowerLoss(loss)) right after the n-th operation from now that
  // succeeds (appends, creates, fsyncs, renames, removals, truncations); n = 0 disarms. "Right
  // after" in the thread that made it: another thread's operation may land in between.
  void PowerLossAfterOps(int n, PowerLoss loss);
  // Operations counted since PowerLossAfterOps, and whether its power loss happened.
  int ops_counted() const;
  bool power_loss_happened() const;
  // How many directory changes were pending when that power loss came (so a test can try
  // every subset of them as PowerLoss::kept_entry_ops).
  size_t pending_at_power_loss() const;
  // How many operations this Env has failed on purpose.
  int injected_failures() const;

 protected:
  absl::Status MaybeFail(Op op, const std::string& path) override;
  void AfterOp(Op op, const std::string& path) override;

 private:
  struct Rule {
    Op op;
    std::string path_substring;
    int skip;
    int count;
    int one_in;  // 0: deterministic (skip/count)
    absl::StatusCode code = absl::StatusCode::kInternal;
  };
  mutable absl::Mutex fault_mu_;
  std::vector<Rule> rules_ ABSL_GUARDED_BY(fault_mu_);
  std::mt19937_64 rng_ ABSL_GUARDED_BY(fault_mu_);
  int injected_ ABSL_GUARDED_BY(fault_mu_) = 0;
  int power_loss_after_ ABSL_GUARDED_BY(fault_mu_) = 0;
  int ops_counted_ ABSL_GUARDED_BY(fault_mu_) = 0;
  PowerLoss power_loss_ ABSL_GUARDED_BY(fault_mu_);
  bool power_loss_happened_ ABSL_GUARDED_BY(fault_mu_) = false;
  size_t pending_at_power_loss_ ABSL_GUARDED_BY(fault_mu_) = 0;
};

}  // namespace proximadb
