// Fuzz target: opening a segment file and reading it the ways a search does (ids, the id
// lookup, metadata, vectors, the graph, the field indexes). Arbitrary bytes must give DATA_LOSS
// from Open or a segment that reads without crashing. The footer's and the sections' CRCs are
// recomputed first (for format version 3, where the footer can be found), so that mutations
// reach the section decoders behind the checksums.
#include <cstdint>
#include <string>
#include <vector>

#include "common/coding.h"
#include "common/crc32c.h"
#include "env/mem_env.h"
#include "filter/filter.h"
#include "storage/segment.h"

namespace {

using namespace proximadb;

constexpr size_t kHeaderSize = 64;
constexpr int kSections = 10;                   // format version 3
constexpr size_t kFooterSize = kSections * 24 + 32;

void FixChecksums(std::string* file) {
  if (file->size() < kHeaderSize + kFooterSize || DecodeFixed32(file->data() + 8) != 3) return;
  char* footer = file->data() + file->size() - kFooterSize;
  for (int i = 0; i < kSections; ++i) {
    char* s = footer + i * 24;
    const uint64_t offset = DecodeFixed64(s), length = DecodeFixed64(s + 8);
    if (offset > file->size() || length > file->size() - offset) continue;
    EncodeFixed32(s + 16, crc32c::Value(file->data() + offset, length));
  }
  EncodeFixed32(footer + kFooterSize - 16, crc32c::Value(footer, kFooterSize - 16));
}

void Read(const Segment& segment) {
  const uint32_t rows = std::min<uint32_t>(segment.num_rows(), 4096);
  for (uint32_t r = 0; r < rows; ++r) {
    (void)segment.Find(segment.id(r));
    (void)segment.metadata(r).size();
    if (segment.has_vectors() && segment.dim() > 0) (void)segment.vector(r)[segment.dim() - 1];
  }
  if (const index::Hnsw* graph = segment.CompleteGraph(); graph != nullptr) {
    const std::vector<float> query(segment.dim(), 0.5f);
    (void)graph->Search(query.data(), 5, 16);
  }
  auto filter = Filter::Parse(R"({"$or": [{"a": 1}, {"b": {"$in": ["x", "y"]}}]})");
  (void)segment.fields().Select(*filter, segment.num_rows(),
                                [&](uint32_t r) { return segment.metadata(r); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string file(reinterpret_cast<const char*>(data), size);
  FixChecksums(&file);
  const uint32_t dim = file.size() >= 16 ? DecodeFixed32(file.data() + 12) : 4;
  if (dim == 0 || dim > 65536) return 0;  // the collection's dimension is checked at create
  MemEnv env;
  const std::string path = "/fuzz/seg-000001.pxs";
  if (!env.CreateDirs("/fuzz").ok()) std::abort();
  auto out = env.NewWritableFile(path);
  if (!out.ok() || !(*out)->Append(file).ok() || !(*out)->Close().ok()) std::abort();
  auto segment = Segment::Open(&env, path, 1, dim, DistanceMetric::kL2);
  if (segment.ok()) Read(**segment);
  return 0;
}
