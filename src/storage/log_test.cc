#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "env/mem_env.h"
#include "gtest/gtest.h"
#include "storage/log_format.h"
#include "storage/log_reader.h"
#include "storage/log_writer.h"
#include "storage/wal.h"
#include "storage/write_batch.h"

namespace proximadb::log {
namespace {

std::string RandomPayload(std::mt19937& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(env_.CreateDirs("/wal").ok()); }

  // Writes `records`, returns the file's bytes and each record's start offset.
  std::string Write(const std::vector<std::string>& records, std::vector<uint64_t>* starts) {
    auto file = env_.NewWritableFile("/wal/log");
    EXPECT_TRUE(file.ok());
    Writer writer(std::move(*file));
    for (const std::string& r : records) {
      if (starts) starts->push_back(writer.size());
      EXPECT_TRUE(writer.AddRecord(r).ok());
    }
    return *env_.ReadFile("/wal/log");
  }

  static absl::StatusOr<ReadResult> Read(std::string_view bytes, std::vector<std::string>* out) {
    return ReadAll("/wal/log", bytes, [out](std::string_view p, uint64_t) {
      out->emplace_back(p);
      return absl::OkStatus();
    });
  }

  MemEnv env_;
  std::mt19937 rng_{42};
};

TEST_F(LogTest, RoundTripSmallAndMultiBlockRecords) {
  std::vector<std::string> records;
  for (size_t n : {0ul, 1ul, 100ul, kBlockSize - kHeaderSize, kBlockSize - kHeaderSize - 3,
                   kBlockSize, 3 * kBlockSize + 17, 5ul, 200000ul}) {
    records.push_back(RandomPayload(rng_, n));
  }
  std::string bytes = Write(records, nullptr);
  std::vector<std::string> got;
  auto result = Read(bytes, &got);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->torn_tail);
  EXPECT_EQ(result->valid_end, bytes.size());
  EXPECT_EQ(got, records);
}

// A crash can cut the last write anywhere: every cut must yield exactly the earlier records.
TEST_F(LogTest, TornTailAtEveryByteOfTheLastRecord) {
  std::vector<std::string> records;
  for (int i = 0; i < 6; ++i) records.push_back(RandomPayload(rng_, 5000));
  records.push_back(RandomPayload(rng_, 9000));  // spans the first block boundary
  std::vector<uint64_t> starts;
  std::string bytes = Write(records, &starts);
  const uint64_t last = starts.back();
  ASSERT_LT(last, kBlockSize);
  ASSERT_GT(bytes.size(), kBlockSize);
  for (uint64_t cut = last; cut < bytes.size(); ++cut) {
    std::vector<std::string> got;
    auto result = Read(std::string_view(bytes).substr(0, cut), &got);
    ASSERT_TRUE(result.ok()) << "cut at " << cut << ": " << result.status();
    ASSERT_EQ(got.size(), records.size() - 1) << cut;
    EXPECT_EQ(result->valid_end, last) << cut;
    EXPECT_EQ(result->torn_tail, cut != last) << cut;
  }
}

TEST_F(LogTest, DamagedLastRecordIsATornTail) {
  std::vector<std::string> records = {RandomPayload(rng_, 300), RandomPayload(rng_, 300)};
  std::vector<uint64_t> starts;
  std::string bytes = Write(records, &starts);
  bytes[starts[1] + kHeaderSize + 10] ^= 0x55;
  std::vector<std::string> got;
  auto result = Read(bytes, &got);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->torn_tail);
  EXPECT_EQ(result->torn_reason, "checksum mismatch");
  EXPECT_EQ(got.size(), 1u);
}

TEST_F(LogTest, ZeroFilledTailIsATornTail) {
  std::string bytes = Write({RandomPayload(rng_, 100)}, nullptr);
  const size_t end = bytes.size();
  bytes.append(4096, '\0');  // a file extended but never written
  std::vector<std::string> got;
  auto result = Read(bytes, &got);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->torn_tail);
  EXPECT_EQ(result->valid_end, end);
}

