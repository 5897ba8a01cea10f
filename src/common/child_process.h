// ChildProcess: a server a test starts (etcd, nats-server, moto...), its output appended to a
// log file, stopped with the object. For tests only (a library of its own, not linked into the
// server).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace proximadb {

class ChildProcess {
 public:
  ChildProcess() = default;
  // Starts argv[0] (searched in PATH) with stdout and stderr appended to `log`. The process is
  // killed if the thread that started it ends first (PR_SET_PDEATHSIG): start it from the
  // thread that owns the test.
  static absl::StatusOr<ChildProcess> Start(std::vector<std::string> argv, std::string log);
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ~ChildProcess() { Stop(); }

  // SIGTERM, then SIGKILL after 5 s; waits for the exit. No-op once stopped.
  void Stop();
  // SIGKILL (a crash); waits for the exit.
  void Kill();
  void Signal(int signal) const;  // say SIGSTOP / SIGCONT
  // Whether the process has exited (reaped here); a stopped object counts as exited.
  bool Exited();
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // The last 2,000 bytes of the log, for error messages.
  std::string LogTail() const;

 private:
  pid_t pid_ = -1;
  std::string log_;
};

// A TCP socket listening on a free loopback port (set in *port); the caller closes it.
int LoopbackListener(int* port);
// A loopback TCP port that was free a moment ago (bound to port 0, then closed).
int FreeLoopbackPort();

// A socket bound to 127.0.0.1:`port` without listening (-1 when the port is taken): holds the
// port of a server a test stopped, so connecting is refused and no free-port pick takes it.
int BindLoopbackPort(int port);

// The directory scripts/install-test-servers.sh fills (<build>/test-servers), or
// $PROXIMADB_TEST_SERVERS_DIR.
std::string TestServersDir();

}  // namespace proximadb
