// Behaviour of a collection through the public API, on the in-memory Env.
#include <algorithm>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "engine/collection_test_fixture.h"
#include "gtest/gtest.h"
#include "proximadb/database.h"

namespace proximadb {
namespace {

TEST_F(CollectionTest, InsertGetUpsertDelete) {
  ASSERT_TRUE(coll_->Insert(R("a", {1, 2, 3, 4}, R"({"user":"alice"})")).ok());
  auto dup = coll_->Insert(R("a", {0, 0, 0, 0}));
  EXPECT_EQ(dup.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(absl::StrContains(dup.message(), "'a'")) << dup;

  auto got = coll_->Get("a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->vector, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(got->metadata, R"({"user":"alice"})");

  ASSERT_TRUE(coll_->Upsert(R("a", {5, 6, 7, 8})).ok());
  EXPECT_EQ(coll_->Get("a")->vector, (std::vector<float>{5, 6, 7, 8}));
  EXPECT_EQ(*coll_->Count(), 1u);

  ASSERT_TRUE(coll_->Insert(R("b", {0, 0, 0, 1})).ok());
  auto many = coll_->GetMany({"b", "zzz", "a"});
  ASSERT_TRUE(many.ok());
  ASSERT_EQ(many->size(), 2u);
  EXPECT_EQ((*many)[0].id, "b");
  EXPECT_EQ((*many)[1].id, "a");

  EXPECT_EQ(*coll_->Delete({"a", "zzz", "a"}), 1u);
  EXPECT_EQ(coll_->Get("a").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*coll_->Count(), 1u);
  ASSERT_TRUE(coll_->Insert(R("a", {9, 9, 9, 9})).ok());  // an id can come back
  EXPECT_EQ(coll_->Get("a")->vector[0], 9);
}

TEST_F(CollectionTest, BadInputIsRejectedAndChangesNothing) {
  auto dim = coll_->Insert(R("x", {1, 2, 3}));
  EXPECT_EQ(dim.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorCodeOf(dim), kDimensionMismatch);
  EXPECT_TRUE(absl::StrContains(dim.message(), "dimension 3")) << dim;

  EXPECT_EQ(coll_->Insert(R("x", {1, NAN, 3, 4})).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(coll_->Insert(R("x", {1, INFINITY, 3, 4})).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(coll_->Insert(R("", {1, 2, 3, 4})).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(coll_->Insert(R(std::string(kMaxIdBytes + 1, 'i'), {1, 2, 3, 4})).code(),
            absl::StatusCode::kInvalidArgument);
  auto meta = coll_->Insert(R("x", {1, 2, 3, 4}, "[1,2]"));
  EXPECT_EQ(meta.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(meta.message(), "metadata of id 'x'")) << meta;
  EXPECT_EQ(coll_->Insert(R("x", {1, 2, 3, 4}, "{\"a\":")).code(),
            absl::StatusCode::kInvalidArgument);

  // A batch with one bad record writes nothing; so does an insert batch with a live id.
  ASSERT_TRUE(coll_->Insert(R("live", {1, 1, 1, 1})).ok());
  std::vector<Record> batch = {R("n1", {1, 2, 3, 4}), R("n2", {1, 2, 3, NAN})};
  EXPECT_FALSE(coll_->Write(batch, WriteMode::kUpsert).ok());
  batch = {R("n1", {1, 2, 3, 4}), R("live", {1, 2, 3, 4})};
  EXPECT_EQ(coll_->Write(batch, WriteMode::kInsert).code(), absl::StatusCode::kAlreadyExists);
  batch = {R("n1", {1, 2, 3, 4}), R("n1", {1, 2, 3, 4})};
  EXPECT_EQ(coll_->Write(batch, WriteMode::kInsert).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(coll_->Get("n1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*coll_->Count(), 1u);
  EXPECT_EQ(coll_->Stats().last_seq, 1u);  // nothing but the one good insert was logged
}

TEST_F(CollectionTest, PatchAndReplaceMetadata) {
  ASSERT_TRUE(coll_->Insert(R("a", {1, 2, 3, 4}, R"({"k":1,"o":{"x":1,"y":2}})")).ok());
  ASSERT_TRUE(coll_->PatchMetadata("a", R"({"k":null,"o":{"y":3},"n":"new"})").ok());
  EXPECT_EQ(coll_->Get("a")->metadata, R"({"n":"new","o":{"x":1,"y":3}})");
  EXPECT_EQ(coll_->Get("a")->vector, (std::vector<float>{1, 2, 3, 4}));
  ASSERT_TRUE(coll_->ReplaceMetadata("a", R"({"only":true})").ok());
  EXPECT_EQ(coll_->Get("a")->metadata, R"({"only":true})");
  EXPECT_EQ(coll_->PatchMetadata("missing", "{}").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(coll_->PatchMetadata("a", "[]").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*coll_->Count(), 1u);
}

TEST_F(CollectionTest, ExactSearchMatchesBruteForceAcrossLayers) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist;
  std::vector<Record> all;
  for (int i = 0; i < 600; ++i) {
    std::vector<float> v(4);
    for (float& x : v) x = dist(rng);
    all.push_back(R("id" + std::to_string(i), v, i % 2 ? R"({"p":"odd"})" : R"({"p":"even"})"));
  }
  // Spread over two segments, a frozen-then-flushed layer and the memtable, with deletions.
  ASSERT_TRUE(coll_->Write({all.begin(), all.begin() + 200}, WriteMode::kInsert).ok());
  ASSERT_TRUE(coll_->Flush().ok());
  ASSERT_TRUE(coll_->Write({all.begin() + 200, all.begin() + 400}, WriteMode::kInsert).ok());
  ASSERT_TRUE(coll_->Flush().ok());
  ASSERT_TRUE(coll_->Write({all.begin() + 400, all.end()}, WriteMode::kInsert).ok());
  std::vector<std::string> dead;
  for (int i = 0; i < 600; i += 7) dead.push_back("id" + std::to_string(i));
  ASSERT_EQ(*coll_->Delete(dead), dead.size());

  const std::vector<float> q = {0.1f, -0.2f, 0.3f, 0.05f};
  for (std::string filter : {"", R"({"p":"odd"})"}) {
    std::vector<std::pair<float, std::string>> expected;
    for (int i = 0; i < 600; ++i) {
      if (i % 7 == 0 || (!filter.empty() && i % 2 == 0)) continue;
      float d = 0;
      for (int j = 0; j < 4; ++j) d += (all[i].vector[j] - q[j]) * (all[i].vector[j] - q[j]);
      expected.emplace_back(std::sqrt(d), all[i].id);
    }
    std::sort(expected.begin(), expected.end());
    SearchRequest req;
    req.vector = q;
    req.k = 10;
    req.filter = filter;
    req.include_vectors = true;
    auto response = coll_->Search(req);
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->plan, "exact");  // small segments and filters are scanned
    const std::vector<SearchHit>* hits = &response->hits;
    ASSERT_EQ(hits->size(), 10u);
    for (int i = 0; i < 10; ++i) {
      EXPECT_EQ((*hits)[i].id, expected[i].second) << i;
      EXPECT_NEAR((*hits)[i].score, expected[i].first, 1e-4);
      EXPECT_EQ((*hits)[i].vector.size(), 4u);
    }
    EXPECT_EQ(*coll_->Count(filter), filter.empty() ? 600 - dead.size() : expected.size());
  }
  SearchRequest bad;
  std::vector<float> short_q = {1, 2};
  bad.vector = short_q;
  EXPECT_EQ(ErrorCodeOf(coll_->Search(bad).status()), kDimensionMismatch);
  bad.vector = q;
  bad.filter = R"({"p":{"$between":1}})";
  EXPECT_EQ(coll_->Search(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(CollectionTest, UnfilteredSearchUsesSegmentGraphs) {
  auto g = CreateL2("g", 16);
  std::mt19937 rng(5);
  std::normal_distribution<float> dist;
  std::vector<Record> all = GaussianRecords(4000, 16, rng);
  ASSERT_TRUE(g->Write({all.begin(), all.begin() + 2000}, WriteMode::kInsert).ok());
  ASSERT_TRUE(g->Flush().ok());
  ASSERT_TRUE(g->Write({all.begin() + 2000, all.end()}, WriteMode::kInsert).ok());
  ASSERT_TRUE(g->Flush().ok());
  std::vector<std::string> dead;
  for (int i = 0; i < 4000; i += 10) dead.push_back("v" + std::to_string(i));
  ASSERT_EQ(*g->Delete(dead), dead.size());

  std::vector<std::vector<float>> queries;
  for (int q = 0; q < 30; ++q) {
    std::vector<float> v(16);
    for (float& x : v) x = dist(rng);
    queries.push_back(v);
  }
  // Graph results: recall against a brute force, never a deleted id; the exact plan is exact.
  auto run = [&](Collection& coll, bool exact) {
    std::vector<std::vector<std::string>> out;
    for (const auto& qv : queries) {
      SearchRequest req;
      req.vector = qv;
      req.k = 10;
      req.exact = exact;
      auto response = coll.Search(req);
      EXPECT_TRUE(response.ok()) << response.status();
      EXPECT_EQ(response->plan, exact ? "exact" : "graph");
      std::vector<std::string> ids;
      for (const SearchHit& h : response->hits) ids.push_back(h.id);
      out.push_back(ids);
    }
    return out;
  };
  auto check = [&](Collection& coll) {
    auto graph = run(coll, false), exact = run(coll, true);
    double found = 0;
    for (size_t q = 0; q < queries.size(); ++q) {
      const std::vector<std::string> truth =
          BruteForce(all, [](int i) { return i % 10 != 0; }, queries[q], 10);
      EXPECT_EQ(exact[q], truth);
      EXPECT_EQ(graph[q].size(), 10u);
      for (const std::string& id : graph[q]) {
        EXPECT_NE(std::stoi(id.substr(1)) % 10, 0) << id << " was deleted";
        found += std::count(truth.begin(), truth.end(), id);
      }
    }
    EXPECT_GE(found / (10.0 * queries.size()), 0.99);
    return graph;
  };
  auto before = check(*g);
  EXPECT_GT(g->Stats().memory_bytes, 4000u * 16 * 4 / 8);  // the graphs are counted
  // The request's ef is the search breadth: a narrow search finds fewer true neighbours.
  auto recall_at = [&](uint32_t ef) {
    double found = 0;
    for (const auto& qv : queries) {
      SearchRequest req;
      req.vector = qv;
      req.k = 10;
      req.ef = ef;
      found += Found(g->Search(req)->hits,
                     BruteForce(all, [](int i) { return i % 10 != 0; }, qv, 10));
    }
    return found / (10.0 * queries.size());
  };
  const double narrow = recall_at(10), wide = recall_at(200);
  EXPECT_LT(narrow, wide - 0.02) << "ef changes nothing: " << narrow << " vs " << wide;
  EXPECT_GE(wide, 0.999);

  // The graphs are stored in the segments: after a reopen the same searches give the same ids.
  g.reset();
  Reopen();
  g = *db_->GetCollection("g");
  EXPECT_EQ(run(*g, false), before);
  // Compaction rebuilds one graph over the live rows.
  ASSERT_TRUE(g->Compact().ok());
  EXPECT_EQ(g->Stats().segment_count, 1u);
  check(*g);
  // k above ef: the graph search widens to k and returns all k (from one segment's graph).
  double found = 0;
  for (const auto& qv : queries) {
    SearchRequest req;
    req.vector = qv;
    req.k = 100;
    req.ef = 32;
    auto response = g->Search(req);
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->plan, "graph");
    ASSERT_EQ(response->hits.size(), 100u);
    found += Found(response->hits, BruteForce(all, [](int i) { return i % 10 != 0; }, qv, 100));
  }
  EXPECT_GE(found / (100.0 * queries.size()), 0.98);
}

TEST_F(CollectionTest, ScoresPerMetric) {
  CollectionConfig c;
  c.dimension = 2;
  c.name = "cos";
  c.metric = DistanceMetric::kCosine;
  ASSERT_TRUE(db_->CreateCollection(c).ok());
  c.name = "dot";
  c.metric = DistanceMetric::kDot;
  ASSERT_TRUE(db_->CreateCollection(c).ok());
  for (const char* name : {"cos", "dot"}) {
    auto col = *db_->GetCollection(name);
    ASSERT_TRUE(col->Insert(R("same", {2, 0})).ok());
    ASSERT_TRUE(col->Insert(R("orth", {0, 3})).ok());
    ASSERT_TRUE(col->Insert(R("opp", {-1, 0})).ok());
    std::vector<float> q = {1, 0};
    SearchRequest req;
    req.vector = q;
    req.k = 3;
    auto hits = col->Search(req)->hits;
    ASSERT_EQ(hits.size(), 3u);
    EXPECT_EQ(hits[0].id, "same");
    EXPECT_EQ(hits[2].id, "opp");
    if (std::string(name) == "cos") {
      EXPECT_NEAR(hits[0].score, 1.0, 1e-6);
      EXPECT_NEAR(hits[1].score, 0.0, 1e-6);
      EXPECT_NEAR(hits[2].score, -1.0, 1e-6);
    } else {
      EXPECT_NEAR(hits[0].score, 2.0, 1e-6);
      EXPECT_NEAR(hits[2].score, -1.0, 1e-6);
    }
  }
}

TEST_F(CollectionTest, RecoveryAfterCloseAndReopen) {
  ASSERT_TRUE(coll_->Insert(R("a", {1, 1, 1, 1}, R"({"v":1})")).ok());
  ASSERT_TRUE(coll_->Insert(R("b", {2, 2, 2, 2})).ok());
  Reopen();
  ASSERT_NE(coll_, nullptr);
  EXPECT_EQ(coll_->Get("a")->metadata, R"({"v":1})");
  EXPECT_EQ(*coll_->Count(), 2u);

  // Flush, then overwrite and delete rows that now live in a segment, then write more.
  ASSERT_TRUE(coll_->Flush().ok());
  ASSERT_TRUE(coll_->Upsert(R("a", {3, 3, 3, 3}, R"({"v":2})")).ok());
  ASSERT_EQ(*coll_->Delete({"b"}), 1u);
  ASSERT_TRUE(coll_->Insert(R("c", {4, 4, 4, 4})).ok());
  Reopen();
  EXPECT_EQ(coll_->Get("a")->metadata, R"({"v":2})");
  EXPECT_EQ(coll_->Get("b").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(coll_->Get("c")->vector[0], 4);
  EXPECT_EQ(*coll_->Count(), 2u);

  // The deletions reach the manifest at the next flush; then compaction drops the dead rows.
  ASSERT_TRUE(coll_->Flush().ok());
  EXPECT_EQ(coll_->Stats().segment_count, 2u);
  EXPECT_EQ(coll_->Stats().deleted_rows, 2u);  // old 'a' and 'b'
  Reopen();
  EXPECT_EQ(coll_->Stats().deleted_rows, 2u);
  ASSERT_TRUE(coll_->Compact().ok());
  CollectionStats st = coll_->Stats();
  EXPECT_EQ(st.segment_count, 1u);
  EXPECT_EQ(st.segment_rows, 2u);
  EXPECT_EQ(st.deleted_rows, 0u);
  Reopen();
  EXPECT_EQ(coll_->Get("a")->metadata, R"({"v":2})");
  EXPECT_EQ(coll_->Get("c")->vector[0], 4);
  EXPECT_EQ(coll_->Get("b").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*coll_->Count(), 2u);
  // Covered WAL files and compacted segments are gone from the directory.
  auto dirs = env_.ListDir("/data/collections");
  ASSERT_TRUE(dirs.ok());
  ASSERT_EQ(dirs->size(), 1u);
  int wal = 0, seg = 0;
  auto files = env_.ListDir("/data/collections/" + (*dirs)[0]);
  ASSERT_TRUE(files.ok());
  for (const std::string& name : *files) {
    wal += name.starts_with("wal-");
    seg += name.starts_with("seg-");
  }
  EXPECT_EQ(seg, 1);
  EXPECT_EQ(wal, 1);  // the one this open started
}

TEST_F(CollectionTest, ConcurrentWritersShareFsyncsAndReadTheirWrites) {
  const int kThreads = 8, kBatches = 40;
  const uint64_t syncs_before = env_.sync_count();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int b = 0; b < kBatches; ++b) {
        std::string id = "t" + std::to_string(t) + "-" + std::to_string(b);
        if (!coll_->Insert(R(id, {float(t), float(b), 0, 0})).ok()) ++failures;
        auto got = coll_->Get(id);  // read-your-writes
        if (!got.ok() || got->vector[1] != float(b)) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(*coll_->Count(), uint64_t(kThreads * kBatches));
  EXPECT_EQ(coll_->Stats().last_seq, uint64_t(kThreads * kBatches));
  // One fsync per batch at most; group commit usually shares them.
  EXPECT_LE(env_.sync_count() - syncs_before, uint64_t(kThreads * kBatches));
  // The collection counts the WAL fsyncs the Env saw (nothing else synced meanwhile).
  EXPECT_EQ(coll_->Stats().wal_syncs, env_.sync_count() - syncs_before);
}

TEST_F(CollectionTest, SearchesRunDuringFlushAndCompaction) {
  ASSERT_TRUE(coll_->Insert(R("keep", {0, 0, 0, 0})).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0};
  std::thread reader([&] {
    std::vector<float> q = {0, 0, 0, 0};
    while (!stop) {
      SearchRequest req;
      req.vector = q;
      req.k = 5;
      auto hits = coll_->Search(req);
      if (!hits.ok()) ++errors;
      // "keep" is never touched after it is written, so it must always be found.
      auto keep = coll_->Get("keep");
      if (!keep.ok()) ++errors;
    }
  });
  for (int round = 0; round < 30; ++round) {
    std::vector<Record> batch;
    for (int i = 0; i < 50; ++i) {
      batch.push_back(R("r" + std::to_string(i), {float(round), float(i), 1, 1}));
    }
    ASSERT_TRUE(coll_->Write(batch, WriteMode::kUpsert).ok());
    ASSERT_TRUE(coll_->Flush().ok());
    if (round % 5 == 4) {
      ASSERT_TRUE(coll_->Compact().ok());
    }
  }
  stop = true;
  reader.join();
  EXPECT_EQ(errors, 0);
  EXPECT_EQ(*coll_->Count(), 51u);
  EXPECT_EQ(coll_->Get("r3")->vector[0], 29);
}

TEST_F(CollectionTest, ScrollVisitsEveryLiveRecordOnceInIdOrder) {
  std::vector<Record> all;
  for (int i = 0; i < 250; ++i) {
    all.push_back(R(absl::StrCat("id", 1000 + i), {float(i), 0, 0, 0},
                    absl::StrCat(R"({"odd":)", i % 2 ? "true" : "false", "}")));
  }
  // Across a segment and the memtable, with an overwrite and deletions.
  ASSERT_TRUE(coll_->Write({all.begin(), all.begin() + 120}, WriteMode::kInsert).ok());
  ASSERT_TRUE(coll_->Flush().ok());
  ASSERT_TRUE(coll_->Write({all.begin() + 120, all.end()}, WriteMode::kInsert).ok());
  ASSERT_TRUE(coll_->Upsert(R("id1005", {9, 9, 9, 9}, R"({"odd":true})")).ok());
  ASSERT_EQ(*coll_->Delete({"id1000", "id1200"}), 2u);

  for (const std::string filter : {"", R"({"odd":true})"}) {
    std::vector<std::string> seen;
    std::string after;
    int pages = 0;
    do {
      auto page = coll_->Scroll(after, 32, filter, /*include_vectors=*/true);
      ASSERT_TRUE(page.ok()) << page.status();
      ASSERT_LE(page->records.size(), 32u);
      for (const Record& r : page->records) {
        seen.push_back(r.id);
        EXPECT_EQ(r.vector.size(), 4u);
        if (r.id == "id1005") {
          EXPECT_EQ(r.vector[0], 9);
        }
      }
      after = page->next_after;
      ++pages;
    } while (!after.empty());
    std::vector<std::string> expected;
    for (int i = 0; i < 250; ++i) {
      if (i == 0 || i == 200 || (!filter.empty() && i % 2 == 0 && i != 5)) continue;
      expected.push_back(absl::StrCat("id", 1000 + i));
    }
    EXPECT_EQ(seen, expected) << filter;  // ascending, each once
    EXPECT_EQ(pages, static_cast<int>((expected.size() + 31) / 32)) << filter;
  }
  EXPECT_EQ(coll_->Scroll("", 0).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(CollectionTest, DeleteWhereDeletesTheMatchingRecordsAtomically) {
  std::vector<Record> all;
  for (int i = 0; i < 100; ++i) {
    all.push_back(R(absl::StrCat("d", i), {float(i), 0, 0, 0}, absl::StrCat(R"({"n":)", i, "}")));
  }
  ASSERT_TRUE(coll_->Write({all.begin(), all.begin() + 50}, WriteMode::kInsert).ok());
  ASSERT_TRUE(coll_->Flush().ok());
  ASSERT_TRUE(coll_->Write({all.begin() + 50, all.end()}, WriteMode::kInsert).ok());
  EXPECT_EQ(*coll_->DeleteWhere(R"({"n":{"$gte":40,"$lt":60}})"), 20u);
  EXPECT_EQ(*coll_->Count(), 80u);
  EXPECT_EQ(*coll_->Count(R"({"n":{"$gte":40,"$lt":60}})"), 0u);
  EXPECT_EQ(*coll_->DeleteWhere(R"({"n":{"$gte":40,"$lt":60}})"), 0u);
  EXPECT_EQ(coll_->DeleteWhere("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(coll_->DeleteWhere(R"({"n":{"$bad":1}})").status().code(),
            absl::StatusCode::kInvalidArgument);
  Reopen();  // durable like any delete
  EXPECT_EQ(*coll_->Count(), 80u);
  EXPECT_FALSE(coll_->Get("d45").ok());
}

}  // namespace
}  // namespace proximadb
