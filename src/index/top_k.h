// BoundedTopK: the k smallest values pushed (by `Less`), smallest first. A max-heap of at most
// k values, so that a value no better than the k-th costs one comparison. The one top-k of the
// search paths: flat scans, the planner's exact plan, the engine's merge of its layers' hits,
// and scroll pages (the smallest ids after a cursor).
//
// Not thread-safe.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <vector>

namespace proximadb::index {

template <typename T, typename Less = std::less<T>>
class BoundedTopK {
 public:
  // Grows with what it keeps, not to k up front: k may be far above the candidates there are.
  explicit BoundedTopK(size_t k, Less less = Less()) : k_(k), less_(std::move(less)) {}

  // Whether Push(v) would keep `v` now.
  bool Accepts(const T& v) const {
    return heap_.size() < k_ || (k_ > 0 && less_(v, heap_.front()));
  }
  // Keeps `v` if it is among the k smallest so far (dropping the largest kept); returns
  // whether it did.
  bool Push(T v) {
    if (!Accepts(v)) return false;
    if (heap_.size() == k_) {
      std::pop_heap(heap_.begin(), heap_.end(), less_);
      heap_.back() = std::move(v);
    } else {
      heap_.push_back(std::move(v));
    }
    std::push_heap(heap_.begin(), heap_.end(), less_);
    return true;
  }

  size_t size() const { return heap_.size(); }
  // The largest value kept once k are (what a value has to beat to be kept), or null.
  const T* worst() const { return k_ > 0 && heap_.size() == k_ ? &heap_.front() : nullptr; }

  // The values kept, smallest first; leaves the heap empty.
  std::vector<T> Take() {
    std::sort_heap(heap_.begin(), heap_.end(), less_);
    return std::move(heap_);
  }

 private:
  const size_t k_;
  Less less_;
  std::vector<T> heap_;
};

}  // namespace proximadb::index
