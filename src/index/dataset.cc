#include "index/dataset.h"

#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace proximadb::index {
namespace {

absl::StatusOr<std::string> ReadGzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open (is the package installed?)"));
  }
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  const bool failed = n < 0;
  gzclose(f);
  if (failed) return absl::DataLossError(absl::StrCat(path, ": gzip read error"));
  return out;
}

uint32_t BigEndian32(const std::string& s, size_t at) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data() + at);
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// IDX images: magic 0x00000803, count, rows, cols (big-endian), then count*rows*cols bytes.
absl::StatusOr<std::vector<float>> ReadIdxImages(const std::string& path, uint32_t* dim) {
  absl::StatusOr<std::string> bytes = ReadGzip(path);
  if (!bytes.ok()) return bytes.status();
  if (bytes->size() < 16 || BigEndian32(*bytes, 0) != 0x803) {
    return absl::DataLossError(absl::StrCat(path, ": not an IDX image file"));
  }
  const uint64_t n = BigEndian32(*bytes, 4);
  *dim = BigEndian32(*bytes, 8) * BigEndian32(*bytes, 12);
  if (bytes->size() != 16 + n * *dim) {
    return absl::DataLossError(absl::StrCat(path, ": size does not match its header"));
  }
  std::vector<float> out(n * *dim);
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<unsigned char>((*bytes)[16 + i]);
  return out;
}

absl::StatusOr<std::string> ReadAll(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::string out;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

// IEEE half precision to single (normal, subnormal, zero, infinity and NaN alike).
float HalfToFloat(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  const uint32_t exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ffu;
  float magnitude;
  if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -24);
  } else if (exponent == 31) {
    magnitude = mantissa == 0 ? INFINITY : NAN;
  } else {
    magnitude = std::ldexp(static_cast<float>(mantissa | 0x400u), static_cast<int>(exponent) - 25);
  }
  return sign ? -magnitude : magnitude;
}

// A C-ordered, little-endian 2-D .npy array (format 1.0: magic, version, u16 header length, a
// Python dict literal with descr, fortran_order and shape) of the type `descr` ("<f2", "<i4").
struct NpyArray {
  uint64_t rows = 0, cols = 0;
  std::string data;  // rows * cols values
};
absl::StatusOr<NpyArray> ReadNpy2D(const std::string& path, std::string_view descr) {
  absl::StatusOr<std::string> bytes = ReadAll(path);
  if (!bytes.ok()) return bytes.status();
  auto bad = [&](std::string_view why) {
    return absl::DataLossError(Cat(path, ": ", why));
  };
  if (bytes->size() < 10 || bytes->compare(0, 6, "\x93NUMPY") != 0 || (*bytes)[6] != 1) {
    return bad("not a version 1 .npy file");
  }
  const size_t header_len = static_cast<uint8_t>((*bytes)[8]) |
                            (size_t{static_cast<uint8_t>((*bytes)[9])} << 8);
  if (bytes->size() < 10 + header_len) return bad("truncated header");
  const std::string header = bytes->substr(10, header_len);
  if (header.find(Cat("'descr': '", descr, "'")) == std::string::npos ||
      header.find("'fortran_order': False") == std::string::npos) {
    return bad(Cat("expected a C-ordered array of ", descr));
  }
  NpyArray a;
  const size_t shape = header.find("'shape': (");
  if (shape == std::string::npos ||
      std::sscanf(header.c_str() + shape, "'shape': (%lu, %lu)", &a.rows, &a.cols) != 2) {
    return bad("expected a two-dimensional shape");
  }
  const size_t value_bytes = descr.back() - '0';
  a.data = bytes->substr(10 + header_len);
  if (a.data.size() != a.rows * a.cols * value_bytes) return bad("size does not match its shape");
  return a;
}

absl::StatusOr<std::vector<float>> ReadHalfMatrix(const std::string& path, uint32_t* dim) {
  absl::StatusOr<NpyArray> a = ReadNpy2D(path, "<f2");
  if (!a.ok()) return a.status();
  *dim = static_cast<uint32_t>(a->cols);
  std::vector<float> out(a->rows * a->cols);
  for (size_t i = 0; i < out.size(); ++i) {
    uint16_t h;
    std::memcpy(&h, a->data.data() + 2 * i, 2);
    out[i] = HalfToFloat(h);
  }
  return out;
}

}  // namespace

