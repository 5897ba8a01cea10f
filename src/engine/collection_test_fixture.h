// The fixture of the collection tests (collection_test.cc, indexed_collection_test.cc): a
// database on the in-memory Env with a 4-dimension l2 collection "docs", and helpers that
// make records and compute exact answers without the engine's code.
#pragma once

#include <algorithm>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "common/scoped_temp_dir.h"
#include "env/mem_env.h"
#include "gtest/gtest.h"
#include "proximadb/database.h"

namespace proximadb {

class CollectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Reopen();
    CollectionConfig c;
    c.name = "docs";
    c.dimension = 4;
    c.metric = DistanceMetric::kL2;
    ASSERT_TRUE(db_->CreateCollection(c).ok());
    coll_ = *db_->GetCollection("docs");
  }
  void TearDown() override {
    coll_.reset();
    db_.reset();
  }
  void Reopen() {
    coll_.reset();
    db_.reset();
    DatabaseOptions o;
    o.env = &env_;
    o.data_dir = "/data";
    o.catalog_path = tmp_.path() + "/catalog.db";
    o.background_maintenance = false;
    o.background_indexing = background_indexing_;
    auto db = Database::Open(o);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    if (auto c = db_->GetCollection("docs"); c.ok()) coll_ = *c;
  }

 public:  // the static helpers, for the tests' own helper classes too
  static Record R(std::string id, std::vector<float> v, std::string meta = "{}") {
    return Record{std::move(id), std::move(v), std::move(meta)};
  }
  // A new l2 collection of `dim` dimensions.
  std::shared_ptr<Collection> CreateL2(const std::string& name, uint32_t dim) {
    CollectionConfig c;
    c.name = name;
    c.dimension = dim;
    c.metric = DistanceMetric::kL2;
    EXPECT_TRUE(db_->CreateCollection(c).ok());
    return *db_->GetCollection(name);
  }
  // `n` records "v0", "v1", ... of Gaussian vectors, with metadata(i).
  static std::vector<Record> GaussianRecords(
      int n, uint32_t dim, std::mt19937& rng,
      const std::function<std::string(int)>& metadata = [](int) { return "{}"; }) {
    std::normal_distribution<float> dist;
    std::vector<Record> out;
    for (int i = 0; i < n; ++i) {
      std::vector<float> v(dim);
      for (float& x : v) x = dist(rng);
      out.push_back(R("v" + std::to_string(i), v, metadata(i)));
    }
    return out;
  }

  // The ids of the k records of `all` nearest to `q` by L2 among those `live(i)` accepts,
  // nearest first: a brute force in double arithmetic that shares no code with the engine.
  static std::vector<std::string> BruteForce(const std::vector<Record>& all,
                                             const std::function<bool(int)>& live,
                                             const std::vector<float>& q, size_t k) {
    std::vector<std::pair<double, std::string>> scored;
    for (size_t i = 0; i < all.size(); ++i) {
      if (!live(static_cast<int>(i))) continue;
      double d = 0;
      for (size_t j = 0; j < q.size(); ++j) {
        d += (double(all[i].vector[j]) - q[j]) * (double(all[i].vector[j]) - q[j]);
      }
      scored.emplace_back(d, all[i].id);
    }
    std::sort(scored.begin(), scored.end());
    std::vector<std::string> ids;
    for (size_t i = 0; i < scored.size() && i < k; ++i) ids.push_back(scored[i].second);
    return ids;
  }
  // How many of `hits` are in `truth`.
  static size_t Found(const std::vector<SearchHit>& hits, const std::vector<std::string>& truth) {
    return std::count_if(hits.begin(), hits.end(), [&](const SearchHit& h) {
      return std::find(truth.begin(), truth.end(), h.id) != truth.end();
    });
  }

 protected:
  bool background_indexing_ = false;
  ScopedTempDir tmp_;
  MemEnv env_;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Collection> coll_;
};

}  // namespace proximadb
