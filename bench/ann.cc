// bench/ann: ProximaDB's HNSW against hnswlib and FAISS IndexHNSWFlat, same data, same m and
// ef_construction, one run. Prints a table and writes JSON lines (--json FILE), one object per
// system and setting.
//
//   proximadb-ann-bench [--dataset fashion-mnist | wordnet-minilm | wordnet-minilm-ood | clustered] [--base F.fvecs --queries F.fvecs]
//                       [--n N --dim D] [--queries-limit Q] [--m 16] [--ef-construction 200]
//                       [--filtered-queries 1000] [--json FILE] [--no-filtered] [--filtered-only]
//                       [--only NAME,NAME]
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ann_systems.h"
#include "index/dataset.h"
#include "index/flat.h"
#include "index/hnsw.h"
#include "index/ivf.h"
#include "index/planner.h"
#include "simd/distance.h"

namespace proximadb::bench {
namespace {

using Clock = std::chrono::steady_clock;
using index::Dataset;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// --- ProximaDB -------------------------------------------------------------------------------

// The index as a segment holds it: the graph, and with quantization the codes it traverses
// before re-ranking every candidate on the float32 vectors (the collection default, rerank 0).
class ProximaDB final : public AnnSystem {
 public:
  explicit ProximaDB(Quantization quantization) : quantization_(quantization) {}
  std::string name() const override {
    return quantization_ == Quantization::kNone
               ? "proximadb"
               : std::string("proximadb-") + QuantizationName(quantization_);
  }
  std::string quantization() const override { return QuantizationName(quantization_); }
  std::string strategy() const override { return "standard"; }
  std::string filter_mode() const override { return "in-graph + planner"; }
  void Build(const float* data, uint32_t n, uint32_t dim, uint32_t m, uint32_t ef_construction,
             int threads) override {
    data_ = data;
    dim_ = dim;
    graph_ = std::make_unique<index::Hnsw>(data, dim, DistanceMetric::kL2, n,
                                           index::HnswParams{.m = m,
                                                             .ef_construction = ef_construction});
    index::BuildHnsw(*graph_, n, threads);
    if (quantization_ == Quantization::kNone) return;
    quantizer_ = *index::Quantizer::Train({quantization_, dim, DistanceMetric::kL2}, n,
                                          [&](uint32_t r) { return data + size_t{r} * dim; });
    codes_.resize(size_t{n} * quantizer_->code_size());
    for (uint32_t r = 0; r < n; ++r) {
      quantizer_->Encode(data + size_t{r} * dim, codes_.data() + r * quantizer_->code_size());
    }
  }
  void SetEf(uint32_t ef) override { ef_ = ef; }
  uint32_t Search(const float* query, uint32_t k, uint32_t* out) const override {
    if (quantizer_ == nullptr) {
      std::vector<index::Hit> hits = graph_->Search(query, k, ef_);
      for (size_t i = 0; i < hits.size(); ++i) out[i] = hits[i].row;
      return static_cast<uint32_t>(hits.size());
    }
    index::PlannedResult r = index::PlannedSearch(
        Space(), index::SearchParams{.query = query, .k = k, .ef = ef_, .mode = index::PlanMode::kGraph},
        nullptr, false);
    for (size_t i = 0; i < r.hits.size(); ++i) out[i] = r.hits[i].row;
    return static_cast<uint32_t>(r.hits.size());
  }
  uint32_t SearchFiltered(const float* query, uint32_t k, const std::vector<uint64_t>& bitmap,
                          uint32_t count, const std::vector<uint8_t>&,
                          uint32_t* out) const override {
    const index::BitmapRows allowed(bitmap.data(), count, graph_->capacity());
    index::PlannedResult r = index::PlannedSearch(
        Space(), index::SearchParams{.query = query, .k = k, .ef = ef_, .mode = mode_}, &allowed,
        /*filtered=*/true);
    for (size_t i = 0; i < r.hits.size(); ++i) out[i] = r.hits[i].row;
    plans_[static_cast<int>(r.plan)].fetch_add(1, std::memory_order_relaxed);
    distances_.fetch_add(r.stats.distances, std::memory_order_relaxed);
    return static_cast<uint32_t>(r.hits.size());
  }
  std::string TakeFilterStats() override {
    uint64_t total = 0, counts[kPlans];
    for (int i = 0; i < kPlans; ++i) total += counts[i] = plans_[i].exchange(0);
    const uint64_t distances = distances_.exchange(0);
    if (total == 0) return "";
    std::string out = "; plans";
    for (int i = 0; i < kPlans; ++i) {
      if (counts[i] == 0) continue;
      char buf[64];
      std::snprintf(buf, sizeof(buf), " %s %.0f%%", index::PlanName(static_cast<index::Plan>(i)),
                    100.0 * counts[i] / total);
      out += buf;
    }
    char buf[64];
    std::snprintf(buf, sizeof(buf), ", %.0f distances/query", double(distances) / total);
    return out + buf;
  }
  std::vector<std::string> FilterPlans() const override {
    return {"", "exact", "graph_expanded", "graph_post_filter"};
  }
  void SetPlan(const std::string& plan) override {
    mode_ = plan == "exact"               ? index::PlanMode::kExact
            : plan == "graph_expanded"    ? index::PlanMode::kGraph
            : plan == "graph_post_filter" ? index::PlanMode::kGraphPostFilter
                                          : index::PlanMode::kAuto;
  }
  // What a search keeps resident: the graph and the vectors it traverses (the codes, with
  // quantization; the float32 vectors are then read only to re-rank).
  size_t IndexBytes() const override {
    return graph_->MemoryBytes() +
           (quantizer_ ? codes_.size() : size_t{graph_->capacity()} * dim_ * sizeof(float));
  }

