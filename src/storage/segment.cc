#include "storage/segment.h"

#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/coding.h"
#include "common/crc32c.h"
#include "common/macros.h"
#include "proximadb/collection.h"
#include "storage/row_bitmap.h"

namespace proximadb {
namespace {

constexpr char kMagic[8] = {'P', 'X', 'D', 'B', '-', 'S', 'E', 'G'};
constexpr size_t kHeaderSize = 64;
// Version 2: vectors, ids, metadata, id_order, deletions, graph. Version 3 adds the quantizer's
// parameters, the rows' codes (both empty without quantization), the IVF partitions (empty
// unless the rows are grouped by partition) and the typed columns of the filtered fields
// (FieldIndex::Serialize; empty unless the layout keeps them).
constexpr int kNumSections = 10;
constexpr int kVersion2Sections = 6;
constexpr size_t FooterSize(int sections) { return sections * 24 + 8 + 4 + 4 + 4 + 4 + 8; }
constexpr size_t kWriteBufferSize = 1 << 20;

enum Section {
  kVectors = 0,
  kIds = 1,
  kMetadata = 2,
  kIdOrder = 3,
  kDeletions = 4,
  kGraph = 5,
  kQuantizer = 6,
  kCodes = 7,
  kPartitions = 8,
  kFields = 9
};

struct SectionRef {
  uint64_t offset = 0;
  uint64_t length = 0;
  uint32_t crc = 0;
};

std::string AsBytes(const std::vector<uint64_t>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(uint64_t));
}

// Header flags (fixed32 at offset 16; zero before version 3).
constexpr uint32_t kMetadataZstd = 1;  // the metadata section is compressed (below)
constexpr uint32_t kColdStub = 2;      // vectors and graph left out: the file is in the cold tier

// What the header and footer of a segment file say, checked against the file's size and each
// section's CRC.
struct Layout {
  uint32_t version = 0;  // set once the magic numbers matched
  SectionRef sections[kNumSections];  // a version 2 file's last four stay empty
  uint64_t num_rows = 0;
  uint32_t dim = 0;
};

// Fills `layout` from `file`; returns why the file is damaged (with layout->version set: of a
// version this code does not read), or "".
std::string ParseLayout(std::string_view file, Layout* layout) {
  const char* base = file.data();
  const size_t size = file.size();
  if (size < kHeaderSize + FooterSize(kVersion2Sections)) return "shorter than header and footer";
  if (std::memcmp(base, kMagic, 8) != 0 || std::memcmp(base + size - 8, kMagic, 8) != 0) {
    return "bad magic number";
  }
  const uint32_t version = DecodeFixed32(base + 8);
  if (version != 2 && version != kSegmentFormatVersion) {
    layout->version = version;
    return absl::StrCat("has format version ", version, ", expected 2 to ",
                        kSegmentFormatVersion);
  }
  const int num_sections = version == 2 ? kVersion2Sections : kNumSections;
  const size_t footer_size = FooterSize(num_sections);
  if (size < kHeaderSize + footer_size) return "shorter than header and footer";
  const char* footer = base + size - footer_size;
  if (crc32c::Value(footer, footer_size - 16) != DecodeFixed32(footer + footer_size - 16)) {
    return "footer checksum mismatch";
  }
  uint64_t prev_end = kHeaderSize;
  for (int i = 0; i < num_sections; ++i) {
    const char* p = footer + i * 24;
    SectionRef& s = layout->sections[i];
    s = {DecodeFixed64(p), DecodeFixed64(p + 8), DecodeFixed32(p + 16)};
    if (s.offset < prev_end || s.offset % 8 != 0 || s.offset > size - footer_size ||
        s.length > size - footer_size - s.offset) {
      return absl::StrCat("section ", i, " out of bounds");
    }
    prev_end = s.offset + s.length;
    if (crc32c::Value(base + s.offset, s.length) != s.crc) {
      return absl::StrCat("section ", i, " checksum mismatch");
    }
  }
  layout->num_rows = DecodeFixed64(footer + num_sections * 24);
  layout->dim = DecodeFixed32(footer + num_sections * 24 + 8);
  layout->version = version;
  return "";
}

// The footer of a version 3 file with these sections.
std::string EncodeFooter(const SectionRef (&sections)[kNumSections], uint64_t num_rows,
                         uint32_t dim) {
  std::string footer;
  for (const SectionRef& s : sections) {
    PutFixed64(&footer, s.offset);
    PutFixed64(&footer, s.length);
    PutFixed32(&footer, s.crc);
    PutFixed32(&footer, 0);
  }
  PutFixed64(&footer, num_rows);
  PutFixed32(&footer, dim);
  PutFixed32(&footer, kSegmentFormatVersion);
  PutFixed32(&footer, crc32c::Value(footer));
  PutFixed32(&footer, 0);
  footer.append(kMagic, 8);
  PROXIMADB_CHECK(footer.size() == FooterSize(kNumSections));
  return footer;
}
constexpr int kZstdLevel = 3;

// A compressed metadata section: raw_size:fixed64 then one zstd frame of the raw section.
std::string CompressMetadata(std::string_view raw) {
  std::string out;
  PutFixed64(&out, raw.size());
  const size_t bound = ZSTD_compressBound(raw.size());
  out.resize(8 + bound);
  const size_t n = ZSTD_compress(out.data() + 8, bound, raw.data(), raw.size(), kZstdLevel);
  PROXIMADB_CHECK(!ZSTD_isError(n));  // only fails for a too small buffer, which bound rules out
  out.resize(8 + n);
  return out;
}

// The raw section of a compressed one, or nothing if it does not decompress to its stated size
// (at most `limit` bytes).
std::optional<std::string> DecompressMetadata(std::string_view stored, uint64_t limit) {
  if (stored.size() < 8) return std::nullopt;
  const uint64_t raw_size = DecodeFixed64(stored.data());
  if (raw_size > limit) return std::nullopt;
  std::string raw(raw_size, '\0');
  const size_t n = ZSTD_decompress(raw.data(), raw.size(), stored.data() + 8, stored.size() - 8);
  if (ZSTD_isError(n) || n != raw_size) return std::nullopt;
  return raw;
}

// An offsets table of num_rows + 1 entries followed by the bytes it indexes: sets `offsets` and
// `bytes` into `s`, or returns why it is damaged.
std::string LoadStrings(std::string_view s, uint64_t num_rows, const uint64_t** offsets,
                        const char** bytes) {
  const uint64_t table = (num_rows + 1) * sizeof(uint64_t);
  if (s.size() < table) return "string table too short";
  *offsets = reinterpret_cast<const uint64_t*>(s.data());
  *bytes = s.data() + table;
  const uint64_t blob = s.size() - table;
  if ((*offsets)[0] != 0 || (*offsets)[num_rows] != blob) return "bad string offsets";
  for (uint64_t i = 0; i < num_rows; ++i) {
    if ((*offsets)[i] > (*offsets)[i + 1]) return "bad string offsets";
  }
  return "";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// SegmentBuilder

SegmentBuilder::SegmentBuilder(Env* env, std::string path, uint32_t dim, bool compress_metadata,
                               std::unique_ptr<WritableFile> file)
    : env_(env),
      path_(std::move(path)),
      dim_(dim),
      compress_metadata_(compress_metadata),
      file_(std::move(file)) {}

SegmentBuilder::~SegmentBuilder() {
  if (!finished_) Abandon();
}

absl::StatusOr<std::unique_ptr<SegmentBuilder>> SegmentBuilder::Create(Env* env,
                                                                       std::string path,
                                                                       uint32_t dim,
                                                                       bool compress_metadata) {
  PROXIMADB_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, env->NewWritableFile(path));
  std::unique_ptr<SegmentBuilder> b(
      new SegmentBuilder(env, std::move(path), dim, compress_metadata, std::move(file)));
  std::string header(kHeaderSize, '\0');
  std::memcpy(header.data(), kMagic, 8);
  EncodeFixed32(header.data() + 8, kSegmentFormatVersion);
  EncodeFixed32(header.data() + 12, dim);
  EncodeFixed32(header.data() + 16, compress_metadata ? kMetadataZstd : 0);
  b->buffer_.reserve(kWriteBufferSize);
  PROXIMADB_RETURN_IF_ERROR(b->Write(header));
  return b;
}

absl::Status SegmentBuilder::FlushBuffer() {
  if (buffer_.empty()) return absl::OkStatus();
  absl::Status s = file_->Append(buffer_);
  buffer_.clear();
  return s;
}

absl::Status SegmentBuilder::Write(std::string_view bytes) {
  offset_ += bytes.size();
  if (buffer_.size() + bytes.size() > kWriteBufferSize) {
    PROXIMADB_RETURN_IF_ERROR(FlushBuffer());
    if (bytes.size() > kWriteBufferSize) return file_->Append(bytes);
  }
  buffer_.append(bytes);
  return absl::OkStatus();
}

absl::Status SegmentBuilder::Add(std::string_view id, const char* vector,
                                 std::string_view metadata, bool deleted) {
  PROXIMADB_CHECK(num_rows_ < UINT32_MAX);
  const std::string_view vec(vector, dim_ * sizeof(float));
  vectors_crc_ = crc32c::Extend(vectors_crc_, vec.data(), vec.size());
  PROXIMADB_RETURN_IF_ERROR(Write(vec));
  ids_.append(id);
  id_offsets_.push_back(ids_.size());
  metadata_.append(metadata);
  metadata_offsets_.push_back(metadata_.size());
  if (deleted) deleted_rows_.push_back(num_rows_);
  ++num_rows_;
  return absl::OkStatus();
}

absl::Status SegmentBuilder::Finish() {
  SectionRef sections[kNumSections];
  sections[kVectors] = {kHeaderSize, offset_ - kHeaderSize, vectors_crc_};

  auto add_section = [&](Section s, std::string_view bytes) -> absl::Status {
    const size_t pad = (8 - offset_ % 8) % 8;
    PROXIMADB_RETURN_IF_ERROR(Write(std::string(pad, '\0')));
    sections[s] = {offset_, bytes.size(), crc32c::Value(bytes)};
    return Write(bytes);
  };
  PROXIMADB_RETURN_IF_ERROR(add_section(kIds, AsBytes(id_offsets_) + ids_));
  std::string metadata = AsBytes(metadata_offsets_) + metadata_;
  if (compress_metadata_) metadata = CompressMetadata(metadata);
  PROXIMADB_RETURN_IF_ERROR(add_section(kMetadata, metadata));

  std::vector<uint32_t> order(num_rows_);
  std::iota(order.begin(), order.end(), 0u);
  auto id_of = [&](uint32_t row) {
    return std::string_view(ids_).substr(id_offsets_[row], id_offsets_[row + 1] - id_offsets_[row]);
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return id_of(a) < id_of(b); });
  PROXIMADB_RETURN_IF_ERROR(add_section(
      kIdOrder, std::string_view(reinterpret_cast<const char*>(order.data()),
                                 order.size() * sizeof(uint32_t))));

