// Copies of a collection between databases (Database::ExportCollection and RestoreFrom), as a
// cluster node makes a replica from a peer's: real files on both sides.
#include <map>
#include <string>
#include <vector>

#include "common/scoped_temp_dir.h"
#include "gtest/gtest.h"
#include "proximadb/database.h"
#include "storage/object_store.h"

namespace proximadb {
namespace {

constexpr int kDim = 4;

std::unique_ptr<Database> OpenAt(const std::string& dir) {
  DatabaseOptions o;
  o.data_dir = dir;
  o.background_maintenance = false;
  auto db = Database::Open(o);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? *std::move(db) : nullptr;
}

Record Numbered(int i) {
  return {"id-" + std::to_string(i), {float(i), float(i % 7), 1, 2},
          "{\"i\":" + std::to_string(i) + "}"};
}

// Applies `n` records from `first` to `c` as a replica applies its log, a batch of 10 per
// sequence number after `c`'s last.
void ApplyNumbered(Collection& c, int first, int n) {
  for (int i = first; i < first + n; i += 10) {
    std::vector<Record> batch;
    for (int j = i; j < std::min(first + n, i + 10); ++j) batch.push_back(Numbered(j));
    absl::StatusOr<PreparedBatch> p = c.PrepareWrite(std::move(batch), WriteMode::kUpsert);
    ASSERT_TRUE(p.ok()) << p.status();
    ASSERT_TRUE(c.ApplyReplicated(p->batch, p->after + 1).ok());
  }
}

std::map<std::string, std::string> Contents(Collection& c) {
  std::map<std::string, std::string> out;
  absl::StatusOr<ScrollPage> page = c.Scroll("", 10000, "", false);
  EXPECT_TRUE(page.ok()) << page.status();
  if (page.ok()) {
    for (const Record& r : page->records) out[r.id] = r.metadata;
  }
  return out;
}

class SnapshotExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    from_ = OpenAt(tmp_.path() + "/from");
    to_ = OpenAt(tmp_.path() + "/to");
    CollectionConfig c;
    c.name = "s-1";
    c.dimension = kDim;
    ASSERT_TRUE(from_->CreateCollection(c).ok());
    source_ = *from_->GetCollection("s-1");
  }

  ScopedTempDir tmp_;
  std::unique_ptr<Database> from_, to_;
  std::shared_ptr<Collection> source_;
};

TEST_F(SnapshotExportTest, ACopyHoldsEverythingAndGoesOnFromTheNextSequence) {
  ApplyNumbered(*source_, 0, 200);
  ASSERT_TRUE(source_->Flush().ok());
  ApplyNumbered(*source_, 200, 50);  // in the memtable: the export flushes it
  absl::StatusOr<PreparedBatch> deleted = source_->PrepareDelete({"id-3"});
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  ASSERT_TRUE(source_->ApplyReplicated(deleted->batch, deleted->after + 1).ok());
  const uint64_t last = source_->Stats().last_seq;

  absl::StatusOr<CollectionExport> exported = from_->ExportCollection("s-1");
  ASSERT_TRUE(exported.ok()) << exported.status();
  ApplyNumbered(*source_, 250, 10);  // after the export: not in the copy
  absl::StatusOr<CollectionConfig> restored =
      to_->RestoreFrom(*exported->store, exported->backup_id, "s-1");
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->name, "s-1");
  EXPECT_EQ(restored->dimension, kDim);

  std::shared_ptr<Collection> copy = *to_->GetCollection("s-1");
  EXPECT_EQ(copy->Stats().last_seq, last);
  EXPECT_EQ(copy->Stats().flushed_seq, last);
  std::map<std::string, std::string> want = Contents(*source_);
  for (int i = 250; i < 260; ++i) want.erase("id-" + std::to_string(i));
  EXPECT_EQ(Contents(*copy).size(), 249u);
  EXPECT_EQ(Contents(*copy), want);
  const std::vector<float> query = {17, 3, 1, 2};
  SearchRequest search{.vector = query, .k = 1};
  absl::StatusOr<SearchResponse> found = copy->Search(search);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->hits.size(), 1u);
  EXPECT_EQ(found->hits[0].id, "id-17");

  // It follows the log from the position after the one it covers, and keeps it on reopening.
  ApplyNumbered(*copy, 250, 10);
  EXPECT_EQ(copy->Stats().last_seq, last + 1);
  copy.reset();
  to_.reset();
  to_ = OpenAt(tmp_.path() + "/to");
  copy = *to_->GetCollection("s-1");
  EXPECT_EQ(Contents(*copy), Contents(*source_));
}

