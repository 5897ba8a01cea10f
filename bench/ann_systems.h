// The systems bench/ann compares, behind one interface. Each peer lives in its own translation
// unit so that it is compiled the way it is at its best (hnswlib with -O3 -march=native).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "proximadb/types.h"

namespace proximadb::bench {

class AnnSystem {
 public:
  virtual ~AnnSystem() = default;
  virtual std::string name() const = 0;
  // How the vectors are compressed ("none", "sq8", "pq", "binary"), for the JSON rows.
  virtual std::string quantization() const { return "none"; }
  // ProximaDB's storage strategy whose segment search this is ("standard", "viper"), or "peer".
  virtual std::string strategy() const { return "peer"; }
  // How this system's filtered search works, for the table.
  virtual std::string filter_mode() const = 0;
  // Builds an L2 index over data[n * dim] with `threads` threads.
  virtual void Build(const float* data, uint32_t n, uint32_t dim, uint32_t m,
                     uint32_t ef_construction, int threads) = 0;
  // Called (single-threaded) before a series of searches with this ef.
  virtual void SetEf(uint32_t ef) = 0;
  // Thread-safe. Writes up to k rows into out, best first; returns how many.
  virtual uint32_t Search(const float* query, uint32_t k, uint32_t* out) const = 0;
  // Thread-safe. Only the rows the filter allows: allowed_mask[row] != 0, or bit row of
  // allowed_bitmap (the same set, each system takes the form it can use); `count` of them.
  virtual uint32_t SearchFiltered(const float* query, uint32_t k,
                                  const std::vector<uint64_t>& allowed_bitmap, uint32_t count,
                                  const std::vector<uint8_t>& allowed_mask,
                                  uint32_t* out) const = 0;
  // What the filtered searches since the last call did (plans, distances), or "".
  virtual std::string TakeFilterStats() { return ""; }
  // The filtered plans that can be forced ("" first: the system's own choice); SetPlan picks
  // one for the following filtered searches.
  virtual std::vector<std::string> FilterPlans() const { return {""}; }
  virtual void SetPlan(const std::string&) {}
  // Bytes of the index including its copy or view of the vectors.
  virtual size_t IndexBytes() const = 0;
};

std::unique_ptr<AnnSystem> MakeProximaDB(Quantization quantization);
// The viper strategy's segment search (IVF partitions + sq8 or pq4 codes); its ef is nprobe.
std::unique_ptr<AnnSystem> MakeProximaDBViper(Quantization q);
std::unique_ptr<AnnSystem> MakeHnswlib();
// sq8: IndexHNSWSQ with 8-bit scalar codes, else IndexHNSWFlat.
std::unique_ptr<AnnSystem> MakeFaiss(bool sq8);

}  // namespace proximadb::bench
