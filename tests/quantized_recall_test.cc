// Recall of quantized collections through the whole engine at the defaults (ef_search 64,
// rerank 0: every candidate re-scored), on real data: Fashion-MNIST (784-d, l2; 200 queries
// against their exact top 10 from the engine's own exact scan) and wordnet-minilm (384-d
// sentence embeddings, cosine; its 1,000 held-out queries against the set's exact top 10).
// Floors from the issue: sq8 >= 0.95, pq >= 0.90, binary >= 0.90. Each collection is flushed
// into one segment (codes next to the vectors), searched, then reopened from disk and searched
// again: the codes read back must give the same hits.
#include <set>

#include "common/scoped_temp_dir.h"
#include "gtest/gtest.h"
#include "index/dataset.h"
#include "proximadb/database.h"

namespace proximadb {
namespace {

struct Case {
  const char* dataset;  // "fashion" or "wordnet"
  Quantization quantization;
  double floor;
  StorageStrategy strategy = StorageStrategy::kStandard;
};

class QuantizedRecallTest : public ::testing::TestWithParam<Case> {
 protected:
  static constexpr uint32_t kFashionQueries = 200;

  static index::Dataset* Load(const std::string& name) {
    static index::Dataset* fashion = nullptr;
    static index::Dataset* wordnet = nullptr;
    index::Dataset*& d = name == "fashion" ? fashion : wordnet;
    if (d == nullptr) {
      absl::StatusOr<index::Dataset> loaded;
      if (name == "fashion") {
        loaded = index::LoadFashionMnist();
      } else {
        const std::string dir = index::FindWordnetMinilm();
        if (dir.empty()) return nullptr;
        loaded = index::LoadWordnetMinilm(dir);
      }
      if (!loaded.ok()) return nullptr;
      d = new index::Dataset(*std::move(loaded));
    }
    return d;
  }

  void SetUp() override {
    data_ = Load(GetParam().dataset);
    if (data_ == nullptr) GTEST_SKIP() << GetParam().dataset << " not found";
    options_.data_dir = tmp_.path();
    options_.background_maintenance = false;
    options_.background_indexing = false;
  }

  const float* Query(uint32_t q) const { return data_->queries.data() + size_t{q} * data_->dim; }
  const float* Base(uint32_t r) const { return data_->base.data() + size_t{r} * data_->dim; }
  uint32_t queries() const {
    return data_->truth.empty() ? kFashionQueries : data_->query_rows();
  }

  std::shared_ptr<Collection> CreateAndLoad(Database& db) {
    CollectionConfig config;
    config.name = "q";
    config.dimension = data_->dim;
    config.metric = data_->truth.empty() ? DistanceMetric::kL2 : DistanceMetric::kCosine;
    config.quantization.kind = GetParam().quantization;
    config.storage_strategy = GetParam().strategy;
    EXPECT_TRUE(db.CreateCollection(config).ok());
    auto c = *db.GetCollection("q");
    const uint32_t rows = data_->base_rows();
    for (uint32_t start = 0; start < rows; start += 2000) {
      std::vector<Record> batch;
      for (uint32_t r = start; r < std::min(rows, start + 2000); ++r) {
        batch.push_back({std::to_string(r), {Base(r), Base(r) + data_->dim}, "{}"});
      }
      EXPECT_TRUE(c->Write(std::move(batch), WriteMode::kInsert).ok());
    }
    EXPECT_TRUE(c->Flush().ok());
    EXPECT_EQ(c->Stats().segment_count, 1u);
    return c;
  }

  // The exact top 10 per query: the set's own, or the engine's exact scan.
  std::vector<std::set<std::string>> Truth(Collection& c) {
    std::vector<std::set<std::string>> truth(queries());
    for (uint32_t q = 0; q < queries(); ++q) {
      if (!data_->truth.empty()) {
        for (uint32_t i = 0; i < 10; ++i) {
          truth[q].insert(std::to_string(data_->truth[size_t{q} * data_->truth_k + i]));
        }
        continue;
      }
      SearchRequest req;
      req.vector = {Query(q), data_->dim};
      req.exact = true;
      auto r = c.Search(req);
      EXPECT_TRUE(r.ok()) << r.status();
      for (const SearchHit& h : r->hits) truth[q].insert(h.id);
    }
    return truth;
  }

  // Every query's hits at the defaults.
  std::vector<std::vector<std::string>> SearchAll(Collection& c) {
    std::vector<std::vector<std::string>> out(queries());
    for (uint32_t q = 0; q < queries(); ++q) {
      SearchRequest req;
      req.vector = {Query(q), data_->dim};
      req.include_metadata = false;
      auto r = c.Search(req);
      EXPECT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->plan, GetParam().strategy == StorageStrategy::kViper ? "ivf" : "graph");
      for (const SearchHit& h : r->hits) out[q].push_back(h.id);
    }
    return out;
  }

  index::Dataset* data_ = nullptr;
  ScopedTempDir tmp_;
  DatabaseOptions options_;
};

TEST_P(QuantizedRecallTest, RecallAtDefaultsSurvivesReopen) {
  std::vector<std::vector<std::string>> before;
  std::vector<std::set<std::string>> truth;
  {
    auto db = Database::Open(options_);
    ASSERT_TRUE(db.ok()) << db.status();
    std::shared_ptr<Collection> c = CreateAndLoad(**db);
    truth = Truth(*c);
    before = SearchAll(*c);
  }
  double found = 0;
  for (uint32_t q = 0; q < queries(); ++q) {
    ASSERT_EQ(before[q].size(), 10u);
    for (const std::string& id : before[q]) found += truth[q].count(id);
  }
  const double recall = found / (10.0 * queries());
  std::printf("%s %s %s: recall@10 %.4f at the defaults\n", GetParam().dataset,
              StorageStrategyName(GetParam().strategy), QuantizationName(GetParam().quantization),
              recall);
  EXPECT_GE(recall, GetParam().floor);

  auto db = Database::Open(options_);
  ASSERT_TRUE(db.ok()) << db.status();
  auto c = *(*db)->GetCollection("q");
  EXPECT_EQ(c->config().quantization.kind, GetParam().quantization);
  EXPECT_EQ(SearchAll(*c), before) << "the codes read back from disk search differently";
}

INSTANTIATE_TEST_SUITE_P(
    Datasets, QuantizedRecallTest,
    ::testing::Values(Case{"fashion", Quantization::kSq8, 0.95},
                      Case{"fashion", Quantization::kPq, 0.90},
                      Case{"fashion", Quantization::kBinary, 0.90},
                      Case{"wordnet", Quantization::kSq8, 0.95},
                      Case{"wordnet", Quantization::kPq, 0.90},
                      Case{"wordnet", Quantization::kBinary, 0.90},
                      Case{"fashion", Quantization::kNone, 0.90, StorageStrategy::kViper},
                      Case{"wordnet", Quantization::kNone, 0.90, StorageStrategy::kViper},
                      Case{"fashion", Quantization::kPq4, 0.90, StorageStrategy::kViper},
                      Case{"wordnet", Quantization::kPq4, 0.90, StorageStrategy::kViper}),
    [](const auto& info) {
      return std::string(info.param.dataset) + "_" + StorageStrategyName(info.param.strategy) +
             "_" + QuantizationName(info.param.quantization);
    });

}  // namespace
}  // namespace proximadb
