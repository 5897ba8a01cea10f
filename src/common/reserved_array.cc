#include "common/reserved_array.h"

#include <sys/mman.h>
#include <unistd.h>

#include <utility>

#include "common/macros.h"

namespace proximadb {
namespace {

size_t RoundUpToPage(size_t bytes) {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return (bytes + page - 1) / page * page;
}

}  // namespace

Reservation::Reservation(size_t max_bytes) : max_bytes_(max_bytes) {
  if (max_bytes == 0) return;
  data_ = mmap(nullptr, max_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  PROXIMADB_CHECK(data_ != MAP_FAILED);
}

Reservation::~Reservation() {
  if (data_ != nullptr) munmap(data_, max_bytes_);
}

Reservation::Reservation(Reservation&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      max_bytes_(std::exchange(other.max_bytes_, 0)),
      committed_(std::exchange(other.committed_, 0)) {}

Reservation& Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) munmap(data_, max_bytes_);
    data_ = std::exchange(other.data_, nullptr);
    max_bytes_ = std::exchange(other.max_bytes_, 0);
    committed_ = std::exchange(other.committed_, 0);
  }
  return *this;
}

void Reservation::Commit(size_t bytes) {
  PROXIMADB_CHECK(bytes <= max_bytes_);
  if (bytes <= committed_) return;
  const size_t to = RoundUpToPage(bytes);  // within the mapping, which is whole pages
  char* base = static_cast<char*>(data_);
  PROXIMADB_CHECK(mprotect(base + committed_, to - committed_, PROT_READ | PROT_WRITE) == 0);
  committed_ = to;
}

}  // namespace proximadb
