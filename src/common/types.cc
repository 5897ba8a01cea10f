// Parsing and naming of the enums of the public API (include/proximadb/types.h).
#include "proximadb/types.h"

#include <string>

#include "common/enum_names.h"

namespace proximadb {
namespace {

constexpr EnumName<DistanceMetric> kMetricNames[] = {{DistanceMetric::kCosine, "cosine"},
                                                     {DistanceMetric::kL2, "l2"},
                                                     {DistanceMetric::kL2, "euclidean"},
                                                     {DistanceMetric::kDot, "dot"}};
constexpr EnumName<IndexingAlgorithm> kAlgorithmNames[] = {{IndexingAlgorithm::kHnsw, "hnsw"},
                                                           {IndexingAlgorithm::kFlat, "flat"},
                                                           {IndexingAlgorithm::kIvf, "ivf"}};
constexpr EnumName<MetadataCompression> kCompressionNames[] = {
    {MetadataCompression::kNone, "none"}, {MetadataCompression::kZstd, "zstd"}};
constexpr EnumName<StorageStrategy> kStrategyNames[] = {{StorageStrategy::kStandard, "standard"},
                                                        {StorageStrategy::kViper, "viper"},
                                                        {StorageStrategy::kCustom, "custom"}};
constexpr EnumName<Quantization> kQuantizationNames[] = {{Quantization::kNone, "none"},
                                                         {Quantization::kSq8, "sq8"},
                                                         {Quantization::kPq, "pq"},
                                                         {Quantization::kBinary, "binary"},
                                                         {Quantization::kPq4, "pq4"}};
constexpr EnumName<Durability> kDurabilityNames[] = {{Durability::kSync, "sync"},
                                                     {Durability::kAsync, "async"}};

// The value named `name`, or INVALID_ARGUMENT "<field>: unknown <what> '<name>' (supported: ...)".
template <typename E, size_t N>
absl::StatusOr<E> Parse(const EnumName<E> (&table)[N], std::string_view name, const char* field,
                        const char* what) {
  if (std::optional<E> value = ValueOf(table, name)) return *value;
  return absl::InvalidArgumentError(std::string(field) + ": unknown " + what + " '" +
                                    std::string(name) + "' (supported: " + NamesOf(table) + ")");
}

}  // namespace

absl::StatusOr<DistanceMetric> ParseDistanceMetric(std::string_view name) {
  return Parse(kMetricNames, name, "distance_metric", "metric");
}
const char* DistanceMetricName(DistanceMetric metric) { return NameOf(kMetricNames, metric); }

absl::StatusOr<IndexingAlgorithm> ParseIndexingAlgorithm(std::string_view name) {
  return Parse(kAlgorithmNames, name, "indexing_algorithm", "algorithm");
}
const char* IndexingAlgorithmName(IndexingAlgorithm algorithm) {
  return NameOf(kAlgorithmNames, algorithm);
}

absl::StatusOr<StorageStrategy> ParseStorageStrategy(std::string_view name) {
  if (std::optional<StorageStrategy> s = ValueOf(kStrategyNames, name)) return *s;
  return absl::InvalidArgumentError("storage_strategy: unknown strategy '" + std::string(name) +
                                    "' (supported: standard, viper, custom)");
}
const char* StorageStrategyName(StorageStrategy strategy) {
  return NameOf(kStrategyNames, strategy);
}

absl::StatusOr<MetadataCompression> ParseMetadataCompression(std::string_view name) {
  return Parse(kCompressionNames, name, "metadata_compression", "compression");
}
const char* MetadataCompressionName(MetadataCompression compression) {
  return NameOf(kCompressionNames, compression);
}

absl::StatusOr<Quantization> ParseQuantization(std::string_view name) {
  return Parse(kQuantizationNames, name, "quantization", "quantization");
}
const char* QuantizationName(Quantization quantization) {
  return NameOf(kQuantizationNames, quantization);
}

absl::StatusOr<Durability> ParseDurability(std::string_view name) {
  return Parse(kDurabilityNames, name, "durability", "mode");
}

}  // namespace proximadb
