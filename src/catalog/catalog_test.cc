#include "catalog/catalog.h"

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

  ASSERT_TRUE((*catalog)->Remove("docs").ok());
  EXPECT_EQ((*catalog)->Remove("docs").code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE((*catalog)->List()->empty());
}

}  // namespace
}  // namespace proximadb
