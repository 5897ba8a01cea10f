// bench/ingest: write throughput of one collection with sync durability, and WAL replay speed.
//
// For 128-d and 768-d vectors, batches of 1,000 upserts from 1 and 2 writer threads into a
// fresh collection on the real file system: vectors/s, WAL MB/s, p50/p99 batch latency, then
// the time to reopen (replay the whole WAL) per GB. Not a test: it prints figures.
//
// --sustained: sustained ingest per storage strategy (standard against viper, interleaved,
// three rounds each) at 128-d and 384-d: one writer, the background services on, a flush every
// 50,000 vectors, timed until the last row is in a segment (flushes included).
//
//   proximadb-ingest-bench [--dir DIR] [--vectors-128 N] [--vectors-768 N] [--sustained]
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "proximadb/database.h"

namespace {

using namespace proximadb;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double PeakRssMb() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;
}

struct Result {
  uint32_t dim;
  int threads;
  uint64_t vectors;
  double seconds;
  double p50_ms, p99_ms;
  double wal_mb;
  double reopen_s;
};

Result Run(const std::string& dir, uint32_t dim, int threads, uint64_t total) {
  constexpr uint64_t kBatch = 1000;
  std::filesystem::remove_all(dir);
  DatabaseOptions o;
  o.data_dir = dir;
  o.durability = Durability::kSync;
  o.background_maintenance = false;  // measure the WAL path alone
  auto db = *Database::Open(o);
  CollectionConfig c;
  c.name = "bench";
  c.dimension = dim;
  c.metric = DistanceMetric::kL2;
  c.flush.max_vector_count = total * 2;
  c.flush.max_wal_size_mb = 1e9;
  if (!db->CreateCollection(c).ok()) std::abort();
  auto coll = *db->GetCollection("bench");

  // Pre-generate the batches so that the timing covers only the database.
  const uint64_t batches = total / kBatch;
  std::vector<std::vector<Record>> data(batches);
  std::mt19937 rng(42);
  std::normal_distribution<float> dist;
  for (uint64_t b = 0; b < batches; ++b) {
    data[b].resize(kBatch);
    for (uint64_t i = 0; i < kBatch; ++i) {
      Record& r = data[b][i];
      r.id = "vec-" + std::to_string(b * kBatch + i);
      r.vector.resize(dim);
      for (float& x : r.vector) x = dist(rng);
      r.metadata = "{\"batch\":" + std::to_string(b) + "}";
    }
  }

  std::vector<double> latencies_ms(batches);
  std::atomic<uint64_t> next{0};
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (uint64_t b; (b = next.fetch_add(1)) < batches;) {
        const auto t0 = Clock::now();
        if (!coll->Write(std::move(data[b]), WriteMode::kUpsert).ok()) std::abort();
        latencies_ms[b] = Seconds(Clock::now() - t0) * 1e3;
      }
    });
  }
  for (auto& w : workers) w.join();
  const double seconds = Seconds(Clock::now() - start);
  CollectionStats st = coll->Stats();
  if (st.vector_count != batches * kBatch) std::abort();

  std::sort(latencies_ms.begin(), latencies_ms.end());
  Result r{dim, threads, batches * kBatch, seconds, latencies_ms[batches / 2],
           latencies_ms[std::min(batches - 1, batches * 99 / 100)], st.wal_bytes / 1048576.0, 0};

  coll.reset();
  db.reset();
  std::system("sync");
  const auto t0 = Clock::now();
  db = *Database::Open(o);
  r.reopen_s = Seconds(Clock::now() - t0);
  if ((*db->GetCollection("bench"))->Stats().vector_count != batches * kBatch) std::abort();
  db.reset();
  std::filesystem::remove_all(dir);
  return r;
}

