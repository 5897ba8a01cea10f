#include "storage/id_index.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace proximadb {
namespace {

// Every IdIndex implementation runs this suite.
class IdIndexTest : public ::testing::TestWithParam<IdIndexKind> {};

TEST_P(IdIndexTest, SetFindOverwrite) {
  auto index = NewIdIndex(GetParam());
  std::vector<std::string> ids;
  for (int i = 0; i < 10000; ++i) ids.push_back("id-" + std::to_string(i));
  for (uint32_t i = 0; i < ids.size(); ++i) index->Set(ids[i], i);
  EXPECT_EQ(index->size(), ids.size());
  for (uint32_t i = 0; i < ids.size(); ++i) EXPECT_EQ(index->Find(ids[i]), i);
  EXPECT_EQ(index->Find("id-10000"), std::nullopt);
  EXPECT_EQ(index->Find(""), std::nullopt);

  const std::string again = "id-5";  // a different buffer with equal bytes
  index->Set(again, 99999);
  EXPECT_EQ(index->Find("id-5"), 99999u);
  EXPECT_EQ(index->size(), ids.size());
  EXPECT_GT(index->MemoryBytes(), 0u);
}

TEST_P(IdIndexTest, EmptyAndBinaryIds) {
  auto index = NewIdIndex(GetParam());
  const std::string empty, binary("a\0b", 3), prefix("a");
  index->Set(empty, 1);
  index->Set(binary, 2);
  index->Set(prefix, 3);
  EXPECT_EQ(index->Find(empty), 1u);
  EXPECT_EQ(index->Find(binary), 2u);
  EXPECT_EQ(index->Find(prefix), 3u);
}

INSTANTIATE_TEST_SUITE_P(AllKinds, IdIndexTest, ::testing::Values(IdIndexKind::kHashMap));

TEST(IdIndexKindTest, Parse) {
  EXPECT_EQ(*ParseIdIndexKind("hashmap"), IdIndexKind::kHashMap);
  EXPECT_EQ(ParseIdIndexKind("trie").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace proximadb
