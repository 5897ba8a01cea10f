// bench/search: search through the public Collection API on Fashion-MNIST (60,000 x 784, L2),
// each record carrying {"label": row % 1000}:
//   1. ingest; searches right after it while the background indexer fills the memtable's
//      graph (rounds of 100 at --ef, 64 by default: recall@10, p50, p99; the rows the graph
//      has not reached come from the memtable's IVF lists), the indexer's time and rows/s,
//      then queries against the memtable alone, through its graph and by exact scan;
//   2. flush (which builds the segment's HNSW graph), reopen (which maps and checks it), then
//      an ef sweep through the segment's graph against the exact scan;
//   3. filtered queries at 50%, 10%, 1% and 0.1% selectivity (label ranges): the plan chosen,
//      recall@10 against the exact filtered answers, QPS, and the first query's latency,
//      which includes building the field index.
// Recall@10 is against the exact answers; QPS is single-threaded.
//
// With --rows N above 60,000, the images after the first 60,000 are the first ones mirrored left
// to right (new pictures of the same items; at most 120,000 rows). --data wordnet takes the
// wordnet-minilm sentence embeddings instead (116,659 x 384, cosine, held-out queries).
//
//   proximadb-search-bench [--queries N] [--dir DIR] [--build-threads N] [--fresh on|off]
//                          [--rows N] [--ef N] [--data fashion|wordnet]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "index/dataset.h"
#include "proximadb/database.h"

namespace {

using namespace proximadb;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct Run {
  std::vector<std::vector<std::string>> ids;
  double qps = 0, p50_us = 0, p99_us = 0, first_us = 0;
  std::string plan;
};

Run Query(Collection& c, const index::Dataset& d, uint32_t nq, bool exact, uint32_t ef,
          const std::string& filter = "") {
  Run run;
  std::vector<double> lat;
  const auto t0 = Clock::now();
  for (uint32_t q = 0; q < nq; ++q) {
    SearchRequest req;
    req.vector = std::span<const float>(d.queries.data() + size_t{q} * d.dim, d.dim);
    req.k = 10;
    req.exact = exact;
    req.ef = ef;
    req.filter = filter;
    req.include_metadata = false;
    const auto s = Clock::now();
    auto r = c.Search(req);
    lat.push_back(Seconds(Clock::now() - s) * 1e6);
    if (!r.ok()) std::abort();
    run.plan = r->plan;
    std::vector<std::string> ids;
    for (const SearchHit& h : r->hits) ids.push_back(h.id);
    run.ids.push_back(ids);
  }
  run.qps = nq / Seconds(Clock::now() - t0);
  run.first_us = lat[0];
  std::sort(lat.begin(), lat.end());
  run.p50_us = lat[nq / 2];
  run.p99_us = lat[std::min<size_t>(nq - 1, size_t{nq} * 99 / 100)];
  return run;
}

double Recall(const Run& got, const Run& exact) {
  double found = 0, wanted = 0;
  for (size_t q = 0; q < got.ids.size(); ++q) {
    std::set<std::string> want(exact.ids[q].begin(), exact.ids[q].end());
    wanted += want.size();
    for (const std::string& id : got.ids[q]) found += want.count(id);
  }
  return wanted == 0 ? 1.0 : found / wanted;
}

void PrintHeader() {
  std::printf("%-15s %-24s %5s %10s %10s %9s %9s\n", "plan", "filter", "ef", "recall@10",
              "qps_1t", "p50_us", "p99_us");
}

void PrintRow(const Run& r, const std::string& filter, const std::string& ef, double recall) {
  std::printf("%-15s %-24s %5s %10.4f %10.0f %9.0f %9.0f\n", r.plan.c_str(),
              filter.empty() ? "-" : filter.c_str(), ef.c_str(), recall, r.qps, r.p50_us,
              r.p99_us);
}

// Right after a load: rounds of 100 searches at `ef` while the background indexer works (the
// rows it has not reached come from the IVF lists or a scan), until it has caught up; with
// `search` false it only waits for the indexer.
struct Round {
  double at_s;
  uint64_t unindexed;
  Run run;
};

std::vector<Round> WhileIndexing(Collection& c, const index::Dataset& d, uint32_t nq,
                                 bool search, uint32_t ef) {
  std::vector<Round> rounds;
  const auto start = Clock::now();
  for (bool done = false; !done;) {
    const uint64_t unindexed = c.Stats().unindexed_rows;
    done = unindexed == 0;
    if (!search) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    rounds.push_back({Seconds(Clock::now() - start), unindexed,
                      Query(c, d, std::min(nq, 100u), false, ef)});
  }
  return rounds;
}

void PrintRounds(const std::vector<Round>& rounds, const Run& exact) {
  if (rounds.empty()) return;
  std::printf("right after the load, rounds of 100 searches while the indexer works:\n"
              "%8s %10s %10s %9s %9s\n", "at_s", "unindexed", "recall@10", "p50_us", "p99_us");
  for (const Round& r : rounds) {
    std::printf("%8.2f %10llu %10.4f %9.0f %9.0f\n", r.at_s,
                static_cast<unsigned long long>(r.unindexed), Recall(r.run, exact), r.run.p50_us,
                r.run.p99_us);
  }
}

// Extends the base rows to `rows` with the first images mirrored left to right (28 x 28).
void AddMirrored(index::Dataset* d, uint32_t rows) {
  constexpr uint32_t kSide = 28;
  const uint32_t n = d->base_rows();
  if (d->dim != kSide * kSide) std::abort();
  std::vector<float> row(d->dim);
  for (uint32_t r = n; r < std::min(rows, 2 * n); ++r) {
    const float* image = d->base.data() + size_t{r - n} * d->dim;
    for (uint32_t y = 0; y < kSide; ++y) {
      for (uint32_t x = 0; x < kSide; ++x) row[y * kSide + x] = image[y * kSide + kSide - 1 - x];
    }
    d->base.insert(d->base.end(), row.begin(), row.end());
  }
}

}  // namespace

