// Vector data sets for index tests and benchmarks: Fashion-MNIST from Debian's
// dataset-fashion-mnist package (IDX files, gzip), the .fvecs/.ivecs format of the classic ANN
// benchmarks, and clustered synthetic sets.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace proximadb::index {

struct Dataset {
  std::string name;
  uint32_t dim = 0;
  std::vector<float> base;     // rows * dim
  std::vector<float> queries;  // rows * dim
  // Exact neighbours shipped with the data set, best first: truth_k rows of `base` per query
  // (empty when the set has none: compute them with FlatSearch).
  std::vector<uint32_t> truth;
  uint32_t truth_k = 0;
  uint32_t base_rows() const { return dim ? static_cast<uint32_t>(base.size() / dim) : 0; }
  uint32_t query_rows() const { return dim ? static_cast<uint32_t>(queries.size() / dim) : 0; }
};

inline constexpr char kFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";

// The 60,000 training images as base vectors and the 10,000 test images as queries, 784
// dimensions, pixel values 0-255 as floats (the split and scale ann-benchmarks uses).
absl::StatusOr<Dataset> LoadFashionMnist(const std::string& dir = kFashionMnistDir);

// The wordnet-minilm set (../shared/data/wordnet-minilm, its README): 116,659 sentence
// embeddings of WordNet glosses, 384 dimensions, L2-normalised (so cosine, dot and L2 rank
// alike), widened from float16; the 1,000 held-out queries, or with `out_of_distribution` the
// 1,000 fortune-quote queries; and their exact top-100 by cosine.
absl::StatusOr<Dataset> LoadWordnetMinilm(const std::string& dir,
                                          bool out_of_distribution = false);
// Where that set is: $PROXIMADB_WORDNET_DIR, else ../shared/data/wordnet-minilm beside the
// source tree; "" when neither holds it.
std::string FindWordnetMinilm();

// Reads an .fvecs file (per row: int32 dim, then dim float32).
absl::StatusOr<std::vector<float>> ReadFvecs(const std::string& path, uint32_t* dim);
// Reads an .ivecs file (per row: int32 n, then n int32).
absl::StatusOr<std::vector<std::vector<int32_t>>> ReadIvecs(const std::string& path);

// A mixture of `clusters` Gaussians in `dim` dimensions.
Dataset MakeClustered(uint32_t base_rows, uint32_t query_rows, uint32_t dim, uint32_t clusters,
                      uint64_t seed);

}  // namespace proximadb::index