  PROXIMADB_RETURN_IF_ERROR(add_section(kDeletions, EncodeRowBitmap(deleted_rows_)));
  PROXIMADB_RETURN_IF_ERROR(add_section(kGraph, graph_));
  PROXIMADB_RETURN_IF_ERROR(add_section(kQuantizer, quantizer_));
  PROXIMADB_RETURN_IF_ERROR(add_section(kCodes, codes_));
  PROXIMADB_RETURN_IF_ERROR(add_section(kPartitions, partitions_));
  PROXIMADB_RETURN_IF_ERROR(add_section(kFields, fields_));

  PROXIMADB_RETURN_IF_ERROR(Write(EncodeFooter(sections, num_rows_, dim_)));
  PROXIMADB_RETURN_IF_ERROR(FlushBuffer());
  PROXIMADB_RETURN_IF_ERROR(file_->Sync());
  PROXIMADB_RETURN_IF_ERROR(file_->Close());
  finished_ = true;
  return absl::OkStatus();
}

void SegmentBuilder::Abandon() {
  file_->Close().IgnoreError();
  if (env_->FileExists(path_)) env_->RemoveFile(path_).IgnoreError();
  finished_ = true;
}

// ---------------------------------------------------------------------------------------------
// Segment

absl::StatusOr<std::shared_ptr<Segment>> Segment::Open(Env* env, const std::string& path,
                                                       uint64_t number, uint32_t dim,
                                                       DistanceMetric metric) {
  PROXIMADB_ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> file, env->MapFile(path));
  auto corrupt = [&](std::string_view why) {
    return absl::DataLossError(absl::StrCat("segment ", path, " is corrupt: ", std::string(why)));
  };
  const char* base = file->data();
  Layout layout;
  if (std::string why = ParseLayout(file->view(), &layout); !why.empty()) {
    if (layout.version != 0) {
      return absl::FailedPreconditionError(absl::StrCat("segment ", path, " ", why));
    }
    return corrupt(why);
  }
  const SectionRef* sections = layout.sections;
  const uint64_t num_rows = layout.num_rows;
  const uint32_t version = layout.version;
  if (layout.dim != dim || DecodeFixed32(base + 12) != dim) {
    return corrupt(absl::StrCat("dimension ", layout.dim, " but the collection has ", dim));
  }
  const bool stub = (DecodeFixed32(base + 16) & kColdStub) != 0;
  const uint64_t vector_bytes = stub ? 0 : num_rows * dim * sizeof(float);
  if (num_rows > UINT32_MAX || sections[kVectors].length != vector_bytes ||
      sections[kIdOrder].length != num_rows * sizeof(uint32_t) ||
      (stub && sections[kGraph].length != 0)) {
    return corrupt("section sizes do not match the row count");
  }

  std::shared_ptr<Segment> seg(new Segment);
  seg->number_ = number;
  seg->path_ = path;
  seg->last_search_us_.store(absl::ToUnixMicros(absl::Now()), std::memory_order_relaxed);
  seg->dim_ = dim;
  seg->num_rows_ = static_cast<uint32_t>(num_rows);

  auto load_strings = [&](std::string_view s, const uint64_t** offsets,
                          const char** bytes) -> absl::Status {
    const std::string why = LoadStrings(s, num_rows, offsets, bytes);
    return why.empty() ? absl::OkStatus() : corrupt(why);
  };
  auto bytes_of = [&](Section s) {
    return std::string_view(base + sections[s].offset, sections[s].length);
  };
  PROXIMADB_RETURN_IF_ERROR(load_strings(bytes_of(kIds), &seg->id_offsets_, &seg->id_bytes_));
  std::string_view metadata = bytes_of(kMetadata);
  if (version >= 3 && (DecodeFixed32(base + 16) & kMetadataZstd) != 0) {
    // A record's metadata is at most kMaxMetadataBytes (proximadb/collection.h).
    std::optional<std::string> raw = DecompressMetadata(
        metadata, (num_rows + 1) * sizeof(uint64_t) + num_rows * kMaxMetadataBytes);
    if (!raw || raw->empty()) return corrupt("metadata does not decompress");
    seg->metadata_owned_ = *std::move(raw);
    metadata = seg->metadata_owned_;
  }
  PROXIMADB_RETURN_IF_ERROR(
      load_strings(metadata, &seg->metadata_offsets_, &seg->metadata_bytes_));
  seg->cold_stub_ = stub;
  if (!stub) seg->vectors_ = reinterpret_cast<const float*>(base + sections[kVectors].offset);
  seg->id_order_ = reinterpret_cast<const uint32_t*>(base + sections[kIdOrder].offset);
  for (uint64_t i = 0; i < num_rows; ++i) {
    if (seg->id_order_[i] >= num_rows) return corrupt("bad id order");
  }

  seg->deletions_ = std::make_shared<Deletions>();
  seg->deletions_->seq = std::make_unique<std::atomic<uint64_t>[]>(num_rows);
  for (uint64_t i = 0; i < num_rows; ++i) seg->deletions_->seq[i].store(UINT64_MAX);
  std::vector<uint32_t> deleted;
  if (absl::Status st = DecodeRowBitmap(std::string_view(base + sections[kDeletions].offset,
                                                         sections[kDeletions].length),
                                        seg->num_rows_, &deleted);
      !st.ok()) {
    return corrupt(std::string(st.message()));
  }
  for (uint32_t row : deleted) seg->MarkDeleted(row, 0);
  if (std::string why = seg->LoadSearchStructures(bytes_of(kGraph), bytes_of(kQuantizer),
                                                  bytes_of(kCodes), bytes_of(kPartitions), metric);
      !why.empty()) {
    return corrupt(why);
  }
  if (!bytes_of(kFields).empty()) {
    if (absl::Status s = seg->fields_.Load(bytes_of(kFields), seg->num_rows_); !s.ok()) {
      return corrupt(std::string(s.message()));
    }
  }
  seg->file_ = std::move(file);
  return seg;
}

