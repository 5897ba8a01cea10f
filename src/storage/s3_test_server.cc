#include "storage/s3_test_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>
#include <utility>
#include <vector>

#include "common/child_process.h"
#include "common/strings.h"
#include "storage/s3_request.h"

namespace proximadb {

absl::StatusOr<std::unique_ptr<S3TestServer>> S3TestServer::Start(Kind kind,
                                                                   const std::string& bucket) {
  std::unique_ptr<S3TestServer> server(new S3TestServer(kind, bucket));
  server->port_ = FreeLoopbackPort();
  if (absl::Status s = server->Launch(); !s.ok()) return s;
  if (absl::Status s = server->WaitReady(); !s.ok()) return s;
  return server;
}

S3TestServer::~S3TestServer() {  // the process stops with process_
  if (held_port_fd_ >= 0) ::close(held_port_fd_);
}

ObjectStoreOptions S3TestServer::Options(const std::string& prefix) const {
  ObjectStoreOptions options;
  options.endpoint = endpoint();
  options.bucket = bucket_;
  options.prefix = prefix;
  options.access_key_id = kAccessKey;
  options.secret_access_key = kSecret;
  return options;
}

std::string S3TestServer::endpoint() const { return Cat("http://127.0.0.1:", port_); }

void S3TestServer::Kill() {
  process_.Kill();
  if (held_port_fd_ < 0) held_port_fd_ = BindLoopbackPort(port_);
  if (held_port_fd_ < 0) {
    std::fprintf(stderr, "S3TestServer: port %d is taken by another process\n", port_);
  }
}

absl::Status S3TestServer::Restart() {
  Kill();
  if (held_port_fd_ >= 0) ::close(std::exchange(held_port_fd_, -1));
  if (absl::Status s = Launch(); !s.ok()) return s;
  return WaitReady();
}

absl::Status S3TestServer::Launch() {
  const std::string servers = TestServersDir();
  const std::string port = std::to_string(port_);
  std::vector<std::string> argv;
  if (kind_ == Kind::kMoto) {
    argv = {servers + "/venv/bin/moto_server", "-H", "127.0.0.1", "-p", port};
  } else {
    // filesystem-nio2 (the older "filesystem" backend lists directories as objects) wants its
    // directory to exist and a jclouds identity, which it does not check.
    const std::string properties = dir_.path() + "/s3proxy.properties";
    const std::string blobs = dir_.path() + "/blobs";
    ::mkdir(blobs.c_str(), 0755);
    std::ofstream(properties) << "s3proxy.endpoint=http://127.0.0.1:" << port << "\n"
                              << "s3proxy.authorization=aws-v2-or-v4\n"
                              << "s3proxy.identity=" << kAccessKey << "\n"
                              << "s3proxy.credential=" << kSecret << "\n"
                              << "jclouds.provider=filesystem-nio2\n"
                              << "jclouds.identity=unused\njclouds.credential=unused\n"
                              << "jclouds.filesystem.basedir=" << blobs << "\n";
    argv = {"java", "-Xmx512m", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-jar", servers + "/s3proxy.jar", "--properties", properties};
  }
  if (::access(argv[0].c_str(), X_OK) != 0 && argv[0] != "java") {
    return absl::FailedPreconditionError(
        Cat(argv[0], " is missing: run scripts/install-test-servers.sh (make test does)"));
  }
  absl::StatusOr<ChildProcess> process =
      ChildProcess::Start(std::move(argv), dir_.path() + "/server.log");
  if (!process.ok()) return process.status();
  process_ = *std::move(process);
  return absl::OkStatus();
}

absl::Status S3TestServer::WaitReady() {
  ObjectStoreOptions options = Options();
  options.max_attempts = 1;
  options.connect_timeout_ms = 1000;
  options.request_timeout_ms = 5000;
  S3Requester s3(options);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (std::chrono::steady_clock::now() < deadline) {
    if (process_.Exited()) {
      return absl::InternalError(Cat(name(), " exited while starting: ", process_.LogTail()));
    }
    // Creating the bucket is the readiness probe: it needs the whole server up.
    absl::StatusOr<S3Response> r = s3.Send({.method = "PUT"}, "create bucket");
    if (r.ok() && (r->status == 200 || r->status == 409)) return absl::OkStatus();
    if (r.ok()) return S3Error(*r, Cat("create bucket on ", name()));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // not listening yet
  }
  return absl::DeadlineExceededError(
      Cat(name(), " did not answer within 90 s: ", process_.LogTail()));
}

}  // namespace proximadb