 private:
  index::SearchSpace Space() const {
    return index::SearchSpace{data_,        graph_->capacity(), dim_,
                              index::DistanceFor(DistanceMetric::kL2),
                              graph_.get(), quantizer_.get(),   codes_.data()};
  }

  const Quantization quantization_;
  std::unique_ptr<index::Quantizer> quantizer_;
  std::vector<uint8_t> codes_;
  const float* data_ = nullptr;
  uint32_t dim_ = 0;
  uint32_t ef_ = 10;
  index::PlanMode mode_ = index::PlanMode::kAuto;
  std::unique_ptr<index::Hnsw> graph_;
  static constexpr int kPlans = 5;
  mutable std::atomic<uint64_t> plans_[kPlans] = {};
  mutable std::atomic<uint64_t> distances_{0};
};

// --- ProximaDB viper --------------------------------------------------------------------------

// A viper segment's search: rows grouped into IVF partitions (about sqrt(n)) with sq8 codes
// (or pq4 codes scanned 32 at a time: fast-scan), re-ranked on float32. Its "ef" is nprobe, the
// partitions probed.
class ProximaDBViper final : public AnnSystem {
 public:
  explicit ProximaDBViper(Quantization q) : q_(q) {}
  std::string name() const override {
    return q_ == Quantization::kSq8 ? "proximadb-viper" : "proximadb-viper-pq4";
  }
  std::string quantization() const override { return QuantizationName(q_); }
  std::string strategy() const override { return "viper"; }
  std::string filter_mode() const override { return "partitions + exact"; }
  void Build(const float* data, uint32_t n, uint32_t dim, uint32_t, uint32_t, int) override {
    dim_ = dim;
    n_ = n;
    const index::IvfTraining ivf = index::TrainIvf(
        n, dim, DistanceMetric::kL2, index::DefaultPartitions(n),
        [&](uint32_t r) { return data + size_t{r} * dim; }, [](uint32_t) { return true; });
    std::vector<uint32_t> order, offsets;
    index::GroupRows(ivf, &order, &offsets);
    vectors_.resize(size_t{n} * dim);
    row_of_ = order;
    for (uint32_t i = 0; i < n; ++i) {
      std::memcpy(vectors_.data() + size_t{i} * dim, data + size_t{order[i]} * dim,
                  dim * sizeof(float));
    }
    ivf_bytes_ = index::SerializeIvf(ivf, dim, offsets);
    ivf_ = *index::IvfView::Load(ivf_bytes_, dim, n);
    quantizer_ = *index::Quantizer::Train({q_, dim, DistanceMetric::kL2}, n,
                                          [&](uint32_t r) { return Row(r); });
    codes_.resize(size_t{n} * quantizer_->code_size());
    for (uint32_t r = 0; r < n; ++r) {
      quantizer_->Encode(Row(r), codes_.data() + r * quantizer_->code_size());
    }
    ivf_.PackCodes(*quantizer_, codes_.data());
  }
  void SetEf(uint32_t ef) override { nprobe_ = ef; }
  uint32_t Search(const float* query, uint32_t k, uint32_t* out) const override {
    return Run(query, k, nullptr, false, out);
  }
  uint32_t SearchFiltered(const float* query, uint32_t k, const std::vector<uint64_t>&,
                          uint32_t count, const std::vector<uint8_t>& mask,
                          uint32_t* out) const override {
    struct Allowed final : index::AllowedRows {
      const std::vector<uint8_t>* mask;
      const std::vector<uint32_t>* row_of;
      uint32_t n = 0, allowed = 0;
      uint32_t count() const override { return allowed; }
      bool Contains(uint32_t i) const override { return (*mask)[(*row_of)[i]] != 0; }
      void ForEach(absl::FunctionRef<void(uint32_t)> fn) const override {
        for (uint32_t i = 0; i < n; ++i) {
          if (Contains(i)) fn(i);
        }
      }
    } allowed;
    allowed.mask = &mask;
    allowed.row_of = &row_of_;
    allowed.n = n_;
    allowed.allowed = count;
    return Run(query, k, &allowed, true, out);
  }
  // The codes a search reads: pq4 scans the packed copy (the row-major codes stay on disk in a
  // segment, unread).
  size_t IndexBytes() const override {
    const index::FastScanCodes* packed = ivf_.fast_scan();
    return (packed != nullptr ? packed->bytes() : codes_.size()) + ivf_bytes_.size();
  }

