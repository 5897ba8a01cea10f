// The value types of ProximaDB's public C++ API: collection settings, records, search requests
// and results, statistics. Plain structs; no behaviour beyond parsing and naming enums.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace proximadb {

enum class DistanceMetric { kCosine, kL2, kDot };
// Accepts "cosine", "l2" (also "euclidean") and "dot".
absl::StatusOr<DistanceMetric> ParseDistanceMetric(std::string_view name);
const char* DistanceMetricName(DistanceMetric metric);

// How a collection's rows are indexed for search: HNSW graphs, IVF partitions (the viper and
// custom strategies), or none (every search scans).
enum class IndexingAlgorithm { kHnsw, kFlat, kIvf };
// Accepts "hnsw", "flat" and "ivf".
absl::StatusOr<IndexingAlgorithm> ParseIndexingAlgorithm(std::string_view name);
const char* IndexingAlgorithmName(IndexingAlgorithm algorithm);

// How a collection's segments are built, searched and compacted (DESIGN.md §4): standard (HNSW
// graphs, or none for flat), viper (write-optimized: IVF partitions with codes, no graphs,
// compressed metadata) or custom (indexing_algorithm, quantization and metadata_compression as
// the collection gives them).
enum class StorageStrategy { kStandard, kViper, kCustom };
// Accepts "standard", "viper" and "custom".
absl::StatusOr<StorageStrategy> ParseStorageStrategy(std::string_view name);
const char* StorageStrategyName(StorageStrategy strategy);

// Whether a segment's metadata section is compressed (viper always; custom by choice).
enum class MetadataCompression { kNone, kZstd };
// Accepts "none" and "zstd".
absl::StatusOr<MetadataCompression> ParseMetadataCompression(std::string_view name);
const char* MetadataCompressionName(MetadataCompression compression);

// How a collection's segments compress vectors for search (docs/quantization.md): not at all,
// 8-bit scalar codes per dimension, product-quantization codes (8 bits per sub-quantizer, or 4
// bits scanned in FAISS's fast-scan layout), or one bit per dimension. Searches traverse the
// codes and re-rank the best candidates on the float32 vectors.
enum class Quantization { kNone, kSq8, kPq, kBinary, kPq4 };
// Accepts "none", "sq8", "pq", "binary" and "pq4".
absl::StatusOr<Quantization> ParseQuantization(std::string_view name);
// Whether the codes are product-quantization codes (pq or pq4), which `pq_m` shapes.
inline bool IsProductQuantization(Quantization q) {
  return q == Quantization::kPq || q == Quantization::kPq4;
}
const char* QuantizationName(Quantization quantization);

enum class Durability {
  kSync,   // a write is acknowledged after its WAL record is fsynced (default)
  kAsync,  // acknowledged once written; fsync every async_sync_interval_ms (may lose that much)
};
absl::StatusOr<Durability> ParseDurability(std::string_view name);

struct IndexParams {
  uint32_t m = 16;
  uint32_t ef_construction = 200;
  uint32_t ef_search = 64;
  // IVF partitions (the viper strategy's segments) a search probes at least.
  uint32_t nprobe = 16;
};

// When a collection's memtable is flushed into a segment; whichever limit is reached first.
struct FlushPolicy {
  double max_wal_age_hours = 24.0;     // age of the oldest unflushed write
  double max_wal_size_mb = 128.0;      // WAL bytes not yet covered by segments
  uint64_t max_vector_count = 1000000;  // rows in the memtable
  int flush_priority = 50;              // 1-100; higher is flushed first when several are due
};

// Which storage tier a collection's segments live in (docs/storage.md#tiers). Ages count from a
// segment's last search (or its open).
struct TieringPolicy {
  bool ultra_hot = false;  // search structures held resident (locked in memory) and prefetched
  // Moved to a warm directory once unsearched this long; back to hot once searched. nullopt:
  // never; 0: right after a flush.
  std::optional<double> warm_after_hours;
  // Moved to the cold tier (the object store; searches fetch it into the local cache) once
  // unsearched this long; back to a local directory once the policy no longer says so.
  // nullopt: never; 0: right after a flush.
  std::optional<double> cold_after_hours;
  bool operator==(const TieringPolicy&) const = default;
};

