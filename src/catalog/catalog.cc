#include "catalog/catalog.h"

#include <sqlite3.h>

#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/macros.h"

namespace proximadb {
namespace {

// Version 2 added the quantization columns, version 3 the tiering policy (an older catalog is
// upgraded when opened).
constexpr int kSchemaVersion = 3;

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS collections (
  name               TEXT PRIMARY KEY,
  dir_name           TEXT NOT NULL UNIQUE,
  dimension          INTEGER NOT NULL,
  distance_metric    TEXT NOT NULL,
  indexing_algorithm TEXT NOT NULL,
  m                  INTEGER NOT NULL,
  ef_construction    INTEGER NOT NULL,
  ef_search          INTEGER NOT NULL,
  max_wal_age_hours  REAL NOT NULL,
  max_wal_size_mb    REAL NOT NULL,
  max_vector_count   INTEGER NOT NULL,
  flush_priority     INTEGER NOT NULL,
  storage_strategy   TEXT NOT NULL,
  created_at_us      INTEGER NOT NULL,
  quantization       TEXT NOT NULL DEFAULT 'none',
  pq_m               INTEGER NOT NULL DEFAULT 0,
  rerank             INTEGER NOT NULL DEFAULT 0,
  nprobe             INTEGER NOT NULL DEFAULT 16,
  metadata_compression TEXT NOT NULL DEFAULT 'none',
  ultra_hot          INTEGER NOT NULL DEFAULT 0,
  warm_after_hours   REAL,
  cold_after_hours   REAL
);
)sql";

constexpr char kUpgradeFrom1[] = R"sql(
BEGIN;
ALTER TABLE collections ADD COLUMN quantization TEXT NOT NULL DEFAULT 'none';
ALTER TABLE collections ADD COLUMN pq_m INTEGER NOT NULL DEFAULT 0;
ALTER TABLE collections ADD COLUMN rerank INTEGER NOT NULL DEFAULT 0;
ALTER TABLE collections ADD COLUMN nprobe INTEGER NOT NULL DEFAULT 16;
ALTER TABLE collections ADD COLUMN metadata_compression TEXT NOT NULL DEFAULT 'none';
PRAGMA user_version=2;
COMMIT;
)sql";

constexpr char kUpgradeFrom2[] = R"sql(
BEGIN;
ALTER TABLE collections ADD COLUMN ultra_hot INTEGER NOT NULL DEFAULT 0;
ALTER TABLE collections ADD COLUMN warm_after_hours REAL;
ALTER TABLE collections ADD COLUMN cold_after_hours REAL;
PRAGMA user_version=3;
COMMIT;
)sql";

constexpr char kColumns[] =
    "name, dir_name, dimension, distance_metric, indexing_algorithm, m, ef_construction, "
    "ef_search, max_wal_age_hours, max_wal_size_mb, max_vector_count, flush_priority, "
    "storage_strategy, created_at_us, quantization, pq_m, rerank, nprobe, metadata_compression, "
    "ultra_hot, warm_after_hours, cold_after_hours";

class Stmt;
void BindTiering(Stmt& s, int first, const TieringPolicy& t);

// A prepared statement that finalizes itself.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Stmt() { sqlite3_finalize(stmt_); }
  int rc() const { return rc_; }
  sqlite3_stmt* get() { return stmt_; }
  void Bind(int i, std::string_view s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  void Bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void Bind(int i, const std::optional<double>& v) {
    if (v) {
      sqlite3_bind_double(stmt_, i, *v);
    } else {
      sqlite3_bind_null(stmt_, i);
    }
  }
  std::optional<double> OptionalDouble(int column) {
    if (sqlite3_column_type(stmt_, column) == SQLITE_NULL) return std::nullopt;
    return sqlite3_column_double(stmt_, column);
  }
  void Bind(int i, double v) { sqlite3_bind_double(stmt_, i, v); }
  std::string Text(int i) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, i))) : "";
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

// The policy into parameters first .. first + 2.
void BindTiering(Stmt& s, int first, const TieringPolicy& t) {
  s.Bind(first, int64_t{t.ultra_hot});
  s.Bind(first + 1, t.warm_after_hours);
  s.Bind(first + 2, t.cold_after_hours);
}

class SqliteCatalog final : public Catalog {
 public:
  SqliteCatalog(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}
  ~SqliteCatalog() override { sqlite3_close(db_); }

