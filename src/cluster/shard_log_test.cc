// ShardLog against real nats-servers (Debian's) with JetStream, clustered on loopback ports.
#include "cluster/shard_log.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "cluster/test_fixtures.h"
#include "common/strings.h"

namespace proximadb::cluster {
namespace {

class ShardLogTest : public NatsSuite {
 protected:
  static std::unique_ptr<ShardLog> Connect(const NatsTestCluster& cluster) {
    absl::StatusOr<std::unique_ptr<ShardLog>> log = ShardLog::Connect({.urls = cluster.urls()});
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? *std::move(log) : nullptr;
  }

  // Every entry of `stream` from `from`, read until `count` arrived (or 10 s of silence).
  static std::vector<LogEntry> ReadAll(ShardLog& log, const std::string& stream, uint64_t from,
                                       size_t count) {
    std::vector<LogEntry> out;
    absl::StatusOr<std::unique_ptr<LogReader>> reader = log.Read(stream, from);
    EXPECT_TRUE(reader.ok()) << reader.status();
    while (reader.ok() && out.size() < count) {
      absl::StatusOr<std::optional<LogEntry>> next = (*reader)->Next(10000);
      if (!next.ok() || !next->has_value()) break;
      out.push_back(**std::move(next));
    }
    return out;
  }
};

TEST_F(ShardLogTest, AppendsAreNumberedConditionalAndIdempotent) {
  std::unique_ptr<ShardLog> log = Connect(*nats_);
  ASSERT_TRUE(log->EnsureStream("append", 3).ok());
  EXPECT_EQ(log->Append("append", "a", 0, "id-1").value_or(0), 1u);
  // Another writer that had not seen entry 1 is refused, and nothing is stored.
  absl::Status stale = log->Append("append", "b", 0, "id-2").status();
  EXPECT_EQ(stale.code(), absl::StatusCode::kFailedPrecondition) << stale;
  EXPECT_EQ(log->Append("append", "b", 1, "id-2").value_or(0), 2u);
  // An append sent again (its acknowledgement lost) is stored once: the first sequence.
  EXPECT_EQ(log->Append("append", "b", 1, "id-2").value_or(0), 2u);

  absl::StatusOr<StreamState> state = log->State("append");
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->first_seq, 1u);
  EXPECT_EQ(state->last_seq, 2u);
  EXPECT_EQ(state->entries, 2u);
  EXPECT_FALSE(state->leader.empty());
  EXPECT_EQ(state->replicas.size(), 2u);  // the two followers

  std::vector<LogEntry> all = ReadAll(*log, "append", 1, 2);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].payload, "a");
  EXPECT_EQ(all[1].payload, "b");
}

TEST_F(ShardLogTest, EnsureStreamIsIdempotentAndChecksReplicas) {
  std::unique_ptr<ShardLog> log = Connect(*nats_);
  ASSERT_TRUE(log->EnsureStream("ensure", 3).ok());
  ASSERT_TRUE(log->EnsureStream("ensure", 3).ok());
  absl::Status other = log->EnsureStream("ensure", 1);
  EXPECT_EQ(other.code(), absl::StatusCode::kAlreadyExists) << other;
  ASSERT_TRUE(log->DeleteStream("ensure").ok());
  EXPECT_EQ(log->State("ensure").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ShardLogTest, ReadsInOrderFromASequenceAndAfterATrim) {
  std::unique_ptr<ShardLog> log = Connect(*nats_);
  ASSERT_TRUE(log->EnsureStream("read", 3).ok());
  for (uint64_t i = 0; i < 10; ++i) {
    const std::string payload = Cat(std::string("entry\0", 6), i);  // binary: a NUL inside
    ASSERT_EQ(log->Append("read", payload, i, Cat("r", i)).value_or(0), i + 1);
  }
  std::vector<LogEntry> tail = ReadAll(*log, "read", 4, 7);
  ASSERT_EQ(tail.size(), 7u);
  for (size_t i = 0; i < tail.size(); ++i) {
    EXPECT_EQ(tail[i].seq, 4 + i);
    EXPECT_EQ(tail[i].payload, Cat(std::string("entry\0", 6), 3 + i));
  }
  absl::StatusOr<std::unique_ptr<LogReader>> reader = log->Read("read", 11);
  ASSERT_TRUE(reader.ok());
  absl::StatusOr<std::optional<LogEntry>> none = (*reader)->Next(200);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());  // nothing past the end yet
  ASSERT_EQ(log->Append("read", "late", 10, "r10").value_or(0), 11u);
  absl::StatusOr<std::optional<LogEntry>> late = (*reader)->Next(10000);
  ASSERT_TRUE(late.ok() && late->has_value());
  EXPECT_EQ((*late)->payload, "late");

  ASSERT_TRUE(log->TrimBefore("read", 6).ok());
  EXPECT_EQ(log->State("read")->first_seq, 6u);
  std::vector<LogEntry> after_trim = ReadAll(*log, "read", 1, 6);
  ASSERT_EQ(after_trim.size(), 6u);
  EXPECT_EQ(after_trim.front().seq, 6u);
}

