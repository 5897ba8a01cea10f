// FAISS IndexHNSWFlat and IndexHNSWSQ (8-bit scalar codes) from Debian's prebuilt libfaiss
// (1.7.3): it is compiled the way Debian compiles it, which we cannot change. (bench/ann_peers.py
// runs FAISS 1.15 from PyPI and ScaNN.) Filtered queries use its IDSelector, checked during the
// graph traversal.
#include <faiss/IndexHNSW.h>
#include <faiss/impl/IDSelector.h>
#include <omp.h>

#include "ann_systems.h"

namespace proximadb::bench {
namespace {

// Rows allowed by a byte mask, without FAISS's per-call allocation of a set.
struct MaskSelector final : faiss::IDSelector {
  explicit MaskSelector(const std::vector<uint8_t>& m) : mask(m) {}
  bool is_member(faiss::Index::idx_t id) const override { return mask[static_cast<size_t>(id)] != 0; }
  const std::vector<uint8_t>& mask;
};

class Faiss final : public AnnSystem {
 public:
  explicit Faiss(bool sq8) : sq8_(sq8) {}
  std::string name() const override { return sq8_ ? "faiss-sq8" : "faiss"; }
  std::string quantization() const override { return sq8_ ? "sq8" : "none"; }
  std::string filter_mode() const override { return "IDSelector"; }

  void Build(const float* data, uint32_t n, uint32_t dim, uint32_t m, uint32_t ef_construction,
             int threads) override {
    if (sq8_) {
      index_ = std::make_unique<faiss::IndexHNSWSQ>(dim, faiss::ScalarQuantizer::QT_8bit, m);
    } else {
      index_ = std::make_unique<faiss::IndexHNSWFlat>(dim, m);
    }
    index_->hnsw.efConstruction = ef_construction;
    omp_set_num_threads(threads);
    index_->train(n, data);
    index_->add(n, data);
    omp_set_num_threads(1);  // one query, one thread: the benchmark runs the threads
  }

  void SetEf(uint32_t ef) override {
    ef_ = ef;
    index_->hnsw.efSearch = static_cast<int>(ef);  // 1.7.3 does not always honour the params'
  }

  uint32_t Search(const float* query, uint32_t k, uint32_t* out) const override {
    faiss::SearchParametersHNSW params;
    params.efSearch = static_cast<int>(ef_);
    return Run(query, k, &params, out);
  }

  uint32_t SearchFiltered(const float* query, uint32_t k, const std::vector<uint64_t>&, uint32_t,
                          const std::vector<uint8_t>& mask, uint32_t* out) const override {
    MaskSelector sel(mask);
    faiss::SearchParametersHNSW params;
    params.efSearch = static_cast<int>(ef_);
    params.sel = &sel;
    return Run(query, k, &params, out);
  }

  size_t IndexBytes() const override {
    const faiss::HNSW& h = index_->hnsw;
    const size_t vector_bytes = sq8_ ? 1 : sizeof(float);
    return index_->ntotal * index_->d * vector_bytes + h.neighbors.size() * sizeof(h.neighbors[0]) +
           h.offsets.size() * sizeof(h.offsets[0]) + h.levels.size() * sizeof(h.levels[0]);
  }

 private:
  uint32_t Run(const float* query, uint32_t k, const faiss::SearchParametersHNSW* params,
               uint32_t* out) const {
    std::vector<float> distances(k);
    std::vector<faiss::Index::idx_t> labels(k);
    index_->search(1, query, k, distances.data(), labels.data(), params);
    uint32_t count = 0;
    for (uint32_t i = 0; i < k; ++i) {
      if (labels[i] >= 0) out[count++] = static_cast<uint32_t>(labels[i]);
    }
    return count;
  }

  const bool sq8_;
  std::unique_ptr<faiss::IndexHNSW> index_;
  uint32_t ef_ = 10;
};

}  // namespace

std::unique_ptr<AnnSystem> MakeFaiss(bool sq8) { return std::make_unique<Faiss>(sq8); }

}  // namespace proximadb::bench
