#include "index/ivf_lists.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>

#include "common/macros.h"
#include "common/parallel.h"
#include "index/distance.h"
#include "index/fast_scan.h"
#include "index/ivf.h"
#include "simd/distance.h"

namespace proximadb::index {
namespace {

// Rows per block of a list: a fast-scan block. A block holds their row numbers, then their
// codes packed for fast-scan (once the block is full), then the same codes row by row (for the
// rows of a block still filling, which readers score one at a time: the packed layout puts two
// rows' codes in a byte, which a writer cannot fill in while readers read it).
constexpr uint32_t kBlockRows = simd::kFastScanRows;
constexpr size_t kPackedOffset = kBlockRows * sizeof(uint32_t);
// Block pointers per page of a list's directory (4 KiB).
constexpr uint32_t kBlocksPerPage = 512;
constexpr uint32_t kTrainingRowsPerPartition = 32;
constexpr uint32_t kCodebookRows = 2560;
// Calibration: this many points of the training sample serve as queries, each against its
// exact kCalibrationK nearest among the others.
constexpr uint32_t kCalibrationQueries = 128;
constexpr uint32_t kCalibrationK = 10;
// Calibration also ranks the codes among every kSparseStride-th sample point.
constexpr uint32_t kSparseStride = 4;
// The dimension the codes are trained on: `dim`, or dim + 1 where that splits into far more
// sub-quantizers (a prime dimension splits into one: a single code of 16 centroids for the
// whole vector, which ranks nothing).
uint32_t CodeDimension(uint32_t dim) {
  const auto subspaces = [](uint32_t d) { return DefaultPqM(d, Quantization::kPq4); };
  return dim % 2 == 1 && 4 * subspaces(dim) < dim ? dim + 1 : dim;
}

// `v` (dim floats), or a copy in `scratch` padded with zeros to code_dim: distances and norms
// are those of `v`.
const float* Padded(const float* v, uint32_t dim, uint32_t code_dim,
                    std::vector<float>* scratch) {
  if (code_dim == dim) return v;
  scratch->assign(code_dim, 0.0f);
  std::memcpy(scratch->data(), v, dim * sizeof(float));
  return scratch->data();
}

// The value in `sorted` (ascending, not empty) at the recall a graph search gives at ef: 0.94
// at 16, 0.984 at 64, 0.992 at 128 (the rank 1 - 1 / ef of the way up).
float Quantile(const std::vector<float>& sorted, uint32_t ef) {
  const double recall = 1.0 - 1.0 / std::max(ef, 1u);
  const size_t i = static_cast<size_t>(std::ceil(recall * sorted.size()));
  return sorted[std::clamp<size_t>(i, 1, sorted.size()) - 1];
}

// A query's exact nearest kCalibrationK among every stride-th sample point (`exact` holds the
// distances to all), each with the rank its code distance (`by_code`) takes among theirs,
// counting itself and the ties.
std::vector<std::pair<Hit, uint32_t>> NeighbourRanks(const std::vector<float>& exact,
                                                     const std::vector<float>& by_code,
                                                     uint32_t query, uint32_t stride) {
  BoundedTopK<Hit> nearest(kCalibrationK);
  for (uint32_t j = 0; j < exact.size(); j += stride) {
    if (j != query) nearest.Push({exact[j], j});
  }
  std::vector<std::pair<Hit, uint32_t>> ranks;
  for (const Hit& h : nearest.Take()) {
    uint32_t rank = 0;
    for (uint32_t j = 0; j < by_code.size(); j += stride) rank += by_code[j] <= by_code[h.row];
    ranks.push_back({h, rank});
  }
  return ranks;
}

// Row number i of a block.
uint32_t RowAt(const uint8_t* block, uint32_t i) {
  uint32_t row;
  std::memcpy(&row, block + i * sizeof(uint32_t), sizeof(row));
  return row;
}

}  // namespace

// A list's rows in blocks that never move: block b holds entries [b, b + 1) * kBlockRows. Its
// directory has two levels, pages of block pointers allocated as the list grows, so that it
// never moves either; readers reach block b only below the published size, which is stored
// after the block and its pointers.
struct IvfLists::List {
  std::unique_ptr<uint8_t**[]> pages;  // enough for max_rows rows, null until needed
  std::atomic<uint32_t> size{0};       // entries published to readers