// Writers that lose the race catch up and try again: every append is stored once, in an order
// each writer saw.
TEST_F(ShardLogTest, ConcurrentWritersNeverOverwriteUnseenEntries) {
  std::unique_ptr<ShardLog> log = Connect(*nats_);
  ASSERT_TRUE(log->EnsureStream("race", 3).ok());
  constexpr int kPerWriter = 40;
  auto writer = [&](int w) {
    std::unique_ptr<ShardLog> own = Connect(*nats_);
    for (int i = 0; i < kPerWriter; ++i) {
      while (true) {
        absl::StatusOr<StreamState> state = own->State("race");
        ASSERT_TRUE(state.ok()) << state.status();
        const uint64_t last = state->last_seq;
        absl::StatusOr<uint64_t> seq = own->Append("race", Cat(w, ":", i), last, Cat(w, "-", i));
        if (seq.ok()) {
          EXPECT_EQ(*seq, last + 1) << "stored after an entry this writer had not seen";
          break;
        }
        ASSERT_EQ(seq.status().code(), absl::StatusCode::kFailedPrecondition) << seq.status();
      }
    }
  };
  std::thread a(writer, 0), b(writer, 1);
  a.join();
  b.join();
  std::vector<LogEntry> all = ReadAll(*log, "race", 1, 2 * kPerWriter);
  ASSERT_EQ(all.size(), 2u * kPerWriter);
  std::set<std::string> seen;
  int next[2] = {0, 0};
  for (const LogEntry& e : all) {
    EXPECT_TRUE(seen.insert(e.payload).second) << "stored twice: " << e.payload;
    const int w = e.payload[0] - '0';
    EXPECT_EQ(e.payload, Cat(w, ":", next[w]++)) << "a writer's entries out of order";
  }
}

TEST_F(ShardLogTest, RefusesBadInputNamingIt) {
  EXPECT_EQ(ShardLog::Connect({}).status().code(), absl::StatusCode::kInvalidArgument);
  std::unique_ptr<ShardLog> log = Connect(*nats_);
  absl::Status dotted = log->EnsureStream("a.b", 3);
  EXPECT_EQ(dotted.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(dotted.message().find("a.b"), std::string::npos) << dotted;
  EXPECT_EQ(log->EnsureStream("ok", 0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log->EnsureStream("ok", 6).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log->Append("ok", "x", 0, "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log->Read("ok", 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log->State("missing").status().code(), absl::StatusCode::kNotFound);
}

// kill -9 of the server that leads a stream: appends wait for the new leader and go on, and
// nothing acknowledged is lost, as long as a quorum of the replicas is up.
TEST(ShardLogFailoverTest, AppendsGoOnWhenTheStreamsLeaderIsKilled) {
  absl::StatusOr<std::unique_ptr<NatsTestCluster>> cluster = NatsTestCluster::Start(3);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  // A new leader takes 4-7 s here, sometimes much longer on a loaded machine.
  absl::StatusOr<std::unique_ptr<ShardLog>> log =
      ShardLog::Connect({.urls = (*cluster)->urls(), .retry_deadline_ms = 60000});
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_TRUE((*log)->EnsureStream("failover", 3).ok());
  uint64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<uint64_t> seq = (*log)->Append("failover", Cat(i), last, Cat("f", i));
    ASSERT_TRUE(seq.ok()) << seq.status();
    last = *seq;
  }
  absl::StatusOr<StreamState> before = (*log)->State("failover");
  ASSERT_TRUE(before.ok()) << before.status();
  const std::string leader = before->leader;
  int killed = -1;
  for (int n = 0; n < 3; ++n) {
    if (NatsTestCluster::Name(n) == leader) killed = n;
  }
  ASSERT_GE(killed, 0) << "leader " << leader;
  (*cluster)->Kill(killed);
  for (int i = 20; i < 40; ++i) {
    absl::StatusOr<uint64_t> seq = (*log)->Append("failover", Cat(i), last, Cat("f", i));
    ASSERT_TRUE(seq.ok()) << "append " << i << " after the kill: " << seq.status();
    ASSERT_EQ(*seq, last + 1);
    last = *seq;
  }
  absl::StatusOr<StreamState> state = (*log)->State("failover");
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_NE(state->leader, leader);
  EXPECT_EQ(state->last_seq, 40u);
  std::vector<LogEntry> all;
  absl::StatusOr<std::unique_ptr<LogReader>> reader = (*log)->Read("failover", 1);
  ASSERT_TRUE(reader.ok()) << reader.status();
  while (all.size() < 40) {
    absl::StatusOr<std::optional<LogEntry>> next = (*reader)->Next(10000);
    ASSERT_TRUE(next.ok() && next->has_value()) << "after " << all.size() << " entries";
    all.push_back(**std::move(next));
  }
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].payload, Cat(i));
}

}  // namespace
}  // namespace proximadb::cluster
