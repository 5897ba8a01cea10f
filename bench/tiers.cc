// bench/tiers: storage tiers and backups on Fashion-MNIST (60,000 x 784, L2), through the
// public API:
//   1. search p50/p99 (ef 64, one thread, 1,000 queries) with the segments hot, warm (moved
//      to another directory by the tiering policy) and ultra_hot (locked in memory), each tier
//      in rounds interleaved with the others; the page cache is warm in every case (this
//      machine's directories share one disk, so warm and hot differ only by place);
//   2. against moto and s3proxy started on loopback (scripts/install-test-servers.sh): one
//      object's multipart upload with parts one at a time and four at a time; backup MB/s
//      (the first, then an incremental one after 5% more rows) and restore MB/s;
//   3. on-disk bytes per vector for standard, standard + pq, and custom ivf + pq + zstd
//      segments, against raw float32 plus the records' JSON metadata.
//
//   proximadb-tiers-bench [--queries N] [--rounds N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "common/scoped_temp_dir.h"
#include "index/dataset.h"
#include "proximadb/database.h"
#include "storage/object_store.h"
#include "storage/s3_test_server.h"

namespace {

using namespace proximadb;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct Latency {
  double p50_us = 0, p99_us = 0;
};

Latency Search(Collection& c, const index::Dataset& d, uint32_t nq) {
  std::vector<double> lat;
  for (uint32_t q = 0; q < nq; ++q) {
    SearchRequest req;
    req.vector = std::span<const float>(d.queries.data() + size_t{q} * d.dim, d.dim);
    req.k = 10;
    req.ef = 64;
    req.include_metadata = false;
    const auto s = Clock::now();
    if (!c.Search(req).ok()) std::abort();
    lat.push_back(Seconds(Clock::now() - s) * 1e6);
  }
  std::sort(lat.begin(), lat.end());
  return {lat[nq / 2], lat[std::min<size_t>(nq - 1, size_t{nq} * 99 / 100)]};
}

void Load(Collection& c, const index::Dataset& d, uint32_t first, uint32_t n) {
  for (uint32_t start = first; start < first + n; start += 1000) {
    std::vector<Record> batch;
    for (uint32_t i = start; i < std::min(first + n, start + 1000); ++i) {
      const float* v = d.base.data() + size_t{i % d.base_rows()} * d.dim;
      batch.push_back({"id" + std::to_string(i), std::vector<float>(v, v + d.dim),
                       "{\"label\":" + std::to_string(i % 1000) + "}"});
    }
    if (!c.Write(std::move(batch), WriteMode::kUpsert).ok()) std::abort();
  }
}

// Creates collection `name` (L2) with `config`'s layout, loads every vector and flushes.
std::shared_ptr<Collection> CreateLoaded(Database& db, const index::Dataset& d,
                                         const std::string& name, CollectionConfig config = {}) {
  config.name = name;
  config.dimension = d.dim;
  config.metric = DistanceMetric::kL2;
  if (!db.CreateCollection(config).ok()) std::abort();
  auto c = *db.GetCollection(name);
  Load(*c, d, 0, d.base_rows());
  if (!c->Flush().ok()) std::abort();
  return c;
}

std::unique_ptr<Database> Open(const std::string& dir, std::shared_ptr<ObjectStore> store) {
  DatabaseOptions o;
  o.data_dir = dir + "/data";
  std::filesystem::create_directories(dir + "/hot");  // as if mounted
  std::filesystem::create_directories(dir + "/warm");
  o.hot_directories = {dir + "/hot"};
  o.warm_directories = {dir + "/warm"};
  o.background_maintenance = false;
  o.object_store = std::move(store);
  auto db = Database::Open(o);
  if (!db.ok()) std::abort();
  return *std::move(db);
}

void TierLatencies(const index::Dataset& d, uint32_t nq, int rounds) {
  ScopedTempDir tmp;
  auto db = Open(tmp.path(), nullptr);
  auto c = CreateLoaded(*db, d, "tiers");
  struct Tier {
    const char* name;
    TieringPolicy policy;
    std::vector<double> p50, p99;
  };
  std::vector<Tier> tiers = {{"hot", {}, {}, {}},
                             {"warm", {.warm_after_hours = 0.0}, {}, {}},
                             {"ultra_hot", {.ultra_hot = true}, {}, {}}};
  for (int round = 0; round < rounds; ++round) {
    for (Tier& t : tiers) {
      CollectionUpdate u;
      u.tiering = t.policy;
      if (!db->UpdateCollection("tiers", u).ok() || !c->ApplyTiering().ok()) std::abort();
      const Latency l = Search(*c, d, nq);
      t.p50.push_back(l.p50_us);
      t.p99.push_back(l.p99_us);
    }
  }
  std::printf("\nsearch by tier, ef 64, k 10, %u queries x %d rounds (median of rounds)\n", nq,
              rounds);
  std::printf("%-10s %9s %9s\n", "tier", "p50_us", "p99_us");
  for (Tier& t : tiers) {
    std::sort(t.p50.begin(), t.p50.end());
    std::sort(t.p99.begin(), t.p99.end());
    std::printf("%-10s %9.0f %9.0f\n", t.name, t.p50[t.p50.size() / 2], t.p99[t.p99.size() / 2]);
  }
}

void Backups(const index::Dataset& d, S3TestServer::Kind kind) {
  auto server = S3TestServer::Start(kind, "proximadb-bench");
  if (!server.ok()) {
    std::printf("%s: %s\n", kind == S3TestServer::Kind::kMoto ? "moto" : "s3proxy",
                std::string(server.status().message()).c_str());
    return;
  }
  // Multipart upload of one 190 MB object, parts one at a time against four at a time, in
  // interleaved rounds (each to its own key).
  {
    const std::string blob(reinterpret_cast<const char*>(d.base.data()),
                           d.base.size() * sizeof(float));
    std::vector<double> mbps[2];
    for (int round = 0; round < 3; ++round) {
      for (int c = 0; c < 2; ++c) {
        ObjectStoreOptions o = (*server)->Options("bench-put");
        o.upload_concurrency = c == 0 ? 1 : 4;
        auto put_store = NewS3ObjectStore(o);
        const auto t = Clock::now();
        if (!(*put_store)->Put("blob-" + std::to_string(round * 2 + c), blob).ok()) std::abort();
        mbps[c].push_back(blob.size() / 1048576.0 / Seconds(Clock::now() - t));
      }
    }
    for (auto& v : mbps) std::sort(v.begin(), v.end());
    std::printf("%-8s put of %.0f MB: %.1f MB/s with parts one at a time, %.1f MB/s four at a "
                "time (median of 3)\n",
                (*server)->name(), blob.size() / 1048576.0, mbps[0][1], mbps[1][1]);
  }
  auto store = NewS3ObjectStore((*server)->Options("bench"));
  ScopedTempDir tmp;
  auto db = Open(tmp.path(), std::shared_ptr<ObjectStore>(std::move(*store)));
  auto c = CreateLoaded(*db, d, "b");  // flushed, so that the backup times the upload only
  auto t0 = Clock::now();
  auto first = db->BackupCollection("b");
  const double first_s = Seconds(Clock::now() - t0);
  Load(*c, d, d.base_rows(), d.base_rows() / 20);
  if (!first.ok() || !c->Flush().ok()) std::abort();
  t0 = Clock::now();
  auto second = db->BackupCollection("b");
  const double second_s = Seconds(Clock::now() - t0);
  t0 = Clock::now();
  auto restored = db->RestoreBackup(second->backup_id, "r");
  const double restore_s = Seconds(Clock::now() - t0);
  if (!second.ok() || !restored.ok()) std::abort();
  const double mb = 1 << 20;
  std::printf("%-8s backup %6.1f MB in %5.2f s = %6.1f MB/s; incremental %5.1f of %6.1f MB in "
              "%5.2f s; restore %6.1f MB in %5.2f s = %6.1f MB/s\n",
              (*server)->name(), first->uploaded_bytes / mb, first_s,
              first->uploaded_bytes / mb / first_s, second->uploaded_bytes / mb,
              second->bytes / mb, second_s, second->bytes / mb, restore_s,
              second->bytes / mb / restore_s);
}

void BytesPerVector(const index::Dataset& d) {
  std::printf("\non-disk bytes per vector (%u x %u; raw float32 + JSON metadata = %zu B)\n",
              d.base_rows(), d.dim, d.dim * sizeof(float) + std::strlen("{\"label\":500}"));
  struct Layout {
    const char* name;
    StorageStrategy strategy;
    IndexingAlgorithm algorithm;
    Quantization quantization;
    MetadataCompression compression;
  };
  const Layout layouts[] = {
      {"standard", StorageStrategy::kStandard, IndexingAlgorithm::kHnsw, Quantization::kNone,
       MetadataCompression::kNone},
      {"standard+pq", StorageStrategy::kStandard, IndexingAlgorithm::kHnsw, Quantization::kPq,
       MetadataCompression::kNone},
      {"ivf+pq+zstd", StorageStrategy::kCustom, IndexingAlgorithm::kIvf, Quantization::kPq,
       MetadataCompression::kZstd}};
  for (const Layout& l : layouts) {
    ScopedTempDir tmp;
    auto db = Open(tmp.path(), nullptr);
    CollectionConfig config;
    config.storage_strategy = l.strategy;
    config.indexing_algorithm = l.algorithm;
    config.quantization.kind = l.quantization;
    config.metadata_compression = l.compression;
    const CollectionStats st = CreateLoaded(*db, d, "s", config)->Stats();
    std::printf("%-12s %8.1f B/vector (segments %.1f MB)\n", l.name,
                static_cast<double>(st.tier_hot_bytes) / d.base_rows(), st.tier_hot_bytes / 1048576.0);
  }
}

}  // namespace

int main(int argc, char** argv) {
  uint32_t nq = 1000;
  int rounds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--queries") == 0) nq = static_cast<uint32_t>(std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::atoi(argv[i + 1]);
  }
  auto loaded = index::LoadFashionMnist();
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", std::string(loaded.status().message()).c_str());
    return 1;
  }
  const index::Dataset& d = *loaded;
  nq = std::min<uint32_t>(nq, d.query_rows());
  TierLatencies(d, nq, rounds);
  std::printf("\nbackups of %u x %u (one client, loopback)\n", d.base_rows(), d.dim);
  Backups(d, S3TestServer::Kind::kMoto);
  Backups(d, S3TestServer::Kind::kS3Proxy);
  BytesPerVector(d);
  return 0;
}
