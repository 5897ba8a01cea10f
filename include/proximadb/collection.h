// Collection: a named set of records of one dimension and metric, with its own WAL, memtable
// and segments. Obtained from Database::GetCollection.
//
// Guarantees:
//   - A write returns OK only once it is in the WAL (fsynced under Durability::kSync), and it is
//     visible to every read that starts after it returns.
//   - A batch is all-or-nothing, also across a crash: it is one WAL record.
//   - Bad input (wrong dimension, NaN/Inf, bad id or metadata) is rejected before anything is
//     written, with kInvalidArgument naming the record and the field.
//   - Errors: kNotFound (id), kAlreadyExists (insert of a live id), kInvalidArgument,
//     kFailedPrecondition (the collection was dropped, or a background failure stopped writes
//     until the database is reopened; the message says which).
//
// Thread-safe: any number of threads may call any method concurrently. Reads never wait for a
// flush or a compaction.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "proximadb/types.h"

namespace proximadb {

// Limits enforced on every write.
inline constexpr size_t kMaxIdBytes = 512;
inline constexpr size_t kMaxMetadataBytes = 64 * 1024;
// Maintenance events Collection::History keeps.
inline constexpr size_t kHistoryEvents = 100;

class Collection {
 public:
  virtual ~Collection() = default;

  // The current definition (a copy: ef_search and the flush policy can change).
  virtual CollectionConfig config() const = 0;

  // Insert fails with kAlreadyExists if any id is live; upsert replaces. All-or-nothing.
  virtual absl::Status Write(std::vector<Record> records, WriteMode mode) = 0;
  absl::Status Insert(Record record);
  absl::Status Upsert(Record record);

  virtual absl::StatusOr<Record> Get(std::string_view id) = 0;
  // The records of the ids that exist, in the order asked; missing ids are left out.
  virtual absl::StatusOr<std::vector<Record>> GetMany(const std::vector<std::string>& ids) = 0;
  // Deletes the ids that exist; returns how many that was. One atomic batch.
  virtual absl::StatusOr<uint64_t> Delete(const std::vector<std::string>& ids) = 0;
  // Merges `patch` (a JSON object, RFC 7386 merge patch) into the record's metadata.
  virtual absl::Status PatchMetadata(std::string_view id, std::string_view patch) = 0;
  virtual absl::Status ReplaceMetadata(std::string_view id, std::string_view metadata) = 0;

  // Live records, optionally only those matching `filter` (same language as SearchRequest).
  virtual absl::StatusOr<uint64_t> Count(std::string_view filter = "") = 0;
  // Deletes the records matching `filter` (not empty: drop the collection to delete all) as one
  // atomic batch; returns how many. Candidates are the records matching at the start; each is
  // checked again when the batch commits, so one re-written meanwhile is deleted only if it
  // still matches (a record first written meanwhile may be left).
  virtual absl::StatusOr<uint64_t> DeleteWhere(std::string_view filter) = 0;
  // Up to `limit` live records (matching `filter`, if any) in id order (bytewise), starting
  // after the id `after` ("" for the first page). ScrollPage::next_after continues; it is
  // empty on the last page. Each page is read at its own snapshot.
  virtual absl::StatusOr<ScrollPage> Scroll(std::string_view after, uint32_t limit,
                                            std::string_view filter = "",
                                            bool include_vectors = false) = 0;
  // k nearest live records matching the filter, best first. Each layer is searched through
  // its HNSW graph unless the request is `exact` or the layer is small: segments have one
  // graph, the memtable one per chunk, filled in the background after the write is
  // acknowledged, with the rows not yet indexed scanned exactly, so every acknowledged write is
  // found at once. A filter is evaluated through field indexes into a set of rows; the planner
  // (src/index/planner.h) scans a selective set exactly and traverses the graph otherwise.
  virtual absl::StatusOr<SearchResponse> Search(const SearchRequest& request) = 0;

  // Cluster mode (docs/cluster.md): writes ordered by a replicated log rather than by this
  // collection's commit queue. Prepare* check and resolve a write against this replica's state
  // (as Write and Delete would, with their errors) without applying it; every replica then
  // applies the batch through ApplyReplicated at the sequence the log gave it.
  virtual absl::StatusOr<PreparedBatch> PrepareWrite(std::vector<Record> records,
                                                     WriteMode mode) = 0;
  virtual absl::StatusOr<PreparedBatch> PrepareDelete(const std::vector<std::string>& ids) = 0;
  // As PatchMetadata and ReplaceMetadata (the record keeps its vector; kNotFound if the id is
  // not live), and DeleteWhere (the ids the filter matches in this state; `deleted` of them).
  virtual absl::StatusOr<PreparedBatch> PreparePatch(std::string_view id,
                                                     std::string_view patch) = 0;
  virtual absl::StatusOr<PreparedBatch> PrepareReplace(std::string_view id,
                                                       std::string_view metadata) = 0;
  virtual absl::StatusOr<PreparedBatch> PrepareDeleteWhere(std::string_view filter) = 0;
  // Logs (with the collection's durability) and applies `batch` as sequence `seq`, which must
  // be Stats().last_seq + 1 (kFailedPrecondition otherwise) and the sequence it was prepared
  // for. An empty `batch` is a log entry that changes nothing (it only takes the sequence).
  // kDataLoss if the batch is malformed or of another dimension.
  virtual absl::Status ApplyReplicated(std::string_view batch, uint64_t seq) = 0;

  // Writes the memtable into a segment now (waits for it).
  virtual absl::Status Flush() = 0;
  // Merges all segments into one, dropping deleted rows (waits for it).
  virtual absl::Status Compact() = 0;
  // Rewrites now the segments whose layout (quantization) is not the collection's, after
  // Database::UpdateCollection changed it (waits for it; the background service does the same
  // on its own). Reads and writes go on meanwhile; one manifest change swaps the segments.
  virtual absl::Status Migrate() = 0;
  // Applies the tiering policy now (the background service does it every pass): segments
  // between hot and warm directories by the age of their last search, ultra_hot segments locked
  // in memory (docs/storage.md#tiers). Returns the first failure; the other moves still ran.
  virtual absl::Status ApplyTiering() = 0;
  virtual CollectionStats Stats() = 0;
  // The last flushes, compactions and migrations since the collection was opened (up to
  // kHistoryEvents), newest first. Failed ones are listed with their error.
  virtual std::vector<MaintenanceEvent> History() = 0;
};

}  // namespace proximadb