// The settings of a collection that can change after it is created; unset fields stay.
// A collection's quantization (docs/quantization.md).
struct QuantizationParams {
  Quantization kind = Quantization::kNone;  // "quantization"
  // pq: sub-quantizers, a divisor of the dimension (one byte each); 0 = about dimension / 4.
  uint32_t pq_m = 0;
  // Candidates re-scored on the float32 vectors per segment searched (at least k); 0 = all the
  // candidates the search holds, max(ef, 2k) (four times that for binary graphs).
  uint32_t rerank = 0;
};

struct CollectionUpdate {
  std::optional<uint32_t> ef_search;
  std::optional<uint32_t> nprobe;
  std::optional<uint32_t> rerank;
  // The layout: changing it starts a live migration of every segment (docs/quantization.md).
  std::optional<StorageStrategy> storage_strategy;
  std::optional<Quantization> quantization;
  std::optional<uint32_t> pq_m;
  std::optional<IndexingAlgorithm> indexing_algorithm;
  std::optional<MetadataCompression> metadata_compression;
  std::optional<double> max_wal_age_hours;
  std::optional<double> max_wal_size_mb;
  std::optional<uint64_t> max_vector_count;
  std::optional<int> flush_priority;
  std::optional<TieringPolicy> tiering;  // replaces the whole policy
};

struct CollectionConfig {
  std::string name;  // ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$
  uint32_t dimension = 0;  // 1-65536
  DistanceMetric metric = DistanceMetric::kCosine;
  IndexingAlgorithm indexing_algorithm = IndexingAlgorithm::kHnsw;
  IndexParams index;
  FlushPolicy flush;
  StorageStrategy storage_strategy = StorageStrategy::kStandard;
  QuantizationParams quantization;
  // The custom strategy's further components (standard: none; viper: zstd). The id index is a
  // hash map whatever the strategy ("hashmap", the only kind so far).
  MetadataCompression metadata_compression = MetadataCompression::kNone;
  TieringPolicy tiering;
  int64_t created_at_us = 0;  // set by the database
  // Cluster mode (docs/cluster.md): the shards the collection is split into, and the copies of
  // each shard's log; 0 on create means the cluster's default. A single node holds one shard
  // in one copy, and refuses any other number.
  uint32_t shards = 0;
  uint32_t replication_factor = 0;
};

// How current a read must be (docs/cluster.md#reads). kStrong: it sees every write
// acknowledged before it started, from any node. kEventual: this node's replicas as they are,
// possibly behind (CollectionStats::replication_lag). A single node's reads are always strong.
enum class ReadConsistency { kStrong, kEventual };

// A stored record. `metadata` is a JSON object in compact text form ("{}" when empty).
struct Record {
  std::string id;
  std::vector<float> vector;
  std::string metadata = "{}";
  friend bool operator==(const Record&, const Record&) = default;
};

enum class WriteMode { kInsert, kUpsert };

struct ScrollPage {
  std::vector<Record> records;  // in id order; vectors empty unless asked for
  std::string next_after;       // pass as `after` for the next page; empty when done
};

struct SearchRequest {
  std::span<const float> vector;
  uint32_t k = 10;
  // A metadata filter (the language of src/filter/filter.h, e.g.
  // {"user": "alice", "price": {"$lt": 20}}); empty for none.
  std::string filter;
  bool include_vectors = false;
  bool include_metadata = true;
  uint32_t ef = 0;     // HNSW search breadth; 0 means the collection's ef_search
  bool exact = false;  // scan every record instead of searching the graphs
  uint32_t rerank = 0;  // quantized collections: candidates re-scored; 0 = the collection's
  uint32_t nprobe = 0;  // viper segments: partitions probed at least; 0 = the collection's
};

struct SearchHit {
  std::string id;
  // cosine: cosine similarity; dot: inner product (higher is better for both);
  // l2: Euclidean distance (lower is better). Hits are ordered best first.
  float score = 0;
  std::string metadata;        // when include_metadata
  std::vector<float> vector;   // when include_vectors
};

struct SearchResponse {
  std::vector<SearchHit> hits;  // best first
  // How the search ran, the most involved plan any layer used: "graph_expanded" (a filtered
  // traversal of an HNSW graph that expanded until it held k allowed rows), "graph_post_filter"
  // (an unfiltered traversal gathering enough rows that k pass the filter), "graph" (unfiltered
  // graph search), "ivf" (IVF partitions), or "exact" (every candidate scanned: requested, a
  // selective filter, or layers too small or not yet indexed). Every plan returns k hits
  // whenever k records match.
  std::string plan;
};

