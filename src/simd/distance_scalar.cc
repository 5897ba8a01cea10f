// The reference kernels: plain loops, no special flags. Every other level is tested against
// these.
#include <cmath>

#include "simd/dispatch.h"

namespace proximadb::simd {
namespace {

float L2Sqr(const float* a, const float* b, size_t dim) {
  float s = 0;
  for (size_t i = 0; i < dim; ++i) {
    const float d = a[i] - b[i];
    s += d * d;
  }
  return s;
}

float Dot(const float* a, const float* b, size_t dim) {
  float s = 0;
  for (size_t i = 0; i < dim; ++i) s += a[i] * b[i];
  return s;
}

float CosineDistance(const float* a, const float* b, size_t dim) {
  float d = 0, na = 0, nb = 0;
  for (size_t i = 0; i < dim; ++i) {
    d += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  if (na == 0 || nb == 0) return 1.0f;
  return 1.0f - d / std::sqrt(na * nb);
}

int32_t L2SqrI8(const int8_t* a, const int8_t* b, size_t dim) {
  int32_t s = 0;
  for (size_t i = 0; i < dim; ++i) {
    const int32_t d = int32_t{a[i]} - int32_t{b[i]};
    s += d * d;
  }
  return s;
}

int32_t DotI8(const int8_t* a, const int8_t* b, size_t dim) {
  int32_t s = 0;
  for (size_t i = 0; i < dim; ++i) s += int32_t{a[i]} * int32_t{b[i]};
  return s;
}

}  // namespace

const Kernels kScalarKernels = {Level::kScalar, &L2Sqr, &Dot, &CosineDistance, &L2SqrI8, &DotI8};

}  // namespace proximadb::simd