TEST_F(LogTest, CorruptionInTheMiddleIsReportedWithFileAndOffset) {
  // Same block and later blocks: both must be found behind the damage.
  for (size_t later_size : {200ul, 3 * kBlockSize}) {
    std::vector<std::string> records = {RandomPayload(rng_, 200), RandomPayload(rng_, 200),
                                        RandomPayload(rng_, later_size),
                                        RandomPayload(rng_, 200)};
    std::vector<uint64_t> starts;
    std::string bytes = Write(records, &starts);
    bytes[starts[1] + kHeaderSize + 5] ^= 0x01;
    std::vector<std::string> got;
    auto result = Read(bytes, &got);
    ASSERT_EQ(result.status().code(), absl::StatusCode::kDataLoss) << later_size;
    const std::string msg(result.status().message());
    EXPECT_TRUE(absl::StrContains(msg, "/wal/log")) << msg;
    EXPECT_TRUE(absl::StrContains(msg, "offset " + std::to_string(starts[1]))) << msg;
  }
}

TEST_F(LogTest, DamagedLengthFieldInTheMiddleIsCorruption) {
  std::vector<std::string> records;
  for (int i = 0; i < 20; ++i) records.push_back(RandomPayload(rng_, 4000));
  std::vector<uint64_t> starts;
  std::string bytes = Write(records, &starts);
  bytes[starts[2] + 5] = static_cast<char>(0x7f);  // length now runs past the block
  std::vector<std::string> got;
  EXPECT_EQ(Read(bytes, &got).status().code(), absl::StatusCode::kDataLoss);
}

TEST(WriteBatchTest, RoundTrip) {
  const float v1[3] = {1.5f, -2.0f, 3.25f};
  BatchBuilder b(/*seq=*/77, /*timestamp_us=*/123456);
  b.Put("doc-1", v1, 3, R"({"a":1})");
  b.Delete("doc-2");
  b.Put("", v1, 0, "{}");
  std::string payload = b.Finish();
  DecodedBatch d;
  ASSERT_TRUE(DecodeBatch(payload, &d).ok());
  EXPECT_EQ(d.seq, 77u);
  EXPECT_EQ(d.timestamp_us, 123456u);
  ASSERT_EQ(d.ops.size(), 3u);
  EXPECT_EQ(d.ops[0].type, OpType::kPut);
  EXPECT_EQ(d.ops[0].id, "doc-1");
  EXPECT_EQ(d.ops[0].metadata, R"({"a":1})");
  ASSERT_EQ(d.ops[0].dim, 3u);
  float got[3];
  std::memcpy(got, d.ops[0].vector, sizeof(got));
  EXPECT_EQ(got[2], 3.25f);
  EXPECT_EQ(d.ops[1].type, OpType::kDelete);
  EXPECT_EQ(d.ops[1].id, "doc-2");
  for (size_t n = 0; n < payload.size(); ++n) {
    EXPECT_FALSE(DecodeBatch(payload.substr(0, n), &d).ok()) << n;
  }
}

TEST(WalTest, CreateAppendSyncRead) {
  MemEnv env;
  ASSERT_TRUE(env.CreateDirs("/c").ok());
  auto writer = CreateWalFile(&env, WalStrategy::kBinary, "/c", 7);
  ASSERT_TRUE(writer.ok());
  const std::vector<std::string_view> group = {"one", "two"};
  ASSERT_TRUE((*writer)->AppendGroup(group).ok());
  ASSERT_TRUE((*writer)->Sync().ok());
  env.SimulatePowerLoss();  // the file and both records were made durable
  env.Restart();
  std::vector<std::string> got;
  auto r = ReadWalFile(&env, WalStrategy::kBinary, "/c", 7, [&](std::string_view p, uint64_t) {
    got.emplace_back(p);
    return absl::OkStatus();
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(got, (std::vector<std::string>{"one", "two"}));
}

}  // namespace
}  // namespace proximadb::log
