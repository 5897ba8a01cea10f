// A deterministic write workload shared by the power-loss and crash tests, with the expected
// state it produces: batch b of a stream is fully determined by (seed, b), so a checker can
// rebuild the records after any number of batches and compare a recovered collection to them
// through every read path (get, count, scroll, search, with and without filters).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "proximadb/collection.h"

namespace proximadb::testing {

// id -> the live record.
using Records = std::map<std::string, Record>;

class Workload {
 public:
  // Ids are "<prefix><n>" for n < universe; dimension `dim`.
  Workload(std::string prefix, uint64_t seed, uint32_t universe, uint32_t dim)
      : prefix_(std::move(prefix)), seed_(seed), universe_(universe), dim_(dim) {}

  // Batch b (from 1) touches up to 20 random ids: every third batch deletes them (one atomic
  // Delete call), the others upsert them (one atomic Write call) with a vector drawn from
  // (prefix, id, b) and metadata {"b": b}.
  bool IsDelete(uint64_t b) const { return b % 3 == 0; }

  std::vector<Record> Make(uint64_t b) const {
    std::mt19937_64 rng(seed_ * 1000003 + b);
    std::map<uint32_t, bool> touched;  // distinct ids, in a deterministic order
    const int n = 1 + static_cast<int>(rng() % 20);
    for (int i = 0; i < n; ++i) touched[static_cast<uint32_t>(rng() % universe_)] = true;
    std::vector<Record> records;
    for (const auto& [n_id, unused] : touched) records.push_back(RecordFor(n_id, b));
    return records;
  }

  absl::Status Apply(Collection& c, uint64_t b) const {
    std::vector<Record> records = Make(b);
    if (!IsDelete(b)) return c.Write(std::move(records), WriteMode::kUpsert);
    std::vector<std::string> ids;
    for (const Record& r : records) ids.push_back(r.id);
    return c.Delete(ids).status();
  }

  // The live records after batches 1..n. Continues from the last call's state when n is not
  // below it, so that checking after each of many rounds costs each batch once. Not
  // thread-safe.
  Records After(uint64_t n) const {
    if (n < after_n_) {
      after_ = {};
      after_n_ = 0;
    }
    for (uint64_t b = after_n_ + 1; b <= n; ++b) {
      for (Record& r : Make(b)) {
        if (IsDelete(b)) {
          after_.erase(r.id);
        } else {
          after_[r.id] = std::move(r);
        }
      }
    }
    after_n_ = n;
    return after_;
  }

  // This workload's records as the collection has them (by id); nullopt with `why` on error.
  std::optional<Records> Read(Collection& c, std::string* why) const {
    std::vector<std::string> ids;
    for (uint32_t i = 0; i < universe_; ++i) ids.push_back(prefix_ + std::to_string(i));
    auto records = c.GetMany(ids);
    if (!records.ok()) {
      *why = records.status().ToString();
      return std::nullopt;
    }
    Records state;
    for (Record& r : *records) state[r.id] = std::move(r);
    return state;
  }

  // How many of the batches after `acked` the collection holds: 0 or 1 (the batch in flight
  // when the process or the power died, applied entirely or not at all); nullopt with `why`
  // when it holds neither state.
  std::optional<uint64_t> BatchesBeyond(Collection& c, uint64_t acked, std::string* why) const {
    std::optional<Records> state = Read(c, why);
    if (!state) return std::nullopt;
    if (*state == After(acked)) return 0;
    if (*state == After(acked + 1)) return 1;
    *why = prefix_ + ": the records match neither " + std::to_string(acked) + " nor " +
           std::to_string(acked + 1) + " batches" + FirstDifference(*state, After(acked));
    return std::nullopt;
  }

 private:
  Record RecordFor(uint32_t n_id, uint64_t b) const {
    Record r;
    r.id = prefix_ + std::to_string(n_id);
    std::mt19937_64 rng(std::hash<std::string>()(r.id) ^ (b * 0x9e3779b97f4a7c15ull));
    std::uniform_real_distribution<float> u(-1, 1);
    r.vector.resize(dim_);
    for (float& x : r.vector) x = u(rng);
    r.metadata = "{\"b\":" + std::to_string(b) + "}";
    return r;
  }

  static std::string FirstDifference(const Records& got, const Records& want) {
    for (const auto& [id, r] : want) {
      auto it = got.find(id);
      if (it == got.end()) return "; first difference: " + id + " is missing";
      if (!(it->second == r)) return "; first difference: " + id + " has " + it->second.metadata;
    }
    for (const auto& [id, r] : got) {
      if (!want.contains(id)) return "; first difference: " + id + " should not exist";
    }
    return "";
  }

  const std::string prefix_;
  const uint64_t seed_;
  const uint32_t universe_;
  const uint32_t dim_;
  mutable Records after_;  // After's state after its last call: batches 1..after_n_
  mutable uint64_t after_n_ = 0;
};

// Compares everything a reader can see of a collection with `want`, its exact live records:
// get, count and scroll (whole records, unfiltered and with a range filter), and search (the
// exact top 10 of a few queries against a brute force here, every record found by its own
// vector, nothing deleted coming back). Returns "" when all agree, else the first difference.
std::string CheckCollection(Collection& c, const Records& want, DistanceMetric metric);

}  // namespace proximadb::testing
