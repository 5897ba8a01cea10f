#include "index/fast_scan.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "simd/distance.h"

namespace proximadb::index {
namespace {

constexpr uint32_t kRows = simd::kFastScanRows, kRun = simd::kFastScanRun;

// Sub-quantizer j's code in a pq4 code (two per byte, the even one in the low nibble).
uint8_t Nibble(const uint8_t* code, uint32_t j) {
  return j % 2 == 0 ? code[j / 2] & 15 : code[j / 2] >> 4;
}

}  // namespace

uint32_t FastScanWidth(uint32_t pq_m) { return (pq_m + 3) / 4 * 4; }

void PackFastScanBlock(const uint8_t* codes, size_t code_size, uint32_t pq_m, uint32_t rows,
                       uint8_t* block) {
  std::memset(block, 0, size_t{FastScanWidth(pq_m)} * kRun);
  for (uint32_t slot = 0; slot < rows; ++slot) {
    const uint8_t* code = codes + slot * code_size;
    for (uint32_t j = 0; j < pq_m; ++j) {
      const uint8_t c = Nibble(code, j);
      block[j * kRun + slot % kRun] |= static_cast<uint8_t>(slot < kRun ? c : c << 4);
    }
  }
}

FastScanCodes::FastScanCodes(const Quantizer& quantizer, const uint8_t* codes,
                             const std::vector<uint32_t>& bounds)
    : width_(FastScanWidth(quantizer.pq_m())) {
  first_block_.push_back(0);
  for (size_t r = 0; r + 1 < bounds.size(); ++r) {
    first_block_.push_back(first_block_.back() + (bounds[r + 1] - bounds[r] + kRows - 1) / kRows);
  }
  blocks_.resize(size_t{first_block_.back()} * width_ * kRun);
  const size_t code_size = quantizer.code_size();
  for (size_t r = 0; r + 1 < bounds.size(); ++r) {
    for (uint32_t b = 0; b < num_blocks(static_cast<uint32_t>(r)); ++b) {
      const uint32_t row = bounds[r] + b * kRows;
      PackFastScanBlock(codes + size_t{row} * code_size, code_size, quantizer.pq_m(),
                        std::min(kRows, bounds[r + 1] - row),
                        blocks_.data() + (size_t{first_block_[r]} + b) * width_ * kRun);
    }
  }
}

FastScanTable::FastScanTable(const Quantizer::Query& query, uint32_t pq_m)
    : lut_(size_t{FastScanWidth(pq_m)} * kRun, 0), bias_(query.offset()) {
  const float* t = query.table();
  std::vector<float> mins(pq_m);
  double sum_range = 0;
  float max_range = 0;
  for (uint32_t j = 0; j < pq_m; ++j) {
    const auto [lo, hi] = std::minmax_element(t + j * kRun, t + (j + 1) * kRun);
    mins[j] = *lo;
    bias_ += *lo;
    sum_range += *hi - *lo;
    max_range = std::max(max_range, *hi - *lo);
  }
  // Each entry at most 255, and the sum of the rounded entries (each rounding adds at most 1/2)
  // at most 65535.
  float scale = 1;
  if (max_range > 1e-30f) {  // else every entry is 0 (and 255 / max_range would overflow)
    scale = static_cast<float>(std::min(255.0 / max_range, (65535.0 - pq_m) / sum_range));
  }
  // Rounded by adding a half and truncating (the entries are not negative): a loop the compiler
  // vectorizes, where std::round is a call per entry.
  for (uint32_t j = 0; j < pq_m; ++j) {
    for (uint32_t c = 0; c < kRun; ++c) {
      const float v = (t[j * kRun + c] - mins[j]) * scale + 0.5f;
      lut_[j * kRun + c] = static_cast<uint8_t>(std::min(v, 255.0f));
    }
  }
  inverse_scale_ = 1 / scale;
}

int32_t FastScanTable::SumLimit(float distance) const {
  const double units = (double{distance} - bias_) / inverse_scale_;
  if (!(units >= 0)) return -1;  // NaN too: no distance is at most NaN
  const auto limit = static_cast<int32_t>(std::min(std::floor(units) + 1, 65535.0));
  // Distance rounds to the float precision of the distances: far from the codes, where that is
  // coarser than a unit, a larger sum may still come out at `distance`, and none is ruled out.
  if (limit < 65535 && Distance(static_cast<uint16_t>(limit + 1)) <= distance) return 65535;
  return limit;
}

void FastScanRange(const FastScanCodes& codes, uint32_t r, const FastScanTable& table,
                   std::vector<uint16_t>* sums) {
  sums->resize(size_t{codes.num_blocks(r)} * kRows);
  simd::Active().fast_scan(codes.blocks(r), codes.num_blocks(r), table.lut(), codes.width(),
                           sums->data());
}

}  // namespace proximadb::index
