#include "index/quantizer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/coding.h"
#include "index/kmeans.h"

namespace proximadb::index {
namespace {

constexpr int kKMeansIterations = 10;
// k-means needs far fewer rows than the range and mean statistics: 40 per centroid of pq.
constexpr uint32_t kPqTrainingRows = 40 * 256;

// Which rows train: all of them when few, else an even spread (deterministic).
std::vector<uint32_t> TrainingRows(uint32_t rows, uint32_t limit) {
  std::vector<uint32_t> out;
  const uint32_t n = std::min(rows, limit);
  out.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    out.push_back(static_cast<uint32_t>(uint64_t{i} * rows / n));
  }
  return out;
}

size_t BinaryWords(uint32_t dim) { return (dim + 63) / 64; }

}  // namespace

uint32_t DefaultPqM(uint32_t dim, Quantization kind) {
  const uint32_t dims_per_code = kind == Quantization::kPq4 ? 2 : 4;
  for (uint32_t m = std::max<uint32_t>(dim / dims_per_code, 1); m > 1; --m) {
    if (dim % m == 0) return m;
  }
  return 1;
}

Quantizer::Quantizer(const Options& options) : options_(options) {
  switch (options_.kind) {
    case Quantization::kSq8:
      code_size_ = options_.dim + (options_.metric == DistanceMetric::kL2 ? sizeof(float) : 0);
      break;
    case Quantization::kPq:
      code_size_ = options_.pq_m;
      break;
    case Quantization::kPq4:
      code_size_ = (options_.pq_m + 1) / 2;
      break;
    case Quantization::kBinary:
      code_size_ = BinaryWords(options_.dim) * sizeof(uint64_t);
      break;
    case Quantization::kNone:
      break;
  }
}

absl::StatusOr<std::unique_ptr<Quantizer>> Quantizer::Train(
    const Options& options, uint32_t rows, absl::FunctionRef<const float*(uint32_t)> vector) {
  Options o = options;
  if (o.kind == Quantization::kNone || o.dim == 0) {
    return absl::InvalidArgumentError("quantization: nothing to train");
  }
  if (IsProductQuantization(o.kind)) {
    if (o.pq_m == 0) o.pq_m = DefaultPqM(o.dim, o.kind);
    if (o.pq_m > o.dim || o.dim % o.pq_m != 0) {
      return absl::InvalidArgumentError(absl::StrCat("pq_m: ", o.pq_m,
                                                     " must divide the dimension ", o.dim));
    }
  } else {
    o.pq_m = 0;
  }
  std::unique_ptr<Quantizer> q(new Quantizer(o));
  switch (o.kind) {
    case Quantization::kSq8: q->TrainSq8(rows, vector); break;
    case Quantization::kPq:
    case Quantization::kPq4: q->TrainPq(rows, vector); break;
    case Quantization::kBinary: q->TrainBinary(rows, vector); break;
    case Quantization::kNone: break;
  }
  return q;
}

const float* Quantizer::Prepared(const float* vector, std::vector<float>* scratch) const {
  if (options_.metric != DistanceMetric::kCosine) return vector;
  const uint32_t dim = options_.dim;
  const float norm = std::sqrt(simd::Active().dot(vector, vector, dim));
  scratch->assign(vector, vector + dim);
  if (norm > 0) {
    for (float& x : *scratch) x /= norm;
  }
  return scratch->data();
}

void Quantizer::TrainSq8(uint32_t rows, absl::FunctionRef<const float*(uint32_t)> vector) {
  const uint32_t dim = options_.dim;
  std::vector<float> lo(dim, std::numeric_limits<float>::infinity());
  std::vector<float> hi(dim, -std::numeric_limits<float>::infinity());
  std::vector<float> scratch;
  for (uint32_t r : TrainingRows(rows, kQuantizerTrainingRows)) {
    const float* x = Prepared(vector(r), &scratch);
    for (uint32_t i = 0; i < dim; ++i) {
      lo[i] = std::min(lo[i], x[i]);
      hi[i] = std::max(hi[i], x[i]);
    }
  }
  min_.assign(dim, 0.0f);
  scale_.assign(dim, 0.0f);
  for (uint32_t i = 0; i < dim; ++i) {
    if (!(lo[i] <= hi[i])) continue;  // no rows
    min_[i] = lo[i];
    scale_[i] = (hi[i] - lo[i]) / 255.0f;
  }
  InvertScales();
}

