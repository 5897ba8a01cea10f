#include "filter/field_index.h"

#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace proximadb {
namespace {

using json = nlohmann::json;

// Random documents over a few fields with mixed types, arrays and nesting, so that every
// operator meets values of its own and of other types.
json RandomValue(std::mt19937& rng, int depth = 0) {
  switch (rng() % (depth < 2 ? 8 : 6)) {
    case 0: return nullptr;
    case 1: return rng() % 2 == 0;
    case 2: return static_cast<int>(rng() % 6);
    case 3: return (rng() % 12) / 2.0;
    case 4: return std::string(1, static_cast<char>('a' + rng() % 5));
    case 5: return json::array();
    case 6: {
      json a = json::array();
      for (int i = rng() % 3; i >= 0; --i) a.push_back(RandomValue(rng, depth + 1));
      return a;
    }
    default: {
      json o = json::object();
      for (const char* key : {"x", "y"}) {
        if (rng() % 2) o[key] = RandomValue(rng, depth + 1);
      }
      return o;
    }
  }
}

std::string RandomDoc(std::mt19937& rng) {
  json doc = json::object();
  for (const char* key : {"a", "b", "c"}) {
    if (rng() % 4 != 0) doc[key] = RandomValue(rng);
  }
  return doc.dump();
}

json RandomScalar(std::mt19937& rng) {
  switch (rng() % 5) {
    case 0: return nullptr;
    case 1: return rng() % 2 == 0;
    case 2: return static_cast<int>(rng() % 6);
    case 3: return (rng() % 12) / 2.0;
    default: return std::string(1, static_cast<char>('a' + rng() % 5));
  }
}

json RandomFilter(std::mt19937& rng, int depth = 0) {
  static const char* kPaths[] = {"a", "b", "c", "a.x", "b.y", "c.x.y"};
  const uint32_t kind = rng() % (depth < 2 ? 5 : 2);
  if (kind >= 2) {
    const char* combinators[] = {"$and", "$or", "$not"};
    const char* c = combinators[kind - 2];
    if (std::string(c) == "$not") return {{c, RandomFilter(rng, depth + 1)}};
    json list = json::array();
    for (int i = rng() % 3; i >= 0; --i) list.push_back(RandomFilter(rng, depth + 1));
    return {{c, list}};
  }
  const std::string path = kPaths[rng() % 6];
  if (kind == 0) return {{path, RandomScalar(rng)}};
  json ops = json::object();
  for (int i = rng() % 2; i >= 0; --i) {
    switch (rng() % 6) {
      case 0: ops[rng() % 2 ? "$eq" : "$ne"] = RandomScalar(rng); break;
      case 1:
      case 2: {
        const char* range[] = {"$gt", "$gte", "$lt", "$lte"};
        ops[range[rng() % 4]] = rng() % 3 == 0 ? json(std::string(1, 'a' + rng() % 5))
                                               : json((rng() % 12) / 2.0);
        break;
      }
      case 3:
      case 4: {
        json values = json::array();
        for (int j = rng() % 3; j > 0; --j) values.push_back(RandomScalar(rng));
        ops[rng() % 2 ? "$in" : "$nin"] = values;
        break;
      }
      default: ops["$exists"] = rng() % 2 == 0;
    }
  }
  return {{path, ops}};
}

// The index must agree with Filter::Matches on every row, including when it is extended to
// rows added after its first use (a growing memtable) and asked about fewer rows than it covers
// (a reader pinned earlier), and when its result comes from the cache.
TEST(FieldIndexTest, AgreesWithMatchesOnRandomDocumentsAndFilters) {
  std::mt19937 rng(7);
  std::vector<std::string> docs;
  for (int i = 0; i < 600; ++i) docs.push_back(RandomDoc(rng));
  auto metadata = [&](uint32_t row) { return std::string_view(docs[row]); };

  // A pool of filters, so that many repeat (and come from the cache) at other row counts.
  std::vector<std::string> pool;
  for (int i = 0; i < 60; ++i) pool.push_back(RandomFilter(rng).dump());
  FieldIndex index;
  int nonempty = 0;
  for (int round = 0; round < 400; ++round) {
    const std::string text = pool[rng() % pool.size()];
    auto filter = Filter::Parse(text);
    ASSERT_TRUE(filter.ok()) << text << ": " << filter.status();
    if (filter->matches_all()) continue;
    const uint32_t rows = 100 + (round * 7) % 500;  // grows and shrinks
    Roaring selected = index.Select(*filter, rows, metadata);
    uint32_t matching = 0;
    for (uint32_t r = 0; r < rows; ++r) {
      const bool want = filter->Matches(docs[r]);
      matching += want;
      ASSERT_EQ(selected.contains(r), want) << "filter " << text << "\nrow " << r << ": " << docs[r];
    }
    EXPECT_EQ(selected.cardinality(), matching) << text;
    nonempty += matching > 0 && matching < rows;
  }
  EXPECT_GT(nonempty, 100);  // the filters were not trivially all-or-nothing
  EXPECT_GT(index.MemoryBytes(), 0u);
}

// The typed columns a segment stores: an index built over the paths filters read, serialized
// and loaded into a fresh index, answers every filter as Filter::Matches does, without reading
// the metadata (the loaded index is given none); damage is refused.
TEST(FieldIndexTest, SerializedIndexesAnswerWithoutTheMetadata) {
  std::mt19937 rng(11);
  std::vector<std::string> docs;
  for (int i = 0; i < 500; ++i) docs.push_back(RandomDoc(rng));
  auto metadata = [&](uint32_t row) { return std::string_view(docs[row]); };
  std::vector<std::string> pool;
  for (int i = 0; i < 40; ++i) pool.push_back(RandomFilter(rng).dump());
  FieldIndex built;
  std::vector<std::string> paths;
  for (const std::string& text : pool) {
    const absl::StatusOr<Filter> filter = Filter::Parse(text);
    ASSERT_TRUE(filter.ok()) << text;
    for (const std::string& p : filter->paths()) paths.push_back(p);
  }
  built.Build(paths, 500, metadata);
  const std::string bytes = built.Serialize();
  FieldIndex loaded;
  ASSERT_TRUE(loaded.Load(bytes, 500).ok());
  EXPECT_EQ(loaded.indexed_paths(), built.indexed_paths());
  auto no_metadata = [](uint32_t) -> std::string_view {
    ADD_FAILURE() << "the loaded index read the metadata";
    return "{}";
  };
  for (const std::string& text : pool) {
    auto filter = Filter::Parse(text);
    if (filter->matches_all()) continue;
    Roaring got = loaded.Select(*filter, 500, no_metadata);
    for (uint32_t r = 0; r < 500; ++r) {
      ASSERT_EQ(got.contains(r), filter->Matches(docs[r])) << text << " row " << r;
    }
  }
  for (size_t cut = 0; cut + 1 < bytes.size(); cut += 1 + bytes.size() / 50) {
    FieldIndex damaged;
    EXPECT_EQ(damaged.Load(bytes.substr(0, cut), 500).code(), absl::StatusCode::kDataLoss) << cut;
  }
  FieldIndex too_few_rows;
  EXPECT_EQ(too_few_rows.Load(bytes, 10).code(), absl::StatusCode::kDataLoss);
}

TEST(FieldIndexTest, RangesAndEqualityThroughTheIndex) {
  std::vector<std::string> docs;
  for (int i = 0; i < 1000; ++i) {
    docs.push_back(absl::StrCat(R"({"n":)", i, R"(,"label":"l)", i % 10, R"("})"));
  }
  auto metadata = [&](uint32_t row) { return std::string_view(docs[row]); };
  FieldIndex index;
  auto select = [&](const char* text) {
    return index.Select(*Filter::Parse(text), 1000, metadata).cardinality();
  };
  EXPECT_EQ(select(R"({"n":{"$gte":100,"$lt":200}})"), 100u);
  EXPECT_EQ(select(R"({"label":"l3"})"), 100u);
  EXPECT_EQ(select(R"({"label":{"$in":["l3","l4"]},"n":{"$lt":500}})"), 100u);
  EXPECT_EQ(select(R"({"$not":{"label":"l3"}})"), 900u);
  EXPECT_EQ(select(R"({"missing":{"$exists":true}})"), 0u);
}

TEST(FieldIndexTest, KeepsAtMostMaxPathsAndRebuildsDroppedOnes) {
  std::vector<std::string> docs;
  for (int i = 0; i < 50; ++i) {
    docs.push_back(absl::StrCat(R"({"p)", i % 7, R"(":)", i, R"(,"q":)", i % 3, "}"));
  }
  auto metadata = [&](uint32_t row) { return std::string_view(docs[row]); };
  FieldIndex index;
  auto check = [&](const std::string& text) {
    auto filter = Filter::Parse(text);
    ASSERT_TRUE(filter.ok()) << filter.status();
    Roaring got = index.Select(*filter, 50, metadata);
    for (uint32_t r = 0; r < 50; ++r) {
      ASSERT_EQ(got.contains(r), filter->Matches(docs[r])) << text << " row " << r;
    }
  };
  check(R"({"q":1})");
  for (size_t i = 0; i < 2 * FieldIndex::kMaxPaths; ++i) {  // ever new paths
    check(absl::StrCat(R"({"x)", i, R"(":{"$exists":false}})"));
  }
  EXPECT_EQ(index.indexed_paths(), FieldIndex::kMaxPaths);
  check(R"({"q":1})");  // dropped long ago: rebuilt, same answer
  check(R"({"p3":{"$gte":10}})");
  EXPECT_EQ(index.indexed_paths(), FieldIndex::kMaxPaths);
}

}  // namespace
}  // namespace proximadb