absl::StatusOr<Dataset> LoadWordnetMinilm(const std::string& dir, bool out_of_distribution) {
  const std::string queries = out_of_distribution ? "ood-queries" : "queries";
  Dataset d;
  d.name = out_of_distribution ? "wordnet-minilm-ood" : "wordnet-minilm";
  uint32_t qdim = 0;
  absl::StatusOr<std::vector<float>> base = ReadHalfMatrix(dir + "/base.f16.npy", &d.dim);
  if (!base.ok()) return base.status();
  absl::StatusOr<std::vector<float>> q = ReadHalfMatrix(dir + "/" + queries + ".f16.npy", &qdim);
  if (!q.ok()) return q.status();
  absl::StatusOr<NpyArray> truth = ReadNpy2D(dir + "/" + queries + ".truth100.i32.npy", "<i4");
  if (!truth.ok()) return truth.status();
  d.base = *std::move(base);
  d.queries = *std::move(q);
  if (qdim != d.dim || truth->rows != d.query_rows()) {
    return absl::DataLossError(Cat(dir, ": base, queries and truth do not match"));
  }
  d.truth_k = static_cast<uint32_t>(truth->cols);
  d.truth.resize(truth->rows * truth->cols);
  std::memcpy(d.truth.data(), truth->data.data(), truth->data.size());
  for (uint32_t row : d.truth) {
    if (row >= d.base_rows()) return absl::DataLossError(dir + ": truth names a missing row");
  }
  return d;
}

std::string FindWordnetMinilm() {
  namespace fs = std::filesystem;
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("PROXIMADB_WORDNET_DIR")) candidates.emplace_back(env);
#ifdef PROXIMADB_SOURCE_DIR
  candidates.push_back(fs::path(PROXIMADB_SOURCE_DIR) / ".." / "shared" / "data" / "wordnet-minilm");
#endif
  for (const fs::path& dir : candidates) {
    std::error_code ec;
    if (fs::exists(dir / "base.f16.npy", ec)) return fs::weakly_canonical(dir, ec).string();
  }
  return "";
}

absl::StatusOr<Dataset> LoadFashionMnist(const std::string& dir) {
  Dataset d;
  d.name = "fashion-mnist";
  uint32_t qdim = 0;
  absl::StatusOr<std::vector<float>> base = ReadIdxImages(dir + "/train-images-idx3-ubyte.gz", &d.dim);
  if (!base.ok()) return base.status();
  absl::StatusOr<std::vector<float>> queries = ReadIdxImages(dir + "/t10k-images-idx3-ubyte.gz", &qdim);
  if (!queries.ok()) return queries.status();
  if (qdim != d.dim) return absl::DataLossError("fashion-mnist: query and base dimensions differ");
  d.base = *std::move(base);
  d.queries = *std::move(queries);
  return d;
}

absl::StatusOr<std::vector<float>> ReadFvecs(const std::string& path, uint32_t* dim) {
  absl::StatusOr<std::string> bytes = ReadAll(path);
  if (!bytes.ok()) return bytes.status();
  std::vector<float> out;
  *dim = 0;
  for (size_t pos = 0; pos < bytes->size();) {
    int32_t d;
    if (pos + 4 > bytes->size()) return absl::DataLossError(path + ": truncated");
    std::memcpy(&d, bytes->data() + pos, 4);
    if (d <= 0 || (*dim != 0 && static_cast<uint32_t>(d) != *dim) ||
        pos + 4 + size_t(d) * 4 > bytes->size()) {
      return absl::DataLossError(absl::StrCat(path, ": bad row at byte ", pos));
    }
    *dim = static_cast<uint32_t>(d);
    const size_t start = out.size();
    out.resize(start + *dim);
    std::memcpy(out.data() + start, bytes->data() + pos + 4, size_t{*dim} * 4);
    pos += 4 + size_t{*dim} * 4;
  }
  return out;
}

absl::StatusOr<std::vector<std::vector<int32_t>>> ReadIvecs(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadAll(path);
  if (!bytes.ok()) return bytes.status();
  std::vector<std::vector<int32_t>> out;
  for (size_t pos = 0; pos < bytes->size();) {
    int32_t n;
    if (pos + 4 > bytes->size()) return absl::DataLossError(path + ": truncated");
    std::memcpy(&n, bytes->data() + pos, 4);
    if (n < 0 || pos + 4 + size_t(n) * 4 > bytes->size()) {
      return absl::DataLossError(absl::StrCat(path, ": bad row at byte ", pos));
    }
    std::vector<int32_t> row(static_cast<size_t>(n));
    std::memcpy(row.data(), bytes->data() + pos + 4, size_t(n) * 4);
    out.push_back(std::move(row));
    pos += 4 + size_t(n) * 4;
  }
  return out;
}

Dataset MakeClustered(uint32_t base_rows, uint32_t query_rows, uint32_t dim, uint32_t clusters,
                      uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> gauss;
  std::vector<float> centers(size_t{clusters} * dim);
  for (float& c : centers) c = 3.0f * gauss(rng);
  auto draw = [&](std::vector<float>* out, uint32_t rows) {
    out->resize(size_t{rows} * dim);
    for (uint32_t r = 0; r < rows; ++r) {
      const float* c = centers.data() + size_t{rng() % clusters} * dim;
      for (uint32_t j = 0; j < dim; ++j) (*out)[size_t{r} * dim + j] = c[j] + gauss(rng);
    }
  };
  Dataset d;
  d.name = absl::StrCat("clustered-", base_rows, "x", dim);
  d.dim = dim;
  draw(&d.base, base_rows);
  draw(&d.queries, query_rows);
  return d;
}

}  // namespace proximadb::index
