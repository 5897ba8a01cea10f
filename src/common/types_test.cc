// The enums of the public API: every name parses to its value and back, aliases included, and
// an unknown name is an error naming the field and what is supported.
#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "proximadb/types.h"

namespace proximadb {
namespace {

TEST(TypesTest, NamesParseToTheirValuesAndBack) {
  for (const char* name : {"cosine", "l2", "dot"}) {
    EXPECT_STREQ(DistanceMetricName(*ParseDistanceMetric(name)), name);
  }
  EXPECT_EQ(*ParseDistanceMetric("euclidean"), DistanceMetric::kL2);
  for (const char* name : {"hnsw", "flat"}) {
    EXPECT_STREQ(IndexingAlgorithmName(*ParseIndexingAlgorithm(name)), name);
  }
  for (const char* name : {"standard", "viper", "custom"}) {
    EXPECT_STREQ(StorageStrategyName(*ParseStorageStrategy(name)), name);
  }
  EXPECT_EQ(*ParseDurability("async"), Durability::kAsync);
}

TEST(TypesTest, UnknownNamesNameTheFieldAndTheChoices) {
  const absl::Status metric = ParseDistanceMetric("manhattan").status();
  EXPECT_EQ(metric.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(metric.message(),
            "distance_metric: unknown metric 'manhattan' (supported: cosine, l2, euclidean, dot)");
  const absl::Status algorithm = ParseIndexingAlgorithm("annoy").status();
  EXPECT_TRUE(
      absl::StartsWith(algorithm.message(), "indexing_algorithm: unknown algorithm 'annoy'"));
  const absl::Status strategy = ParseStorageStrategy("bogus").status();
  EXPECT_TRUE(absl::StartsWith(strategy.message(), "storage_strategy: unknown strategy 'bogus'"));
  EXPECT_FALSE(ParseDurability("never").ok());
  EXPECT_FALSE(ParseIndexingAlgorithm("HNSW").ok());  // names are exact
}

}  // namespace
}  // namespace proximadb
