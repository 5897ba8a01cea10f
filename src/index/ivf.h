// IVF partitions (inverted file): k-means centroids over whole vectors, with a segment's rows
// stored grouped by their nearest centroid, so that partition p is the rows
// [offsets[p], offsets[p + 1]). A search probes the partitions whose centroids are nearest the
// query (the viper storage strategy; docs/quantization.md).
//
// Thread-safety: IvfView is immutable; IvfSearch is a pure function.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "index/fast_scan.h"
#include "index/planner.h"

namespace proximadb::index {

// The vector as it is clustered: `v` itself, or its unit vector in `scratch` for cosine.
const float* Clustered(const float* v, uint32_t dim, DistanceMetric metric,
                       std::vector<float>* scratch);

// Partitions for a segment of `rows` rows when the collection does not say: about sqrt(rows),
// so that a partition holds about as many rows as there are partitions.
uint32_t DefaultPartitions(uint32_t rows);

struct IvfTraining {
  uint32_t partitions = 0;
  std::vector<float> centroids;      // partitions x dim, row-major
  std::vector<uint32_t> assignment;  // per row: its partition
};

// Clusters `rows` vectors (`vector(i)`, dim floats; cosine: on the unit vectors) into
// `partitions` (capped at rows) with k-means on up to 64 rows per partition, then assigns
// every row. `train(i)` says whether row i may train (live rows; all when none may).
IvfTraining TrainIvf(uint32_t rows, uint32_t dim, DistanceMetric metric, uint32_t partitions,
                     absl::FunctionRef<const float*(uint32_t)> vector,
                     absl::FunctionRef<bool(uint32_t)> train);

// The rows in partition order (stable within a partition) and, for each partition p, where its
// rows start in that order (offsets[p], with offsets[partitions] = rows).
void GroupRows(const IvfTraining& ivf, std::vector<uint32_t>* order,
               std::vector<uint32_t>* offsets);

// The serialized partitions: partitions:u32 dim:u32 centroids:f32[partitions * dim]
// offsets:u32[partitions + 1].
std::string SerializeIvf(const IvfTraining& ivf, uint32_t dim,
                         const std::vector<uint32_t>& offsets);

// Partitions read in place from a segment's mapping.
class IvfView {
 public:
  // kDataLoss if `bytes` is malformed, does not match `dim`, or its offsets do not cover
  // exactly `rows` rows.
  static absl::StatusOr<IvfView> Load(std::string_view bytes, uint32_t dim, uint32_t rows);

  uint32_t partitions() const { return partitions_; }
  uint32_t begin(uint32_t p) const { return offsets_[p]; }
  uint32_t end(uint32_t p) const { return offsets_[p + 1]; }
  const float* centroid(uint32_t p) const { return centroids_ + size_t{p} * dim_; }

  // pq4 codes: packs each partition's rows of `codes` for fast-scan (index/fast_scan.h), which
  // IvfSearch then uses. Nothing for other quantizations.
  void PackCodes(const Quantizer& quantizer, const uint8_t* codes);
  // The packed codes, or nullptr.
  const FastScanCodes* fast_scan() const { return fast_scan_.get(); }

 private:
  uint32_t partitions_ = 0, dim_ = 0;
  std::shared_ptr<const FastScanCodes> fast_scan_;
  const float* centroids_ = nullptr;
  const uint32_t* offsets_ = nullptr;
};

// Whether an IVF search scans instead: the request asks for it, or a filter selects at most
// 4 * max(ef, k) rows.
bool IvfScansExactly(const SearchParams& params, const AllowedRows* allowed, bool filtered);

// Probes partitions in order of their centroid's distance to the query, at least `nprobe` of
// them and more until `enough` allowed rows were seen (a filter thins them out): `score(p)`
// scores partition p's allowed rows and returns how many it had. Returns the rows seen.
uint32_t ProbeNearest(const SearchSpace& space, const float* query, uint32_t partitions,
                      absl::FunctionRef<const float*(uint32_t)> centroid, uint32_t nprobe,
                      uint32_t enough, absl::FunctionRef<uint32_t(uint32_t)> score);

// The k nearest allowed rows of `space` (rows grouped by `ivf`'s partitions): the partitions in
// order of their centroid's distance to the query, at least `nprobe` of them and more until
// max(ef, k) allowed rows were seen (a filter thins them out). Rows are scored on the codes
// when the space has them (pq4: 32 at a time, fast-scan), keeping max(ef, 2k) candidates (or
// max(k, rerank)) to re-rank on float32, else on float32. A filter that selects few rows (at
// most 4 * max(ef, k)) is scanned exactly instead. Plan kIvf (or kExact).
PlannedResult IvfSearch(const SearchSpace& space, const IvfView& ivf, const SearchParams& params,
                        const AllowedRows* allowed, bool filtered);

}  // namespace proximadb::index
