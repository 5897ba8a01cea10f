// hnswlib (Debian libhnswlib-dev 0.6.2), compiled with -O3 -march=native (see CMakeLists.txt)
// so that its distance code uses AVX-512 like ours. 0.6.2 has no filtered search: filtered
// queries ask for more neighbours and drop the disallowed ones (post-filtering).
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "ann_systems.h"

namespace proximadb::bench {
namespace {

class Hnswlib final : public AnnSystem {
 public:
  std::string name() const override { return "hnswlib"; }
  std::string filter_mode() const override { return "post-filter"; }

  void Build(const float* data, uint32_t n, uint32_t dim, uint32_t m, uint32_t ef_construction,
             int threads) override {
    space_ = std::make_unique<hnswlib::L2Space>(dim);
    index_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(space_.get(), n, m,
                                                               ef_construction, 100);
    n_ = n;
    std::atomic<uint32_t> next{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&] {
        for (uint32_t r; (r = next.fetch_add(1)) < n;) index_->addPoint(data + size_t{r} * dim, r);
      });
    }
    for (auto& w : workers) w.join();
  }

  void SetEf(uint32_t ef) override {
    ef_ = ef;
    index_->setEf(ef);
  }

  uint32_t Search(const float* query, uint32_t k, uint32_t* out) const override {
    auto pq = index_->searchKnn(query, k);
    uint32_t count = static_cast<uint32_t>(pq.size());
    for (uint32_t i = count; i-- > 0; pq.pop()) out[i] = static_cast<uint32_t>(pq.top().second);
    return count;
  }

  uint32_t SearchFiltered(const float* query, uint32_t k, const std::vector<uint64_t>&,
                          uint32_t allowed, const std::vector<uint8_t>& mask,
                          uint32_t* out) const override {
    // Ask for enough neighbours that k of them are allowed on average, twice over.
    const double selectivity = double(allowed) / n_;
    const size_t want = std::min<size_t>(n_, size_t(2 * k / std::max(selectivity, 1e-9)) + k);
    auto pq = index_->searchKnn(query, want);  // searchKnn uses max(ef, want)
    std::vector<uint32_t> rows;
    while (!pq.empty()) {
      rows.push_back(static_cast<uint32_t>(pq.top().second));
      pq.pop();
    }
    uint32_t count = 0;
    for (auto it = rows.rbegin(); it != rows.rend() && count < k; ++it) {
      if (mask[*it]) out[count++] = *it;
    }
    return count;
  }

  size_t IndexBytes() const override {
    // Level-0 block (links, vector, label) per element, plus its per-element upper-list
    // pointer, level and mutex, plus the upper lists.
    size_t bytes = index_->max_elements_ * (index_->size_data_per_element_ + sizeof(void*) +
                                            sizeof(int) + sizeof(std::mutex));
    for (size_t i = 0; i < index_->cur_element_count; ++i) {
      bytes += index_->element_levels_[i] * index_->size_links_per_element_;
    }
    return bytes;
  }

 private:
  std::unique_ptr<hnswlib::L2Space> space_;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> index_;
  uint32_t n_ = 0;
  uint32_t ef_ = 10;
};

}  // namespace

std::unique_ptr<AnnSystem> MakeHnswlib() { return std::make_unique<Hnswlib>(); }

}  // namespace proximadb::bench