void Quantizer::InvertScales() {
  inverse_scale_.resize(scale_.size());
  for (size_t i = 0; i < scale_.size(); ++i) {
    const float inverse = 1.0f / scale_[i];  // a subnormal scale's is infinite: code 0
    inverse_scale_[i] = scale_[i] > 0 && std::isfinite(inverse) ? inverse : 0.0f;
  }
}

void Quantizer::TrainBinary(uint32_t rows, absl::FunctionRef<const float*(uint32_t)> vector) {
  const uint32_t dim = options_.dim;
  std::vector<double> sum(dim, 0.0);
  std::vector<float> scratch;
  const std::vector<uint32_t> sample = TrainingRows(rows, kQuantizerTrainingRows);
  for (uint32_t r : sample) {
    const float* x = Prepared(vector(r), &scratch);
    for (uint32_t i = 0; i < dim; ++i) sum[i] += x[i];
  }
  min_.assign(dim, 0.0f);
  for (uint32_t i = 0; i < dim && !sample.empty(); ++i) {
    min_[i] = static_cast<float>(sum[i] / sample.size());
  }
}

void Quantizer::TrainPq(uint32_t rows, absl::FunctionRef<const float*(uint32_t)> vector) {
  const uint32_t m = options_.pq_m, ds = dsub(), k = centroids();
  const std::vector<uint32_t> sample = TrainingRows(rows, kPqTrainingRows);
  const uint32_t n = static_cast<uint32_t>(sample.size());
  centroids_.assign(size_t{m} * k * ds, 0.0f);
  if (n == 0) return;
  // Sub-vectors of the sample, one sub-space at a time.
  std::vector<std::vector<float>> points(m, std::vector<float>(size_t{n} * ds));
  std::vector<float> scratch;
  for (uint32_t i = 0; i < n; ++i) {
    const float* x = Prepared(vector(sample[i]), &scratch);
    for (uint32_t j = 0; j < m; ++j) {
      std::memcpy(points[j].data() + size_t{i} * ds, x + size_t{j} * ds, ds * sizeof(float));
    }
  }
  std::mt19937_64 rng(options_.seed);
  for (uint32_t j = 0; j < m; ++j) {
    KMeans(points[j], n, ds, k, kKMeansIterations, rng, centroids_.data() + size_t{j} * k * ds);
  }
  IndexCentroids();
}

void Quantizer::IndexCentroids() {
  const uint32_t ds = dsub(), k = centroids();
  nearest_.clear();
  for (uint32_t j = 0; j < options_.pq_m; ++j) {
    nearest_.emplace_back(centroids_.data() + size_t{j} * k * ds, ds, k);
  }
}

Quantizer::~Quantizer() = default;

float Quantizer::DecodedNorm2(const uint8_t* code) const {
  // Eight running sums: independent additions, and a loop that vectorizes.
  float partial[8] = {};
  const uint32_t dim = options_.dim;
  uint32_t i = 0;
  for (; i + 8 <= dim; i += 8) {
    for (uint32_t j = 0; j < 8; ++j) {
      const float decoded = min_[i + j] + scale_[i + j] * code[i + j];
      partial[j] += decoded * decoded;
    }
  }
  float norm2 = 0;
  for (; i < dim; ++i) {
    const float decoded = min_[i] + scale_[i] * code[i];
    norm2 += decoded * decoded;
  }
  for (float p : partial) norm2 += p;
  return norm2;
}

