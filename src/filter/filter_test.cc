#include "filter/filter.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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

TEST(FilterTest, LimitsAreErrorsSayingWhich) {
  auto nested = [](int depth) {
    std::string f;
    for (int i = 0; i < depth; ++i) f += R"({"$not": )";
    f += R"({"a": 1})";
    return f + std::string(depth, '}');
  };
  EXPECT_TRUE(Filter::Parse(nested(Filter::kMaxDepth)).ok());
  auto deep = Filter::Parse(nested(Filter::kMaxDepth + 1));
  ASSERT_EQ(deep.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(deep.status().message(), "more than 32 deep")) << deep.status();
  // A million-deep document is refused by the same rule, without a deep recursion.
  EXPECT_FALSE(Filter::Parse(nested(100000)).ok());

  auto in_list = [](size_t n) {
    std::string f = R"({"a": {"$in": [0)";
    for (size_t i = 1; i < n; ++i) absl::StrAppend(&f, ",", i);
    return f + "]}}";
  };
  EXPECT_TRUE(Filter::Parse(in_list(Filter::kMaxTerms - 1)).ok());
  auto many = Filter::Parse(in_list(Filter::kMaxTerms + 1));
  ASSERT_EQ(many.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(many.status().message(), "more than 10000 conditions"))
      << many.status();

  const std::string big = absl::StrCat(R"({"a": ")", std::string(Filter::kMaxBytes, 'x'), R"("})");
  EXPECT_TRUE(absl::StrContains(Filter::Parse(big).status().message(), "over the limit"));
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
  EXPECT_FALSE(M(R"({"items.sku":"k3"})", R"({"items":[{"sku":"k1"},{"sku":"k2"}]})"));
}

TEST(FilterTest, ComparisonOperators) {
  const char* doc = R"({"price":12.5,"name":"kiwi","tags":["a","b"],"n":[1,7]})";
  EXPECT_TRUE(M(R"({"price":{"$gte":5,"$lt":20}})", doc));
  EXPECT_FALSE(M(R"({"price":{"$gte":5,"$lt":12.5}})", doc));
  EXPECT_TRUE(M(R"({"price":{"$lte":12.5}})", doc));
  EXPECT_TRUE(M(R"({"price":{"$gt":12}})", doc));
  EXPECT_FALSE(M(R"({"price":{"$gt":12.5}})", doc));
  EXPECT_TRUE(M(R"({"name":{"$gt":"apple","$lt":"lemon"}})", doc));  // strings bytewise
  EXPECT_FALSE(M(R"({"name":{"$gt":5}})", doc));                      // other types never match
  EXPECT_TRUE(M(R"({"n":{"$gt":5}})", doc));                          // any array element
  EXPECT_TRUE(M(R"({"name":{"$ne":"pear"}})", doc));
  EXPECT_FALSE(M(R"({"tags":{"$ne":"a"}})", doc));  // $ne: no element equals
  EXPECT_TRUE(M(R"({"missing":{"$ne":1}})", doc));
  EXPECT_TRUE(M(R"({"tags":{"$in":["z","b"]}})", doc));
  EXPECT_FALSE(M(R"({"tags":{"$in":[]}})", doc));
  EXPECT_TRUE(M(R"({"tags":{"$nin":["z"]}})", doc));
  EXPECT_FALSE(M(R"({"tags":{"$nin":["z","a"]}})", doc));
  EXPECT_TRUE(M(R"({"tags":{"$exists":true},"x":{"$exists":false}})", doc));
  EXPECT_FALSE(M(R"({"price":{"$exists":false}})", doc));
  EXPECT_TRUE(M(R"({"o":{"$exists":true}})", R"({"o":{}})"));  // present, holds no scalar
}

TEST(FilterTest, Combinators) {
  const char* doc = R"({"user":"alice","n":3})";
  EXPECT_TRUE(M(R"({"$or":[{"user":"bob"},{"n":3}]})", doc));
  EXPECT_FALSE(M(R"({"$or":[{"user":"bob"},{"n":4}]})", doc));
  EXPECT_TRUE(M(R"({"$and":[{"user":"alice"},{"n":{"$lt":4}}]})", doc));
  EXPECT_FALSE(M(R"({"$and":[{"user":"alice"},{"n":{"$lt":3}}]})", doc));
  EXPECT_TRUE(M(R"({"$not":{"user":"bob"}})", doc));
  EXPECT_FALSE(M(R"({"$not":{"user":"alice"}, "n":3})", doc));
}

TEST(FilterTest, ErrorsNameThePlaceAndTheReason) {
  struct Case {
    const char* filter;
    const char* where;
  };
  for (const Case& c : {
           Case{R"({"price":{"$gt":[1]}})", "filter.price.$gt: expects a number or a string"},
           Case{R"({"price":{"$between":1}})", "filter.price.$between: unknown operator"},
           Case{R"({"$or":[{"a":1},{"b":{"$in":3}}]})", "filter.$or[1].b.$in: expects an array"},
           Case{R"({"$or":[]})", "filter.$or: expects a non-empty array"},
           Case{R"({"$nor":[{"a":1}]})", "filter.$nor: unknown operator"},
           Case{R"({"a":{"$exists":1}})", "filter.a.$exists: expects a boolean"},
           Case{R"({"a..b":1})", "filter.a..b: the path has an empty segment"},
           Case{R"({"a":{"b":1}})", "\"a.b\""},
           Case{R"({"a":[1,2]})", "use $in"},
           Case{R"({"a":{"$in":[{"x":1}]}})", "filter.a.$in[0]: expects a string, number"},
           Case{"[1]", "filter: expects an object"},
           Case{"{", "filter: not valid JSON"},
       }) {
    auto f = Filter::Parse(c.filter);
    ASSERT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument) << c.filter;
    EXPECT_TRUE(absl::StrContains(f.status().message(), c.where))
        << c.filter << " -> " << f.status().message();
  }
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