TEST_F(SnapshotExportTest, TheExportIsReadOnlyAndOutlivesCompaction) {
  ApplyNumbered(*source_, 0, 30);
  ASSERT_TRUE(source_->Flush().ok());
  ApplyNumbered(*source_, 30, 30);
  absl::StatusOr<CollectionExport> exported = from_->ExportCollection("s-1");
  ASSERT_TRUE(exported.ok()) << exported.status();
  // The segments it serves are merged and removed meanwhile.
  ASSERT_TRUE(source_->Compact().ok());
  ObjectStore& store = *exported->store;
  EXPECT_EQ(store.Put("segments/x.pxs", "x").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store.Delete("backups/" + exported->backup_id + "/backup.json").code(),
            absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<std::vector<ObjectInfo>> listed = store.List("segments/");
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->size(), 2u);
  EXPECT_EQ(store.Get("segments/none.pxs").status().code(), absl::StatusCode::kNotFound);

  EXPECT_EQ(to_->RestoreFrom(store, "other", "s-1").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(to_->RestoreFrom(store, exported->backup_id, "bad name!").status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(to_->RestoreFrom(store, exported->backup_id, "s-1").ok());
  EXPECT_EQ(Contents(**to_->GetCollection("s-1")).size(), 60u);
  EXPECT_EQ(to_->RestoreFrom(store, exported->backup_id, "s-1").status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(from_->ExportCollection("none").status().code(), absl::StatusCode::kNotFound);
}

// A segment that arrives damaged is refused, and leaves no collection behind.
class Corrupting final : public ObjectStore {
 public:
  explicit Corrupting(ObjectStore& inner) : inner_(inner) {}
  absl::Status Put(std::string_view k, std::string_view d) override { return inner_.Put(k, d); }
  absl::StatusOr<std::string> Get(std::string_view k) override { return inner_.Get(k); }
  absl::StatusOr<std::string> GetRange(std::string_view k, uint64_t offset,
                                       uint64_t length) override {
    absl::StatusOr<std::string> got = inner_.GetRange(k, offset, length);
    if (got.ok() && k.starts_with("segments/") && !got->empty()) (*got)[got->size() / 2] ^= 1;
    return got;
  }
  absl::StatusOr<ObjectInfo> Head(std::string_view k) override { return inner_.Head(k); }
  absl::StatusOr<std::vector<ObjectInfo>> List(std::string_view p) override {
    return inner_.List(p);
  }
  absl::Status Delete(std::string_view k) override { return inner_.Delete(k); }

 private:
  ObjectStore& inner_;
};

TEST_F(SnapshotExportTest, ADamagedCopyIsRefused) {
  ApplyNumbered(*source_, 0, 40);
  absl::StatusOr<CollectionExport> exported = from_->ExportCollection("s-1");
  ASSERT_TRUE(exported.ok()) << exported.status();
  Corrupting damaged(*exported->store);
  EXPECT_EQ(to_->RestoreFrom(damaged, exported->backup_id, "s-1").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(to_->GetCollection("s-1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(to_->RestoreFrom(*exported->store, exported->backup_id, "s-1").ok());
}

}  // namespace
}  // namespace proximadb
