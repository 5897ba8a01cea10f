// S3TestServer: a real S3 implementation started on a free loopback port for a test, and
// stopped (SIGTERM, then SIGKILL) with the object. Two kinds, both installed by
// scripts/install-test-servers.sh under <build>/test-servers:
//   - kMoto:     moto_server (PyPI moto[server]): in memory, accepts any signature;
//   - kS3Proxy:  s3proxy (Maven Central) on a filesystem backend: checks SigV4 signatures.
// For tests only (a library of its own, not linked into the server).
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/child_process.h"
#include "common/scoped_temp_dir.h"
#include "storage/object_store.h"

namespace proximadb {

class S3TestServer {
 public:
  enum class Kind { kMoto, kS3Proxy };
  static constexpr char kAccessKey[] = "proximadb-test";
  static constexpr char kSecret[] = "proximadb-test-secret";

  // Starts the server, waits until it answers, and creates `bucket`.
  static absl::StatusOr<std::unique_ptr<S3TestServer>> Start(Kind kind,
                                                             const std::string& bucket);
  ~S3TestServer();
  S3TestServer(const S3TestServer&) = delete;
  S3TestServer& operator=(const S3TestServer&) = delete;

  // Options that reach this server's bucket with the right credentials.
  ObjectStoreOptions Options(const std::string& prefix = "") const;
  std::string endpoint() const;
  int port() const { return port_; }
  const char* name() const { return kind_ == Kind::kMoto ? "moto" : "s3proxy"; }

  // Stops the process (SIGKILL) and starts it again on the same port; s3proxy keeps its
  // files, moto starts empty. For tests of an unreachable store. While the server is down its
  // port stays bound (not listening), so connections are refused and no other test's server
  // can take the port in between.
  void Kill();
  absl::Status Restart();

 private:
  S3TestServer(Kind kind, std::string bucket) : kind_(kind), bucket_(std::move(bucket)) {}
  absl::Status Launch();
  absl::Status WaitReady();

  const Kind kind_;
  const std::string bucket_;
  ScopedTempDir dir_;
  int port_ = 0;
  int held_port_fd_ = -1;  // binds port_ between Kill and Restart
  ChildProcess process_;
};

}  // namespace proximadb