  absl::Status Init() {
    absl::MutexLock l(&mu_);
    PROXIMADB_RETURN_IF_ERROR(Exec("PRAGMA synchronous=FULL"));
    PROXIMADB_RETURN_IF_ERROR(Exec(kSchema));
    Stmt version(db_, "PRAGMA user_version");
    if (version.rc() != SQLITE_OK || sqlite3_step(version.get()) != SQLITE_ROW) {
      return Error("read schema version");
    }
    const int v = sqlite3_column_int(version.get(), 0);
    if (v == 1) PROXIMADB_RETURN_IF_ERROR(Exec(kUpgradeFrom1));
    if (v == 1 || v == 2) return Exec(kUpgradeFrom2);
    if (v == 0) return Exec(absl::StrCat("PRAGMA user_version=", kSchemaVersion).c_str());
    if (v != kSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "catalog ", path_, " has schema version ", v, ", this build reads ", kSchemaVersion));
    }
    return absl::OkStatus();
  }

  absl::Status Insert(const CatalogEntry& e) override {
    absl::MutexLock l(&mu_);
    const std::string sql = absl::StrCat("INSERT INTO collections (", kColumns,
                                         ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    Stmt s(db_, sql.c_str());
    if (s.rc() != SQLITE_OK) return Error("prepare insert");
    const CollectionConfig& c = e.config;
    s.Bind(1, c.name);
    s.Bind(2, e.dir_name);
    s.Bind(3, static_cast<int64_t>(c.dimension));
    s.Bind(4, std::string_view(DistanceMetricName(c.metric)));
    s.Bind(5, std::string_view(IndexingAlgorithmName(c.indexing_algorithm)));
    s.Bind(6, static_cast<int64_t>(c.index.m));
    s.Bind(7, static_cast<int64_t>(c.index.ef_construction));
    s.Bind(8, static_cast<int64_t>(c.index.ef_search));
    s.Bind(9, c.flush.max_wal_age_hours);
    s.Bind(10, c.flush.max_wal_size_mb);
    s.Bind(11, static_cast<int64_t>(c.flush.max_vector_count));
    s.Bind(12, static_cast<int64_t>(c.flush.flush_priority));
    s.Bind(13, std::string_view(StorageStrategyName(c.storage_strategy)));
    s.Bind(14, c.created_at_us);
    s.Bind(15, std::string_view(QuantizationName(c.quantization.kind)));
    s.Bind(16, static_cast<int64_t>(c.quantization.pq_m));
    s.Bind(17, static_cast<int64_t>(c.quantization.rerank));
    s.Bind(18, static_cast<int64_t>(c.index.nprobe));
    s.Bind(19, std::string_view(MetadataCompressionName(c.metadata_compression)));
    BindTiering(s, 20, c.tiering);
    const int rc = sqlite3_step(s.get());
    if (rc == SQLITE_CONSTRAINT) {
      return absl::AlreadyExistsError(absl::StrCat("collection '", c.name, "' already exists"));
    }
    if (rc != SQLITE_DONE) return Error("insert collection");
    return absl::OkStatus();
  }

  absl::Status UpdateSettings(const CollectionConfig& c) override {
    absl::MutexLock l(&mu_);
    Stmt s(db_, R"sql(UPDATE collections SET ef_search = ?, max_wal_age_hours = ?,
                      max_wal_size_mb = ?, max_vector_count = ?, flush_priority = ?,
                      rerank = ?, storage_strategy = ?, quantization = ?, pq_m = ?,
                      nprobe = ?, indexing_algorithm = ?, metadata_compression = ?,
                      ultra_hot = ?, warm_after_hours = ?, cold_after_hours = ?
                      WHERE name = ?)sql");
    if (s.rc() != SQLITE_OK) return Error("prepare update");
    s.Bind(1, static_cast<int64_t>(c.index.ef_search));
    s.Bind(2, c.flush.max_wal_age_hours);
    s.Bind(3, c.flush.max_wal_size_mb);
    s.Bind(4, static_cast<int64_t>(c.flush.max_vector_count));
    s.Bind(5, static_cast<int64_t>(c.flush.flush_priority));
    s.Bind(6, static_cast<int64_t>(c.quantization.rerank));
    s.Bind(7, std::string_view(StorageStrategyName(c.storage_strategy)));
    s.Bind(8, std::string_view(QuantizationName(c.quantization.kind)));
    s.Bind(9, static_cast<int64_t>(c.quantization.pq_m));
    s.Bind(10, static_cast<int64_t>(c.index.nprobe));
    s.Bind(11, std::string_view(IndexingAlgorithmName(c.indexing_algorithm)));
    s.Bind(12, std::string_view(MetadataCompressionName(c.metadata_compression)));
    BindTiering(s, 13, c.tiering);
    s.Bind(16, c.name);
    if (sqlite3_step(s.get()) != SQLITE_DONE) return Error("update collection");
    if (sqlite3_changes(db_) == 0) {
      return absl::NotFoundError(absl::StrCat("collection '", c.name, "' not found"));
    }
    return absl::OkStatus();
  }

  absl::Status Remove(std::string_view name) override {
    absl::MutexLock l(&mu_);
    Stmt s(db_, "DELETE FROM collections WHERE name = ?");
    if (s.rc() != SQLITE_OK) return Error("prepare delete");
    s.Bind(1, name);
    if (sqlite3_step(s.get()) != SQLITE_DONE) return Error("delete collection");
    if (sqlite3_changes(db_) == 0) {
      return absl::NotFoundError(absl::StrCat("collection '", std::string(name), "' not found"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<CatalogEntry>> List() override {
    absl::MutexLock l(&mu_);
    const std::string sql = absl::StrCat("SELECT ", kColumns, " FROM collections ORDER BY name");
    Stmt s(db_, sql.c_str());
    if (s.rc() != SQLITE_OK) return Error("prepare list");
    std::vector<CatalogEntry> out;
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
      CatalogEntry e;
      CollectionConfig& c = e.config;
      c.name = s.Text(0);
      e.dir_name = s.Text(1);
      c.dimension = static_cast<uint32_t>(sqlite3_column_int64(s.get(), 2));
      // A stored name this version does not know means damage (or a newer writer).
      auto stored = [&](auto parsed, auto* out) -> absl::Status {
        if (!parsed.ok()) {
          return absl::DataLossError(absl::StrCat("catalog ", path_, ": collection '", c.name,
                                                  "': ", parsed.status().message()));
        }
        *out = *parsed;
        return absl::OkStatus();
      };
      PROXIMADB_RETURN_IF_ERROR(stored(ParseDistanceMetric(s.Text(3)), &c.metric));
      PROXIMADB_RETURN_IF_ERROR(stored(ParseIndexingAlgorithm(s.Text(4)), &c.indexing_algorithm));
      PROXIMADB_RETURN_IF_ERROR(stored(ParseStorageStrategy(s.Text(12)), &c.storage_strategy));
      c.index.m = static_cast<uint32_t>(sqlite3_column_int64(s.get(), 5));
      c.index.ef_construction = static_cast<uint32_t>(sqlite3_column_int64(s.get(), 6));
      c.index.ef_search = static_cast<uint32_t>(sqlite3_column_int64(s.get(), 7));
      c.flush.max_wal_age_hours = sqlite3_column_double(s.get(), 8);
      c.flush.max_wal_size_mb = sqlite3_column_double(s.get(), 9);
      c.flush.max_vector_count = static_cast<uint64_t>(sqlite3_column_int64(s.get(), 10));
      c.flush.flush_priority = sqlite3_column_int(s.get(), 11);
      c.created_at_us = sqlite3_column_int64(s.get(), 13);
      PROXIMADB_RETURN_IF_ERROR(stored(ParseQuantization(s.Text(14)), &c.quantization.kind));
      c.quantization.pq_m = static_cast<uint32_t>(sqlite3_column_int64(s.get(), 15));
      c.quantization.rerank = static_cast<uint32_t>(sqlite3_column_int64(s.get(), 16));
      c.index.nprobe = static_cast<uint32_t>(sqlite3_column_int64(s.get(), 17));
      PROXIMADB_RETURN_IF_ERROR(
          stored(ParseMetadataCompression(s.Text(18)), &c.metadata_compression));
      c.tiering.ultra_hot = sqlite3_column_int64(s.get(), 19) != 0;
      c.tiering.warm_after_hours = s.OptionalDouble(20);
      c.tiering.cold_after_hours = s.OptionalDouble(21);
      out.push_back(std::move(e));
    }
    if (rc != SQLITE_DONE) return Error("list collections");
    return out;
  }

 private:
  absl::Status Exec(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return Error(sql);
    return absl::OkStatus();
  }
  absl::Status Error(std::string_view what) {
    return absl::InternalError(absl::StrCat("catalog ", path_, ": ", std::string(what), ": ",
                                            sqlite3_errmsg(db_)));
  }

  const std::string path_;
  absl::Mutex mu_;
  sqlite3* db_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Catalog>> OpenSqliteCatalog(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::InternalError(absl::StrCat("open catalog ", path, ": ", msg));
  }
  sqlite3_busy_timeout(db, 5000);
  auto catalog = std::make_unique<SqliteCatalog>(path, db);
  PROXIMADB_RETURN_IF_ERROR(catalog->Init());
  return catalog;
}

}  // namespace proximadb
