#include "filter/filter.h"

#include "absl/strings/match.h"
#include "filter/metadata.h"
#include "gtest/gtest.h"

namespace proximadb {
namespace {

bool M(std::string_view filter, std::string_view doc) {
  auto f = Filter::Parse(filter);
  EXPECT_TRUE(f.ok()) << f.status();
  return f->Matches(doc);
}

TEST(FilterTest, EmptyMatchesEverything) {
  EXPECT_TRUE(Filter::Parse("")->matches_all());
  EXPECT_TRUE(Filter::Parse("{}")->matches_all());
  EXPECT_TRUE(M("", "{}"));
}

TEST(FilterTest, FieldEquality) {
  EXPECT_TRUE(M(R"({"user":"alice"})", R"({"user":"alice","n":1})"));
  EXPECT_FALSE(M(R"({"user":"alice"})", R"({"user":"bob"})"));
  EXPECT_FALSE(M(R"({"user":"alice"})", R"({})"));
  EXPECT_TRUE(M(R"({"n":5})", R"({"n":5.0})"));
  EXPECT_FALSE(M(R"({"n":5})", R"({"n":"5"})"));
  EXPECT_TRUE(M(R"({"ok":true,"n":null})", R"({"ok":true,"n":null})"));
  // All conditions must hold.
  EXPECT_FALSE(M(R"({"user":"alice","n":2})", R"({"user":"alice","n":1})"));
}

TEST(FilterTest, DottedPathsAndArrays) {
  EXPECT_TRUE(M(R"({"a.b":3})", R"({"a":{"b":3}})"));
  EXPECT_FALSE(M(R"({"a.b":3})", R"({"a":{"c":3}})"));
  EXPECT_TRUE(M(R"({"tags":"x"})", R"({"tags":["y","x"]})"));
  EXPECT_TRUE(M(R"({"items.sku":"k2"})", R"({"items":[{"sku":"k1"},{"sku":"k2"}]})"));
  EXPECT_TRUE(M(R"({"tags":["y","x"]})", R"({"tags":["y","x"]})"));  // whole-array equality
}

TEST(FilterTest, RejectsWhatItDoesNotSupport) {
  for (const char* bad : {R"({"price":{"$gt":5}})", R"({"$or":[]})", "[1]", "{", R"({"a..b":1})"}) {
    auto f = Filter::Parse(bad);
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  auto f = Filter::Parse(R"({"price":{"$gt":5}})");
  EXPECT_TRUE(absl::StrContains(f.status().message(), "$gt")) << f.status();
  EXPECT_TRUE(absl::StrContains(f.status().message(), "price")) << f.status();
}

TEST(FilterTest, MalformedMetadataMatchesNothing) {
  EXPECT_FALSE(M(R"({"a":1})", "not json"));
}

TEST(MetadataTest, CanonicalAndMerge) {
  EXPECT_EQ(*CanonicalMetadata("", "m"), "{}");
  EXPECT_EQ(*CanonicalMetadata(R"( { "b" : 1 , "a" : [1, 2] } )", "m"), R"({"a":[1,2],"b":1})");
  auto bad = CanonicalMetadata("[1]", "metadata of id 'x'");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "metadata of id 'x'"));
  EXPECT_FALSE(CanonicalMetadata("{\"a\":", "m").ok());

  EXPECT_EQ(*MergeMetadata(R"({"a":1,"b":{"c":2,"d":3}})", R"({"a":null,"b":{"c":9},"e":"x"})",
                           "m"),
            R"({"b":{"c":9,"d":3},"e":"x"})");
}

}  // namespace
}  // namespace proximadb
