// Search quality under heavy deletion, on real vectors (Fashion-MNIST, 784-d): a collection of
// 20,000 images loses 50% of its records, then 90%, with upserts of new images in between,
// while the background maintenance runs as in a server. Right after each step, before any
// compaction could catch up and without a manual one, recall@10 against an exact search over
// the live records must stay at or above 0.95 at the default ef.
#include <algorithm>
#include <numeric>
#include <random>
#include <set>

#include "common/scoped_temp_dir.h"
#include "gtest/gtest.h"
#include "index/dataset.h"
#include "proximadb/database.h"

namespace proximadb {
namespace {

constexpr uint32_t kRows = 20000;
constexpr uint32_t kQueries = 200;

class DeletesRecallTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto d = index::LoadFashionMnist();
    ASSERT_TRUE(d.ok()) << d.status();
    data_ = new index::Dataset(*std::move(d));
  }
  static void TearDownTestSuite() { delete data_; }

  std::vector<float> Base(uint32_t r) const {
    return {data_->base.begin() + size_t{r} * data_->dim,
            data_->base.begin() + size_t{r + 1} * data_->dim};
  }

  // recall@10 of the default search against an exact one, over the live records.
  double Recall(Collection& c) const {
    double found = 0;
    for (uint32_t q = 0; q < kQueries; ++q) {
      SearchRequest req;
      req.vector = {data_->queries.data() + size_t{q} * data_->dim, data_->dim};
      req.k = 10;
      req.include_metadata = false;
      auto approx = c.Search(req);
      req.exact = true;
      auto exact = c.Search(req);
      EXPECT_TRUE(approx.ok() && exact.ok());
      std::set<std::string> truth;
      for (const SearchHit& h : exact->hits) truth.insert(h.id);
      for (const SearchHit& h : approx->hits) found += truth.count(h.id);
    }
    return found / (10.0 * kQueries);
  }

  static index::Dataset* data_;
  ScopedTempDir tmp_;
};
index::Dataset* DeletesRecallTest::data_ = nullptr;

TEST_F(DeletesRecallTest, RecallHoldsAfterDeletingHalfThenNinetyPercent) {
  DatabaseOptions o;
  o.data_dir = tmp_.path();
  o.maintenance_interval_ms = 100;  // background flush and compaction, as a server runs them
  auto db = Database::Open(o);
  ASSERT_TRUE(db.ok()) << db.status();
  CollectionConfig config;
  config.name = "fashion";
  config.dimension = data_->dim;
  config.metric = DistanceMetric::kL2;
  ASSERT_TRUE((*db)->CreateCollection(config).ok());
  auto c = *(*db)->GetCollection("fashion");
  auto write = [&](uint32_t first, uint32_t n, uint32_t image_offset) {
    for (uint32_t start = first; start < first + n; start += 1000) {
      std::vector<Record> batch;
      for (uint32_t r = start; r < std::min(first + n, start + 1000); ++r) {
        batch.push_back({std::to_string(r), Base(r + image_offset), "{}"});
      }
      ASSERT_TRUE(c->Write(std::move(batch), WriteMode::kUpsert).ok());
    }
  };
  write(0, kRows, 0);
  ASSERT_TRUE(c->Flush().ok());
  const double full = Recall(*c);

  std::vector<uint32_t> ids(kRows);
  std::iota(ids.begin(), ids.end(), 0u);
  std::shuffle(ids.begin(), ids.end(), std::mt19937(5));
  auto remove = [&](size_t from, size_t to) {
    std::vector<std::string> gone;
    for (size_t i = from; i < to; ++i) gone.push_back(std::to_string(ids[i]));
    ASSERT_EQ(*c->Delete(gone), gone.size());
  };
  remove(0, kRows / 2);
  // Upserts in between: a tenth of the survivors get other images (of rows past kRows).
  for (size_t i = kRows / 2; i < kRows / 2 + kRows / 10; ++i) {
    ASSERT_TRUE(c->Write({{std::to_string(ids[i]), Base(kRows + ids[i]), "{}"}},
                         WriteMode::kUpsert).ok());
  }
  ASSERT_EQ(*c->Count(), kRows / 2);
  const double half = Recall(*c);
  remove(kRows / 2, kRows * 9 / 10);
  ASSERT_EQ(*c->Count(), kRows / 10);
  const double tenth = Recall(*c);
  std::printf("recall@10 at the default ef: all %.4f, after deleting 50%% %.4f, 90%% %.4f\n",
              full, half, tenth);
  EXPECT_GE(half, 0.95);
  EXPECT_GE(tenth, 0.95);
}

}  // namespace
}  // namespace proximadb
