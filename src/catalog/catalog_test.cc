#include "catalog/catalog.h"

#include <sqlite3.h>

#include "common/scoped_temp_dir.h"
#include "gtest/gtest.h"

namespace proximadb {
namespace {

class CatalogTest : public ::testing::Test {
 protected:
  ScopedTempDir dir_;
  const std::string path_ = dir_.path() + "/catalog.db";
};

TEST_F(CatalogTest, InsertListRemoveSurvivesReopen) {
  CatalogEntry e;
  e.config.name = "docs";
  e.config.dimension = 768;
  e.config.metric = DistanceMetric::kDot;
  e.config.index = {32, 100, 50};
  e.config.flush = {0.5, 64, 1000, 80};
  e.config.created_at_us = 1234567;
  e.config.quantization = {Quantization::kPq, 96, 40};
  e.config.index.nprobe = 9;
  e.config.storage_strategy = StorageStrategy::kViper;
  e.config.metadata_compression = MetadataCompression::kZstd;
  e.dir_name = "c-1";
  {
    auto catalog = OpenSqliteCatalog(path_);
    ASSERT_TRUE(catalog.ok()) << catalog.status();
    ASSERT_TRUE((*catalog)->Insert(e).ok());
    EXPECT_EQ((*catalog)->Insert(e).code(), absl::StatusCode::kAlreadyExists);
  }
  auto catalog = OpenSqliteCatalog(path_);
  ASSERT_TRUE(catalog.ok());
  auto list = (*catalog)->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  const CatalogEntry& got = (*list)[0];
  EXPECT_EQ(got.dir_name, "c-1");
  EXPECT_EQ(got.config.name, "docs");
  EXPECT_EQ(got.config.dimension, 768u);
  EXPECT_EQ(got.config.metric, DistanceMetric::kDot);
  EXPECT_EQ(got.config.index.m, 32u);
  EXPECT_EQ(got.config.index.ef_search, 50u);
  EXPECT_EQ(got.config.flush.max_wal_age_hours, 0.5);
  EXPECT_EQ(got.config.flush.max_vector_count, 1000u);
  EXPECT_EQ(got.config.flush.flush_priority, 80);
  EXPECT_EQ(got.config.created_at_us, 1234567);
  EXPECT_EQ(got.config.quantization.kind, Quantization::kPq);
  EXPECT_EQ(got.config.quantization.pq_m, 96u);
  EXPECT_EQ(got.config.quantization.rerank, 40u);
  EXPECT_EQ(got.config.index.nprobe, 9u);
  EXPECT_EQ(got.config.storage_strategy, StorageStrategy::kViper);
  EXPECT_EQ(got.config.metadata_compression, MetadataCompression::kZstd);
  CollectionConfig changed = got.config;
  changed.quantization.rerank = 7;
  ASSERT_TRUE((*catalog)->UpdateSettings(changed).ok());
  EXPECT_EQ((*(*catalog)->List())[0].config.quantization.rerank, 7u);

  ASSERT_TRUE((*catalog)->Remove("docs").ok());
  EXPECT_EQ((*catalog)->Remove("docs").code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE((*catalog)->List()->empty());
}

// A catalog written by the previous release (schema 1, no quantization columns) opens, reads
// as unquantized, and takes new entries with the new columns.
TEST_F(CatalogTest, UpgradesSchemaOne) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, R"sql(
    CREATE TABLE collections (name TEXT PRIMARY KEY, dir_name TEXT NOT NULL UNIQUE,
      dimension INTEGER NOT NULL, distance_metric TEXT NOT NULL,
      indexing_algorithm TEXT NOT NULL, m INTEGER NOT NULL, ef_construction INTEGER NOT NULL,
      ef_search INTEGER NOT NULL, max_wal_age_hours REAL NOT NULL,
      max_wal_size_mb REAL NOT NULL, max_vector_count INTEGER NOT NULL,
      flush_priority INTEGER NOT NULL, storage_strategy TEXT NOT NULL,
      created_at_us INTEGER NOT NULL);
    INSERT INTO collections VALUES ('old', 'c-1', 4, 'l2', 'hnsw', 16, 200, 64, 24, 256, 100000,
      50, 'standard', 99);
    PRAGMA user_version=1;)sql", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto catalog = OpenSqliteCatalog(path_);
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  auto list = (*catalog)->List();
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].config.name, "old");
  EXPECT_EQ((*list)[0].config.quantization.kind, Quantization::kNone);
  EXPECT_EQ((*list)[0].config.index.nprobe, 16u);
  CatalogEntry e = (*list)[0];
  e.config.name = "new";
  e.dir_name = "c-2";
  e.config.quantization.kind = Quantization::kSq8;
  ASSERT_TRUE((*catalog)->Insert(e).ok());
  catalog = OpenSqliteCatalog(path_);  // upgraded once: opens again as version 2
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  ASSERT_EQ((*catalog)->List()->size(), 2u);
  EXPECT_EQ((*(*catalog)->List())[0].config.quantization.kind, Quantization::kSq8);
}

}  // namespace
}  // namespace proximadb
