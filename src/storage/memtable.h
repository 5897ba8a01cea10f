// Memtable: the newest rows of a collection, in memory, append-only.
//
// Rows live in chunks whose capacities double (1024, 2048, 4096, ... rows), so a row never
// moves once written and a 32-entry directory addresses 4 billion rows. Each chunk holds the
// vectors contiguously (64-byte aligned) and per-row id, metadata and sequence numbers; id and
// metadata bytes sit in an append-only arena. An IdIndex maps each id to its newest row.
//
// Visibility (MVCC by sequence number): row r exists for a reader at snapshot S when
// insert_seq(r) <= S < deleted_seq(r). An overwrite appends a new row and marks the old one
// deleted at the overwrite's sequence number; nothing is updated in place except deleted_seq.
//
// Graph: with GraphOptions, the rows are also indexed in HNSW graphs, one per chunk (a chunk's
// vectors are contiguous, as index::Hnsw wants), by IndexRows, which a background indexer
// calls after the writes are acknowledged. Rows [0, indexed_rows()) are in the graphs; a
// search scans the rows above exactly, so every row is searchable as soon as it is appended.
// Fields: a FieldIndex over the rows' metadata, extended by each filtered search.
//
// Thread-safety: one writer at a time (the collection's commit leader) calls Append and
// MarkDeleted; one indexer at a time calls IndexRows; any number of readers may concurrently
// read rows below num_rows() (acquire), search graphs, and call Find, which takes a shared lock
// on the id index.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string_view>
#include <vector>

#include "filter/field_index.h"
#include "index/hnsw.h"
#include "proximadb/types.h"
#include "storage/id_index.h"
#include "storage/layer.h"

namespace proximadb {

class Memtable final : public Layer {
 public:
  struct GraphOptions {
    DistanceMetric metric;
    index::HnswParams params;
  };
  // Without `graph`, rows are only ever scanned.
  Memtable(uint32_t dim, IdIndexKind index_kind,
           std::optional<GraphOptions> graph = std::nullopt);
  ~Memtable();
  Memtable(const Memtable&) = delete;
  Memtable& operator=(const Memtable&) = delete;

  // Writer side. `vector` points at dim() float32 values, possibly unaligned.
  uint32_t Append(std::string_view id, const char* vector, std::string_view metadata,
                  uint64_t seq);
  void MarkDeleted(uint32_t row, uint64_t seq) override;

  // Reader side (Layer).
  uint32_t dim() const override { return dim_; }
  uint32_t num_rows() const override { return num_rows_.load(std::memory_order_acquire); }
  std::optional<uint32_t> Find(std::string_view id) const override;
  const float* vector(uint32_t row) const override;
  std::string_view id(uint32_t row) const override;
  std::string_view metadata(uint32_t row) const override;
  uint64_t insert_seq(uint32_t row) const { return Row(row).insert_seq; }
  uint64_t deleted_seq(uint32_t row) const override;
  bool VisibleAt(uint32_t row, uint64_t snapshot) const override {
    return insert_seq(row) <= snapshot && deleted_seq(row) > snapshot;
  }
  // Rows can be newer than a reader's snapshot.
  bool AllVisible() const override { return false; }
  // Chunk by chunk: the indexed rows of a chunk through its graph, the rest scanned.
  void ForEachPart(uint32_t rows, absl::FunctionRef<void(const LayerPart&)> fn) const override;

  // Indexer side: inserts up to `max_rows` of the rows not yet indexed (within one chunk) into
  // their chunk's graph, on `threads` threads (the graph takes concurrent inserts; the rows are
  // published together once all are in, and a reader's search keeps to published rows);
  // returns how many it inserted (0 without GraphOptions or when all are indexed).
  uint32_t IndexRows(uint32_t max_rows, int threads = 1);
  // Rows [0, indexed_rows()) are in the graphs; without GraphOptions every row counts as
  // indexed (there is nothing to wait for).
  uint32_t indexed_rows() const {
    return graph_options_ ? indexed_rows_.load(std::memory_order_acquire) : num_rows();
  }

  // Chunk geometry, for searching chunk by chunk: chunk k holds rows
  // [ChunkStart(k), ChunkStart(k) + ChunkCapacity(k)).
  static uint32_t ChunkStart(int k) { return kFirstChunkRows * ((1u << k) - 1); }
  static uint32_t ChunkCapacity(int k) { return kFirstChunkRows << k; }
  // Chunk k's graph (rows numbered from ChunkStart(k)), or nullptr before the indexer reached
  // it. Only its rows below indexed_rows() are complete.
  const index::Hnsw* chunk_graph(int k) const {
    return graphs_[k].load(std::memory_order_acquire);
  }
  // Chunk k's vectors, contiguous; k must hold rows.
  const float* chunk_vectors(int k) const;

  FieldIndex& fields() const override { return fields_; }

  // Highest sequence number appended (0 if none); writer side only.
  uint64_t max_seq() const { return max_seq_; }
  size_t MemoryBytes() const { return memory_bytes_.load(std::memory_order_relaxed); }

 private:
  struct RowInfo {
    const char* id;
    const char* metadata;
    uint32_t id_len;
    uint32_t metadata_len;
    uint64_t insert_seq;
    uint64_t deleted_seq;  // accessed through std::atomic_ref
  };
  struct Chunk;
  static constexpr uint32_t kFirstChunkRows = 1024;
  static constexpr int kMaxChunks = 22;

  const RowInfo& Row(uint32_t row) const;
  RowInfo& MutableRow(uint32_t row);
  Chunk* ChunkFor(uint32_t row, uint32_t* offset) const;
  const char* CopyToArena(std::string_view bytes);

  const uint32_t dim_;
  std::array<std::atomic<Chunk*>, kMaxChunks> chunks_{};
  std::atomic<uint32_t> num_rows_{0};
  uint64_t max_seq_ = 0;
  std::atomic<size_t> memory_bytes_{0};

  // Arena for id and metadata bytes (writer only).
  std::vector<std::unique_ptr<char[]>> arena_blocks_;
  char* arena_ptr_ = nullptr;
  size_t arena_left_ = 0;

  const std::optional<GraphOptions> graph_options_;
  std::array<std::atomic<index::Hnsw*>, kMaxChunks> graphs_{};
  std::atomic<uint32_t> indexed_rows_{0};
  mutable FieldIndex fields_;

  // std::shared_mutex (pthreads) rather than absl::Mutex: ThreadSanitizer sees through it
  // although Debian's Abseil is not built for TSan, so storage_tsan_test checks the real
  // protocol (as index::Hnsw's VisitedPool does).
  mutable std::shared_mutex index_mu_;
  std::unique_ptr<IdIndex> index_;  // guarded by index_mu_
};

}  // namespace proximadb
