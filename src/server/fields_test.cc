// The field lists of server/fields.h name exactly the fields of the gRPC messages, so that REST,
// gRPC and the metrics say the same things under the same names.
#include <set>

#include "gtest/gtest.h"
#include "proximadb/v1/proximadb.pb.h"
#include "server/fields.h"

namespace proximadb::server {
namespace {

std::set<std::string> MessageFields(const google::protobuf::Descriptor* d) {
  std::set<std::string> names;
  for (int i = 0; i < d->field_count(); ++i) names.insert(d->field(i)->name());
  return names;
}

TEST(FieldsTest, CollectionFieldsAreTheProtosFields) {
  std::set<std::string> listed;
  // (vector_count: left out when unknown, in a cluster's list)
  for (const Field& f : CollectionFields(CollectionInfo{.vector_count = 0})) {
    listed.insert(std::string(f.name));
  }
  listed.insert("tiering");  // a message of its own, set by ToProto beside these
  EXPECT_EQ(listed, MessageFields(v1::Collection::descriptor()));
}

TEST(FieldsTest, EventFieldsAreTheProtosFields) {
  std::set<std::string> listed;
  for (const Field& f : EventFields(MaintenanceEvent{})) listed.insert(std::string(f.name));
  EXPECT_EQ(listed, MessageFields(v1::MaintenanceEvent::descriptor()));
}

TEST(FieldsTest, BackupFieldsAreTheProtosFields) {
  std::set<std::string> listed;
  for (const Field& f : BackupFields(BackupInfo{})) listed.insert(std::string(f.name));
  EXPECT_EQ(listed, MessageFields(v1::Backup::descriptor()));
}

TEST(FieldsTest, StatsFieldsAreTheProtosFields) {
  std::set<std::string> listed = {"name"};
  for (const StatsField& f : kStatsFields) listed.insert(f.name);
  EXPECT_EQ(listed, MessageFields(v1::CollectionStats::descriptor()));
}

TEST(FieldsTest, ExportedStatsAreNumbersWithHelp) {
  CollectionStats s;
  s.vector_count = 7;
  s.flush_seconds = 1.5;
  for (const StatsField& f : kStatsFields) {
    if (f.metric == nullptr) continue;
    EXPECT_NE(f.help, nullptr) << f.name;
    EXPECT_FALSE(std::holds_alternative<std::string>(ValueOf(f, s))) << f.name;
  }
  EXPECT_EQ(std::get<uint64_t>(ValueOf(kStatsFields[0], s)), 7u);
}

}  // namespace
}  // namespace proximadb::server
