// IvfLists: IVF partitions that grow row by row, for a memtable's rows that its graph has not
// reached yet (storage/memtable.h). A graph insert costs hundreds of microseconds a row at
// high dimension, so during a bulk load the graph falls far behind and those rows would be
// scanned; filing a row costs its distances to the centroids and its pq4 code, a few
// microseconds.
//
// The centroids (k-means) and a pq4 codebook are trained once, on the rows there are; every
// row filed after that goes to its nearest centroid's list with its pq4 code. A search scans
// the codes 32 rows at a time (fast-scan, index/fast_scan.h) before re-ranking its best
// candidates on the float32 vectors. Rows are filed in ascending order, so each list is
// ascending too. Rows unlike the training sample get coarser codes; the re-ranking on float32
// keeps their distances exact.
//
// Thread-safety: one writer (File) and any number of concurrent readers (Search), which see
// the rows filed before they started (each list publishes its size with release semantics,
// after the entry is written); Train's result is immutable but for the lists.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/functional/function_ref.h"
#include "index/fast_scan.h"
#include "index/kmeans.h"
#include "index/planner.h"
#include "index/quantizer.h"
#include "index/top_k.h"

namespace proximadb::index {

class IvfLists {
 public:
  struct Options {
    uint32_t dim = 0;
    DistanceMetric metric = DistanceMetric::kL2;
    uint32_t partitions = 256;  // capped at the training rows
    uint32_t max_rows = 0;      // rows numbered below this can be filed
    int iterations = 5;         // k-means rounds
    int threads = 1;            // for training
  };

  // Trains the centroids and the pq4 codebook on `rows` vectors (`vector(i)`, sampled down to
  // 32 per partition for k-means and to 2,560 for the codebook); the lists start empty. `rows`
  // must be at least 1. An odd dimension with few divisors (a prime one) is coded padded with
  // a zero, so that the codes have a sub-quantizer for about every two dimensions.
  static std::unique_ptr<IvfLists> Train(const Options& options, uint32_t rows,
                                         absl::FunctionRef<const float*(uint32_t)> vector);
  ~IvfLists();
  IvfLists(const IvfLists&) = delete;
  IvfLists& operator=(const IvfLists&) = delete;

  // Writer: files rows [first, first + n) (above every row filed before, below max_rows),
  // their vectors contiguous from `vectors` (dim floats each). Their nearest centroids and
  // codes are found on `threads` threads, then the rows are appended in order.
  void File(uint32_t first, uint32_t n, const float* vectors, int threads = 1);

  uint32_t partitions() const { return partitions_; }
  // Bytes of memory the lists and the training hold.
  size_t MemoryBytes() const { return memory_bytes_.load(std::memory_order_relaxed); }

  // The fraction of the rows a search at `ef` probes: what reached recall 1 - 1 / ef (0.984
  // at ef 64, about what a graph gives) on the training sample, measured when the lists were
  // trained (its points as queries against their exact 10 nearest among the others). The lists
  // stand in for a graph, whose knob is ef; and how much of the rows a given recall takes
  // depends on the data: 5% on Fashion-MNIST, far more on data without clusters.
  double ProbedFraction(uint32_t ef) const;
  // The candidates a search at params.ef re-ranks on float32 when params.rerank leaves it to
  // the lists: RerankCandidates(params), or more where the codes rank the true neighbours
  // worse. Measured like ProbedFraction: the rank of a true neighbour's code among the
  // sample's at recall 1 - 1 / ef, grown to the `pool` rows the search may return as it grew
  // from a quarter of the sample to all of it, for k neighbours. Fashion-MNIST and the WordNet
  // embeddings stay at max(ef, 2k); Gaussian noise of 20,000 rows asks 215-252 at ef 64.
  uint32_t RerankedCandidates(const SearchParams& params, uint32_t pool) const;

  // The k nearest allowed rows among the filed rows [base, base + space.rows), numbered from base
  // (space.vectors are row base's), scored on the codes, keeping RerankedCandidates(params, pool)
  // candidates to re-rank on float32. The partitions nearest the query go first, until they held
  // ProbedFraction(max(ef, k)) of the rows the search may return (all of them, or a filter's) and
  // at least max(ef, k) of those. Exact (a scan of the space) as IvfScansExactly says, for a space
  // of at most 4 * max(ef, k) rows, and when the partitions probed held fewer than k allowed rows
  // (dead rows thin them out). params.nprobe is not read. Plan kIvf or kExact.
  PlannedResult Search(const SearchSpace& space, uint32_t base, const SearchParams& params,
                       const AllowedRows* allowed, bool filtered) const;

 private:
  struct List;
  // A query's distances to codes: row by row, and 32 rows at a time.
  struct Scoring {
    const Quantizer::Query& query;
    FastScanTable table;
  };
  IvfLists(const Options& options, std::unique_ptr<Quantizer> quantizer);
  // Fills the calibration from the training sample (n points, clustered, row-major).
  void Calibrate(const std::vector<float>& points, uint32_t n);
  // The nearest partitions and the codes of rows [begin, end) of `vectors` into `partition`
  // and `codes` (indexed like the rows). Thread-safe.
  void Assign(const float* vectors, uint32_t begin, uint32_t end, uint32_t* partition,
              uint8_t* codes) const;
  // Appends `row` with its code to partition p's list, publishing it.
  void Append(uint32_t row, uint32_t p, const uint8_t* code);
  // ScoreList's path for a full block whose rows are all in the space, unfiltered: only the
  // rows whose fast-scan sums could beat the worst candidate kept (FastScanTable::SumLimit)
  // are looked at.
  static void KeepBest(const uint8_t* block, uint32_t base, const uint16_t* sums,
                       const Scoring& scoring, const AllowedRows* allowed,
                       BoundedTopK<Hit>* top);
  // Scores partition p's allowed rows in [base, base + rows) on their codes into `top`
  // (numbered from base); returns how many there were (unfiltered: all rows, for the
  // visibility of rows is checked only of those good enough to keep).
  uint32_t ScoreList(uint32_t p, uint32_t base, uint32_t rows, const Scoring& scoring,
                     const AllowedRows* allowed, bool filtered, BoundedTopK<Hit>* top) const;

  const Options options_;
  uint32_t partitions_ = 0;
  std::vector<float> centroids_;  // partitions x dim, row-major
  Centroids nearest_;             // the same, for filing
  std::unique_ptr<Quantizer> quantizer_;
  uint32_t code_dim_ = 0;  // the quantizer's: options_.dim, or one more (CodeDimension)
  size_t code_size_ = 0;
  size_t packed_bytes_ = 0;  // a block's codes packed for fast-scan
  size_t block_bytes_ = 0;   // a block: row numbers, packed codes, codes row by row
  std::unique_ptr<List[]> lists_;
  // Calibration, for each sample query's true neighbours, ascending: the fraction of the rows
  // probed by the time its partition is (required_), and the rank of its code among the
  // sample's codes (code_ranks_; sparse_code_ranks_ among every fourth sample point, against
  // its nearest there), of sample_rows_ points.
  std::vector<float> required_, code_ranks_, sparse_code_ranks_;
  uint32_t sample_rows_ = 0;
  std::atomic<size_t> memory_bytes_{0};
  uint32_t next_row_ = 0;  // writer: the lowest row File may take
};

}  // namespace proximadb::index