 private:
  const float* Row(uint32_t i) const { return vectors_.data() + size_t{i} * dim_; }
  uint32_t Run(const float* query, uint32_t k, const index::AllowedRows* allowed, bool filtered,
               uint32_t* out) const {
    const index::SearchSpace space{vectors_.data(), n_, dim_,
                                   index::DistanceFor(DistanceMetric::kL2), nullptr,
                                   quantizer_.get(), codes_.data()};
    index::SearchParams p{.query = query, .k = k, .ef = 64};
    p.nprobe = nprobe_;
    const index::PlannedResult r = index::IvfSearch(space, ivf_, p, allowed, filtered);
    for (size_t i = 0; i < r.hits.size(); ++i) out[i] = row_of_[r.hits[i].row];
    return static_cast<uint32_t>(r.hits.size());
  }

  Quantization q_;
  uint32_t dim_ = 0, n_ = 0, nprobe_ = 16;
  std::vector<float> vectors_;     // in partition order
  std::vector<uint32_t> row_of_;   // partition order -> the data set's row
  std::string ivf_bytes_;
  index::IvfView ivf_;
  std::unique_ptr<index::Quantizer> quantizer_;
  std::vector<uint8_t> codes_;
};

// --- Ground truth ----------------------------------------------------------------------------

constexpr uint32_t kK = 10;

// The exact top-k of every query: the data set's own when it ships them, else computed with the
// flat index on 2 threads and cached.
std::vector<uint32_t> GroundTruth(const Dataset& d, uint32_t nq, const std::string& cache) {
  std::vector<uint32_t> truth(size_t{nq} * kK);
  if (d.truth_k >= kK) {
    for (uint32_t q = 0; q < nq; ++q) {
      std::copy_n(d.truth.begin() + size_t{q} * d.truth_k, kK, truth.begin() + size_t{q} * kK);
    }
    return truth;
  }
  if (std::ifstream in(cache, std::ios::binary); in) {
    in.read(reinterpret_cast<char*>(truth.data()), truth.size() * 4);
    if (in.gcount() == static_cast<std::streamsize>(truth.size() * 4)) return truth;
  }
  const auto t0 = Clock::now();
  std::atomic<uint32_t> next{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 2; ++t) {
    workers.emplace_back([&] {
      for (uint32_t q; (q = next.fetch_add(1)) < nq;) {
        auto hits = index::FlatSearch(d.base.data(), d.base_rows(), d.dim,
                                      index::DistanceFor(DistanceMetric::kL2),
                                      d.queries.data() + size_t{q} * d.dim, kK);
        for (uint32_t i = 0; i < kK; ++i) truth[size_t{q} * kK + i] = hits[i].row;
      }
    });
  }
  for (auto& w : workers) w.join();
  std::fprintf(stderr, "ground truth: %u queries in %.1f s (cached in %s)\n", nq,
               Seconds(Clock::now() - t0), cache.c_str());
  std::ofstream(cache, std::ios::binary)
      .write(reinterpret_cast<const char*>(truth.data()), truth.size() * 4);
  return truth;
}

// --- Measurement -----------------------------------------------------------------------------

struct Measured {
  double recall = 0, qps_1t = 0, qps_2t = 0, p50_us = 0, p99_us = 0;
};

template <typename SearchFn>
Measured Measure(uint32_t nq, const std::vector<std::vector<uint32_t>>& truth, SearchFn search) {
  Measured m;
  std::vector<double> lat(nq);
  std::vector<uint32_t> out(kK);
  double hits = 0, wanted = 0;
  const auto t0 = Clock::now();
  for (uint32_t q = 0; q < nq; ++q) {
    const auto s = Clock::now();
    const uint32_t n = search(q, out.data());
    lat[q] = Seconds(Clock::now() - s) * 1e6;
    std::set<uint32_t> want(truth[q].begin(), truth[q].end());
    for (uint32_t i = 0; i < n; ++i) hits += want.count(out[i]);
    wanted += want.size();
  }
  m.qps_1t = nq / Seconds(Clock::now() - t0);
  m.recall = wanted > 0 ? hits / wanted : 1.0;
  std::sort(lat.begin(), lat.end());
  m.p50_us = lat[nq / 2];
  m.p99_us = lat[std::min<size_t>(nq - 1, size_t(nq) * 99 / 100)];

  std::atomic<uint32_t> next{0};
  const auto t1 = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < 2; ++t) {
    workers.emplace_back([&] {
      std::vector<uint32_t> o(kK);
      for (uint32_t q; (q = next.fetch_add(1)) < nq;) search(q, o.data());
    });
  }
  for (auto& w : workers) w.join();
  m.qps_2t = nq / Seconds(Clock::now() - t1);
  return m;
}

}  // namespace

