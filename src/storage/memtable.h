// Memtable: the newest rows of a collection, in memory, append-only.
//
// Rows live in chunks whose capacities double (1024, 2048, 4096, ... rows), so a row never
// moves once written and a 22-entry directory addresses 4 billion rows. Each chunk holds the
// vectors contiguously (64-byte aligned) and per-row id, metadata and sequence numbers; id and
// metadata bytes sit in an append-only arena. An IdIndex maps each id to its newest row.
//
// Visibility (MVCC by sequence number): row r exists for a reader at snapshot S when
// insert_seq(r) <= S < deleted_seq(r). An overwrite appends a new row and marks the old one
// deleted at the overwrite's sequence number; nothing is updated in place except deleted_seq.
//
// Graph: with GraphOptions, the rows are also indexed in one HNSW graph by IndexRows, which a
// background indexer calls after the writes are acknowledged. Rows [0, indexed_rows()) are in
// the graph; a search scans the rows above exactly, so every row is searchable as soon as it is
// appended. The graph wants the vectors in one array: the chunks below GraphOptions::max_rows
// take theirs from one reservation of address space (common/reserved_array.h), committed chunk
// by chunk, and the graph's own arrays grow in place the same way. Rows past max_rows (a
// memtable whose flushes are held up) are only scanned.
// IVF lists: a graph insert costs hundreds of microseconds a row at high dimension, so a bulk
// load outruns the graph by tens of thousands of rows, which a search would scan. Once
// kFilingStart rows wait for the graph, FileRows trains IVF lists (index/ivf_lists.h) on the
// rows there are and from then on files every row into them, microseconds a row, ahead of the
// graph. A search takes the rows the graph has not reached from the lists, and while the graph
// holds few rows (a graph search costs about as much on a few rows as on many), all of them;
// it scans only the rows appended since the last filing.
// Fields: a FieldIndex over the rows' metadata, extended by each filtered search.
//
// Thread-safety: one writer at a time (the collection's commit leader) calls Append and
// MarkDeleted; IndexRows, FileRows and FinishGraph take turns (indexer_mu_); any number of
// readers may
// concurrently read rows below num_rows() (acquire), search the graph and the lists, and call
// Find, which
// takes a shared lock on the id index.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string_view>
#include <vector>

#include "common/reserved_array.h"
#include "filter/field_index.h"
#include "index/hnsw.h"
#include "index/ivf_lists.h"
#include "proximadb/types.h"
#include "storage/id_index.h"
#include "storage/layer.h"

namespace proximadb {

class Memtable final : public Layer {
 public:
  struct GraphOptions {
    DistanceMetric metric;
    index::HnswParams params;
    // Rows the graph can hold (rounded up to a whole chunk): address space for their vectors
    // and links is reserved, memory is taken as rows arrive.
    uint32_t max_rows = 1 << 20;
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
  // The indexed rows through the graph, the rows above it from the IVF lists as far as they
  // hold them, the rest scanned.
  void ForEachPart(uint32_t rows, absl::FunctionRef<void(const LayerPart&)> fn) const override;

  // Indexer side: inserts up to `max_rows` of the rows not yet indexed (within one chunk) into
  // the graph, on `threads` threads (the graph takes concurrent inserts; the rows are published
  // together once all are in, and a reader's search keeps to published rows); returns how many
  // it inserted (0 without GraphOptions, when all are indexed, or past the graph's max_rows).
  uint32_t IndexRows(uint32_t max_rows, int threads = 1);
  // Indexer side: once kFilingStart rows wait for the graph, trains the IVF lists (unless
  // `train` is false); then files up to `max_rows` of the rows appended since into them, on
  // `threads` threads (rows past the graph's capacity are not). Returns how many it filed.
  // Takes turns with IndexRows.
  uint32_t FileRows(int threads = 1, uint32_t max_rows = UINT32_MAX, bool train = true);
  // Rows [0, filed_rows()) are in the IVF lists (0 until they are trained).
  uint32_t filed_rows() const { return filed_rows_.load(std::memory_order_acquire); }
  static constexpr uint32_t kFilingStart = 8192;

  // Rows the indexer has yet to reach (rows past the graph's capacity are only ever scanned
  // and not counted).
  uint32_t unindexed_rows() const {
    return graph_ ? std::min(num_rows(), graph_rows_) - indexed_rows() : 0;
  }
  // Rows the indexer has yet to reach that the IVF lists hold.
  uint32_t ivf_rows() const {
    const uint32_t filed = filed_rows(), indexed = indexed_rows();
    return filed > indexed ? filed - indexed : 0;
  }
  // Rows [0, indexed_rows()) are in the graph; without GraphOptions every row counts as
  // indexed (there is nothing to wait for).
  uint32_t indexed_rows() const {
    return graph_options_ ? indexed_rows_.load(std::memory_order_acquire) : num_rows();
  }
  // For the flush of a frozen memtable (no Append any more; instead of IndexRows): indexes the
  // rows left on `threads` threads and makes every row reachable, so that CompleteGraph offers
  // the graph to the segment. Nothing when the rows outgrew the graph.
  void FinishGraph(int threads);
  const index::Hnsw* CompleteGraph() const override {
    return graph_complete_.load(std::memory_order_acquire) ? graph_.get() : nullptr;
  }

  // Chunk geometry: chunk k holds rows [ChunkStart(k), ChunkStart(k) + ChunkCapacity(k)).
  static uint32_t ChunkStart(int k) { return kFirstChunkRows * ((1u << k) - 1); }
  static uint32_t ChunkCapacity(int k) { return kFirstChunkRows << k; }
  // The first chunk boundary at or above `rows`, as k in ChunkStart(k) (at most 21: the
  // largest boundary of the directory).
  static int ChunksFor(uint64_t rows) {
    int k = 0;
    while (k < kMaxChunks - 1 && ChunkStart(k) < rows) ++k;
    return k;
  }
  // The graph (nullptr without GraphOptions); only its rows below indexed_rows() are complete.
  const index::Hnsw* graph() const { return graph_.get(); }
  // Rows the graph can hold.
  uint32_t graph_rows() const { return graph_rows_; }

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
  static int ChunkOf(uint32_t row);
  Chunk* NewChunk(int k);
  uint32_t IndexRowsLocked(uint32_t max_rows, int threads);
  // With the lists trained: whether a search should take the graph's `indexed` rows from the
  // graph (and only the rows above from the lists) rather than all of them from the lists.
  bool GraphFirst(uint32_t indexed) const;
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
  // Rows [0, graph_rows_) have their vectors in graph_vectors_ (whole chunks); 0 without graph.
  const uint32_t graph_rows_;
  ReservedArray<float> graph_vectors_;
  std::unique_ptr<index::Hnsw> graph_;  // over graph_vectors_, destroyed before them
  std::atomic<uint32_t> indexed_rows_{0};
  std::atomic<bool> graph_complete_{false};
  // Written once, before filed_rows_ first leaves 0.
  std::unique_ptr<index::IvfLists> lists_;
  std::atomic<uint32_t> filed_rows_{0};
  std::mutex indexer_mu_;  // one IndexRows, FileRows or FinishGraph at a time
  mutable FieldIndex fields_;

  // std::shared_mutex (pthreads) rather than absl::Mutex: ThreadSanitizer sees through it
  // although Debian's Abseil is not built for TSan, so storage_tsan_test checks the real
  // protocol (as index::Hnsw's VisitedPool does).
  mutable std::shared_mutex index_mu_;
  std::unique_ptr<IdIndex> index_;  // guarded by index_mu_
};

}  // namespace proximadb