  const uint8_t* block(uint32_t b) const { return pages[b / kBlocksPerPage][b % kBlocksPerPage]; }
  uint32_t first_row(uint32_t b) const { return RowAt(block(b), 0); }
};

std::unique_ptr<IvfLists> IvfLists::Train(const Options& options, uint32_t rows,
                                          absl::FunctionRef<const float*(uint32_t)> vector) {
  PROXIMADB_CHECK(rows > 0);
  // The codebooks' 16 centroids a sub-space need few rows: an even spread of kCodebookRows.
  const uint32_t codebook_rows = std::min(rows, kCodebookRows);
  const uint32_t code_dim = CodeDimension(options.dim);
  std::vector<float> padded;
  auto quantizer = Quantizer::Train(
      Quantizer::Options{.kind = Quantization::kPq4, .dim = code_dim, .metric = options.metric},
      codebook_rows, [&](uint32_t i) {
        return Padded(vector(static_cast<uint32_t>(uint64_t{i} * rows / codebook_rows)),
                      options.dim, code_dim, &padded);
      });
  PROXIMADB_CHECK(quantizer.ok());  // the default pq_m divides any dimension
  std::unique_ptr<IvfLists> lists(new IvfLists(options, *std::move(quantizer)));
  const uint32_t k = std::clamp<uint32_t>(options.partitions, 1, rows);
  // An even spread of the rows, kTrainingRowsPerPartition per partition at most.
  const uint32_t n =
      static_cast<uint32_t>(std::min<uint64_t>(rows, uint64_t{k} * kTrainingRowsPerPartition));
  const uint32_t dim = options.dim;
  std::vector<float> points(size_t{n} * dim), scratch;
  for (uint32_t i = 0; i < n; ++i) {
    const float* v = Clustered(vector(static_cast<uint32_t>(uint64_t{i} * rows / n)), dim,
                               options.metric, &scratch);
    std::memcpy(points.data() + size_t{i} * dim, v, dim * sizeof(float));
  }
  lists->partitions_ = k;
  lists->centroids_.resize(size_t{k} * dim);
  std::mt19937_64 rng(42);
  KMeans(points, n, dim, k, options.iterations, rng, lists->centroids_.data(), options.threads);
  lists->nearest_ = Centroids(lists->centroids_.data(), dim, k);
  lists->Calibrate(points, n);
  lists->lists_ = std::make_unique<List[]>(k);
  const size_t pages = options.max_rows / kBlockRows / kBlocksPerPage + 1;
  for (uint32_t p = 0; p < k; ++p) lists->lists_[p].pages = std::make_unique<uint8_t**[]>(pages);
  // The centroids twice (row-major and nearest_'s transposed, with norms), the pq4 codebooks
  // (16 centroids a sub-space, twice too), the calibration, and the directories' top levels.
  const size_t codebooks = 2 * 16 * size_t{dim} + 16 * size_t{lists->quantizer_->pq_m()};
  lists->memory_bytes_ = (2 * lists->centroids_.size() + k + codebooks +
                          lists->required_.size() + lists->code_ranks_.size() +
                          lists->sparse_code_ranks_.size()) * sizeof(float) +
                         size_t{k} * pages * sizeof(uint8_t**);
  return lists;
}

void IvfLists::Calibrate(const std::vector<float>& points, uint32_t n) {
  const uint32_t dim = options_.dim;
  const Distance distance = DistanceFor(options_.metric);
  std::vector<uint32_t> assignment(n), sizes(partitions_);
  nearest_.NearestRows(points.data(), n, assignment.data(), options_.threads);
  for (uint32_t a : assignment) ++sizes[a];
  std::vector<uint8_t> codes(size_t{n} * code_size_);
  std::vector<float> padded;
  for (uint32_t j = 0; j < n; ++j) {
    quantizer_->Encode(Padded(&points[size_t{j} * dim], dim, code_dim_, &padded),
                       &codes[size_t{j} * code_size_]);
  }
  const FastScanCodes packed(*quantizer_, codes.data(), {0, n});  // scored as a search does
  std::vector<uint16_t> sums;
  std::vector<std::pair<float, uint32_t>> order(partitions_);
  std::vector<uint64_t> probed_through(partitions_);  // rows probed once p is
  std::vector<float> exact(n), by_code(n);
  const uint32_t queries = std::min(kCalibrationQueries, n);
  for (uint32_t i = 0; i < queries; ++i) {
    const uint32_t query = static_cast<uint32_t>(uint64_t{i} * n / queries);
    const float* q = &points[size_t{query} * dim];
    for (uint32_t p = 0; p < partitions_; ++p) {
      order[p] = {distance(q, &centroids_[size_t{p} * dim], dim), p};
    }
    std::sort(order.begin(), order.end());  // the order a search probes them in
    uint64_t probed = 0;
    for (const auto& [d, p] : order) probed_through[p] = probed += sizes[p];
    const Quantizer::Query coded = quantizer_->Prepare(Padded(q, dim, code_dim_, &padded));
    FastScanRange(packed, 0, FastScanTable(coded, quantizer_->pq_m()), &sums);
    for (uint32_t j = 0; j < n; ++j) {
      exact[j] = distance(q, &points[size_t{j} * dim], dim);
      by_code[j] = sums[j];  // ranks as the code distance does
    }
    exact[query] = by_code[query] = std::numeric_limits<float>::infinity();  // not its own
    for (const auto& [h, rank] : NeighbourRanks(exact, by_code, query, 1)) {
      required_.push_back(static_cast<float>(probed_through[assignment[h.row]]) / n);
      code_ranks_.push_back(static_cast<float>(rank));
    }
    if (n / kSparseStride >= 4 * kCalibrationK) {
      for (const auto& [h, rank] : NeighbourRanks(exact, by_code, query, kSparseStride)) {
        sparse_code_ranks_.push_back(static_cast<float>(rank));
      }
    }
  }
  sample_rows_ = n;
  for (auto* v : {&required_, &code_ranks_, &sparse_code_ranks_}) std::sort(v->begin(), v->end());
}

uint32_t IvfLists::RerankedCandidates(const SearchParams& p, uint32_t pool) const {
  if (p.rerank != 0 || code_ranks_.empty()) return RerankCandidates(p);
  // How the rank grows with the rows: measured between every kSparseStride-th sample point and
  // all of them. Near 0 where the codes rank near neighbours about as they are (Fashion-MNIST),
  // near 1 where the rows ahead of a neighbour grow with the rows (noise); 1 unmeasured.
  const double rank = Quantile(code_ranks_, std::max(p.ef, p.k));
  double growth = 1;
  if (!sparse_code_ranks_.empty()) {
    const double sparse = Quantile(sparse_code_ranks_, std::max(p.ef, p.k));
    growth = std::clamp(std::log(rank / sparse) / std::log(double{kSparseStride}), 0.0, 1.0);
  }
  const double wanted = rank * std::pow(static_cast<double>(pool) / sample_rows_, growth) * p.k /
                        kCalibrationK;
  return std::max(RerankCandidates(p),
                  static_cast<uint32_t>(std::min<double>(std::ceil(wanted), pool)));
}

double IvfLists::ProbedFraction(uint32_t ef) const {
  return required_.empty() ? 1.0 : Quantile(required_, ef);
}

IvfLists::IvfLists(const Options& options, std::unique_ptr<Quantizer> quantizer)
    : options_(options),
      quantizer_(std::move(quantizer)),
      code_dim_(quantizer_->dim()),
      code_size_(quantizer_->code_size()),
      packed_bytes_(size_t{FastScanWidth(quantizer_->pq_m())} * simd::kFastScanRun),
      block_bytes_((kBlockRows * (sizeof(uint32_t) + code_size_) + packed_bytes_ + 63) / 64 *
                   64) {}

IvfLists::~IvfLists() {
  if (lists_ == nullptr) return;
  for (uint32_t p = 0; p < partitions_; ++p) {
    const List& list = lists_[p];
    const uint32_t blocks = (list.size.load(std::memory_order_relaxed) + kBlockRows - 1) /
                            kBlockRows;
    for (uint32_t b = 0; b < blocks; ++b) std::free(const_cast<uint8_t*>(list.block(b)));
    for (uint32_t page = 0; page * kBlocksPerPage < blocks; ++page) std::free(list.pages[page]);
  }
}

void IvfLists::File(uint32_t first, uint32_t n, const float* vectors, int threads) {
  PROXIMADB_CHECK(first >= next_row_ && uint64_t{first} + n <= options_.max_rows);
  next_row_ = first + n;  // the lists stay ascending, which ScoreList relies on
  std::vector<uint32_t> partition(n);
  std::vector<uint8_t> codes(size_t{n} * code_size_);
  ForRowRanges(n, threads, [&](uint32_t begin, uint32_t end) {
    Assign(vectors, begin, end, partition.data(), codes.data());
  });
  for (uint32_t i = 0; i < n; ++i) Append(first + i, partition[i], &codes[size_t{i} * code_size_]);
}

void IvfLists::Assign(const float* vectors, uint32_t begin, uint32_t end, uint32_t* partition,
                      uint8_t* codes) const {
  const uint32_t dim = options_.dim;
  const float* rows = vectors + size_t{begin} * dim;
  std::vector<float> padded;  // to the codes' dimension
  std::vector<float> unit;    // cosine: the unit vectors, as the centroids were trained on
  if (options_.metric == DistanceMetric::kCosine) {
    unit.resize(size_t{end - begin} * dim);
    std::vector<float> scratch;
    for (uint32_t r = begin; r < end; ++r) {
      const float* u = Clustered(vectors + size_t{r} * dim, dim, options_.metric, &scratch);
      std::memcpy(&unit[size_t{r - begin} * dim], u, dim * sizeof(float));
    }
    rows = unit.data();
  }
  nearest_.NearestRows(rows, end - begin, partition + begin);
  for (uint32_t r = begin; r < end; ++r) {
    quantizer_->Encode(Padded(vectors + size_t{r} * dim, dim, code_dim_, &padded),
                       codes + size_t{r} * code_size_);
  }
}

void IvfLists::Append(uint32_t row, uint32_t p, const uint8_t* code) {
  List& list = lists_[p];
  const uint32_t n = list.size.load(std::memory_order_relaxed);
  const uint32_t b = n / kBlockRows, i = n % kBlockRows;
  if (i == 0) {
    uint8_t**& page = list.pages[b / kBlocksPerPage];
    if (page == nullptr) {
      page = static_cast<uint8_t**>(std::calloc(kBlocksPerPage, sizeof(uint8_t*)));
      PROXIMADB_CHECK(page != nullptr);
      memory_bytes_.fetch_add(kBlocksPerPage * sizeof(uint8_t*), std::memory_order_relaxed);
    }
    page[b % kBlocksPerPage] = static_cast<uint8_t*>(std::aligned_alloc(64, block_bytes_));
    PROXIMADB_CHECK(page[b % kBlocksPerPage] != nullptr);
    memory_bytes_.fetch_add(block_bytes_, std::memory_order_relaxed);
  }
  uint8_t* block = list.pages[b / kBlocksPerPage][b % kBlocksPerPage];
  std::memcpy(block + i * sizeof(uint32_t), &row, sizeof(uint32_t));
  uint8_t* staged = block + kPackedOffset + packed_bytes_;
  std::memcpy(staged + i * code_size_, code, code_size_);
  // A full block is packed before it is published whole: readers read it packed only then.
  if (i + 1 == kBlockRows) {
    PackFastScanBlock(staged, code_size_, quantizer_->pq_m(), kBlockRows, block + kPackedOffset);
  }
  list.size.store(n + 1, std::memory_order_release);
}

void IvfLists::KeepBest(const uint8_t* block, uint32_t base, const uint16_t* sums,
                        const Scoring& scoring, const AllowedRows* allowed,
                        BoundedTopK<Hit>* top) {
  const Hit* worst = top->worst();
  const int32_t limit = worst == nullptr ? std::numeric_limits<uint16_t>::max()
                                         : scoring.table.SumLimit(worst->distance);
  for (uint32_t i = 0; i < kBlockRows; ++i) {
    if (sums[i] > limit) continue;
    const uint32_t local = RowAt(block, i) - base;
    const Hit hit{scoring.table.Distance(sums[i]), local};
    if (top->Accepts(hit) && (allowed == nullptr || allowed->Contains(local))) top->Push(hit);
  }
}

uint32_t IvfLists::ScoreList(uint32_t p, uint32_t base, uint32_t rows, const Scoring& scoring,
                             const AllowedRows* allowed, bool filtered,
                             BoundedTopK<Hit>* top) const {
  const List& list = lists_[p];
  const uint32_t size = list.size.load(std::memory_order_acquire);
  const uint32_t blocks = (size + kBlockRows - 1) / kBlockRows;
  // Rows are ascending: start at the last block beginning at or below base (after a graph
  // took the lower rows, most of a list is below base).
  uint32_t first = 0;
  for (uint32_t hi = blocks; first + 1 < hi;) {
    const uint32_t mid = (first + hi) / 2;
    if (list.first_row(mid) <= base) {
      first = mid;
    } else {
      hi = mid;
    }
  }
  uint32_t seen = 0;
  uint16_t sums[kBlockRows];
  for (uint32_t b = first; b < blocks; ++b) {
    const uint8_t* block = list.block(b);
    const uint32_t in_block = std::min(kBlockRows, size - b * kBlockRows);
    const bool packed = in_block == kBlockRows;
    // The blocks lie apart in memory: fetch the next one's row numbers and first codes while
    // this one is scored (the hardware prefetcher follows within a block).
    if (b + 1 < blocks) {
      for (size_t line = 0; line < kPackedOffset + 128; line += 64) {
        __builtin_prefetch(list.block(b + 1) + line);
      }
    }
    if (packed) {
      simd::Active().fast_scan(block + kPackedOffset, 1, scoring.table.lut(),
                               packed_bytes_ / simd::kFastScanRun, sums);
      if (!filtered && RowAt(block, 0) >= base && RowAt(block, kBlockRows - 1) - base < rows) {
        seen += kBlockRows;
        KeepBest(block, base, sums, scoring, allowed, top);
        continue;
      }
    }
    for (uint32_t i = 0; i < in_block; ++i) {
      const uint32_t row = RowAt(block, i);
      // Rows are ascending: below base, skip; past the space, the list is done.
      if (row < base) continue;
      const uint32_t local = row - base;
      if (local >= rows) return seen;
      if (filtered && !allowed->Contains(local)) continue;
      ++seen;
      const float d = packed ? scoring.table.Distance(sums[i])
                             : scoring.query.Distance(block + kPackedOffset + packed_bytes_ +
                                                      i * code_size_);
      const Hit hit{d, local};
      // Unfiltered, `allowed` only hides deleted rows and rows newer than the reader: asked
      // only of rows good enough to keep, since the answer is a cache miss.
      if (top->Accepts(hit) && (filtered || allowed == nullptr || allowed->Contains(local))) {
        top->Push(hit);
      }
    }
  }
  return seen;
}

PlannedResult IvfLists::Search(const SearchSpace& space, uint32_t base, const SearchParams& p,
                               const AllowedRows* allowed, bool filtered) const {
  PlannedResult r;
  r.plan = Plan::kExact;
  // A few rows (what the graph has not reached once it caught up, nearly) are scanned: as
  // cheap as the partitions' centroids, and exact.
  if (IvfScansExactly(p, allowed, filtered) || space.rows <= 4 * std::max(p.ef, p.k)) {
    r.hits = ExactOver(space, p.query, p.k, allowed, &r.stats);
    return r;
  }
  std::vector<float> scratch;
  const Quantizer::Query query =
      quantizer_->Prepare(Padded(p.query, options_.dim, code_dim_, &scratch));
  const Scoring scoring{query, FastScanTable(query, quantizer_->pq_m())};
  // The partitions nearest the query are probed until they held that fraction of the rows the
  // search may return (a filter's rows are spread over the partitions, so a selective one
  // probes further, as its nearest allowed rows are): a dense region's large partitions stop
  // the probe sooner, which keeps the slowest searches near the typical one.
  const double fraction = ProbedFraction(std::max(p.ef, p.k));  // as a graph widens to k
  const uint32_t pool = filtered ? allowed->count() : space.rows;
  const auto budget = static_cast<uint32_t>(std::ceil(fraction * pool));
  BoundedTopK<Hit> candidates(RerankedCandidates(p, pool));
  r.stats.distances += ProbeNearest(
      space, p.query, partitions_,
      [&](uint32_t q) { return centroids_.data() + size_t{q} * options_.dim; }, 1,
      std::max({p.ef, p.k, budget}), [&](uint32_t q) {
        return ScoreList(q, base, space.rows, scoring, allowed, filtered, &candidates);
      });
  r.hits = Rerank(space, p.query, candidates.Take(), p.k, &r.stats);
  if (r.hits.size() < p.k) {
    // Dead rows (deleted, overwritten, newer than the reader) filled the partitions probed:
    // a scan returns k rows whenever k are there.
    r.hits = ExactOver(space, p.query, p.k, allowed, &r.stats);
    return r;
  }
  r.plan = Plan::kIvf;
  return r;
}

}  // namespace proximadb::index
