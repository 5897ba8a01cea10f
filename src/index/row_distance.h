// How a search measures the distance from its query to a row: on the float32 vectors, or on the
// rows' quantized codes (src/index/quantizer.h). A graph is built on the float32 vectors and can
// be traversed either way.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "index/distance.h"
#include "index/quantizer.h"

namespace proximadb::index {

class RowDistance {
 public:
  // Rows are `dim` floats each from `vectors`.
  RowDistance(const float* query, const float* vectors, uint32_t dim, Distance distance)
      : query_(query), distance_(distance), dim_(dim),
        base_(reinterpret_cast<const uint8_t*>(vectors)), stride_(size_t{dim} * sizeof(float)),
        prefetch_bytes_(std::min(stride_, kPrefetchBytes)) {}
  // Rows are `query`'s quantizer's codes, code_size bytes each from `codes`.
  RowDistance(const Quantizer::Query* query, const uint8_t* codes, size_t code_size)
      : coded_(query), base_(codes), stride_(code_size),
        prefetch_bytes_(std::min(stride_, kPrefetchBytes)) {}

  float operator()(uint32_t row) const {
    const uint8_t* at = base_ + row * stride_;
    if (coded_ != nullptr) return coded_->Distance(at);
    return distance_(query_, reinterpret_cast<const float*>(at), dim_);
  }
  // Asks for the row's data (up to kPrefetchBytes of it) to be brought into the cache.
  void Prefetch(uint32_t row) const {
    const char* at = reinterpret_cast<const char*>(base_ + row * stride_);
    for (size_t offset = 0; offset < prefetch_bytes_; offset += 64) {
      _mm_prefetch(at + offset, _MM_HINT_T0);
    }
  }

 private:
  const float* query_ = nullptr;
  Distance distance_{};
  uint32_t dim_ = 0;
  const Quantizer::Query* coded_ = nullptr;
  // A search requests a node's unvisited neighbours' rows together before computing their
  // distances; this much of each (a whole sq8 code of up to 1,024 dimensions).
  static constexpr size_t kPrefetchBytes = 1024;

  const uint8_t* base_;
  size_t stride_;
  size_t prefetch_bytes_;
};

}  // namespace proximadb::index