void Quantizer::Encode(const float* vector, uint8_t* code) const {
  std::vector<float> scratch;
  const float* x = Prepared(vector, &scratch);
  const uint32_t dim = options_.dim;
  switch (options_.kind) {
    case Quantization::kSq8: {
      // Branch-free loops the compiler vectorizes: a memtable's IVF lists encode every row
      // as it arrives. Clamped at 0 first, so + 0.5 and truncation round to nearest.
      for (uint32_t i = 0; i < dim; ++i) {
        const float c = std::clamp((x[i] - min_[i]) * inverse_scale_[i], 0.0f, 255.0f);
        code[i] = static_cast<uint8_t>(static_cast<int>(c + 0.5f));
      }
      if (options_.metric == DistanceMetric::kL2) {
        const float norm2 = DecodedNorm2(code);
        std::memcpy(code + dim, &norm2, sizeof(float));
      }
      break;
    }
    case Quantization::kPq: {
      const uint32_t ds = dsub();
      for (uint32_t j = 0; j < options_.pq_m; ++j) {
        code[j] = static_cast<uint8_t>(nearest_[j].Nearest(x + size_t{j} * ds));
      }
      break;
    }
    case Quantization::kPq4: {
      const uint32_t ds = dsub();
      std::memset(code, 0, code_size_);
      for (uint32_t j = 0; j < options_.pq_m; ++j) {
        const uint32_t c = nearest_[j].Nearest(x + size_t{j} * ds);
        code[j / 2] |= static_cast<uint8_t>(j % 2 == 0 ? c : c << 4);
      }
      break;
    }
    case Quantization::kBinary: {
      std::vector<uint64_t> words(BinaryWords(dim), 0);
      for (uint32_t i = 0; i < dim; ++i) {
        if (x[i] > min_[i]) words[i / 64] |= uint64_t{1} << (i % 64);
      }
      std::memcpy(code, words.data(), code_size_);
      break;
    }
    case Quantization::kNone:
      break;
  }
}

Quantizer::Query Quantizer::Prepare(const float* query) const {
  Query q;
  q.kind_ = options_.kind;
  q.dim_ = options_.dim;
  q.pq_m_ = options_.pq_m;
  q.centroids_ = IsProductQuantization(options_.kind) ? centroids() : 0;
  q.l2_ = options_.metric == DistanceMetric::kL2;
  q.kernels_ = &simd::Active();
  std::vector<float> scratch;
  const float* x = Prepared(query, &scratch);
  const uint32_t dim = options_.dim;
  const float base = options_.metric == DistanceMetric::kCosine ? 1.0f : 0.0f;
  switch (options_.kind) {
    case Quantization::kSq8: {
      q.data_.resize(dim);
      float qmin = 0, qq = 0;
      for (uint32_t i = 0; i < dim; ++i) {
        q.data_[i] = x[i] * scale_[i];
        qmin += x[i] * min_[i];
        qq += x[i] * x[i];
      }
      q.offset_ = q.l2_ ? qq - 2 * qmin : base - qmin;
      break;
    }
    case Quantization::kPq:
    case Quantization::kPq4: {
      // l2: |q_j - c|^2 = |q_j|^2 + |c|^2 - 2 q_j.c, the |q_j|^2 summed into the offset;
      // dot and cosine: -q_j.c, from zero norms and halved.
      const uint32_t ds = dsub(), k = centroids();
      q.data_.resize(size_t{options_.pq_m} * k);
      const std::vector<float> zeros(q.l2_ ? 0 : k, 0.0f);
      for (uint32_t j = 0; j < options_.pq_m; ++j) {
        const Centroids& near = nearest_[j];
        q.kernels_->centroid_distances(x + size_t{j} * ds, near.transposed.data(),
                                       q.l2_ ? near.norms.data() : zeros.data(), ds, k,
                                       q.data_.data() + size_t{j} * k);
      }
      if (q.l2_) {
        q.offset_ = q.kernels_->dot(x, x, dim);
      } else {
        for (float& t : q.data_) t *= 0.5f;
        q.offset_ = base;
      }
      break;
    }
    case Quantization::kBinary: {
      q.bits_.resize(BinaryWords(dim));
      Encode(query, reinterpret_cast<uint8_t*>(q.bits_.data()));
      break;
    }
    case Quantization::kNone:
      break;
  }
  return q;
}

