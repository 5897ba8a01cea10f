#include "index/ivf.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/coding.h"
#include "index/kmeans.h"
#include "index/top_k.h"

namespace proximadb::index {
namespace {

constexpr int kIterations = 10;
constexpr uint32_t kTrainingRowsPerPartition = 64;

}  // namespace

const float* Clustered(const float* v, uint32_t dim, DistanceMetric metric,
                       std::vector<float>* scratch) {
  if (metric != DistanceMetric::kCosine) return v;
  double norm = 0;
  for (uint32_t d = 0; d < dim; ++d) norm += double(v[d]) * v[d];
  scratch->assign(v, v + dim);
  if (norm > 0) {
    const float inv = static_cast<float>(1.0 / std::sqrt(norm));
    for (float& x : *scratch) x *= inv;
  }
  return scratch->data();
}

uint32_t DefaultPartitions(uint32_t rows) {
  return std::clamp<uint32_t>(static_cast<uint32_t>(std::sqrt(double(rows))), 1, 65536);
}

IvfTraining TrainIvf(uint32_t rows, uint32_t dim, DistanceMetric metric, uint32_t partitions,
                     absl::FunctionRef<const float*(uint32_t)> vector,
                     absl::FunctionRef<bool(uint32_t)> train) {
  IvfTraining out;
  std::vector<uint32_t> candidates;
  for (uint32_t r = 0; r < rows; ++r) {
    if (train(r)) candidates.push_back(r);
  }
  if (candidates.empty()) {
    candidates.resize(rows);
    std::iota(candidates.begin(), candidates.end(), 0u);
  }
  out.partitions = std::clamp<uint32_t>(partitions, 1, std::max<uint32_t>(rows, 1));
  // An even spread of the candidates, at most kTrainingRowsPerPartition per partition.
  const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(
      candidates.size(), uint64_t{out.partitions} * kTrainingRowsPerPartition));
  std::vector<float> points(size_t{n} * dim);
  std::vector<float> scratch;
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t r = candidates[uint64_t{i} * candidates.size() / n];
    std::memcpy(points.data() + size_t{i} * dim, Clustered(vector(r), dim, metric, &scratch),
                dim * sizeof(float));
  }
  out.centroids.resize(size_t{out.partitions} * dim);
  if (rows == 0) return out;
  std::mt19937_64 rng(42);
  KMeans(points, n, dim, out.partitions, kIterations, rng, out.centroids.data());
  const Centroids near(out.centroids.data(), dim, out.partitions);
  out.assignment.resize(rows);
  for (uint32_t r = 0; r < rows; ++r) {
    out.assignment[r] = near.Nearest(Clustered(vector(r), dim, metric, &scratch));
  }
  return out;
}

void GroupRows(const IvfTraining& ivf, std::vector<uint32_t>* order,
               std::vector<uint32_t>* offsets) {
  const uint32_t n = static_cast<uint32_t>(ivf.assignment.size());
  order->resize(n);
  std::iota(order->begin(), order->end(), 0u);
  std::stable_sort(order->begin(), order->end(), [&](uint32_t a, uint32_t b) {
    return ivf.assignment[a] < ivf.assignment[b];
  });
  offsets->assign(ivf.partitions + 1, 0);
  for (uint32_t p : ivf.assignment) ++(*offsets)[p + 1];
  for (uint32_t p = 0; p < ivf.partitions; ++p) (*offsets)[p + 1] += (*offsets)[p];
}

std::string SerializeIvf(const IvfTraining& ivf, uint32_t dim,
                         const std::vector<uint32_t>& offsets) {
  std::string out;
  PutFixed32(&out, ivf.partitions);
  PutFixed32(&out, dim);
  out.append(reinterpret_cast<const char*>(ivf.centroids.data()),
             ivf.centroids.size() * sizeof(float));
  out.append(reinterpret_cast<const char*>(offsets.data()), offsets.size() * sizeof(uint32_t));
  return out;
}

absl::StatusOr<IvfView> IvfView::Load(std::string_view bytes, uint32_t dim, uint32_t rows) {
  auto bad = [](const char* why) { return absl::DataLossError(absl::StrCat("ivf: ", why)); };
  if (bytes.size() < 8) return bad("truncated header");
  IvfView v;
  v.partitions_ = DecodeFixed32(bytes.data());
  v.dim_ = DecodeFixed32(bytes.data() + 4);
  if (v.dim_ != dim || v.partitions_ == 0) return bad("header does not match the collection");
  const uint64_t want = 8 + uint64_t{v.partitions_} * dim * sizeof(float) +
                        (uint64_t{v.partitions_} + 1) * sizeof(uint32_t);
  if (bytes.size() != want) return bad("size does not match the partition count");
  v.centroids_ = reinterpret_cast<const float*>(bytes.data() + 8);
  v.offsets_ = reinterpret_cast<const uint32_t*>(bytes.data() + 8 +
                                                 size_t{v.partitions_} * dim * sizeof(float));
  if (v.offsets_[0] != 0 || v.offsets_[v.partitions_] != rows) {
    return bad("offsets do not cover the rows");
  }
  for (uint32_t p = 0; p < v.partitions_; ++p) {
    if (v.offsets_[p] > v.offsets_[p + 1]) return bad("offsets are not ascending");
  }
  return v;
}