int main(int argc, char** argv) {
  uint32_t nq = 1000;
  int build_threads = 0;  // every core
  bool fresh_searches = true;  // search while the indexer works (off: wait for it idle)
  uint32_t rows = 0;           // above the 60,000 images: mirrored ones added
  uint32_t fresh_ef = 64;      // of the searches right after the load
  std::string dir = "build/bench-search-data";
  bool wordnet = false;  // the WordNet sentence embeddings (cosine) instead of Fashion-MNIST
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--queries")) nq = std::stoul(argv[i + 1]);
    if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
    if (!std::strcmp(argv[i], "--build-threads")) build_threads = std::stoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--fresh")) fresh_searches = std::strcmp(argv[i + 1], "off") != 0;
    if (!std::strcmp(argv[i], "--rows")) rows = std::stoul(argv[i + 1]);
    if (!std::strcmp(argv[i], "--ef")) fresh_ef = std::stoul(argv[i + 1]);
    if (!std::strcmp(argv[i], "--data")) wordnet = !std::strcmp(argv[i + 1], "wordnet");
  }
  auto loaded = wordnet ? index::LoadWordnetMinilm(index::FindWordnetMinilm())
                        : index::LoadFashionMnist();
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str());
    return 1;
  }
  index::Dataset mirrored = *std::move(loaded);
  if (!wordnet) AddMirrored(&mirrored, rows);
  const index::Dataset& d = mirrored;
  nq = std::min(nq, d.query_rows());
  std::filesystem::remove_all(dir);
  DatabaseOptions o;
  o.data_dir = dir;
  o.build_threads = build_threads;
  o.background_maintenance = false;
  auto db = *Database::Open(o);
  CollectionConfig c;
  c.name = "bench";
  c.dimension = d.dim;
  c.metric = wordnet ? DistanceMetric::kCosine : DistanceMetric::kL2;
  if (!db->CreateCollection(c).ok()) return 1;
  auto coll = *db->GetCollection("bench");

  auto t0 = Clock::now();
  for (uint32_t b = 0; b < d.base_rows(); b += 1000) {
    std::vector<Record> batch;
    for (uint32_t r = b; r < std::min(b + 1000, d.base_rows()); ++r) {
      batch.push_back({std::to_string(r),
                       std::vector<float>(d.base.data() + size_t{r} * d.dim,
                                          d.base.data() + size_t{r + 1} * d.dim),
                       "{\"label\":" + std::to_string(r % 1000) + "}"});
    }
    if (!coll->Write(std::move(batch), WriteMode::kInsert).ok()) return 1;
  }
  const double ingest_s = Seconds(Clock::now() - t0);
  const std::vector<Round> fresh = WhileIndexing(*coll, d, nq, fresh_searches, fresh_ef);
  const double indexed_s = Seconds(Clock::now() - t0);
  std::printf("%s %u x %u in one collection: ingest %.1f s (%.0f vectors/s, sync); "
              "background indexer done after %.1f s (%.0f rows/s, build_threads %d, "
              "0 = every core)\n",
              wordnet ? "wordnet-minilm" : "Fashion-MNIST", d.base_rows(), d.dim, ingest_s,
              d.base_rows() / ingest_s, indexed_s, d.base_rows() / indexed_s, o.build_threads);
  PrintHeader();
  const Run mem_exact = Query(*coll, d, nq, true, 0);
  PrintRow(mem_exact, "", "-", 1.0);
  PrintRounds(fresh, mem_exact);
  const Run mem_graph = Query(*coll, d, nq, false, 64);
  std::printf("(memtable, %u rows in its graph)\n", d.base_rows());
  PrintRow(mem_graph, "", "64", Recall(mem_graph, mem_exact));

  t0 = Clock::now();
  if (!coll->Flush().ok()) return 1;
  const double flush_s = Seconds(Clock::now() - t0);
  coll.reset();
  db.reset();
  t0 = Clock::now();
  db = *Database::Open(o);
  const double reopen_s = Seconds(Clock::now() - t0);
  coll = *db->GetCollection("bench");
  std::printf("flush with graph build %.1f s, reopen %.2f s; one segment:\n", flush_s, reopen_s);

  const Run exact = Query(*coll, d, nq, true, 0);
  PrintRow(exact, "", "-", 1.0);
  for (uint32_t ef : {16u, 32u, 64u, 128u}) {
    const Run g = Query(*coll, d, nq, false, ef);
    PrintRow(g, "", std::to_string(ef), Recall(g, exact));
  }
  std::printf("filtered (first query builds the field index of \"label\"):\n");
  for (const char* filter : {R"({"label":{"$lt":500}})", R"({"label":{"$lt":100}})",
                             R"({"label":{"$lt":10}})", R"({"label":7})"}) {
    const Run fe = Query(*coll, d, nq, true, 0, filter);
    const Run fg = Query(*coll, d, nq, false, 64, filter);
    PrintRow(fe, filter, "-", 1.0);
    PrintRow(fg, filter, "64", Recall(fg, fe));
    std::printf("%-15s first query %.0f us\n", "", std::max(fe.first_us, fg.first_us));
  }
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  std::printf("peak RSS: %.0f MB\n", ru.ru_maxrss / 1024.0);
  coll.reset();
  db.reset();
  std::filesystem::remove_all(dir);
  return 0;
}
