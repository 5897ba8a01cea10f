#include "storage/s3_test_server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "common/strings.h"
#include "storage/fault_proxy.h"
#include "storage/s3_request.h"

namespace proximadb {

namespace {

int FreePort() {
  int port = 0;
  ::close(LoopbackListener(&port));
  return port;
}

std::string Tail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string all = ss.str();
  return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
}

}  // namespace

std::string TestServersDir() {
  if (const char* dir = std::getenv("PROXIMADB_TEST_SERVERS_DIR")) return dir;
  return PROXIMADB_TEST_SERVERS_DIR;
}

absl::StatusOr<std::unique_ptr<S3TestServer>> S3TestServer::Start(Kind kind,
                                                                   const std::string& bucket) {
  std::unique_ptr<S3TestServer> server(new S3TestServer(kind, bucket));
  server->port_ = FreePort();
  if (absl::Status s = server->Launch(); !s.ok()) return s;
  if (absl::Status s = server->WaitReady(); !s.ok()) return s;
  return server;
}

S3TestServer::~S3TestServer() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 100; ++i) {  // up to 5 s for a clean exit, then SIGKILL
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Kill();
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
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

absl::Status S3TestServer::Restart() {
  Kill();
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
  const std::string log = dir_.path() + "/server.log";
  pid_ = ::fork();
  if (pid_ == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    _exit(127);
  }
  return pid_ > 0 ? absl::OkStatus() : absl::InternalError("fork failed");
}

absl::Status S3TestServer::WaitReady() {
  ObjectStoreOptions options = Options();
  options.max_attempts = 1;
  options.connect_timeout_ms = 1000;
  options.request_timeout_ms = 5000;
  S3Requester s3(options);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::InternalError(Cat(name(), " exited while starting: ",
                                     Tail(dir_.path() + "/server.log")));
    }
    // Creating the bucket is the readiness probe: it needs the whole server up.
    absl::StatusOr<S3Response> r = s3.Send({.method = "PUT"}, "create bucket");
    if (r.ok() && (r->status == 200 || r->status == 409)) return absl::OkStatus();
    if (r.ok()) return S3Error(*r, Cat("create bucket on ", name()));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // not listening yet
  }
  return absl::DeadlineExceededError(Cat(name(), " did not answer within 90 s: ",
                                         Tail(dir_.path() + "/server.log")));
}

}  // namespace proximadb
