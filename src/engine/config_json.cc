#include "engine/config_json.h"

#include "common/macros.h"
#include "common/strings.h"

namespace proximadb {

using json = nlohmann::json;

namespace {

json OptionalHours(const std::optional<double>& hours) {
  return hours ? json(*hours) : json(nullptr);
}

std::optional<double> OptionalHoursFrom(const json& j, const char* key) {
  if (!j.contains(key) || j.at(key).is_null()) return std::nullopt;
  return j.at(key).get<double>();
}

}  // namespace

json ConfigToJson(const CollectionConfig& c) {
  return {{"name", c.name},
          {"ultra_hot", c.tiering.ultra_hot},
          {"warm_after_hours", OptionalHours(c.tiering.warm_after_hours)},
          {"cold_after_hours", OptionalHours(c.tiering.cold_after_hours)},
          {"dimension", c.dimension},
          {"distance_metric", DistanceMetricName(c.metric)},
          {"indexing_algorithm", IndexingAlgorithmName(c.indexing_algorithm)},
          {"m", c.index.m},
          {"ef_construction", c.index.ef_construction},
          {"ef_search", c.index.ef_search},
          {"nprobe", c.index.nprobe},
          {"max_wal_age_hours", c.flush.max_wal_age_hours},
          {"max_wal_size_mb", c.flush.max_wal_size_mb},
          {"max_vector_count", c.flush.max_vector_count},
          {"flush_priority", c.flush.flush_priority},
          {"storage_strategy", StorageStrategyName(c.storage_strategy)},
          {"quantization", QuantizationName(c.quantization.kind)},
          {"pq_m", c.quantization.pq_m},
          {"rerank", c.quantization.rerank},
          {"metadata_compression", MetadataCompressionName(c.metadata_compression)}};
}

absl::StatusOr<CollectionConfig> ConfigFromJson(const json& j, std::string_view where) {
  CollectionConfig c;
  try {
    c.name = j.at("name").get<std::string>();
    c.dimension = j.at("dimension").get<uint32_t>();
    PROXIMADB_ASSIGN_OR_RETURN(c.metric, ParseDistanceMetric(j.at("distance_metric").get<std::string>()));
    PROXIMADB_ASSIGN_OR_RETURN(
        c.indexing_algorithm, ParseIndexingAlgorithm(j.at("indexing_algorithm").get<std::string>()));
    c.index.m = j.at("m").get<uint32_t>();
    c.index.ef_construction = j.at("ef_construction").get<uint32_t>();
    c.index.ef_search = j.at("ef_search").get<uint32_t>();
    c.index.nprobe = j.at("nprobe").get<uint32_t>();
    c.flush.max_wal_age_hours = j.at("max_wal_age_hours").get<double>();
    c.flush.max_wal_size_mb = j.at("max_wal_size_mb").get<double>();
    c.flush.max_vector_count = j.at("max_vector_count").get<uint64_t>();
    c.flush.flush_priority = j.at("flush_priority").get<int>();
    PROXIMADB_ASSIGN_OR_RETURN(c.storage_strategy,
                               ParseStorageStrategy(j.at("storage_strategy").get<std::string>()));
    PROXIMADB_ASSIGN_OR_RETURN(c.quantization.kind,
                               ParseQuantization(j.at("quantization").get<std::string>()));
    c.quantization.pq_m = j.at("pq_m").get<uint32_t>();
    c.quantization.rerank = j.at("rerank").get<uint32_t>();
    PROXIMADB_ASSIGN_OR_RETURN(
        c.metadata_compression,
        ParseMetadataCompression(j.at("metadata_compression").get<std::string>()));
    c.tiering.ultra_hot = j.value("ultra_hot", false);
    c.tiering.warm_after_hours = OptionalHoursFrom(j, "warm_after_hours");
    c.tiering.cold_after_hours = OptionalHoursFrom(j, "cold_after_hours");
  } catch (const json::exception& e) {
    return absl::DataLossError(Cat(where, ": its collection definition is damaged: ", e.what()));
  }
  return c;
}

}  // namespace proximadb