// Seconds to ingest `total` vectors into a fresh collection of `strategy` and have them all in
// segments.
double RunSustained(const std::string& dir, uint32_t dim, StorageStrategy strategy,
                    uint64_t total) {
  constexpr uint64_t kBatch = 1000;
  std::filesystem::remove_all(dir);
  DatabaseOptions o;
  o.data_dir = dir;
  o.durability = Durability::kSync;
  o.maintenance_interval_ms = 100;
  auto db = *Database::Open(o);
  CollectionConfig c;
  c.name = "bench";
  c.dimension = dim;
  c.metric = DistanceMetric::kL2;
  c.storage_strategy = strategy;
  c.flush.max_vector_count = 50000;
  if (!db->CreateCollection(c).ok()) std::abort();
  auto coll = *db->GetCollection("bench");
  std::mt19937 rng(42);
  std::normal_distribution<float> dist;
  std::vector<std::vector<Record>> data(total / kBatch);
  for (uint64_t b = 0; b < data.size(); ++b) {
    for (uint64_t i = 0; i < kBatch; ++i) {
      Record r{"vec-" + std::to_string(b * kBatch + i), std::vector<float>(dim), "{}"};
      for (float& x : r.vector) x = dist(rng);
      data[b].push_back(std::move(r));
    }
  }
  const auto start = Clock::now();
  for (auto& batch : data) {
    if (!coll->Write(std::move(batch), WriteMode::kUpsert).ok()) std::abort();
  }
  if (!coll->Flush().ok()) std::abort();
  const double seconds = Seconds(Clock::now() - start);
  if (coll->Stats().segment_rows != total) std::abort();
  coll.reset();
  db.reset();
  std::filesystem::remove_all(dir);
  return seconds;
}

void Sustained(const std::string& dir) {
  std::printf("sustained ingest, one writer, flushes every 50,000 vectors, until all are in "
              "segments\n%5s %9s %10s %24s %24s %7s\n",
              "dim", "vectors", "strategy", "vectors/s (3 rounds)", "", "median");
  for (uint32_t dim : {128u, 384u}) {
    const uint64_t total = dim == 128 ? 200000 : 100000;
    std::vector<double> rates[2];
    for (int round = 0; round < 3; ++round) {
      for (int s = 0; s < 2; ++s) {
        const StorageStrategy strategy = s == 0 ? StorageStrategy::kStandard
                                                : StorageStrategy::kViper;
        rates[s].push_back(total / RunSustained(dir, dim, strategy, total));
      }
    }
    for (int s = 0; s < 2; ++s) {
      std::vector<double> r = rates[s];
      std::sort(r.begin(), r.end());
      std::printf("%5u %9llu %10s %12.0f %12.0f %12.0f %12.0f\n", dim,
                  static_cast<unsigned long long>(total), s == 0 ? "standard" : "viper",
                  rates[s][0], rates[s][1], rates[s][2], r[1]);
    }
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "build/bench-ingest-data";
  uint64_t n128 = 300000, n768 = 100000;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--sustained")) {
      Sustained(dir);
      return 0;
    }
  }
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
    if (!std::strcmp(argv[i], "--vectors-128")) n128 = std::strtoull(argv[i + 1], nullptr, 10);
    if (!std::strcmp(argv[i], "--vectors-768")) n768 = std::strtoull(argv[i + 1], nullptr, 10);
  }
  std::printf("ProximaDB ingest: batches of 1000 upserts, durability=sync, one collection\n");
  std::printf("%5s %7s %9s %12s %9s %9s %9s %9s %14s\n", "dim", "threads", "vectors",
              "vectors/s", "WAL MB/s", "p50 ms", "p99 ms", "WAL MB", "replay MB/s");
  for (uint32_t dim : {128u, 768u}) {
    for (int threads : {1, 2}) {
      Result r = Run(dir, dim, threads, dim == 128 ? n128 : n768);
      std::printf("%5u %7d %9llu %12.0f %9.1f %9.2f %9.2f %9.1f %14.0f\n", r.dim, r.threads,
                  static_cast<unsigned long long>(r.vectors), r.vectors / r.seconds,
                  r.wal_mb / r.seconds, r.p50_ms, r.p99_ms, r.wal_mb, r.wal_mb / r.reopen_s);
      std::fflush(stdout);
    }
  }
  std::printf("peak RSS: %.0f MB\n", PeakRssMb());
  return 0;
}