std::string Segment::LoadSearchStructures(std::string_view graph, std::string_view quantizer,
                                          std::string_view codes, std::string_view partitions,
                                          DistanceMetric metric) {
  if (!graph.empty()) {
    absl::StatusOr<std::unique_ptr<index::Hnsw>> g =
        index::Hnsw::Load(graph, vectors_, dim_, metric);
    if (!g.ok()) return std::string(g.status().message());
    if ((*g)->capacity() != num_rows_) return "graph does not cover the rows";
    graph_ = *std::move(g);
  }
  if (!quantizer.empty()) {
    absl::StatusOr<std::unique_ptr<index::Quantizer>> q =
        index::Quantizer::Load(quantizer, dim_, metric);
    if (!q.ok()) return std::string(q.status().message());
    if (codes.size() != size_t{num_rows_} * (*q)->code_size()) {
      return "codes do not match the row count";
    }
    quantizer_ = *std::move(q);
    codes_ = reinterpret_cast<const uint8_t*>(codes.data());
  } else if (!codes.empty()) {
    return "codes without a quantizer";
  }
  if (!partitions.empty()) {
    absl::StatusOr<index::IvfView> ivf = index::IvfView::Load(partitions, dim_, num_rows_);
    if (!ivf.ok()) return std::string(ivf.status().message());
    ivf_ = *ivf;
    if (quantizer_ != nullptr) ivf_->PackCodes(*quantizer_, codes_);
  }
  return "";
}

