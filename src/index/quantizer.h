// Vector quantization: compact codes that a search traverses instead of the float32 vectors,
// re-ranking its best candidates on the float32 vectors afterwards (docs/quantization.md).
//
//   sq8     one byte per dimension: x_i ~ min_i + scale_i * c_i, the ranges trained per
//           dimension on the data. Distances are computed from the float query against the
//           codes (asymmetric), so only the data side is quantized.
//   pq      product quantization: the vector is cut into `pq_m` sub-vectors and each is replaced
//           by the nearest of 256 centroids (k-means, trained per segment); one byte each.
//           Distances come from a per-query table of the query's distance to every centroid.
//   pq4     product quantization with 16 centroids per sub-quantizer: half a byte each (two
//           codes per byte, the even sub-quantizer in the low nibble). IVF partitions scan
//           these codes 32 rows at a time in the fast-scan layout (index/fast_scan.h).
//   binary  one bit per dimension: x_i above the dimension's mean. The query is encoded the
//           same way and distances are Hamming distances (popcount).
//
// Cosine collections quantize the unit vectors, so every code distance ranks like the metric
// it stands for: l2 (squared Euclidean), dot (-inner product), cosine (1 - cosine similarity);
// binary ranks by Hamming distance whatever the metric.
//
// Thread-safety: a Quantizer is immutable once trained or loaded; Prepare and Encode are const
// and safe from many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "index/kmeans.h"
#include "proximadb/types.h"
#include "simd/distance.h"

namespace proximadb::index {

// At most this many rows are used to train (ranges, means, k-means); a larger set is sampled.
inline constexpr uint32_t kQuantizerTrainingRows = 20000;

// pq_m when the collection leaves it 0: pq, a quarter of the dimension; pq4, half of it;
// rounded down to a divisor of the dimension. Either way one byte per four dimensions: 16x
// smaller than float32.
uint32_t DefaultPqM(uint32_t dim, Quantization kind = Quantization::kPq);

class Quantizer {
 public:
  struct Options {
    Quantization kind = Quantization::kSq8;  // not kNone
    uint32_t dim = 0;
    DistanceMetric metric = DistanceMetric::kL2;
    uint32_t pq_m = 0;  // pq, pq4: sub-quantizers, dividing dim; 0 = DefaultPqM(dim, kind)
    uint64_t seed = 42;
  };

  // Trains on `rows` vectors, `vector(i)` giving the i-th (dim floats). Sampled down to
  // kQuantizerTrainingRows. kInvalidArgument for an impossible configuration (pq_m).
  static absl::StatusOr<std::unique_ptr<Quantizer>> Train(
      const Options& options, uint32_t rows, absl::FunctionRef<const float*(uint32_t)> vector);
  // The parameters as bytes (Serialize) and back; kDataLoss if `bytes` is malformed or does not
  // match `dim` and `metric`.
  std::string Serialize() const;
  static absl::StatusOr<std::unique_ptr<Quantizer>> Load(std::string_view bytes, uint32_t dim,
                                                         DistanceMetric metric);

  Quantization kind() const { return options_.kind; }
  uint32_t dim() const { return options_.dim; }
  uint32_t pq_m() const { return options_.pq_m; }
  // pq, pq4: centroids per sub-quantizer (256, 16).
  uint32_t centroids() const { return options_.kind == Quantization::kPq4 ? 16 : 256; }
  // Bytes per row's code (a multiple of 8 for binary, so codes can be read as words).
  size_t code_size() const { return code_size_; }
  // Writes the code of `vector` (dim floats) into `code` (code_size() bytes).
  void Encode(const float* vector, uint8_t* code) const;

  // A query prepared for distances to codes.
  class Query {
   public:
    // The code distance from the query to `code` (lower is nearer).
    float Distance(const uint8_t* code) const;
    // pq, pq4: the distance table (pq_m x centroids()) and the constant added to its sums.
    const float* table() const { return data_.data(); }
    float offset() const { return offset_; }

   private:
    friend class Quantizer;
    Quantization kind_ = Quantization::kNone;
    uint32_t dim_ = 0, pq_m_ = 0, centroids_ = 0;
    bool l2_ = false;
    float offset_ = 0;  // sq8: ||q||^2 - 2 q.min (l2) or -q.min (dot, cosine) etc.
    std::vector<float> data_;  // sq8: q_i * scale_i; pq: the m x 256 table
    std::vector<uint64_t> bits_;  // binary: the query's code
    const simd::Kernels* kernels_ = nullptr;
  };
  Query Prepare(const float* query) const;

  ~Quantizer();

 private:
  explicit Quantizer(const Options& options);
  void TrainSq8(uint32_t rows, absl::FunctionRef<const float*(uint32_t)> vector);
  void TrainPq(uint32_t rows, absl::FunctionRef<const float*(uint32_t)> vector);
  void TrainBinary(uint32_t rows, absl::FunctionRef<const float*(uint32_t)> vector);
  // The vector as it is quantized (unit length for cosine).
  const float* Prepared(const float* vector, std::vector<float>* scratch) const;
  uint32_t dsub() const { return options_.dim / options_.pq_m; }
  // pq, pq4: fills nearest_ from centroids_.
  void IndexCentroids();
  // sq8: fills inverse_scale_ from scale_.
  void InvertScales();
  // sq8: the squared norm of the vector `code` decodes to.
  float DecodedNorm2(const uint8_t* code) const;

  Options options_;
  size_t code_size_ = 0;
  // sq8: per-dimension min and scale; binary: per-dimension threshold (in min_);
  // pq, pq4: m x centroids() x dsub centroids.
  std::vector<float> min_, scale_, centroids_;
  std::vector<float> inverse_scale_;  // sq8: 1 / scale_ (0 where the scale is 0)
  std::vector<Centroids> nearest_;  // pq: per sub-space, for Encode and Prepare
};

}  // namespace proximadb::index
