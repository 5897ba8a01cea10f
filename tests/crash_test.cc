// Crash: a child process writes batches and reports each acknowledgement over a pipe; the
// parent kills it with SIGKILL at a random moment, reopens the data directory and checks that
// every acknowledged batch is there, and that the one in flight is there entirely or not at all.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <string>

#include "common/scoped_temp_dir.h"
#include "gtest/gtest.h"
#include "proximadb/database.h"
#include "workload.h"

namespace proximadb {
namespace {

// 24 in `make test`; `make soak` sets PROXIMADB_CRASH_ROUNDS=1000.
const int kRounds = [] {
  const char* rounds = std::getenv("PROXIMADB_CRASH_ROUNDS");
  return rounds != nullptr ? std::atoi(rounds) : 24;
}();
using Clock = std::chrono::steady_clock;
constexpr uint64_t kSeed = 7;

class CrashTest : public ::testing::Test {
 protected:
  // Runs the writer from batch `first`, kills it `kill_after_ms` after its first ack, and
  // returns the last batch it acknowledged (first - 1 if none). Every acknowledgement the
  // writer sent before it died is read, also those still in the pipe at the kill.
  //
  // `migrating`: the writer also migrates (crash_writer's "migrate"), and the kill comes
  // kill_after_ms after it reports a layout change rather than after the first ack.
  uint64_t RunAndKill(uint64_t first, int kill_after_ms, bool migrating = false) {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      const std::string first_s = std::to_string(first), seed_s = std::to_string(kSeed);
      ::execl(CRASH_WRITER, CRASH_WRITER, dir_.c_str(), first_s.c_str(), seed_s.c_str(),
              migrating ? "migrate" : static_cast<char*>(nullptr), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[1]);
    uint64_t last = first - 1;
    bool changed_layout = false;
    std::string line;
    auto consume = [&](const char* bytes, ssize_t n) {
      for (ssize_t i = 0; i < n; ++i) {
        if (bytes[i] != '\n') {
          line.push_back(bytes[i]);
          continue;
        }
        if (line == "m") {
          changed_layout = true;
        } else {
          last = std::stoull(line);
        }
        line.clear();
      }
    };
    // Wait for the first acknowledgement (or the writer's death), then let it run a while.
    char buf[4096];
    bool alive = true;
    auto wait_for = [&](auto done) {
      for (const auto give_up = Clock::now() + std::chrono::seconds(30);
           alive && !done() && Clock::now() < give_up;) {
        pollfd p{fds[0], POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        const ssize_t n = ::read(fds[0], buf, sizeof(buf));
        alive = n > 0;
        consume(buf, n);
      }
    };
    // Migrating, ten batches first: the writer flushes every fifth, so there are segments to
    // migrate.
    wait_for([&] { return last >= first + (migrating ? 10 : 0); });
    if (migrating) {  // a layout change accepted after that ack: its migration is starting
      changed_layout = false;
      wait_for([&] { return changed_layout; });
    }
    for (const auto deadline = Clock::now() + std::chrono::milliseconds(kill_after_ms);
         alive && Clock::now() < deadline;) {
      pollfd p{fds[0], POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (::poll(&p, 1, std::max<int>(1, static_cast<int>(left.count()))) <= 0) continue;
      const ssize_t n = ::read(fds[0], buf, sizeof(buf));
      alive = n > 0;
      consume(buf, n);
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    // The writer is gone; what it wrote before dying is still in the pipe, up to EOF.
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof(buf))) > 0;) consume(buf, n);
    ::close(fds[0]);
    EXPECT_TRUE(WIFSIGNALED(status)) << "the writer exited by itself with status " << status;
    EXPECT_TRUE(line.empty()) << "a partial acknowledgement line: " << line;
    return last;
  }

  // Reopens the directory after a kill that came after ack `acked`, and checks that it holds
  // the acknowledged batches and at most the one in flight, through every read path. Returns
  // the database (null after a failure) and, in *done, the batches it holds.
  std::unique_ptr<Database> ReopenAndCheck(const testing::Workload& workload, uint64_t acked,
                                           int round, uint64_t* done) {
    DatabaseOptions o;
    o.data_dir = dir_;
    o.background_maintenance = false;
    auto db = Database::Open(o);
    if (!db.ok()) {
      ADD_FAILURE() << "round " << round << ": " << db.status();
      return nullptr;
    }
    auto coll = (*db)->GetCollection("crash");
    if (!coll.ok()) {
      ADD_FAILURE() << coll.status();
      return nullptr;
    }
    std::string why;
    const std::optional<uint64_t> beyond = workload.BatchesBeyond(**coll, acked, &why);
    if (!beyond) {
      ADD_FAILURE() << "round " << round << ": " << why;
      return nullptr;
    }
    *done = acked + *beyond;
    const std::string diff =
        testing::CheckCollection(**coll, workload.After(*done), DistanceMetric::kCosine);
    if (!diff.empty()) {
      ADD_FAILURE() << "round " << round << " after " << *done << " batches: " << diff;
      return nullptr;
    }
    return *std::move(db);
  }

  ScopedTempDir tmp_;
  const std::string dir_ = tmp_.path();
};

TEST_F(CrashTest, AcknowledgedWritesSurviveSigkill) {
  testing::Workload workload("k", kSeed, 500, 8);
  std::mt19937 rng(12345);
  uint64_t done = 0;
  for (int round = 0; round < kRounds; ++round) {
    const uint64_t acked = RunAndKill(done + 1, 10 + static_cast<int>(rng() % 150));
    ASSERT_GT(acked, done) << "round " << round << ": the writer acknowledged nothing";
    ASSERT_NE(ReopenAndCheck(workload, acked, round, &done), nullptr);
  }
}

// Kills during live migrations: the writer changes the layout round and round and
// migrates while it writes. Each reopen must hold every acknowledged batch, through every read
// path, whatever the segments' layouts; a migration the kill interrupted (old segments still in
// the manifest: state "pending" at the reopen) must resume and finish. Runs until ten rounds
// have reopened with an interrupted migration (at most 40 rounds).
TEST_F(CrashTest, MigrationSurvivesSigkill) {
  testing::Workload workload("k", kSeed, 500, 8);
  std::mt19937 rng(777);
  uint64_t done = 0;
  int interrupted = 0, round = 0;
  for (; interrupted < 10 && round < 40; ++round) {
    const uint64_t acked = RunAndKill(done + 1, static_cast<int>(rng() % 2), /*migrating=*/true);
    ASSERT_GT(acked, done) << "round " << round << ": the writer acknowledged nothing";
    std::unique_ptr<Database> db = ReopenAndCheck(workload, acked, round, &done);
    ASSERT_NE(db, nullptr);
    auto coll = *db->GetCollection("crash");
    const testing::Records want = workload.After(done);
    if (coll->Stats().migration_state == "pending") {
      ++interrupted;
      ASSERT_TRUE(coll->Migrate().ok()) << "round " << round;
      const CollectionStats st = coll->Stats();
      EXPECT_EQ(st.migration_state, "none");
      EXPECT_EQ(st.migration_segments_done, st.migration_segments_total);
      ASSERT_EQ(testing::CheckCollection(*coll, want, DistanceMetric::kCosine), "")
          << "round " << round << " after the resumed migration";
    }
  }
  std::printf("%d rounds, %d reopened with a migration to resume\n", round, interrupted);
  EXPECT_GE(interrupted, 10);
}

}  // namespace
}  // namespace proximadb