std::string_view Segment::id(uint32_t row) const {
  return {id_bytes_ + id_offsets_[row], id_offsets_[row + 1] - id_offsets_[row]};
}

std::string_view Segment::metadata(uint32_t row) const {
  return {metadata_bytes_ + metadata_offsets_[row],
          metadata_offsets_[row + 1] - metadata_offsets_[row]};
}

std::optional<uint32_t> Segment::Find(std::string_view key) const {
  const uint32_t* end = id_order_ + num_rows_;
  const uint32_t* it = std::upper_bound(id_order_, end, key, [this](std::string_view k,
                                                                     uint32_t row) {
    return k < id(row);
  });
  if (it == id_order_ || id(*(it - 1)) != key) return std::nullopt;
  return *(it - 1);  // equal ids are ordered by row, so this is the newest
}

std::vector<uint32_t> Segment::DeletedRowsUpTo(uint64_t seq) const {
  std::vector<uint32_t> rows;
  for (uint32_t r = 0; r < num_rows_; ++r) {
    if (deleted_seq(r) <= seq) rows.push_back(r);
  }
  return rows;
}

absl::StatusOr<std::string> MakeColdStub(std::string_view file, std::string_view path) {
  Layout layout;
  if (std::string why = ParseLayout(file, &layout); !why.empty()) {
    return absl::DataLossError(absl::StrCat("segment ", std::string(path), ": ", why));
  }
  if (layout.version != kSegmentFormatVersion ||
      (DecodeFixed32(file.data() + 16) & kColdStub) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("segment ", std::string(path), ": only a whole version ",
                     kSegmentFormatVersion, " segment has a cold stub"));
  }
  std::string out(file.substr(0, kHeaderSize));
  EncodeFixed32(out.data() + 16, DecodeFixed32(file.data() + 16) | kColdStub);
  SectionRef sections[kNumSections];
  sections[kVectors] = {kHeaderSize, 0, crc32c::Value(std::string_view())};
  for (int i = kIds; i < kNumSections; ++i) {
    out.append((8 - out.size() % 8) % 8, '\0');
    const SectionRef& from = layout.sections[i];
    if (i == kGraph) {
      sections[i] = {out.size(), 0, crc32c::Value(std::string_view())};
      continue;
    }
    sections[i] = {out.size(), from.length, from.crc};
    out.append(file.substr(from.offset, from.length));
  }
  out += EncodeFooter(sections, layout.num_rows, layout.dim);
  return out;
}

}  // namespace proximadb
