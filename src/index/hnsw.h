// HNSW (hierarchical navigable small world) graph over vectors stored elsewhere.
//
// Layout: level-0 neighbour lists of all nodes in one contiguous array ([count, m0 ids] per
// node, m0 = 2m), upper-level lists per node; the vectors stay where the caller keeps them
// (a contiguous row-major array: a segment's mapping, or a benchmark's buffer).
//
// Concurrency: Insert may run from many threads at once (each row once); a per-node spinlock
// guards writers of that node's lists. Readers (Search, and the searches inside Insert) take no
// locks: list entries and counts are read and written atomically, so a reader sees some
// consistent-enough version of every list, as in hnswlib. MarkDeleted is thread-safe.
//
// Serialize() writes the graph into a byte buffer; Load() searches such a buffer in place
// (zero-copy), which is how a segment serves its graph from mmap. A loaded index is read-only
// except for deletions.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "common/reserved_array.h"
#include "index/distance.h"
#include "index/flat.h"
#include "index/row_distance.h"

namespace proximadb::index {

struct HnswParams {
  uint32_t m = 16;
  uint32_t ef_construction = 200;
  uint64_t seed = 42;
};

struct SearchStats {
  uint32_t distances = 0;  // distance computations
  uint32_t expanded = 0;   // nodes whose neighbour lists were read
  bool budget_exceeded = false;
};

class Hnsw {
 public:
  // An empty graph for up to `capacity` rows of `vectors` (row-major, `dim` floats each), which
  // must outlive the index.
  Hnsw(const float* vectors, uint32_t dim, DistanceMetric metric, uint32_t capacity,
       HnswParams params);
  // An empty graph with room for no row yet that grows in place (Grow) up to `max_capacity`
  // rows: address space is reserved for that many, memory is taken only as it grows. For
  // `vectors` that grow in place too (a memtable's).
  static std::unique_ptr<Hnsw> Growable(const float* vectors, uint32_t dim,
                                        DistanceMetric metric, uint32_t max_capacity,
                                        HnswParams params);
  ~Hnsw();

  // Makes room for rows [0, capacity) (capacity <= the max capacity; never shrinks). Call when
  // no Insert is running; searches may run.
  void Grow(uint32_t capacity);

  // Adds row `row` (< capacity) to the graph. Thread-safe; each row at most once.
  void Insert(uint32_t row);
  // The row is never returned again but still routes searches. Thread-safe.
  void MarkDeleted(uint32_t row);
  bool IsDeleted(uint32_t row) const;

  // The k nearest inserted, undeleted rows, best first. Each search also takes a RowDistance
  // instead of the query: the distances to the rows' quantized codes (with `vectors` those of
  // the graph's own rows).
  std::vector<Hit> Search(const float* query, uint32_t k, uint32_t ef,
                          SearchStats* stats = nullptr) const {
    return Search(Exact(query), k, ef, stats);
  }
  std::vector<Hit> Search(const RowDistance& dist, uint32_t k, uint32_t ef,
                          SearchStats* stats = nullptr) const;
  // The k nearest inserted, undeleted rows that the filter accepts, best first: `allow` is a
  // predicate, `allowed` a bitmap of rows (bit r of word r / 64), the fast form. The search
  // keeps expanding until it holds max(ef, k) allowed candidates or the graph is exhausted, so
  // a restrictive filter costs more visits but never returns fewer than k while k rows qualify
  // and are reachable.
  //
  // With `max_distances` > 0 the search gives up (stats->budget_exceeded, empty result) once it
  // has computed that many distances: the planner uses this to stop a filtered graph search
  // that has become dearer than an exact scan of the allowed rows.
  std::vector<Hit> Search(const float* query, uint32_t k, uint32_t ef,
                          absl::FunctionRef<bool(uint32_t)> allow, SearchStats* stats = nullptr,
                          uint32_t max_distances = 0) const {
    return Search(Exact(query), k, ef, allow, stats, max_distances);
  }
  std::vector<Hit> Search(const RowDistance& dist, uint32_t k, uint32_t ef,
                          absl::FunctionRef<bool(uint32_t)> allow, SearchStats* stats = nullptr,
                          uint32_t max_distances = 0) const;
  std::vector<Hit> Search(const float* query, uint32_t k, uint32_t ef, const uint64_t* allowed,
                          SearchStats* stats = nullptr, uint32_t max_distances = 0) const {
    return Search(Exact(query), k, ef, allowed, stats, max_distances);
  }
  std::vector<Hit> Search(const RowDistance& dist, uint32_t k, uint32_t ef,
                          const uint64_t* allowed, SearchStats* stats = nullptr,
                          uint32_t max_distances = 0) const;
  // Distances from `query` to the graph's rows on their float32 vectors.
  RowDistance Exact(const float* query) const {
    return RowDistance(query, vectors_, dim_, distance_);
  }

