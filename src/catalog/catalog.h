// The catalog: durable collection definitions, in SQLite (the embedded default; PostgreSQL and
// etcd can implement the same interface later).
//
// SQLite does its own file I/O and crash recovery (rollback journal, synchronous=FULL), so the
// catalog lives on the real file system even when collections use another Env.
//
// Thread-safe (serialized by an internal mutex).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "proximadb/types.h"

namespace proximadb {

struct CatalogEntry {
  CollectionConfig config;
  std::string dir_name;  // the collection's directory under <data_dir>/collections
};

class Catalog {
 public:
  virtual ~Catalog() = default;
  // kAlreadyExists if the name is taken.
  virtual absl::Status Insert(const CatalogEntry& entry) = 0;
  // kNotFound if absent.
  virtual absl::Status Remove(std::string_view name) = 0;
  // Stores the mutable settings of `config` (ef_search, nprobe, rerank, flush policy, and the
  // layout: storage_strategy, indexing_algorithm, quantization, pq_m, metadata_compression);
  // kNotFound if absent.
  virtual absl::Status UpdateSettings(const CollectionConfig& config) = 0;
  virtual absl::StatusOr<std::vector<CatalogEntry>> List() = 0;
};

// Opens (creating if needed) the SQLite catalog at `path`.
absl::StatusOr<std::unique_ptr<Catalog>> OpenSqliteCatalog(const std::string& path);

}  // namespace proximadb
