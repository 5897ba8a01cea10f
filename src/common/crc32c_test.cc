#include "common/crc32c.h"

#include <string>

#include "gtest/gtest.h"

namespace proximadb::crc32c {
namespace {

TEST(Crc32cTest, StandardCheckValue) {
  // The check value of CRC-32C (RFC 3720, Castagnoli).
  EXPECT_EQ(Value("123456789"), 0xE3069283u);
  EXPECT_EQ(Value(""), 0u);
}

TEST(Crc32cTest, Rfc3720Vectors) {
  std::string zeros(32, '\0');
  EXPECT_EQ(Value(zeros), 0x8A9136AAu);
  std::string ones(32, '\xff');
  EXPECT_EQ(Value(ones), 0x62A8AB43u);
}

TEST(Crc32cTest, ExtendEqualsWhole) {
  std::string s = "hello, write-ahead log";
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    uint32_t a = Value(s.data(), cut);
    EXPECT_EQ(Extend(a, s.data() + cut, s.size() - cut), Value(s)) << cut;
  }
}

}  // namespace
}  // namespace proximadb::crc32c