  // The graph (and deletion bitmap) as bytes; call when no Insert is running.
  std::string Serialize() const { return Serialize(capacity()); }
  // The same for a graph of `rows` rows (<= capacity; every inserted row below it): how a
  // grown graph's spare room is left out.
  std::string Serialize(uint32_t rows) const;
  // An index over `buffer` (from Serialize, 8-byte aligned, outliving the index) without copying
  // it. kDataLoss if the buffer is malformed or does not match `dim`.
  static absl::StatusOr<std::unique_ptr<Hnsw>> Load(std::string_view buffer,
                                                    const float* vectors, uint32_t dim,
                                                    DistanceMetric metric);

  // The graph's structure, for tests: the row's level (-1 if not inserted) and its neighbours
  // on a level at or below it.
  int Level(uint32_t row) const { return levels_[row] == kAbsent ? -1 : levels_[row]; }
  std::vector<uint32_t> Neighbors(uint32_t row, int level) const;
  // The inserted rows that no search can reach: not reachable from the entry point along the
  // directed level-0 links (deleted rows route too). Call when no Insert is running.
  std::vector<uint32_t> UnreachableRows() const;
  // Makes every inserted row reachable: links each unreachable row from the nearest reachable
  // row with room in its level-0 list. Call when a build is done (no Insert running; searches
  // may run). Returns how many links it added.
  //
  // Why: the neighbour-selection heuristic keeps a link only if no closer neighbour already
  // covers its direction, so when an outlier's neighbours fill up and prune, the outlier can
  // lose every incoming link (a few rows in ten thousand on Fashion-MNIST; hnswlib's graphs
  // have them too). Such a row is never found, whatever ef.
  uint32_t LinkUnreachable();

  uint32_t size() const { return inserted_.load(std::memory_order_relaxed); }
  uint32_t capacity() const { return capacity_.load(std::memory_order_acquire); }
  uint32_t m() const { return m_; }

  // What a traversal costs on this graph, for the planner: c in "a search gathering g rows
  // computes about c * g^kTraversalExponent distances", learned from the searches themselves
  // (a moving average over about 32 of them; 0 until one was recorded). Lost updates between
  // racing searches are harmless. Thread-safe.
  static constexpr double kTraversalExponent = 0.7;
  double traversal_coefficient() const { return traversal_.load(std::memory_order_relaxed); }
  void RecordTraversal(uint32_t gathered, uint32_t distances) const;
  // Bytes of graph structure (links, levels, locks, deletions); not the vectors.
  size_t MemoryBytes() const;

 private:
  struct Candidate;
  class VisitedPool;
  static constexpr uint8_t kAbsent = 0xff;  // level of a row not inserted

