// proximadb-server, for now: it opens the data directory (running recovery) and reports what
// it holds. The REST and gRPC APIs come with the server issue; until then this program says so
// and serves nothing.
#include <cstdio>
#include <cstring>
#include <string>

#include "proximadb/database.h"

int main(int argc, char** argv) {
  using namespace proximadb;
  DatabaseOptions options;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--data-dir") && i + 1 < argc) {
      options.data_dir = argv[++i];
    } else if (!std::strcmp(argv[i], "--help")) {
      std::printf("usage: proximadb-server [--data-dir DIR]\n");
      return 0;
    } else {
      std::fprintf(stderr, "proximadb-server: unknown argument '%s' (try --help)\n", argv[i]);
      return 2;
    }
  }
  options.background_maintenance = false;
  auto db = Database::Open(options);
  if (!db.ok()) {
    std::fprintf(stderr, "proximadb-server: cannot open %s: %s\n", options.data_dir.c_str(),
                 db.status().ToString().c_str());
    return 1;
  }
  std::printf("proximadb-server: opened data directory %s (recovery complete)\n",
              options.data_dir.c_str());
  for (const CollectionConfig& c : (*db)->ListCollections()) {
    CollectionStats st = (*(*db)->GetCollection(c.name))->Stats();
    std::printf("  collection %-20s dimension %-6u %-6s %llu vectors, %llu segments\n",
                c.name.c_str(), c.dimension, DistanceMetricName(c.metric),
                static_cast<unsigned long long>(st.vector_count),
                static_cast<unsigned long long>(st.segment_count));
  }
  std::printf(
      "proximadb-server: this build has the storage engine only. The REST (8080) and gRPC "
      "(5678) APIs are not implemented yet, so nothing is listening; exiting.\n");
  return 0;
}