void IvfView::PackCodes(const Quantizer& quantizer, const uint8_t* codes) {
  if (quantizer.kind() != Quantization::kPq4) return;
  fast_scan_ = std::make_shared<const FastScanCodes>(
      quantizer, codes, std::vector<uint32_t>(offsets_, offsets_ + partitions_ + 1));
}

namespace {

// Scores the allowed rows of partitions into a top-k: on the float32 vectors, the codes row by
// row, or the fast-scan codes 32 rows at a time.
class PartitionScorer {
 public:
  PartitionScorer(const SearchSpace& space, const IvfView& ivf, const float* query)
      : space_(space), ivf_(ivf), query_(query) {
    if (space.quantizer == nullptr) return;
    codes_ = space.quantizer->Prepare(query);
    if (ivf.fast_scan() != nullptr) table_.emplace(codes_, space.quantizer->pq_m());
  }

  // Returns how many allowed rows partition q has.
  uint32_t Score(uint32_t q, const AllowedRows* allowed, BoundedTopK<Hit>* top) {
    if (table_) {
      FastScanRange(*ivf_.fast_scan(), q, *table_, &sums_);
      const uint32_t begin = ivf_.begin(q);
      return ScoreRows(q, allowed, top,
                       [&](uint32_t row) { return table_->Distance(sums_[row - begin]); });
    }
    if (space_.quantizer != nullptr) {
      const size_t size = space_.quantizer->code_size();
      return ScoreRows(q, allowed, top, [&](uint32_t row) {
        return codes_.Distance(space_.codes + size_t{row} * size);
      });
    }
    return ScoreRows(q, allowed, top, [&](uint32_t row) {
      return space_.distance(query_, space_.vectors + size_t{row} * space_.dim, space_.dim);
    });
  }

 private:
  template <typename RowDistance>
  uint32_t ScoreRows(uint32_t q, const AllowedRows* allowed, BoundedTopK<Hit>* top,
                     RowDistance distance) const {
    uint32_t seen = 0;
    for (uint32_t row = ivf_.begin(q); row < ivf_.end(q); ++row) {
      if (allowed != nullptr && !allowed->Contains(row)) continue;
      ++seen;
      top->Push({distance(row), row});
    }
    return seen;
  }

  const SearchSpace& space_;
  const IvfView& ivf_;
  const float* query_;
  Quantizer::Query codes_;
  std::optional<FastScanTable> table_;
  std::vector<uint16_t> sums_;
};

}  // namespace

bool IvfScansExactly(const SearchParams& p, const AllowedRows* allowed, bool filtered) {
  return p.exact || p.mode == PlanMode::kExact ||
         (filtered && allowed->count() <= 4 * std::max(p.ef, p.k));
}

uint32_t ProbeNearest(const SearchSpace& space, const float* query, uint32_t partitions,
                      absl::FunctionRef<const float*(uint32_t)> centroid, uint32_t nprobe,
                      uint32_t enough, absl::FunctionRef<uint32_t(uint32_t)> score) {
  // Partitions nearest first.
  std::vector<std::pair<float, uint32_t>> order(partitions);
  for (uint32_t q = 0; q < partitions; ++q) {
    order[q] = {space.distance(query, centroid(q), space.dim), q};
  }
  // Only the nprobe nearest are ordered up front; the rest only if a filter asks for more.
  const size_t sorted = std::min<size_t>(nprobe, order.size());
  std::partial_sort(order.begin(), order.begin() + sorted, order.end());
  uint32_t seen = 0;
  for (uint32_t probed = 0; probed < order.size(); ++probed) {
    if (probed >= nprobe && seen >= enough) break;
    if (probed == sorted) std::sort(order.begin() + sorted, order.end());
    seen += score(order[probed].second);
  }
  return seen;
}

PlannedResult IvfSearch(const SearchSpace& space, const IvfView& ivf, const SearchParams& p,
                        const AllowedRows* allowed, bool filtered) {
  PlannedResult r;
  if (IvfScansExactly(p, allowed, filtered)) {
    r.plan = Plan::kExact;
    r.hits = ExactOver(space, p.query, p.k, allowed, &r.stats);
    return r;
  }
  r.plan = Plan::kIvf;
  const bool coded = space.quantizer != nullptr;
  PartitionScorer scorer(space, ivf, p.query);
  BoundedTopK<Hit> candidates(coded ? RerankCandidates(p) : p.k);
  r.stats.distances += ProbeNearest(
      space, p.query, ivf.partitions(), [&](uint32_t q) { return ivf.centroid(q); }, p.nprobe,
      std::max(p.ef, p.k), [&](uint32_t q) { return scorer.Score(q, allowed, &candidates); });
  r.hits = coded ? Rerank(space, p.query, candidates.Take(), p.k, &r.stats) : candidates.Take();
  return r;
}

}  // namespace proximadb::index
