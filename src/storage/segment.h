// Segments: immutable files written by a flush or a compaction and read through mmap.
//
// Layout (docs/segment_format.md has the grammar):
//   header(64) | vectors | ids | metadata | id_order | deletions | graph | quantizer | codes |
//   partitions | fields | footer(272)
// Vectors start at byte 64 and are stored row-major as float32, so the section is 64-byte
// aligned in the file and in the mapping. Every section has a CRC32C in the footer, which is
// checked when the segment is opened.
//
// A segment also carries in-memory deletion state: one deleted_seq per row (kNotDeleted while
// live), initialized from the file's deletion bitmap and the manifest, and advanced by later
// writes. Row r is visible to a reader at snapshot S iff deleted_seq(r) > S; every row's insert
// sequence number is at most any snapshot that can see the segment.
//
// Thread-safety: SegmentBuilder is single-threaded. Segment is safe for concurrent readers;
// MarkDeleted is called by one writer at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/macros.h"
#include "env/env.h"
#include "filter/field_index.h"
#include "index/hnsw.h"
#include "index/ivf.h"
#include "index/quantizer.h"
#include "proximadb/types.h"
#include "storage/layer.h"

namespace proximadb {

// Version 3 added quantized codes; version 2 files (without) are still read.
inline constexpr uint32_t kSegmentFormatVersion = 3;

class SegmentBuilder {
 public:
  // Creates the file `path` for a segment of `dim`-dimensional vectors; with
  // `compress_metadata` its metadata section is compressed with zstd.
  static absl::StatusOr<std::unique_ptr<SegmentBuilder>> Create(Env* env, std::string path,
                                                                uint32_t dim,
                                                                bool compress_metadata = false);
  ~SegmentBuilder();

  // Adds the next row. `vector` points at dim float32 values, possibly unaligned. A row added
  // with `deleted` is marked in the segment's deletion bitmap.
  absl::Status Add(std::string_view id, const char* vector, std::string_view metadata,
                   bool deleted);
  // Writes the remaining sections and the footer and fsyncs the file. The caller makes the
  // directory entry durable.
  absl::Status Finish();
  // The serialized HNSW graph over the rows (index::Hnsw::Serialize), or nothing for none.
  void SetGraph(std::string graph) { graph_ = std::move(graph); }
  // The quantizer's parameters (index::Quantizer::Serialize) and every row's code, in row
  // order; nothing for none.
  void SetCodes(std::string quantizer, std::string codes) {
    quantizer_ = std::move(quantizer);
    codes_ = std::move(codes);
  }
  // The IVF partitions (index::SerializeIvf) the rows were added grouped by; nothing for none.
  void SetPartitions(std::string partitions) { partitions_ = std::move(partitions); }
  // The typed columns of the filtered fields (FieldIndex::Serialize over the rows); nothing for
  // none. The segment's field indexes start from them when it opens.
  void SetFields(std::string fields) { fields_ = std::move(fields); }
  // Removes the partly written file (after an error).
  void Abandon();

  uint32_t num_rows() const { return num_rows_; }

 private:
  SegmentBuilder(Env* env, std::string path, uint32_t dim, bool compress_metadata,
                 std::unique_ptr<WritableFile> file);
  absl::Status Write(std::string_view bytes);
  absl::Status FlushBuffer();

  Env* env_;
  const std::string path_;
  const uint32_t dim_;
  const bool compress_metadata_;
  std::unique_ptr<WritableFile> file_;
  std::string buffer_;
  uint64_t offset_ = 0;
  uint32_t vectors_crc_ = 0;
  uint32_t num_rows_ = 0;
  std::string ids_;
  std::vector<uint64_t> id_offsets_{0};
  std::string metadata_;
  std::vector<uint64_t> metadata_offsets_{0};
  std::vector<uint32_t> deleted_rows_;
  std::string graph_;
  std::string quantizer_, codes_, partitions_, fields_;
  bool finished_ = false;
};

class Segment final : public Layer {
 public:
  // Maps and verifies segment file `path`; kDataLoss naming the file on any damage.
  static absl::StatusOr<std::shared_ptr<Segment>> Open(Env* env, const std::string& path,
                                                       uint64_t number, uint32_t dim,
                                                       DistanceMetric metric);

  uint64_t number() const { return number_; }
  const std::string& path() const { return path_; }
  uint64_t file_size() const { return file_->size(); }
  // When a search last read the segment (microseconds since the epoch): its open, before any.
  // Updated at most once a second, so that concurrent searches rarely write the line.
  int64_t last_search_us() const { return last_search_us_.load(std::memory_order_relaxed); }
  void set_last_search_us(int64_t us) const {
    last_search_us_.store(us, std::memory_order_relaxed);
  }
  void NoteSearch(int64_t now_us) const override {
    if (now_us - last_search_us() > 1000000) set_last_search_us(now_us);
  }
  // Locks the file's pages in memory (an ultra_hot collection) or lets them go again.
  absl::Status SetResident(bool resident) const {
    if (resident_.exchange(resident, std::memory_order_relaxed) == resident) {
      return absl::OkStatus();
    }
    absl::Status s = file_->SetResident(resident);
    if (!s.ok()) resident_.store(false, std::memory_order_relaxed);
    return s;
  }
  bool resident() const { return resident_.load(std::memory_order_relaxed); }
  // The whole file as mapped (for backups: readable while the segment is referenced, even
  // after compaction has removed the file).
  std::string_view file_bytes() const { return file_->view(); }

