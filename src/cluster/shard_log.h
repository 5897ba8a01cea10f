// ShardLog: the replicated log of cluster mode's shards, one NATS JetStream stream per shard
// (DESIGN.md §9), over libnats. JetStream replicates each stream with Raft: an append is
// acknowledged once a quorum of the stream's replicas stored it, and every replica serves the
// same sequence of entries, numbered from 1 without gaps.
//
// Appends are conditional: the caller names the last sequence it has seen (0 for an empty
// stream), and the append fails with kFailedPrecondition if another came first. So two writers
// of one shard can never interleave unseen: the loser catches up and tries again. Each append
// also carries an id; JetStream drops a second append with the same id within its duplicate
// window (2 minutes) and answers with the first one's sequence, so an append retried after a
// lost acknowledgement is stored once. Appends are retried here, with the same id, while the
// stream has no leader (an election after a server's crash takes some seconds), until a
// deadline; so are the start of a read and a state query.
//
// Thread-safety: a ShardLog may be used from many threads; a LogReader from one at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace proximadb::cluster {

struct ShardLogOptions {
  std::vector<std::string> urls;  // "nats://host:port" of any of the NATS servers
  int request_timeout_ms = 5000;  // one JetStream API call
  // How long an append, a read's start or a state query keeps trying while no server answers
  // or the stream has no leader (an election takes seconds after a server's crash).
  int retry_deadline_ms = 30000;
};

struct LogEntry {
  uint64_t seq = 0;
  std::string payload;
  uint64_t pending = 0;  // entries after it in the stream when it was delivered
};

struct StreamState {
  uint64_t first_seq = 0;  // 0 when empty
  uint64_t last_seq = 0;
  uint64_t entries = 0;
  uint64_t bytes = 0;
  std::string leader;  // the server that leads the stream's Raft group ("" on a single server)
  struct Replica {
    std::string name;
    bool current = false;  // caught up with the leader
    uint64_t lag = 0;      // entries behind the leader
  };
  std::vector<Replica> replicas;  // the followers
};

class LogReader;

class ShardLog {
 public:
  static absl::StatusOr<std::unique_ptr<ShardLog>> Connect(ShardLogOptions options);
  ~ShardLog();
  ShardLog(const ShardLog&) = delete;
  ShardLog& operator=(const ShardLog&) = delete;

  // Creates the stream `name` (letters, digits, '-' and '_') with `replicas` copies, or
  // checks the existing one has as many.
  absl::Status EnsureStream(std::string_view name, int replicas);
  absl::Status DeleteStream(std::string_view name);

  // Appends `payload` if the stream's last sequence is `expected_last`; returns its sequence.
  absl::StatusOr<uint64_t> Append(std::string_view stream, std::string_view payload,
                                  uint64_t expected_last, std::string_view id);
  // Appends an empty entry after whatever the stream holds, unconditionally. Its sequence is
  // after every append acknowledged before the call (a quorum ordered them): a replica that has
  // applied through it has seen all of them. The barrier of a strong read.
  absl::StatusOr<uint64_t> Mark(std::string_view stream);
  absl::StatusOr<StreamState> State(std::string_view stream);
  // Removes the entries before `seq` (they are in every replica's segments).
  absl::Status TrimBefore(std::string_view stream, uint64_t seq);
  // Reads the stream in order from `from_seq` (1: from the start).
  absl::StatusOr<std::unique_ptr<LogReader>> Read(std::string_view stream, uint64_t from_seq);

 private:
  struct Handles;
  explicit ShardLog(ShardLogOptions options);
  // Append's work; no expectation when `expected_last` is empty.
  absl::StatusOr<uint64_t> Publish(std::string_view stream, std::string_view payload,
                                   std::optional<uint64_t> expected_last, std::string_view id);
  const ShardLogOptions options_;
  std::unique_ptr<Handles> handles_;
};

class LogReader {
 public:
  ~LogReader();
  // The next entry, or nullopt when none arrived within `timeout_ms`.
  absl::StatusOr<std::optional<LogEntry>> Next(int timeout_ms);

 private:
  friend class ShardLog;
  struct Sub;
  explicit LogReader(std::unique_ptr<Sub> sub);
  std::unique_ptr<Sub> sub_;
};

}  // namespace proximadb::cluster
