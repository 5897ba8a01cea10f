// bench/tiers: storage tiers and backups on Fashion-MNIST (60,000 x 784, L2), through the
// public API:
//   1. search p50/p99 (ef 64, one thread, 1,000 queries) with the segments hot, warm (moved
//      to another directory by the tiering policy), ultra_hot (locked in memory) and cold (in
//      moto, searched from the local cache), each tier in rounds interleaved with the others;
//      the page cache is warm in every case (this machine's directories share one disk, so
//      warm and hot differ only by place); for cold also the first search (which fetches the
//      segment from the store) and the times to go cold and to come back;
//   2. against moto and s3proxy started on loopback (scripts/install-test-servers.sh): one
//      object's multipart upload with parts one at a time and four at a time; backup MB/s
//      (the first, then an incremental one after 5% more rows) and restore MB/s;
//   3. on-disk bytes per vector for standard, standard + pq, and custom ivf + pq + zstd
//      segments, hot and cold (the local stub), against raw float32 plus the records' JSON
//      metadata.
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

// The median of `v` (sorted in place).
double Median(std::vector<double>& v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void TierLatencies(const index::Dataset& d, uint32_t nq, int rounds,
                   std::shared_ptr<ObjectStore> store) {
  ScopedTempDir tmp;
  auto db = Open(tmp.path(), store);
  auto c = CreateLoaded(*db, d, "tiers");
  struct Tier {
    const char* name;
    TieringPolicy policy;
    std::vector<double> p50, p99;
  };
  std::vector<Tier> tiers = {{"hot", {}, {}, {}},
                             {"warm", {.warm_after_hours = 0.0}, {}, {}},
                             {"ultra_hot", {.ultra_hot = true}, {}, {}},
                             {"cold", {.cold_after_hours = 0.0}, {}, {}}};
  std::vector<double> go_cold_s, come_back_s, first_search_ms;
  for (int round = 0; round < rounds; ++round) {
    for (Tier& t : tiers) {
      CollectionUpdate u;
      u.tiering = t.policy;
      const bool cold = t.policy.cold_after_hours.has_value();
      const bool was_cold = c->Stats().tier_cold_segments > 0;
      const auto start = Clock::now();
      if (!db->UpdateCollection("tiers", u).ok() || !c->ApplyTiering().ok()) std::abort();
      if (cold || was_cold) {
        (cold ? go_cold_s : come_back_s).push_back(Seconds(Clock::now() - start));
      }
      if (cold) {  // the first search fetches the segment into the cache
        const auto fetch = Clock::now();
        Search(*c, d, 1);
        first_search_ms.push_back(Seconds(Clock::now() - fetch) * 1e3);
      }
      const Latency l = Search(*c, d, nq);
      t.p50.push_back(l.p50_us);
      t.p99.push_back(l.p99_us);
    }
  }
  std::printf("\nsearch by tier, ef 64, k 10, %u queries x %d rounds (median of rounds)\n", nq,
              rounds);
  std::printf("%-10s %9s %9s\n", "tier", "p50_us", "p99_us");
  for (Tier& t : tiers) std::printf("%-10s %9.0f %9.0f\n", t.name, Median(t.p50), Median(t.p99));
  const CollectionStats st = c->Stats();
  const double mb = (st.tier_hot_bytes + st.tier_cold_bytes) / 1048576.0;
  std::printf("cold (%.0f MB segment, moto): first search %.0f ms (fetch into the cache), go cold "
              "%.2f s, come back %.2f s\n",
              mb, Median(first_search_ms), Median(go_cold_s), Median(come_back_s));
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

void BytesPerVector(const index::Dataset& d, std::shared_ptr<ObjectStore> store) {
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
    auto db = Open(tmp.path(), store);
    CollectionConfig config;
    config.storage_strategy = l.strategy;
    config.indexing_algorithm = l.algorithm;
    config.quantization.kind = l.quantization;
    config.metadata_compression = l.compression;
    auto c = CreateLoaded(*db, d, "s", config);
    const CollectionStats hot = c->Stats();
    // Cold: what stays on local disk is the stub (ids, metadata, codes, field columns).
    CollectionUpdate u;
    u.tiering = TieringPolicy{.cold_after_hours = 0.0};
    if (!db->UpdateCollection("s", u).ok() || !c->ApplyTiering().ok()) std::abort();
    const CollectionStats cold = c->Stats();
    const double raw = d.dim * sizeof(float) + std::strlen("{\"label\":500}");
    const double hot_b = static_cast<double>(hot.tier_hot_bytes) / d.base_rows();
    const double cold_b = static_cast<double>(cold.disk_bytes) / d.base_rows();
    std::printf("%-12s hot %8.1f B/vector (%.2f:1), cold %6.1f B/vector local (%.1f:1)\n",
                l.name, hot_b, raw / hot_b, cold_b, raw / cold_b);
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
  auto moto = S3TestServer::Start(S3TestServer::Kind::kMoto, "proximadb-cold-bench");
  if (!moto.ok()) {
    std::fprintf(stderr, "moto: %s\n", std::string(moto.status().message()).c_str());
    return 1;
  }
  auto store = NewS3ObjectStore((*moto)->Options("cold"));
  if (!store.ok()) return 1;
  const std::shared_ptr<ObjectStore> cold_store(std::move(*store));
  TierLatencies(d, nq, rounds, cold_store);
  std::printf("\nbackups of %u x %u (one client, loopback)\n", d.base_rows(), d.dim);
  Backups(d, S3TestServer::Kind::kMoto);
  Backups(d, S3TestServer::Kind::kS3Proxy);
  BytesPerVector(d, cold_store);
  return 0;
}