  // Layer.
  uint32_t dim() const override { return dim_; }
  uint32_t num_rows() const override { return num_rows_; }
  const float* vector(uint32_t row) const override {
    return vectors_ + static_cast<size_t>(row) * dim_;
  }
  std::string_view id(uint32_t row) const override;
  std::string_view metadata(uint32_t row) const override;
  // The newest (highest) row holding `id`, live or not.
  std::optional<uint32_t> Find(std::string_view id) const override;
  uint64_t deleted_seq(uint32_t row) const override {
    return deletions_->seq[row].load(std::memory_order_acquire);
  }
  bool VisibleAt(uint32_t row, uint64_t snapshot) const override {
    return deleted_seq(row) > snapshot;
  }
  bool AllVisible() const override { return num_deleted() == 0; }
  bool has_vectors() const override { return !cold_stub_; }
  void MarkDeleted(uint32_t row, uint64_t seq) override {
    if (deletions_->seq[row].exchange(seq, std::memory_order_acq_rel) == kNotDeleted) {
      deletions_->count.fetch_add(1, std::memory_order_relaxed);
    }
  }
  // One part: every row, through the graph if the segment has one.
  void ForEachPart(uint32_t rows, absl::FunctionRef<void(const LayerPart&)> fn) const override {
    fn(LayerPart{0, rows, vectors_, rows == num_rows_ ? graph_.get() : nullptr,
                 quantizer_.get(), codes_, ivf_ ? &*ivf_ : nullptr});
  }
  // How many rows are marked deleted, at any sequence number.
  uint32_t num_deleted() const { return deletions_->count.load(std::memory_order_relaxed); }
  // Makes this segment's deletion state `other`'s, shared from now on: the whole file of a cold
  // segment and its stub (the same rows) see every deletion either receives. Called before the
  // segment is published to readers.
  void ShareDeletions(const Segment& other) {
    PROXIMADB_CHECK(other.num_rows_ == num_rows_);
    deletions_ = other.deletions_;
  }
  // 0 for a segment whose file is on local disk; else the size of its whole file in the
  // object store (the cold tier), for its stub and for the whole file fetched into the cache.
  uint64_t cold_bytes() const { return cold_bytes_; }
  void set_cold_bytes(uint64_t bytes) { cold_bytes_ = bytes; }
  // Rows deleted at or before `seq` (what the manifest persists for this segment).
  std::vector<uint32_t> DeletedRowsUpTo(uint64_t seq) const;

  // The HNSW graph over the rows, searched in place in the mapping; nullptr if the segment has
  // none (exact scans serve it). Deleted rows stay in the graph as routing nodes.
  const index::Hnsw* graph() const { return graph_.get(); }

  FieldIndex& fields() const override { return fields_; }

  // The rows' quantized codes (code_size bytes per row, in the mapping) and their quantizer;
  // nullptr for a segment without.
  const index::Quantizer* quantizer() const { return quantizer_.get(); }
  const uint8_t* codes() const { return codes_; }
  // The IVF partitions the rows are grouped by (a viper segment); nullptr for none.
  const index::IvfView* ivf() const { return ivf_ ? &*ivf_ : nullptr; }

  size_t MemoryBytes() const {
    return num_rows_ * sizeof(std::atomic<uint64_t>) + (graph_ ? graph_->MemoryBytes() : 0) +
           fields_.MemoryBytes() + metadata_owned_.size() +
           (ivf_ && ivf_->fast_scan() ? ivf_->fast_scan()->bytes() : 0);
  }
  // Whether the file's metadata section is zstd-compressed (then held decompressed in memory).
  bool metadata_compressed() const { return !metadata_owned_.empty(); }
  // Whether this is a cold stub (MakeColdStub): ids, metadata, codes and field indexes only.
  // Its vector() and ForEachPart must not be called (has_vectors() is false): the whole file is
  // fetched first.
  bool cold_stub() const { return cold_stub_; }

 private:
  Segment() = default;
  // Opens the graph, the quantizer with the codes, and the IVF partitions from their sections
  // (each may be empty); returns why they are damaged, or "".
  std::string LoadSearchStructures(std::string_view graph, std::string_view quantizer,
                                   std::string_view codes, std::string_view partitions,
                                   DistanceMetric metric);

  uint64_t number_ = 0;
  std::string path_;
  bool cold_stub_ = false;
  uint64_t cold_bytes_ = 0;
  mutable std::atomic<int64_t> last_search_us_{0};
  mutable std::atomic<bool> resident_{false};
  uint32_t dim_ = 0;
  uint32_t num_rows_ = 0;
  std::unique_ptr<MappedFile> file_;
  const float* vectors_ = nullptr;
  const uint64_t* id_offsets_ = nullptr;  // num_rows + 1, into id_bytes_
  const char* id_bytes_ = nullptr;
  const uint64_t* metadata_offsets_ = nullptr;
  const char* metadata_bytes_ = nullptr;
  std::string metadata_owned_;  // the decompressed metadata section, when compressed
  const uint32_t* id_order_ = nullptr;  // rows sorted by (id, row)
  struct Deletions {
    std::unique_ptr<std::atomic<uint64_t>[]> seq;  // per row; kNotDeleted while live
    std::atomic<uint32_t> count{0};
  };
  std::shared_ptr<Deletions> deletions_;
  std::unique_ptr<index::Hnsw> graph_;
  std::unique_ptr<index::Quantizer> quantizer_;
  const uint8_t* codes_ = nullptr;
  std::optional<index::IvfView> ivf_;
  mutable FieldIndex fields_;
};

// The cold stub of a whole segment file: the same file without its vectors and graph, marked
// as a stub in its header, which stays on local disk while the whole file is in the object store
// (docs/segment_format.md). kDataLoss naming `path` when `file` is damaged.
absl::StatusOr<std::string> MakeColdStub(std::string_view file, std::string_view path);

}  // namespace proximadb