float Quantizer::Query::Distance(const uint8_t* code) const {
  switch (kind_) {
    case Quantization::kSq8: {
      const float dot = kernels_->dot_f32_u8(data_.data(), code, dim_);
      if (!l2_) return offset_ - dot;
      float norm2;
      std::memcpy(&norm2, code + dim_, sizeof(float));
      return offset_ - 2 * dot + norm2;
    }
    case Quantization::kPq:
      return offset_ + kernels_->lookup(data_.data(), code, pq_m_);
    case Quantization::kPq4: {
      // One row at a time (graph traversals, the block an IVF list is filling; IVF scans use
      // the fast-scan kernel instead), two bytes, so four sub-quantizers, at a time into four
      // sums: one sum would wait on each addition before the next.
      float s[4] = {0, 0, 0, 0};
      const float* t = data_.data();
      uint32_t j = 0;
      for (; j + 3 < pq_m_; j += 4, t += 64) {
        const uint8_t c0 = code[j / 2], c1 = code[j / 2 + 1];
        s[0] += t[c0 & 15];
        s[1] += t[16 + (c0 >> 4)];
        s[2] += t[32 + (c1 & 15)];
        s[3] += t[48 + (c1 >> 4)];
      }
      for (; j < pq_m_; ++j, t += 16) s[j % 2] += t[(code[j / 2] >> (4 * (j % 2))) & 15];
      return offset_ + ((s[0] + s[1]) + (s[2] + s[3]));
    }
    case Quantization::kBinary:
      return static_cast<float>(kernels_->hamming(
          bits_.data(), reinterpret_cast<const uint64_t*>(code), bits_.size()));
    case Quantization::kNone:
      break;
  }
  return 0;
}

std::string Quantizer::Serialize() const {
  std::string out;
  PutFixed32(&out, static_cast<uint32_t>(options_.kind));
  PutFixed32(&out, options_.dim);
  PutFixed32(&out, static_cast<uint32_t>(options_.metric));
  PutFixed32(&out, options_.pq_m);
  for (const std::vector<float>* v : {&min_, &scale_, &centroids_}) {
    PutFixed64(&out, v->size());
    out.append(reinterpret_cast<const char*>(v->data()), v->size() * sizeof(float));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Quantizer>> Quantizer::Load(std::string_view bytes,
                                                           uint32_t dim,
                                                           DistanceMetric metric) {
  Decoder in(bytes);
  uint32_t kind = 0, stored_dim = 0, stored_metric = 0, pq_m = 0;
  auto bad = [](const char* why) {
    return absl::DataLossError(absl::StrCat("quantizer: ", why));
  };
  if (!in.GetFixed32(&kind) || !in.GetFixed32(&stored_dim) || !in.GetFixed32(&stored_metric) ||
      !in.GetFixed32(&pq_m)) {
    return bad("truncated header");
  }
  if (kind < 1 || kind > 4 || stored_dim != dim ||
      stored_metric != static_cast<uint32_t>(metric)) {
    return bad("header does not match the collection");
  }
  Options o{static_cast<Quantization>(kind), dim, metric, pq_m};
  const bool pq = IsProductQuantization(o.kind);
  if (pq ? pq_m == 0 || dim % pq_m != 0 : pq_m != 0) return bad("pq_m does not divide dim");
  std::unique_ptr<Quantizer> q(new Quantizer(o));
  const size_t want[3] = {pq ? 0 : dim, o.kind == Quantization::kSq8 ? dim : 0,
                          pq ? size_t{dim} * q->centroids() : 0};
  std::vector<float>* arrays[3] = {&q->min_, &q->scale_, &q->centroids_};
  for (int a = 0; a < 3; ++a) {
    uint64_t n = 0;
    std::string_view data;
    if (!in.GetFixed64(&n) || n != want[a] || !in.GetBytes(n * sizeof(float), &data)) {
      return bad("parameter arrays do not match the header");
    }
    arrays[a]->resize(n);
    if (n > 0) std::memcpy(arrays[a]->data(), data.data(), data.size());
  }
  if (!in.done()) return bad("trailing bytes");
  if (pq) q->IndexCentroids();
  if (o.kind == Quantization::kSq8) q->InvertScales();
  return q;
}

}  // namespace proximadb::index
