// The child of crash_test: writes workload batches into a real data directory with sync
// durability and prints each batch number on stdout once it is acknowledged, until killed.
// With "migrate", a second thread changes the collection's layout round and round (standard +
// sq8, viper, standard + pq, standard), printing "m" when a change is accepted, and migrates the segments
// to it while the batches go on.
//   crash_writer DATA_DIR FIRST_BATCH SEED [migrate]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "proximadb/database.h"
#include "workload.h"

int main(int argc, char** argv) {
  using namespace proximadb;
  if (argc != 4 && !(argc == 5 && std::string(argv[4]) == "migrate")) {
    std::fprintf(stderr, "usage: crash_writer DATA_DIR FIRST_BATCH SEED [migrate]\n");
    return 2;
  }
  DatabaseOptions o;
  o.data_dir = argv[1];
  o.maintenance_interval_ms = 10;  // background flushes and compactions race with the kill
  auto db = Database::Open(o);
  if (!db.ok()) {
    std::fprintf(stderr, "open: %s\n", db.status().ToString().c_str());
    return 1;
  }
  if (!(*db)->GetCollection("crash").ok()) {
    CollectionConfig c;
    c.name = "crash";
    c.dimension = 8;
    c.flush.max_vector_count = 300;
    if (auto s = (*db)->CreateCollection(c); !s.ok()) {
      std::fprintf(stderr, "create: %s\n", s.status().ToString().c_str());
      return 1;
    }
  }
  auto coll = *(*db)->GetCollection("crash");
  if (argc == 5) {
    std::thread([&] {
      // Not binary: 8 bits per vector rank too coarsely for the checker's recall floor (the
      // layout is not what this test is about).
      const std::pair<StorageStrategy, Quantization> cycle[] = {
          {StorageStrategy::kStandard, Quantization::kSq8},
          {StorageStrategy::kViper, Quantization::kNone},
          {StorageStrategy::kStandard, Quantization::kPq},
          {StorageStrategy::kStandard, Quantization::kNone}};
      for (uint64_t i = std::strtoull(argv[2], nullptr, 10);; ++i) {
        CollectionUpdate u;
        u.storage_strategy = cycle[i % 4].first;
        u.quantization = cycle[i % 4].second;
        // Refused (409) while the background service still migrates: Migrate waits for it.
        if ((*db)->UpdateCollection("crash", u).ok()) {
          std::printf("m\n");
          std::fflush(stdout);
        }
        if (auto s = coll->Migrate(); !s.ok()) {
          std::fprintf(stderr, "migrate: %s\n", s.ToString().c_str());
          std::exit(1);
        }
      }
    }).detach();
  }
  testing::Workload workload("k", std::strtoull(argv[3], nullptr, 10), 500, 8);
  for (uint64_t b = std::strtoull(argv[2], nullptr, 10);; ++b) {
    if (auto s = workload.Apply(*coll, b); !s.ok()) {
      std::fprintf(stderr, "batch %llu: %s\n", static_cast<unsigned long long>(b),
                   s.ToString().c_str());
      return 1;
    }
    std::printf("%llu\n", static_cast<unsigned long long>(b));
    std::fflush(stdout);
    if (b % (argc == 5 ? 5 : 25) == 0) coll->Flush().IgnoreError();
    if (b % 60 == 0) coll->Compact().IgnoreError();
  }
}
