#include "common/coding.h"

#include <limits>
#include <vector>

#include "gtest/gtest.h"

namespace proximadb {
namespace {

TEST(CodingTest, FixedAndVarintRoundTrip) {
  std::vector<uint64_t> values = {0, 1, 127, 128, 300, 1u << 20, UINT32_MAX,
                                  std::numeric_limits<uint64_t>::max()};
  std::string buf;
  for (uint64_t v : values) {
    PutVarint64(&buf, v);
    PutFixed64(&buf, v);
    PutFixed32(&buf, static_cast<uint32_t>(v));
  }
  PutLengthPrefixed(&buf, "segment");
  Decoder d(buf);
  for (uint64_t v : values) {
    uint64_t a, b;
    uint32_t c;
    ASSERT_TRUE(d.GetVarint64(&a));
    ASSERT_TRUE(d.GetFixed64(&b));
    ASSERT_TRUE(d.GetFixed32(&c));
    EXPECT_EQ(a, v);
    EXPECT_EQ(b, v);
    EXPECT_EQ(c, static_cast<uint32_t>(v));
  }
  std::string_view s;
  ASSERT_TRUE(d.GetLengthPrefixed(&s));
  EXPECT_EQ(s, "segment");
  EXPECT_TRUE(d.done());
}

TEST(CodingTest, TruncatedInputFailsCleanly) {
  std::string buf;
  PutVarint64(&buf, 1u << 30);
  PutLengthPrefixed(&buf, "abcdef");
  for (size_t n = 0; n < buf.size(); ++n) {
    Decoder d(buf.data(), n);
    uint64_t v;
    std::string_view s;
    EXPECT_FALSE(d.GetVarint64(&v) && d.GetLengthPrefixed(&s)) << n;
  }
}

TEST(CodingTest, OverlongVarintRejected) {
  std::string buf(11, '\xff');
  Decoder d(buf);
  uint64_t v;
  EXPECT_FALSE(d.GetVarint64(&v));
}

}  // namespace
}  // namespace proximadb