struct CollectionStats {
  uint64_t vector_count = 0;    // live records
  uint64_t memtable_rows = 0;   // rows (live or superseded) not yet in segments
  // Memtable rows not yet in its HNSW graphs (scanned exactly); rows a freeze caught before
  // the indexer stay counted until their flush.
  uint64_t unindexed_rows = 0;
  // Of those, the rows a memtable's IVF lists hold (filed there after a bulk load, searched
  // through them); the rest are scanned.
  uint64_t ivf_rows = 0;
  uint64_t segment_count = 0;
  uint64_t segment_rows = 0;
  uint64_t deleted_rows = 0;    // dead rows still held by segments (until compaction)
  uint64_t memory_bytes = 0;
  uint64_t disk_bytes = 0;      // segments + WAL + manifest
  uint64_t wal_bytes = 0;       // WAL bytes not yet covered by segments
  double oldest_unflushed_age_seconds = 0;  // 0 when everything is flushed
  uint64_t last_seq = 0;
  uint64_t flushed_seq = 0;  // every batch up to it is in the segments (not in the API)
  uint64_t flushes = 0;              // since the collection was opened
  uint64_t compactions = 0;
  double flush_seconds = 0;          // time spent in them
  double compaction_seconds = 0;
  uint64_t wal_syncs = 0;            // WAL fsyncs (one per commit group under sync durability)
  std::string background_error;  // empty unless a failure stopped writes
  // A layout change's rewrite of the segments: "none" (every segment has the collection's
  // layout), "pending" (some have not: it starts at the next maintenance pass, or resumes after
  // a restart) or "running"; with the segments rewritten so far of those it started with.
  std::string migration_state = "none";
  uint64_t migration_segments_done = 0;
  uint64_t migration_segments_total = 0;
  // Segments and their file bytes per tier (docs/storage.md#tiers).
  uint64_t tier_ultra_hot_segments = 0;
  uint64_t tier_ultra_hot_bytes = 0;
  uint64_t tier_hot_segments = 0;
  uint64_t tier_hot_bytes = 0;
  uint64_t tier_warm_segments = 0;
  uint64_t tier_warm_bytes = 0;
  uint64_t tier_cold_segments = 0;
  uint64_t tier_cold_bytes = 0;
  uint64_t cache_bytes = 0;  // the local cache of cold segments
  // Cluster mode: log entries this node's replicas have not applied yet, as far as they know
  // (the log's end as last seen by their readers, writes and barriers); 0 on a single node.
  uint64_t replication_lag = 0;
};

// A write resolved against a replica's state, not applied (Collection::PrepareWrite): the batch
// to log at sequence after + 1, or "" when the write changes nothing.
struct PreparedBatch {
  uint64_t after = 0;  // the last sequence applied when it was resolved
  std::string batch;
  uint64_t deleted = 0;  // PrepareDelete: how many of the ids were live
};

// One flush, compaction or migration (a layout change's rewrite), as Collection::History lists
// them: what it read and wrote, how long it took, and its error if it failed.
struct MaintenanceEvent {
  std::string kind;            // "flush", "compaction" or "migration"
  int64_t started_at_us = 0;   // Unix time
  double seconds = 0;
  uint64_t segments_in = 0;    // segments read (0 for a flush, which reads the memtable)
  uint64_t segments_out = 0;   // segments written (0 when no row was live)
  uint64_t rows = 0;           // rows written
  uint64_t bytes = 0;          // file bytes written
  std::string error;           // empty on success
};

// A backup of a collection in the object store (docs/backups.md).
struct BackupInfo {
  std::string backup_id;       // "<collection>-<UTC time>-<random>"
  std::string collection;      // the collection backed up
  int64_t created_at_us = 0;   // when the snapshot was taken
  uint64_t bytes = 0;          // the snapshot's segment bytes
  uint64_t uploaded_bytes = 0;  // of these, what this backup sent (the rest was stored already)
  uint32_t segments = 0;
  uint64_t vector_count = 0;   // the records it holds
  uint32_t dimension = 0;
};

}  // namespace proximadb