  Hnsw(const float* vectors, uint32_t dim, DistanceMetric metric, uint32_t max_capacity,
       HnswParams params, bool loaded);
  const float* Vector(uint32_t row) const { return vectors_ + static_cast<size_t>(row) * dim_; }
  uint32_t* Links(uint32_t node, int level) const;
  uint32_t MaxLinks(int level) const { return level == 0 ? m0_ : m_; }
  int RandomLevel(uint32_t row) const;
  // Best-first search of one layer from `entry`; returns up to ef candidates that `allow`
  // accepts, closest first. A template so that the filter check inlines in the hot loop.
  template <typename Allow>
  std::vector<Candidate> SearchLayer(const RowDistance& dist, uint32_t entry, uint32_t ef,
                                     int level, const Allow& allow, SearchStats* stats,
                                     uint32_t max_distances = 0) const;
  template <typename Allow>
  std::vector<Hit> SearchFrom(const RowDistance& dist, uint32_t k, uint32_t ef,
                              const Allow& allow, SearchStats* stats,
                              uint32_t max_distances) const;
  // Marks in `reached` (one flag per row) every row reachable from `from` along level-0 links.
  void MarkReachable(uint32_t from, std::vector<bool>* reached) const;
  uint32_t GreedyDescend(const RowDistance& dist, uint32_t entry, int from_level, int to_level,
                         SearchStats* stats) const;
  // HNSW's neighbour-selection heuristic: keeps a candidate only if it is closer to the base
  // than to every candidate kept so far (diversity), up to `max` of them.
  std::vector<uint32_t> SelectNeighbors(std::vector<Candidate> candidates, uint32_t max) const;
  void Connect(uint32_t node, uint32_t neighbor, int level);
  void Lock(uint32_t node) const;
  void Unlock(uint32_t node) const;

  const float* const vectors_;
  const uint32_t dim_;
  const DistanceMetric metric_;
  const Distance distance_;
  const uint32_t max_capacity_;
  std::atomic<uint32_t> capacity_{0};  // rows [0, capacity_) have room; grows
  const uint32_t m_, m0_, ef_construction_;
  const uint64_t seed_;
  const double level_mult_;
  const bool loaded_;

  // Built graphs keep their per-row arrays in reservations of max_capacity_ rows, committed
  // up to capacity_, so that they grow without moving; a loaded graph reads the caller's buffer.
  // Level-0 lists: capacity * (1 + m0) entries, each list [count, ids...].
  uint32_t* level0_ = nullptr;
  ReservedArray<uint32_t> level0_owned_;
  const uint8_t* levels_ = nullptr;  // per row, kAbsent if not inserted
  ReservedArray<uint8_t> levels_owned_;
  // Upper-level lists: built: per node, an owned block of level * (1 + m) entries (freed by
  // the destructor); loaded: offsets into a blob.
  ReservedArray<uint32_t*> upper_owned_;
  const uint32_t* upper_offsets_ = nullptr;
  const uint32_t* upper_blob_ = nullptr;

  ReservedArray<uint64_t> deleted_;      // bitmap, accessed through std::atomic_ref
  mutable ReservedArray<uint8_t> locks_;  // spinlock per node, through std::atomic_ref

  // Entry point and top level, packed so that readers see a consistent pair.
  std::atomic<uint64_t> entry_{UINT64_MAX};
  std::mutex entry_mu_;  // serializes raising the top level (std::mutex: see VisitedPool)
  std::atomic<uint32_t> inserted_{0};
  // On its own cache line: every unfiltered search writes it, every search reads entry_.
  alignas(64) mutable std::atomic<double> traversal_{0};
  std::unique_ptr<VisitedPool> visited_;
};

// Builds `graph` over rows [0, rows): inserts the rows `include` accepts from up to `threads`
// threads (one per thousand rows at most), then links the rows no search could reach
// (Hnsw::LinkUnreachable). Returns false, the graph unfinished, if `*stop` turned true first
// (checked before each insert): a build given up.
bool BuildHnsw(Hnsw& graph, uint32_t rows, int threads,
               absl::FunctionRef<bool(uint32_t)> include = [](uint32_t) { return true; },
               const std::atomic<bool>* stop = nullptr);

}  // namespace proximadb::index
