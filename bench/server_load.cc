// bench/server_load: proximadb-server under load on loopback, through REST and gRPC.
//
// Starts build/bin/proximadb-server (sync durability) on free ports with a fresh data directory,
// then on one data set:
//   1. ingest in batches of 1,000: gRPC StreamUpsert, gRPC BatchWrite and REST batch, each into
//      its own collection: vectors/s;
//   2. flush the streamed collection (its segment gets the HNSW graph), measure recall@10 of
//      the search (ef 64 unless --ef) against exact search through the API;
//   3. search QPS and p50/p99 latency through gRPC and REST with 1, 4 and 16 clients (closed
//      loops driven by one thread each: epoll for REST, a completion queue for gRPC), each row
//      measured right after a run of the in-process index's 2-thread search on the same vectors
//      (the reference of the server issue's target), over --rounds rounds, with medians;
//   4. the same collection searched in-process through the engine's API, 2 threads, in runs
//      interleaved with the bare index's (at least 3 pairs);
//   5. peak RSS of the server and of this process.
//
//   proximadb-server-load-bench [--dataset clustered|fashion-mnist] [--n N] [--dim D]
//                               [--seconds S] [--clients 1,4,16] [--search-only 1]
//                               [--client-nice N] [--apis grpc,rest,rest8,grpc-sync]
//                               [--rounds R] [--ef EF]
//
// --search-only loads the vectors through gRPC streaming only and skips the other ingest paths (for
// profiling the search phase). --client-nice sets the load client's nice value (not the server's):
// positive, it runs on what the server leaves idle (slower: 58-62% of the index at nice 19);
// negative (root only), its thread is never kept waiting behind the server's, as a client on
// another machine is not, so its own scheduling delays leave the latencies (p99 at 16 clients
// 3.7-4.0 ms at nice -10 against 4.8-5.7 ms at 0). --apis picks the rows of the search table
// (grpc-sync: a thread per client in the synchronous stub, what a simple application does). --ef
// sets the search's ef for the reference index and every served search (the recall printed is at
// it). --rounds repeats the search table (the machine is shared and noisy).
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "common/child_process.h"
#include "index/dataset.h"
#include "index/hnsw.h"
#include "load_clients.h"
#include "proximadb/database.h"
#include "proximadb/v1/proximadb.grpc.pb.h"

namespace {

namespace v1 = ::proximadb::v1;
using proximadb::bench::AppendFloats;
using proximadb::bench::Clock;
using proximadb::bench::CpuSeconds;
using proximadb::FreeLoopbackPort;
using proximadb::bench::HttpClient;
using proximadb::bench::LoadResult;
using proximadb::bench::RunEventLoad;
using proximadb::bench::RunGrpcLoad;
using proximadb::bench::RunLoad;
using proximadb::bench::Seconds;
using proximadb::index::Dataset;

struct Options {
  std::string dataset = "clustered";
  uint32_t n = 100000, dim = 128;
  double seconds = 5;
  std::vector<int> client_counts = {1, 4, 16};
  bool search_only = false;
  int client_nice = 0;
  int rounds = 1;
  std::string apis = "grpc,rest,rest8";
  int ef = 64;

