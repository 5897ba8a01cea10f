// A deterministic write workload shared by the power-loss and crash tests, with the expected
// state it produces: batch b of a stream is fully determined by (seed, b), so a checker can
// rebuild the state after any number of batches and compare a recovered collection to it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "proximadb/collection.h"

namespace proximadb::testing {

class Workload {
 public:
  // Ids are "<prefix><n>" for n < universe; dimension `dim`.
  Workload(std::string prefix, uint64_t seed, uint32_t universe, uint32_t dim)
      : prefix_(std::move(prefix)), seed_(seed), universe_(universe), dim_(dim) {}

  // Batch b (from 1) touches up to 20 random ids: every third batch deletes them (one atomic
  // Delete call), the others upsert them with b in the vector and the metadata (one atomic
  // Write call).
  bool IsDelete(uint64_t b) const { return b % 3 == 0; }

  std::vector<Record> Make(uint64_t b) const {
    std::mt19937_64 rng(seed_ * 1000003 + b);
    std::map<uint32_t, bool> touched;  // distinct ids, in a deterministic order
    const int n = 1 + static_cast<int>(rng() % 20);
    for (int i = 0; i < n; ++i) touched[static_cast<uint32_t>(rng() % universe_)] = true;
    std::vector<Record> records;
    for (const auto& [n_id, unused] : touched) {
      std::vector<float> v(dim_);
      for (uint32_t j = 0; j < dim_; ++j) v[j] = static_cast<float>(b) + 0.25f * j;
      records.push_back({prefix_ + std::to_string(n_id), v, "{\"b\":" + std::to_string(b) + "}"});
    }
    return records;
  }

  absl::Status Apply(Collection& c, uint64_t b) const {
    std::vector<Record> records = Make(b);
    if (!IsDelete(b)) return c.Write(std::move(records), WriteMode::kUpsert);
    std::vector<std::string> ids;
    for (const Record& r : records) ids.push_back(r.id);
    return c.Delete(ids).status();
  }

  // The state after batches 1..n: id -> batch number of its live version.
  std::map<std::string, uint64_t> StateAfter(uint64_t n) const {
    std::map<std::string, uint64_t> state;
    for (uint64_t b = 1; b <= n; ++b) {
      for (const Record& r : Make(b)) {
        if (IsDelete(b)) {
          state.erase(r.id);
        } else {
          state[r.id] = b;
        }
      }
    }
    return state;
  }

  // The collection's state restricted to this workload's ids; nullopt (with `why`) if a record
  // is malformed (a half-applied batch would show as a vector not matching its metadata).
  std::optional<std::map<std::string, uint64_t>> Read(Collection& c, std::string* why) const {
    std::vector<std::string> ids;
    for (uint32_t i = 0; i < universe_; ++i) ids.push_back(prefix_ + std::to_string(i));
    auto records = c.GetMany(ids);
    if (!records.ok()) {
      *why = records.status().ToString();
      return std::nullopt;
    }
    std::map<std::string, uint64_t> state;
    for (const Record& r : *records) {
      const uint64_t b = static_cast<uint64_t>(r.vector.at(0));
      if (r.metadata != "{\"b\":" + std::to_string(b) + "}" || r.vector.size() != dim_) {
        *why = "record " + r.id + " has vector of batch " + std::to_string(b) + " and metadata " +
               r.metadata;
        return std::nullopt;
      }
      state[r.id] = b;
    }
    return state;
  }

  uint32_t universe() const { return universe_; }

 private:
  const std::string prefix_;
  const uint64_t seed_;
  const uint32_t universe_;
  const uint32_t dim_;
};

}  // namespace proximadb::testing
