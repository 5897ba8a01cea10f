#include "storage/memtable.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "common/macros.h"

namespace proximadb {

struct Memtable::Chunk {
  Chunk(uint32_t capacity, uint32_t dim) {
    const size_t vec_bytes = (static_cast<size_t>(capacity) * dim * sizeof(float) + 63) / 64 * 64;
    vectors = static_cast<float*>(std::aligned_alloc(64, vec_bytes > 0 ? vec_bytes : 64));
    rows = static_cast<RowInfo*>(std::calloc(capacity, sizeof(RowInfo)));
    PROXIMADB_CHECK(vectors != nullptr && rows != nullptr);
    bytes = vec_bytes + capacity * sizeof(RowInfo);
  }
  ~Chunk() {
    std::free(vectors);
    std::free(rows);
  }
  float* vectors;
  RowInfo* rows;
  size_t bytes;
};

Memtable::Memtable(uint32_t dim, IdIndexKind index_kind, std::optional<GraphOptions> graph)
    : dim_(dim), graph_options_(graph), index_(NewIdIndex(index_kind)) {}

Memtable::~Memtable() {
  // The graphs point into the chunks' vectors: they go first.
  for (auto& g : graphs_) delete g.load(std::memory_order_relaxed);
  for (auto& c : chunks_) delete c.load(std::memory_order_relaxed);
}

const float* Memtable::chunk_vectors(int k) const {
  return chunks_[k].load(std::memory_order_acquire)->vectors;
}

uint32_t Memtable::IndexRows(uint32_t max_rows, int threads) {
  if (!graph_options_) return 0;
  const uint32_t from = indexed_rows_.load(std::memory_order_relaxed);
  const int k = std::bit_width(from / kFirstChunkRows + 1) - 1;
  const uint32_t base = ChunkStart(k), end = base + ChunkCapacity(k);
  const uint32_t to = std::min<uint64_t>({num_rows(), uint64_t{from} + max_rows, end});
  if (from >= to) return 0;
  index::Hnsw* graph = graphs_[k].load(std::memory_order_relaxed);
  if (graph == nullptr) {
    graph = new index::Hnsw(chunk_vectors(k), dim_, graph_options_->metric, ChunkCapacity(k),
                            graph_options_->params);
    memory_bytes_.fetch_add(graph->MemoryBytes(), std::memory_order_relaxed);
    graphs_[k].store(graph, std::memory_order_release);
  }
  // A few hundred rows per thread at least, or the threads cost more than they bring.
  const uint32_t workers =
      static_cast<uint32_t>(std::clamp<int64_t>((to - from) / 256, 1, std::max(threads, 1)));
  // A full chunk's graph is complete: every row of it is made reachable before the last rows
  // are published.
  if (workers == 1) {
    for (uint32_t row = from; row < to; ++row) {
      graph->Insert(row - base);
      if (row + 1 == end) graph->LinkUnreachable();
      // Publish row by row: a reader searches the graph only below this mark.
      indexed_rows_.store(row + 1, std::memory_order_release);
    }
  } else {
    std::atomic<uint32_t> next{from};
    auto insert = [&] {
      for (uint32_t row; (row = next.fetch_add(1, std::memory_order_relaxed)) < to;) {
        graph->Insert(row - base);
      }
    };
    std::vector<std::thread> helpers;
    for (uint32_t t = 1; t < workers; ++t) helpers.emplace_back(insert);
    insert();
    for (std::thread& t : helpers) t.join();
    if (to == end) graph->LinkUnreachable();
    indexed_rows_.store(to, std::memory_order_release);
  }
  return to - from;
}

void Memtable::ForEachPart(uint32_t rows, absl::FunctionRef<void(const LayerPart&)> fn) const {
  const uint32_t indexed = std::min(indexed_rows(), rows);
  for (int k = 0; ChunkStart(k) < rows; ++k) {
    const uint32_t base = ChunkStart(k);
    const uint32_t in_chunk = std::min(rows - base, ChunkCapacity(k));
    const uint32_t graphed = indexed > base ? std::min(indexed - base, in_chunk) : 0;
    const float* vectors = chunk_vectors(k);
    if (graphed > 0) fn(LayerPart{base, graphed, vectors, chunk_graph(k)});
    if (graphed < in_chunk) {
      fn(LayerPart{base + graphed, in_chunk - graphed,
                   vectors + static_cast<size_t>(graphed) * dim_, nullptr});
    }
  }
}

Memtable::Chunk* Memtable::ChunkFor(uint32_t row, uint32_t* offset) const {
  // Chunk k holds rows [kFirstChunkRows * (2^k - 1), kFirstChunkRows * (2^(k+1) - 1)).
  const uint32_t k = std::bit_width(row / kFirstChunkRows + 1) - 1;
  *offset = row - kFirstChunkRows * ((1u << k) - 1);
  return chunks_[k].load(std::memory_order_acquire);
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
    const size_t block = std::max<size_t>(bytes.size(), 1 << 20);
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
  PROXIMADB_CHECK(row < UINT32_MAX);
  const uint32_t k = std::bit_width(row / kFirstChunkRows + 1) - 1;
  if (chunks_[k].load(std::memory_order_relaxed) == nullptr) {
    auto* chunk = new Chunk(kFirstChunkRows << k, dim_);
    memory_bytes_.fetch_add(chunk->bytes, std::memory_order_relaxed);
    chunks_[k].store(chunk, std::memory_order_release);
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