  // Whether --apis names `api`.
  bool Wants(std::string_view api) const {
    for (std::string_view rest = apis; !rest.empty();) {
      const size_t comma = rest.find(',');
      if (rest.substr(0, comma) == api) return true;
      rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
    }
    return false;
  }
};

// The options, or none (after a message) for a bad command line.
std::optional<Options> ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--dataset") o.dataset = argv[i + 1];
    else if (a == "--n") o.n = std::stoul(argv[i + 1]);
    else if (a == "--dim") o.dim = std::stoul(argv[i + 1]);
    else if (a == "--seconds") o.seconds = std::stod(argv[i + 1]);
    else if (a == "--search-only") o.search_only = std::string(argv[i + 1]) != "0";
    else if (a == "--client-nice") o.client_nice = std::stoi(argv[i + 1]);
    else if (a == "--apis") o.apis = argv[i + 1];
    else if (a == "--rounds") o.rounds = std::stoi(argv[i + 1]);
    else if (a == "--ef") o.ef = std::stoi(argv[i + 1]);
    else if (a == "--clients") {
      o.client_counts.clear();
      for (const char* p = argv[i + 1]; *p != 0;) {
        char* end;
        o.client_counts.push_back(static_cast<int>(std::strtol(p, &end, 10)));
        p = *end == ',' ? end + 1 : end;
      }
    }
    else {
      std::fprintf(stderr, "unknown argument %s\n", argv[i]);
      return std::nullopt;
    }
  }
  if (o.ef < 1 || o.ef > 100000) {  // the range the REST API accepts
    std::fprintf(stderr, "--ef must be within 1..100000\n");
    return std::nullopt;
  }
  return o;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2]
                                      : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// The server's side of the run: its process, ports, data directory, and clients of it.
struct Served {
  pid_t pid;
  int rest_port, grpc_port;
  std::string dir;
  std::unique_ptr<HttpClient> admin;  // REST, for set-up calls
  std::unique_ptr<v1::ProximaDB::Stub> stub;
};

// 1. Ingest in batches of 1,000 through the gRPC stream, gRPC BatchWrite and REST, each into a
// collection of its own ("streamed" is the one searched later).
void Ingest(const Options& o, const Dataset& d, HttpClient& admin, v1::ProximaDB::Stub& stub) {
  const uint32_t rows = d.base_rows();
  for (const char* name : {"streamed", "batched", "rest"}) {
    admin.Request("POST", "/api/v1/collections",
                  nlohmann::json{{"name", name}, {"dimension", d.dim}, {"distance_metric", "l2"}}
                      .dump());
  }
  auto make_batch = [&](const char* collection, uint32_t b) {
    v1::BatchWriteRequest batch;
    batch.set_collection(collection);
    batch.set_upsert(true);
    for (uint32_t r = b; r < std::min(b + 1000, rows); ++r) {
      v1::VectorInput* in = batch.add_vectors();
      in->set_id(std::to_string(r));
      in->mutable_vector()->Add(d.base.data() + size_t{r} * d.dim,
                                d.base.data() + size_t{r + 1} * d.dim);
    }
    return batch;
  };
  auto t0 = Clock::now();
  {
    grpc::ClientContext ctx;
    v1::StreamUpsertResponse resp;
    auto writer = stub.StreamUpsert(&ctx, &resp);
    for (uint32_t b = 0; b < rows; b += 1000) writer->Write(make_batch("streamed", b));
    writer->WritesDone();
    if (!writer->Finish().ok()) std::fprintf(stderr, "stream failed\n");
  }
  const double stream_s = Seconds(Clock::now() - t0);
  t0 = Clock::now();
  for (uint32_t b = 0; !o.search_only && b < rows; b += 1000) {
    grpc::ClientContext ctx;
    v1::BatchWriteResponse resp;
    if (!stub.BatchWrite(&ctx, make_batch("batched", b), &resp).ok()) {
      std::fprintf(stderr, "batch failed\n");
    }
  }
  const double batch_s = Seconds(Clock::now() - t0);
  std::vector<std::string> rest_bodies;
  for (uint32_t b = 0; !o.search_only && b < rows; b += 1000) {
    std::string body = "{\"upsert\":true,\"vectors\":[";
    for (uint32_t r = b; r < std::min(b + 1000, rows); ++r) {
      if (r != b) body.push_back(',');
      body += "{\"id\":\"" + std::to_string(r) + "\",\"vector\":";
      AppendFloats(&body, d.base.data() + size_t{r} * d.dim, d.dim);
      body.push_back('}');
    }
    body += "]}";
    rest_bodies.push_back(std::move(body));
  }
  t0 = Clock::now();
  for (const std::string& body : rest_bodies) {
    if (admin.Request("POST", "/api/v1/collections/rest/vectors/batch", body).first != 200) {
      std::fprintf(stderr, "REST batch failed\n");
    }
  }
  const double rest_s = Seconds(Clock::now() - t0);
  if (o.search_only) {
    std::printf("ingest vectors/s: gRPC stream %.0f\n", rows / stream_s);
  } else {
    std::printf("ingest vectors/s: gRPC stream %.0f, gRPC batch %.0f, REST batch %.0f\n",
                rows / stream_s, rows / batch_s, rows / rest_s);
  }
  // The other two collections served their purpose; dropped, their memtables stop keeping the
  // background indexer busy during the search load.
  admin.Request("DELETE", "/api/v1/collections/batched", "");
  admin.Request("DELETE", "/api/v1/collections/rest", "");
}

