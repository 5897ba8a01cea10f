#include "storage/memtable.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "common/macros.h"

namespace proximadb {

struct Memtable::Chunk {
  // `shared_vectors`: the chunk's place in the graph's reservation, or nullptr to own them.
  Chunk(uint32_t capacity, uint32_t dim, float* shared_vectors) {
    const size_t vec_bytes = (static_cast<size_t>(capacity) * dim * sizeof(float) + 63) / 64 * 64;
    owns_vectors = shared_vectors == nullptr;
    vectors = owns_vectors
                  ? static_cast<float*>(std::aligned_alloc(64, vec_bytes > 0 ? vec_bytes : 64))
                  : shared_vectors;
    rows = static_cast<RowInfo*>(std::calloc(capacity, sizeof(RowInfo)));
    PROXIMADB_CHECK(vectors != nullptr && rows != nullptr);
    bytes = vec_bytes + capacity * sizeof(RowInfo);
  }
  ~Chunk() {
    if (owns_vectors) std::free(vectors);
    std::free(rows);
  }
  float* vectors;
  bool owns_vectors;
  RowInfo* rows;
  size_t bytes;
};

Memtable::Memtable(uint32_t dim, IdIndexKind index_kind, std::optional<GraphOptions> graph)
    : dim_(dim),
      graph_options_(graph),
      graph_rows_(graph ? ChunkStart(ChunksFor(graph->max_rows)) : 0),
      graph_vectors_(static_cast<size_t>(graph_rows_) * dim),
      index_(NewIdIndex(index_kind)) {
  if (graph) {
    graph_ = index::Hnsw::Growable(graph_vectors_.data(), dim, graph->metric, graph_rows_,
                                   graph->params);
  }
}

Memtable::~Memtable() {
  for (auto& c : chunks_) delete c.load(std::memory_order_relaxed);
}

uint32_t Memtable::IndexRows(uint32_t max_rows, int threads) {
  std::lock_guard<std::mutex> l(indexer_mu_);
  return IndexRowsLocked(max_rows, threads);
}

uint32_t Memtable::IndexRowsLocked(uint32_t max_rows, int threads) {
  if (!graph_) return 0;
  const uint32_t from = indexed_rows_.load(std::memory_order_relaxed);
  const int k = ChunkOf(from);
  const uint32_t end = ChunkStart(k + 1);
  const uint32_t to = std::min<uint64_t>({num_rows(), uint64_t{from} + max_rows, end,
                                          graph_rows_});
  if (from >= to) return 0;
  if (graph_->capacity() < end) {  // the graph grows by whole chunks, like the vectors
    const size_t before = graph_->MemoryBytes();
    graph_->Grow(end);
    memory_bytes_.fetch_add(graph_->MemoryBytes() - before, std::memory_order_relaxed);
  }
  // A few hundred rows per thread at least, or the threads cost more than they bring.
  const uint32_t workers =
      static_cast<uint32_t>(std::clamp<int64_t>((to - from) / 256, 1, std::max(threads, 1)));
  // At the end of each chunk every row so far is made reachable before the last rows are
  // published.
  if (workers == 1) {
    for (uint32_t row = from; row < to; ++row) {
      graph_->Insert(row);
      if (row + 1 == end) graph_->LinkUnreachable();
      // Publish row by row: a reader searches the graph only below this mark.
      indexed_rows_.store(row + 1, std::memory_order_release);
    }
  } else {
    std::atomic<uint32_t> next{from};
    auto insert = [&] {
      for (uint32_t row; (row = next.fetch_add(1, std::memory_order_relaxed)) < to;) {
        graph_->Insert(row);
      }
    };
    std::vector<std::thread> helpers;
    for (uint32_t t = 1; t < workers; ++t) helpers.emplace_back(insert);
    insert();
    for (std::thread& t : helpers) t.join();
    if (to == end) graph_->LinkUnreachable();
    indexed_rows_.store(to, std::memory_order_release);
  }
  return to - from;
}

uint32_t Memtable::FileRows(int threads, uint32_t max_rows, bool train) {
  std::lock_guard<std::mutex> l(indexer_mu_);
  if (!graph_) return 0;
  const uint32_t from = filed_rows_.load(std::memory_order_relaxed);
  const uint32_t available = std::min(num_rows(), graph_rows_);
  const auto to = static_cast<uint32_t>(std::min<uint64_t>(available, uint64_t{from} + max_rows));
  if (lists_ == nullptr) {
    // Until the graph falls behind, nothing: it keeps up with a trickle of writes.
    if (!train || available < indexed_rows() + kFilingStart) return 0;
    // About as many partitions as rows in each at the flush (half the graph's capacity), at
    // most 256 (centroids trained on the first rows of a large memtable describe it less well
    // the more of them there are), and a multiple of 16, the AVX-512 kernel's width (the
    // kernels take the rest one at a time).
    const uint32_t sqrt_rows = static_cast<uint32_t>(std::sqrt(graph_rows_ / 2.0));
    const uint32_t partitions = std::clamp<uint32_t>(sqrt_rows, 64, 256) / 16 * 16;
    lists_ = index::IvfLists::Train(
        index::IvfLists::Options{.dim = dim_, .metric = graph_options_->metric,
                                 .partitions = partitions, .max_rows = graph_rows_,
                                 .threads = threads},
        available, [&](uint32_t row) { return vector(row); });
    memory_bytes_.fetch_add(lists_->MemoryBytes(), std::memory_order_relaxed);
  }
  const size_t before = lists_->MemoryBytes();
  // In batches, published one by one, so that searches benefit as filing goes.
  constexpr uint32_t kBatchRows = 8192;
  for (uint32_t row = from; row < to; row += kBatchRows) {
    const uint32_t n = std::min(kBatchRows, to - row);
    lists_->File(row, n, vector(row), threads);  // rows below graph_rows_ are contiguous
    filed_rows_.store(row + n, std::memory_order_release);
  }
  memory_bytes_.fetch_add(lists_->MemoryBytes() - before, std::memory_order_relaxed);
  return to - from;
}

void Memtable::FinishGraph(int threads) {
  std::lock_guard<std::mutex> l(indexer_mu_);
  if (!graph_ || num_rows() > graph_rows_ || graph_complete_.load()) return;
  while (IndexRowsLocked(UINT32_MAX, threads) > 0) {
  }
  graph_->LinkUnreachable();
  graph_complete_.store(true, std::memory_order_release);
}

bool Memtable::GraphFirst(uint32_t indexed) const {
  // A graph search at ef 64 (the default) costs about as much as the lists' scoring of 5,900
  // pq4 codes more on Fashion-MNIST (784 dimensions: 39 ns a code, a graph search 230 us) and
  // 13,000 on the wordnet embeddings (384: 20 ns a code, 265 us), measured at p50; 22,000 there
  // since the rows that cannot beat the worst candidate are skipped (12 ns a code). Switching at
  // the break-even raised p99 by 15-20% for a while (the two searches' slow cases add up, and
  // the indexer slows the graph's), so the graph takes its rows once they would cost the lists
  // about one and a half times Fashion-MNIST's break-even. That is before the break-even at
  // 384 dimensions, where in bench/search.cc runs with 4,500 and 9,000 p99 did not differ at
  // 20 ns a code; at 12 ns the switch comes early there (docs/index.md).
  constexpr double kGraphSearchCodes = 9000;
  return lists_->ProbedFraction(64) * indexed >= kGraphSearchCodes;
}

void Memtable::ForEachPart(uint32_t rows, absl::FunctionRef<void(const LayerPart&)> fn) const {
  const uint32_t filed = std::min(filed_rows(), rows);
  const uint32_t indexed = std::min(indexed_rows(), rows);
  // A graph search costs about as much on a few rows as on many, the lists' search about as
  // much per row as they probe: while the graph's rows would cost the lists less than a graph
  // search, the lists alone serve them (GraphFirst); once it holds every row filed, the graph.
  const bool graph_first =
      graph_ && indexed > 0 && (filed <= indexed || GraphFirst(indexed));
  if (graph_first) fn(LayerPart{0, indexed, graph_vectors_.data(), graph_.get()});
  uint32_t from = graph_first ? indexed : 0;
  if (filed > from) {
    LayerPart part{from, filed - from, vector(from), nullptr};
    part.lists = lists_.get();
    fn(part);
    from = filed;
  }
  // Rows the graph has not reached and no list holds are scanned: in one run within the
  // graph's reservation, chunk by chunk above it.
  const uint32_t contiguous = std::min(rows, graph_rows_);
  if (from < contiguous) {
    fn(LayerPart{from, contiguous - from, vector(from), nullptr});
    from = contiguous;
  }
  while (from < rows) {
    const int k = ChunkOf(from);
    const uint32_t end = std::min(rows, ChunkStart(k + 1));
    fn(LayerPart{from, end - from, vector(from), nullptr});
    from = end;
  }
}

int Memtable::ChunkOf(uint32_t row) {
  // Chunk k holds rows [kFirstChunkRows * (2^k - 1), kFirstChunkRows * (2^(k+1) - 1)).
  return std::bit_width(row / kFirstChunkRows + 1) - 1;
}

Memtable::Chunk* Memtable::ChunkFor(uint32_t row, uint32_t* offset) const {
  const int k = ChunkOf(row);
  *offset = row - ChunkStart(k);
  return chunks_[k].load(std::memory_order_acquire);
}

Memtable::Chunk* Memtable::NewChunk(int k) {
  float* shared = nullptr;
  if (ChunkStart(k + 1) <= graph_rows_) {
    graph_vectors_.Commit(static_cast<size_t>(ChunkStart(k + 1)) * dim_);
    shared = graph_vectors_.data() + static_cast<size_t>(ChunkStart(k)) * dim_;
  }
  auto* chunk = new Chunk(ChunkCapacity(k), dim_, shared);
  memory_bytes_.fetch_add(chunk->bytes, std::memory_order_relaxed);
  chunks_[k].store(chunk, std::memory_order_release);
  return chunk;
}

const Memtable::RowInfo& Memtable::Row(uint32_t row) const {
  uint32_t offset;
  return ChunkFor(row, &offset)->rows[offset];
}

Memtable::RowInfo& Memtable::MutableRow(uint32_t row) {
  uint32_t offset;
  return ChunkFor(row, &offset)->rows[offset];
}

const float* Memtable::vector(uint32_t row) const {
  uint32_t offset;
  return ChunkFor(row, &offset)->vectors + static_cast<size_t>(offset) * dim_;
}

std::string_view Memtable::id(uint32_t row) const {
  const RowInfo& r = Row(row);
  return {r.id, r.id_len};
}

std::string_view Memtable::metadata(uint32_t row) const {
  const RowInfo& r = Row(row);
  return {r.metadata, r.metadata_len};
}

uint64_t Memtable::deleted_seq(uint32_t row) const {
  // The row is immutable but for this field; readers may race with MarkDeleted.
  return std::atomic_ref<uint64_t>(const_cast<RowInfo&>(Row(row)).deleted_seq)
      .load(std::memory_order_acquire);
}

std::optional<uint32_t> Memtable::Find(std::string_view id) const {
  std::shared_lock l(index_mu_);
  return index_->Find(id);
}

const char* Memtable::CopyToArena(std::string_view bytes) {
  if (bytes.empty()) return nullptr;
  if (bytes.size() > arena_left_) {
    // 64 KiB, doubling up to 1 MiB: a small memtable costs the memory budget little.
    const size_t block = std::max<size_t>(
        bytes.size(), size_t{64 << 10} << std::min<size_t>(arena_blocks_.size(), 4));
    arena_blocks_.push_back(std::make_unique<char[]>(block));
    arena_ptr_ = arena_blocks_.back().get();
    arena_left_ = block;
    memory_bytes_.fetch_add(block, std::memory_order_relaxed);
  }
  char* p = arena_ptr_;
  std::memcpy(p, bytes.data(), bytes.size());
  arena_ptr_ += bytes.size();
  arena_left_ -= bytes.size();
  return p;
}

uint32_t Memtable::Append(std::string_view id, const char* vector, std::string_view metadata,
                          uint64_t seq) {
  const uint32_t row = num_rows_.load(std::memory_order_relaxed);
  PROXIMADB_CHECK(row < ChunkStart(kMaxChunks));  // the last chunk is full
  if (const int k = ChunkOf(row); chunks_[k].load(std::memory_order_relaxed) == nullptr) {
    NewChunk(k);
  }
  uint32_t offset;
  Chunk* chunk = ChunkFor(row, &offset);
  std::memcpy(chunk->vectors + static_cast<size_t>(offset) * dim_, vector, dim_ * sizeof(float));
  RowInfo& r = chunk->rows[offset];
  r.id = CopyToArena(id);
  r.id_len = static_cast<uint32_t>(id.size());
  r.metadata = CopyToArena(metadata);
  r.metadata_len = static_cast<uint32_t>(metadata.size());
  r.insert_seq = seq;
  r.deleted_seq = kNotDeleted;
  {
    std::unique_lock l(index_mu_);
    const size_t before = index_->MemoryBytes();
    index_->Set(std::string_view(r.id, r.id_len), row);
    memory_bytes_.fetch_add(index_->MemoryBytes() - before, std::memory_order_relaxed);
  }
  if (seq > max_seq_) max_seq_ = seq;
  num_rows_.store(row + 1, std::memory_order_release);
  return row;
}

void Memtable::MarkDeleted(uint32_t row, uint64_t seq) {
  std::atomic_ref<uint64_t>(MutableRow(row).deleted_seq).store(seq, std::memory_order_release);
}

}  // namespace proximadb
