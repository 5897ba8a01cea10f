// ReservedArray<T>: an array whose address space is reserved up front for its largest size and
// backed by memory only as it is committed, so that it grows in place: elements never move,
// and readers may keep using pointers into the committed part while it grows.
//
// The reservation is PROT_NONE address space: no memory until committed, not even under strict
// overcommit, though it does count against an address-space limit (RLIMIT_AS, `ulimit -v`).
// Commit makes a prefix readable and writable, zero-filled. T must be
// trivially copyable: elements are never constructed or destroyed, they start as zero bytes.
#pragma once

#include <cstddef>
#include <type_traits>

namespace proximadb {

class Reservation {
 public:
  Reservation() = default;
  // Reserves `max_bytes` of address space (none for 0); aborts if the kernel refuses.
  explicit Reservation(size_t max_bytes);
  ~Reservation();
  Reservation(Reservation&& other) noexcept;
  Reservation& operator=(Reservation&& other) noexcept;

  void* data() const { return data_; }
  size_t max_bytes() const { return max_bytes_; }
  size_t committed_bytes() const { return committed_; }
  // Makes bytes [0, bytes) usable (bytes <= max_bytes; rounded up to whole pages). Not
  // thread-safe against another Commit; readers of the part already committed may run.
  void Commit(size_t bytes);

 private:
  void* data_ = nullptr;
  size_t max_bytes_ = 0;
  size_t committed_ = 0;
};

template <typename T>
class ReservedArray {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  ReservedArray() = default;
  explicit ReservedArray(size_t max_size) : r_(max_size * sizeof(T)), max_size_(max_size) {}

  T* data() const { return static_cast<T*>(r_.data()); }
  T& operator[](size_t i) const { return data()[i]; }
  size_t max_size() const { return max_size_; }
  // Elements [0, size) are usable; new ones are zero.
  void Commit(size_t size) { r_.Commit(size * sizeof(T)); }
  // Bytes backed by memory (committed), for memory accounting.
  size_t committed_bytes() const { return r_.committed_bytes(); }

 private:
  Reservation r_;
  size_t max_size_ = 0;
};

}  // namespace proximadb
