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

constexpr int kRounds = 24;
constexpr uint64_t kSeed = 7;

class CrashTest : public ::testing::Test {
 protected:
  // Runs the writer from batch `first`, kills it `kill_after_ms` after its first ack, and
  // returns the last batch it acknowledged (first - 1 if none).
  uint64_t RunAndKill(uint64_t first, int kill_after_ms) {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      const std::string first_s = std::to_string(first), seed_s = std::to_string(kSeed);
      ::execl(CRASH_WRITER, CRASH_WRITER, dir_.c_str(), first_s.c_str(), seed_s.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[1]);
    uint64_t last = first - 1;
    std::string line;
    auto deadline = std::chrono::steady_clock::time_point::max();
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    char buf[4096];
    while (std::chrono::steady_clock::now() < std::min(deadline, give_up)) {
      pollfd p{fds[0], POLLIN, 0};
      if (::poll(&p, 1, 1) <= 0) continue;
      const ssize_t n = ::read(fds[0], buf, sizeof(buf));
      if (n <= 0) break;  // the child died on its own
      for (ssize_t i = 0; i < n; ++i) {
        if (buf[i] != '\n') {
          line.push_back(buf[i]);
          continue;
        }
        last = std::stoull(line);
        line.clear();
        if (deadline == std::chrono::steady_clock::time_point::max()) {
          deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kill_after_ms);
        }
      }
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ::close(fds[0]);
    EXPECT_TRUE(WIFSIGNALED(status)) << "the writer exited by itself with status " << status;
    return last;
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

    DatabaseOptions o;
    o.data_dir = dir_;
    o.background_maintenance = false;
    auto db = Database::Open(o);
    ASSERT_TRUE(db.ok()) << "round " << round << ": " << db.status();
    auto coll = (*db)->GetCollection("crash");
    ASSERT_TRUE(coll.ok()) << coll.status();
    std::string why;
    auto state = workload.Read(**coll, &why);
    ASSERT_TRUE(state.has_value()) << why;
    if (*state == workload.StateAfter(acked)) {
      done = acked;
    } else {
      ASSERT_EQ(*state, workload.StateAfter(acked + 1))
          << "round " << round << ": state matches neither " << acked << " nor " << acked + 1
          << " batches";
      done = acked + 1;
    }
  }
}

}  // namespace
}  // namespace proximadb