// The queries, ready to send: gRPC messages, single REST searches and REST batches of kBatch.
struct Queries {
  static constexpr uint32_t kBatch = 8;
  std::vector<v1::SearchRequest> grpc;
  std::vector<std::string> rest, rest_batches;  // whole HTTP/1.1 requests
};

Queries MakeQueries(const Options& o, const Dataset& d) {
  const uint32_t nq = std::min<uint32_t>(d.query_rows(), 1000);
  Queries out;
  out.grpc.resize(nq);
  std::vector<std::string> bodies;
  for (uint32_t q = 0; q < nq; ++q) {
    v1::SearchRequest& req = out.grpc[q];
    req.set_collection("streamed");
    req.mutable_vector()->Add(d.queries.data() + size_t{q} * d.dim,
                              d.queries.data() + size_t{q + 1} * d.dim);
    req.set_k(10);
    req.set_include_metadata(false);
    req.set_ef(o.ef);
    std::string body = "{\"k\":10,\"include_metadata\":false,\"ef\":" + std::to_string(o.ef) +
                       ",\"vector\":";
    AppendFloats(&body, d.queries.data() + size_t{q} * d.dim, d.dim);
    body.push_back('}');
    bodies.push_back(std::move(body));
  }
  auto http_post = [](const std::string& path, const std::string& body) {
    return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  for (const std::string& body : bodies) {
    out.rest.push_back(http_post("/api/v1/collections/streamed/search", body));
  }
  // Batch search, kBatch queries per request: what a client that has several queries at hand
  // gets, with the per-request cost (loopback TCP, HTTP) shared by the batch.
  for (uint32_t q = 0; q + Queries::kBatch <= nq; q += Queries::kBatch) {
    std::string body = "{\"queries\":[";
    for (uint32_t i = q; i < q + Queries::kBatch; ++i) body += (i == q ? "" : ",") + bodies[i];
    out.rest_batches.push_back(
        http_post("/api/v1/collections/streamed/search/batch", body + "]}"));
  }
  return out;
}

// One gRPC search of query `q` (exact or not) through `s`; the first failure is reported.
bool GrpcSearch(v1::ProximaDB::Stub* s, const Queries& queries, uint32_t q, bool exact,
                v1::SearchResponse* out) {
  grpc::ClientContext ctx;
  v1::SearchRequest req = queries.grpc[q];
  req.set_exact(exact);
  const grpc::Status status = s->Search(&ctx, req, out);
  static std::atomic<bool> reported{false};
  if (!status.ok() && !reported.exchange(true)) {
    std::fprintf(stderr, "gRPC search failed (first failure reported): %d %s\n",
                 static_cast<int>(status.error_code()), status.error_message().c_str());
  }
  return status.ok();
}

// 2. Recall@10 of the served search at --ef against exact search through the API.
void PrintRecall(const Options& o, const Queries& queries, v1::ProximaDB::Stub& stub) {
  const uint32_t nq = static_cast<uint32_t>(queries.grpc.size());
  double found = 0;
  for (uint32_t q = 0; q < nq; ++q) {
    v1::SearchResponse exact, graph;
    GrpcSearch(&stub, queries, q, true, &exact);
    GrpcSearch(&stub, queries, q, false, &graph);
    std::set<std::string> want;
    for (const auto& h : exact.results()) want.insert(h.id());
    for (const auto& h : graph.results()) found += want.count(h.id());
  }
  std::printf("recall@10 of the search (ef %d) against exact, %u queries: %.4f\n", o.ef, nq,
              found / (10.0 * nq));
}

// The reference: the bare in-process index on the same vectors, searched by 2 threads for
// --seconds. Built before the load, so that each row can be measured next to a run of it: the
// machine is shared and its speed drifts, so a row is compared with the reference run just
// before it, and --rounds repeats the table to take medians.
class Reference {
 public:
  Reference(const Options& o, const Dataset& d)
      : o_(o), d_(d), graph_(d.base.data(), d.dim, proximadb::DistanceMetric::kL2, d.base_rows(),
                             {}) {
    std::atomic<uint32_t> next{0};
    auto insert = [&] {
      for (uint32_t r; (r = next.fetch_add(1)) < d.base_rows();) graph_.Insert(r);
    };
    std::thread helper(insert);
    insert();
    helper.join();
  }

  LoadResult Run(uint32_t nq) const {
    return RunLoad(2, o_.seconds, [&](int t) {
      return [&, t](uint64_t i) {
        const uint32_t q = static_cast<uint32_t>((i * 2 + t) % nq);
        return !graph_.Search(d_.queries.data() + size_t{q} * d_.dim, 10, o_.ef).empty();
      };
    });
  }

 private:
  const Options& o_;
  const Dataset& d_;
  proximadb::index::Hnsw graph_;
};

// 3. The search table: QPS and latencies per API and client count, each row next to a run of
// the reference. The load client shares the machine's cores with the server, so besides QPS
// the table gives the server's own CPU time per query (from /proc): queries per server
// core-second, and the load client's CPU time per query. REST-8 rows send batch searches of 8
// queries (qps counts queries, latencies are per request). "vs index" is the row's QPS over the
// in-process index's 2-thread QPS measured just before it; "per core" compares queries per
// server CPU-second with the index's queries per CPU-second (the client's share of the cores
// left out). Returns the reference's runs.
std::vector<double> SearchTable(const Options& o, const Served& s, const Queries& queries,
                                const Reference& reference) {
  const uint32_t nq = static_cast<uint32_t>(queries.grpc.size());
  std::printf("%-6s %8s %10s %9s %9s %7s %16s %15s %9s %9s\n", "api", "clients", "qps", "p50_us",
              "p99_us", "errors", "qps/server-core", "client-cpu-us", "vs index", "per core");
  // Ratios per row name over the rounds, for the medians at the end.
  std::map<std::string, std::vector<std::pair<double, double>>> ratios;
  std::vector<double> reference_qps;
  // One row: `load` runs the clients; `per_call` queries per call (batch rows).
  auto row = [&](const char* api, int clients, uint32_t per_call, auto&& load) {
    const LoadResult ref = reference.Run(nq);
    reference_qps.push_back(ref.qps);
    const double cpu0 = CpuSeconds(s.pid), self0 = CpuSeconds(getpid());
    const LoadResult r = load();
    const double cpu = CpuSeconds(s.pid) - cpu0, self = CpuSeconds(getpid()) - self0;
    const double n = static_cast<double>(r.calls) * per_call;
    const double qps = r.qps * per_call, per_core = n / cpu;
    std::printf("%-6s %8d %10.0f %9.0f %9.0f %7llu %16.0f %15.1f %8.0f%% %8.0f%%\n", api,
                clients, qps, r.p50_us, r.p99_us, static_cast<unsigned long long>(r.errors),
                per_core, self * 1e6 / n, 100 * qps / ref.qps, 100 * per_core / (ref.qps / 2));
    std::fflush(stdout);
    ratios[std::string(api) + " " + std::to_string(clients)].push_back(
        {qps / ref.qps, per_core / (ref.qps / 2)});
  };
  auto sync_grpc = [&](int clients) {
    return RunLoad(clients, o.seconds, [&](int t) {
      auto stub = v1::ProximaDB::NewStub(grpc::CreateCustomChannel(
          "127.0.0.1:" + std::to_string(s.grpc_port), grpc::InsecureChannelCredentials(), [t] {
            grpc::ChannelArguments args;
            args.SetInt("proximadb.client", t);  // a connection per client
            return args;
          }()));
      return [&, stub = std::shared_ptr<v1::ProximaDB::Stub>(std::move(stub)), t](uint64_t i) {
        v1::SearchResponse r;
        return GrpcSearch(stub.get(), queries, static_cast<uint32_t>((i * 16 + t) % nq), false,
                          &r);
      };
    });
  };
  for (int round = 0; round < o.rounds; ++round) {
    for (int clients : o.client_counts) {
      if (o.Wants("grpc")) {
        row("gRPC", clients, 1,
            [&] { return RunGrpcLoad(s.grpc_port, clients, o.seconds, queries.grpc); });
      }
      if (o.Wants("grpc-sync")) row("gRPC-s", clients, 1, [&] { return sync_grpc(clients); });
      if (o.Wants("rest")) {
        row("REST", clients, 1,
            [&] { return RunEventLoad(s.rest_port, clients, o.seconds, queries.rest); });
      }
      if (o.Wants("rest8")) {
        row("REST-8", clients, Queries::kBatch,
            [&] { return RunEventLoad(s.rest_port, clients, o.seconds, queries.rest_batches); });
      }
    }
  }
  std::printf("in-process index, 2 threads, ef %d: median %.0f QPS over %zu runs\n", o.ef,
              Median(reference_qps), reference_qps.size());
  if (o.rounds > 1) {
    std::printf("medians over %d rounds, against the index run before each row:\n", o.rounds);
    for (const auto& [name, values] : ratios) {
      std::vector<double> vs, core;
      for (const auto& [a, b] : values) {
        vs.push_back(a);
        core.push_back(b);
      }
      std::printf("  %-10s vs index %.0f%% (%.0f-%.0f%%), per server core %.0f%%\n",
                  name.c_str(), 100 * Median(vs), 100 * *std::min_element(vs.begin(), vs.end()),
                  100 * *std::max_element(vs.begin(), vs.end()), 100 * Median(core));
    }
  }
  return reference_qps;
}

// 4. The same collection searched in this process through the engine's API (the server's data
// directory, reopened once the server is gone), 2 threads, interleaved with runs of the bare
// index as the rows above are: what the server adds beyond the engine, and what the engine
// adds beyond the bare index.
bool CompareEngine(const Options& o, const Dataset& d, const std::string& dir, uint32_t nq,
                   const Reference& reference) {
  auto db = proximadb::Database::Open({.data_dir = dir});
  auto collection = db.ok() ? (*db)->GetCollection("streamed")
                            : absl::StatusOr<std::shared_ptr<proximadb::Collection>>(db.status());
  if (!collection.ok()) {
    std::fprintf(stderr, "reopening the server's data: %s\n",
                 collection.status().ToString().c_str());
    return false;
  }
  std::vector<double> engine_qps, index_qps;
  for (int round = 0; round < std::max(o.rounds, 3); ++round) {
    index_qps.push_back(reference.Run(nq).qps);
    engine_qps.push_back(RunLoad(2, o.seconds, [&](int t) {
                           return [&, t](uint64_t i) {
                             const uint32_t q = static_cast<uint32_t>((i * 2 + t) % nq);
                             proximadb::SearchRequest req;
                             req.vector = std::span<const float>(
                                 d.queries.data() + size_t{q} * d.dim, d.dim);
                             req.k = 10;
                             req.ef = o.ef;
                             req.include_metadata = false;
                             auto r = (*collection)->Search(req);
                             return r.ok() && !r->hits.empty();
                           };
                         }).qps);
  }
  std::printf("in-process collection, 2 threads, ef %d: median %.0f QPS against the index's %.0f "
              "in %zu interleaved runs each (collection/index:",
              o.ef, Median(engine_qps), Median(index_qps), engine_qps.size());
  for (size_t i = 0; i < engine_qps.size(); ++i) {
    std::printf(" %.0f/%.0f", engine_qps[i], index_qps[i]);
  }
  std::printf(")\n");
  return true;
}

// Starts the server next to this program on free ports with a fresh data directory; waits
// until it is ready.
Served StartServer(const Options& o, const char* argv0) {
  Served s;
  const std::string server = std::filesystem::path(argv0).parent_path() / "proximadb-server";
  s.dir = (std::filesystem::temp_directory_path() /
           ("proximadb-load-" + std::to_string(getpid()))).string();
  s.rest_port = FreeLoopbackPort();
  s.grpc_port = FreeLoopbackPort();
  s.pid = fork();
  if (s.pid == 0) {
    const std::string rp = std::to_string(s.rest_port), gp = std::to_string(s.grpc_port);
    execl(server.c_str(), server.c_str(), "--data-dir", s.dir.c_str(), "--rest-port", rp.c_str(),
          "--grpc-port", gp.c_str(), "--log-level", "warn", static_cast<char*>(nullptr));
    _exit(127);
  }
  // After the fork: the server keeps its priority, this thread and those it starts take the
  // lower one.
  if (o.client_nice != 0) setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), o.client_nice);
  s.admin = std::make_unique<HttpClient>(s.rest_port);
  for (int i = 0; i < 500 && s.admin->Request("GET", "/ready", "").first != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling its readiness
  }
  s.stub = v1::ProximaDB::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(s.grpc_port), grpc::InsecureChannelCredentials()));
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<Options> options = ParseOptions(argc, argv);
  if (!options) return 2;
  const Options& o = *options;
  Dataset d;
  if (o.dataset == "fashion-mnist") {
    auto loaded = proximadb::index::LoadFashionMnist();
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str());
      return 1;
    }
    d = *std::move(loaded);
  } else {
    d = proximadb::index::MakeClustered(o.n, 1000, o.dim, 100, 42);
  }
  Served s = StartServer(o, argv[0]);
  std::printf("proximadb-server on loopback, %s: %u x %u, sync durability, batches of 1000\n",
              d.name.c_str(), d.base_rows(), d.dim);
  Ingest(o, d, *s.admin, *s.stub);

  const auto t0 = Clock::now();
  s.admin->Request("POST", "/api/v1/collections/streamed/flush", "");
  std::printf("flush with graph build: %.1f s\n", Seconds(Clock::now() - t0));
  const Queries queries = MakeQueries(o, d);
  PrintRecall(o, queries, *s.stub);
  const Reference reference(o, d);
  SearchTable(o, s, queries, reference);

  kill(s.pid, SIGTERM);
  rusage server_usage{};
  wait4(s.pid, nullptr, 0, &server_usage);
  std::printf("server peak RSS (ingest of all collections, flush, search load): %.0f MB\n",
              server_usage.ru_maxrss / 1024.0);
  if (!CompareEngine(o, d, s.dir, static_cast<uint32_t>(queries.grpc.size()), reference)) {
    return 1;
  }
  rusage self_usage{};
  getrusage(RUSAGE_SELF, &self_usage);
  std::printf("load client peak RSS (data set, reference index, collection reopened): %.0f MB\n",
              self_usage.ru_maxrss / 1024.0);
  std::filesystem::remove_all(s.dir);
  return 0;
}
