#include "common/reserved_array.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>

namespace proximadb {
namespace {

TEST(ReservedArrayTest, GrowsInPlaceAndStartsZeroed) {
  ReservedArray<uint32_t> a(1 << 20);
  EXPECT_EQ(a.committed_bytes(), 0u);
  a.Commit(10);
  uint32_t* first = a.data();
  for (uint32_t i = 0; i < 10; ++i) {
    EXPECT_EQ(a[i], 0u);
    a[i] = i + 1;
  }
  a.Commit(300000);
  EXPECT_EQ(a.data(), first) << "committing more must not move the elements";
  EXPECT_GE(a.committed_bytes(), 300000 * sizeof(uint32_t));
  EXPECT_LT(a.committed_bytes(), 1200000 * sizeof(uint32_t));
  for (uint32_t i = 0; i < 10; ++i) EXPECT_EQ(a[i], i + 1);
  for (uint32_t i = 10; i < 300000; ++i) ASSERT_EQ(a[i], 0u) << i;
  a.Commit(5);  // never shrinks
  EXPECT_EQ(a[9], 10u);
}

TEST(ReservedArrayTest, ReadersOfTheCommittedPartRunWhileItGrows) {
  ReservedArray<uint64_t> a(1 << 24);
  a.Commit(1024);
  a[1000] = 7;
  std::atomic<bool> started{false}, done{false};
  uint64_t wrong = 0;
  std::thread reader([&] {
    while (!done.load()) {
      wrong += std::atomic_ref<uint64_t>(a[1000]).load() != 7;
      started = true;
    }
  });
  while (!started.load()) std::this_thread::yield();
  for (size_t n = 2048; n <= (1 << 24); n *= 2) a.Commit(n);
  a[(1 << 24) - 1] = 1;
  done = true;
  reader.join();
  EXPECT_EQ(wrong, 0u);
}

TEST(ReservedArrayTest, MovesOwnership) {
  ReservedArray<uint8_t> a(4096);
  a.Commit(4096);
  a[4095] = 3;
  ReservedArray<uint8_t> b = std::move(a);
  EXPECT_EQ(b[4095], 3);
  ReservedArray<uint8_t> empty;
  EXPECT_EQ(empty.max_size(), 0u);
  empty.Commit(0);
}

}  // namespace
}  // namespace proximadb