std::unique_ptr<AnnSystem> MakeProximaDB(Quantization quantization) {
  return std::make_unique<ProximaDB>(quantization);
}
std::unique_ptr<AnnSystem> MakeProximaDBViper(Quantization q) {
  return std::make_unique<ProximaDBViper>(q);
}

}  // namespace proximadb::bench

int main(int argc, char** argv) {
  using namespace proximadb;
  using namespace proximadb::bench;
  std::string dataset = "fashion-mnist", json_path, base_path, query_path;
  uint32_t m = 16, efc = 200, n = 1000000, dim = 128, queries_limit = 10000;
  uint32_t filtered_queries = 1000;
  bool filtered = true, unfiltered = true;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    const std::string a = argv[i];
    if (a == "--dataset") dataset = next();
    else if (a == "--json") json_path = next();
    else if (a == "--base") base_path = next();
    else if (a == "--queries") query_path = next();
    else if (a == "--m") m = std::stoul(next());
    else if (a == "--ef-construction") efc = std::stoul(next());
    else if (a == "--n") n = std::stoul(next());
    else if (a == "--dim") dim = std::stoul(next());
    else if (a == "--queries-limit") queries_limit = std::stoul(next());
    else if (a == "--filtered-queries") filtered_queries = std::stoul(next());
    else if (a == "--no-filtered") filtered = false;
    else if (a == "--only") only = next();
    else if (a == "--filtered-only") unfiltered = false;
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }

  index::Dataset d;
  if (!base_path.empty()) {
    auto b = index::ReadFvecs(base_path, &d.dim);
    uint32_t qd = 0;
    auto q = index::ReadFvecs(query_path, &qd);
    if (!b.ok() || !q.ok() || qd != d.dim) {
      std::fprintf(stderr, "cannot read %s / %s\n", base_path.c_str(), query_path.c_str());
      return 1;
    }
    d.base = *std::move(b);
    d.queries = *std::move(q);
    d.name = std::filesystem::path(base_path).stem();
  } else if (dataset == "fashion-mnist") {
    auto loaded = index::LoadFashionMnist();
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str());
      return 1;
    }
    d = *std::move(loaded);
  } else if (dataset == "wordnet-minilm" || dataset == "wordnet-minilm-ood") {
    // L2-normalised: L2 ranks as the set's cosine truth does, and every system takes L2.
    auto loaded = index::LoadWordnetMinilm(index::FindWordnetMinilm(),
                                           dataset == "wordnet-minilm-ood");
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s (set PROXIMADB_WORDNET_DIR)\n", loaded.status().ToString().c_str());
      return 1;
    }
    d = *std::move(loaded);
  } else if (dataset == "clustered") {
    d = index::MakeClustered(n, std::min<uint32_t>(queries_limit, 10000), dim, 1000, 42);
  } else {
    std::fprintf(stderr, "unknown dataset %s\n", dataset.c_str());
    return 2;
  }
  const uint32_t nq = std::min(d.query_rows(), queries_limit);
  const uint32_t nfq = std::min(nq, filtered_queries);  // filtered runs: an ef sweep each
  const uint32_t nb = d.base_rows();
  std::filesystem::create_directories("build/bench-cache");
  const std::string cache = "build/bench-cache/gt-" + d.name + "-" + std::to_string(nb) + "-" +
                            std::to_string(nq) + ".bin";
  std::vector<uint32_t> flat_truth = GroundTruth(d, nq, cache);
  std::vector<std::vector<uint32_t>> truth(nq);
  for (uint32_t q = 0; q < nq; ++q) {
    truth[q].assign(flat_truth.begin() + size_t{q} * kK, flat_truth.begin() + size_t{q + 1} * kK);
  }

  std::FILE* json = json_path.empty() ? nullptr : std::fopen(json_path.c_str(), "w");
  std::printf("dataset %s: %u base x %u dims, %u queries, k=%u, m=%u, ef_construction=%u, "
              "SIMD %s\n",
              d.name.c_str(), nb, d.dim, nq, kK, m, efc, simd::LevelName(simd::ActiveLevel()));
  std::printf("hnswlib: Debian 0.6.2 headers compiled -O3 -march=native; faiss: Debian's prebuilt "
              "1.7.3 (its own flags)\n\n");
  std::printf("bytes/vector: what a search keeps resident (graph + vectors, or graph + codes: "
              "quantized systems read the float32 vectors only to re-rank)\n");
  std::printf("%-16s %7s %7s %9s %10s %10s %9s %9s %9s %12s\n", "system", "build_s", "vec/s",
              "ef", "recall@10", "qps_1t", "qps_2t", "p50_us", "p99_us", "bytes/vector");

  std::vector<std::unique_ptr<AnnSystem>> systems;
  for (Quantization q : {Quantization::kNone, Quantization::kSq8, Quantization::kPq,
                         Quantization::kBinary}) {
    systems.push_back(MakeProximaDB(q));
  }
  systems.push_back(MakeProximaDBViper(Quantization::kSq8));
  systems.push_back(MakeProximaDBViper(Quantization::kPq4));
  systems.push_back(MakeHnswlib());
  systems.push_back(MakeFaiss(false));
  systems.push_back(MakeFaiss(true));
  const uint32_t efs[] = {10, 16, 24, 32, 48, 64, 96, 128, 256, 512};

  // Filtered benchmark: a synthetic label on the real vectors; row r is allowed when a hash of
  // r falls in the first `selectivity` of its range. Exact answers from the flat index.
  struct Filtered {
    double selectivity;
    std::vector<uint64_t> bitmap;
    uint32_t count;
    std::vector<uint8_t> mask;
    std::vector<std::vector<uint32_t>> truth;
  };
  std::vector<Filtered> filters;
  for (double s : {0.9, 0.5, 0.25, 0.1, 0.05, 0.01, 0.001}) {
    if (!filtered) break;
    Filtered f{s, std::vector<uint64_t>((nb + 63) / 64, 0), 0, std::vector<uint8_t>(nb, 0),
               std::vector<std::vector<uint32_t>>(nfq)};
    for (uint32_t r = 0; r < nb; ++r) {
      if ((r * 2654435761u) % 100000 < s * 100000) {
        f.bitmap[r / 64] |= uint64_t{1} << (r % 64);
        ++f.count;
        f.mask[r] = 1;
      }
    }
    std::atomic<uint32_t> next{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < 2; ++t) {
      workers.emplace_back([&] {
        for (uint32_t q; (q = next.fetch_add(1)) < nfq;) {
          for (const auto& h : index::FlatSearch(d.base.data(), nb, d.dim,
                                                 index::DistanceFor(DistanceMetric::kL2),
                                                 d.queries.data() + size_t{q} * d.dim, kK,
                                                 [&](uint32_t r) { return f.mask[r] != 0; })) {
            f.truth[q].push_back(h.row);
          }
        }
      });
    }
    for (auto& w : workers) w.join();
    filters.push_back(std::move(f));
  }
  for (auto& sys : systems) {
    if (!only.empty() && ("," + only + ",").find("," + sys->name() + ",") == std::string::npos) {
      continue;
    }
    const auto t0 = Clock::now();
    sys->Build(d.base.data(), nb, d.dim, m, efc, 2);
    const double build_s = Seconds(Clock::now() - t0);
    const size_t bytes = sys->IndexBytes();
    // viper's setting is nprobe, the partitions probed: fewer than a graph's ef.
    const std::vector<uint32_t> settings =
        sys->strategy() == "viper" ? std::vector<uint32_t>{1, 2, 3, 4, 6, 8, 12, 16, 24, 32}
                                   : std::vector<uint32_t>(std::begin(efs), std::end(efs));
    for (uint32_t ef : settings) {
      if (!unfiltered) break;
      sys->SetEf(ef);
      Measured r = Measure(nq, truth, [&](uint32_t q, uint32_t* out) {
        return sys->Search(d.queries.data() + size_t{q} * d.dim, kK, out);
      });
      std::printf("%-16s %7.1f %7.0f %9u %10.4f %10.0f %9.0f %9.0f %9.0f %12.0f\n",
                  sys->name().c_str(), build_s, nb / build_s, ef, r.recall, r.qps_1t, r.qps_2t,
                  r.p50_us, r.p99_us, double(bytes) / nb);
      std::fflush(stdout);
      if (json) {
        std::fprintf(json,
                     "{\"system\":\"%s\",\"dataset\":\"%s\",\"quantization\":\"%s\","
                     "\"strategy\":\"%s\",\"m\":%u,\"ef_construction\":%u,"
                     "\"ef_search\":%u,\"recall_at_10\":%.4f,\"qps_1t\":%.1f,\"qps_2t\":%.1f,"
                     "\"p50_us\":%.1f,\"p99_us\":%.1f,\"build_s\":%.2f,\"index_bytes\":%zu}\n",
                     sys->name().c_str(), d.name.c_str(), sys->quantization().c_str(),
                     sys->strategy().c_str(), m, efc, ef,
                     r.recall, r.qps_1t, r.qps_2t, r.p50_us, r.p99_us, build_s, bytes);
      }
    }
    if (!filtered) continue;
    for (const Filtered& f : filters) for (uint32_t ef : {16u, 32u, 64u, 128u, 256u})
    for (const std::string& plan : sys->FilterPlans()) {
      // A forced traversal of a filter allowing under a thousand rows takes milliseconds per
      // query and never wins: only the planner's choice and the scan are measured there.
      if (plan != "" && plan != "exact" && f.count < 1000) continue;
      sys->SetEf(ef);
      sys->SetPlan(plan);
      const double s = f.selectivity;
      const std::vector<uint8_t>& mask = f.mask;
      const std::vector<std::vector<uint32_t>>& ftruth = f.truth;
      Measured r = Measure(nfq, ftruth, [&](uint32_t q, uint32_t* out) {
        return sys->SearchFiltered(d.queries.data() + size_t{q} * d.dim, kK, f.bitmap, f.count,
                                   mask, out);
      });
      const std::string mode = plan.empty() ? sys->filter_mode() : "forced " + plan;
      std::printf("%-16s filtered %5.1f%% (%s, ef %u): recall@10 %.4f, qps_1t %.0f, qps_2t %.0f, "
                  "p50 %.0f us, p99 %.0f us%s\n",
                  sys->name().c_str(), s * 100, mode.c_str(), ef, r.recall,
                  r.qps_1t, r.qps_2t, r.p50_us, r.p99_us, sys->TakeFilterStats().c_str());
      std::fflush(stdout);
      if (json) {
        std::fprintf(json,
                     "{\"system\":\"%s\",\"dataset\":\"%s\",\"quantization\":\"%s\","
                     "\"strategy\":\"%s\",\"m\":%u,\"ef_construction\":%u,"
                     "\"ef_search\":%u,\"selectivity\":%g,\"filter_mode\":\"%s\","
                     "\"recall_at_10\":%.4f,\"qps_1t\":%.1f,\"qps_2t\":%.1f,\"p50_us\":%.1f,"
                     "\"p99_us\":%.1f}\n",
                     sys->name().c_str(), d.name.c_str(), sys->quantization().c_str(),
                     sys->strategy().c_str(), m, efc, ef, s, mode.c_str(),
                     r.recall, r.qps_1t, r.qps_2t, r.p50_us, r.p99_us);
      }
    }
  }
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  std::printf("\npeak RSS of the whole run: %.0f MB\n", ru.ru_maxrss / 1024.0);
  if (json) std::fclose(json);
  return 0;
}
