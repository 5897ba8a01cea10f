// Fast-scan of 4-bit product-quantization codes (quantization pq4), after FAISS's "fast-scan"
// PQ: instead of looking up one row's codes in a float table, 32 rows are looked up at once in a
// table scaled to bytes, 16 entries per sub-quantizer fitting one SIMD register lane, with byte
// shuffles (pshufb), and summed in 16 bits. The rows' codes are interleaved in blocks of 32 for
// that (simd/distance.h gives the block layout), which an IVF partition is packed into when its
// segment is opened, and a memtable's IVF lists (index/ivf_lists.h) as each block fills.
// docs/quantization.md has the measurements.
//
// Thread-safety: FastScanCodes is immutable once packed; FastScanTable is per query.
#pragma once

#include <cstdint>
#include <vector>

#include "index/quantizer.h"

namespace proximadb::index {

// Sub-quantizers in a packed block: pq_m rounded up to a multiple of 4 (the padding codes and
// table entries are zero).
uint32_t FastScanWidth(uint32_t pq_m);

// Packs `rows` (at most 32) row-major pq4 codes of `pq_m` sub-quantizers, code_size bytes
// apart from `codes`, into one fast-scan block of FastScanWidth(pq_m) * 16 bytes at `block`
// (overwritten; the slots past `rows` and the padding sub-quantizers are zero).
void PackFastScanBlock(const uint8_t* codes, size_t code_size, uint32_t pq_m, uint32_t rows,
                       uint8_t* block);

// Row ranges of pq4 codes packed in blocks of 32 rows, each range starting a new block.
class FastScanCodes {
 public:
  // Packs the codes of `quantizer` (pq4) for the rows [bounds[r], bounds[r + 1]) of `codes`
  // (row-major, code_size() bytes per row) as range r; the last block of a range is padded.
  FastScanCodes(const Quantizer& quantizer, const uint8_t* codes,
                const std::vector<uint32_t>& bounds);

  uint32_t width() const { return width_; }
  uint32_t ranges() const { return static_cast<uint32_t>(first_block_.size()) - 1; }
  // Range r's blocks: blocks(r) points at num_blocks(r) blocks of width() * 16 bytes.
  const uint8_t* blocks(uint32_t r) const {
    return blocks_.data() + size_t{first_block_[r]} * width_ * 16;
  }
  uint32_t num_blocks(uint32_t r) const { return first_block_[r + 1] - first_block_[r]; }
  size_t bytes() const { return blocks_.size(); }

 private:
  uint32_t width_ = 0;
  std::vector<uint8_t> blocks_;
  std::vector<uint32_t> first_block_;  // ranges + 1
};

// A query's pq4 distance table (Quantizer::Query::table()) scaled to bytes: entry
// round((t - min_j) * scale) for sub-quantizer j, the scale as large as lets every sum of width
// entries fit 16 bits. A fast-scan sum s then stands for the code distance bias + s / scale.
class FastScanTable {
 public:
  FastScanTable(const Quantizer::Query& query, uint32_t pq_m);

  const uint8_t* lut() const { return lut_.data(); }
  float Distance(uint16_t sum) const { return bias_ + sum * inverse_scale_; }
  // The distance one unit of a sum stands for (each entry is off by at most half of it).
  float resolution() const { return inverse_scale_; }
  // The largest sum whose distance may be at most `distance`: every larger sum's is above it;
  // -1 where every sum's is.
  int32_t SumLimit(float distance) const;

 private:
  std::vector<uint8_t> lut_;  // FastScanWidth(pq_m) x 16
  float bias_ = 0, inverse_scale_ = 1;
};

// The sums (FastScanTable::Distance) of range r's rows, 32 per block, padding included.
void FastScanRange(const FastScanCodes& codes, uint32_t r, const FastScanTable& table,
                   std::vector<uint16_t>* sums);

}  // namespace proximadb::index
