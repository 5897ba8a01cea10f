// REST and gRPC parity: the real proximadb-server on free loopback ports, driven through both
// APIs. The same operations must give the same results and the same error codes.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "common/child_process.h"
#include "common/scoped_temp_dir.h"
#include "gtest/gtest.h"
#include "proximadb/v1/proximadb.grpc.pb.h"

namespace proximadb {
namespace {

namespace v1 = ::proximadb::v1;
using json = nlohmann::json;

// One HTTP/1.1 request with Connection: close; (status, body).
std::pair<int, std::string> Http(int port, const std::string& method, const std::string& path,
                                 const std::string& body = "") {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return {0, ""};
  }
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
                    "Content-Type: application/json\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
  for (size_t sent = 0; sent < req.size();) {
    ssize_t n = write(fd, req.data() + sent, req.size() - sent);
    if (n <= 0) break;
    sent += n;
  }
  std::string resp;
  char buf[65536];
  for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) resp.append(buf, n);
  close(fd);
  const size_t sp = resp.find(' ');
  const size_t header_end = resp.find("\r\n\r\n");
  if (sp == std::string::npos || header_end == std::string::npos) return {0, resp};
  return {std::stoi(resp.substr(sp + 1, 3)), resp.substr(header_end + 4)};
}

class ParityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ScopedTempDir();
    rest_ = FreeLoopbackPort();
    grpc_ = FreeLoopbackPort();
    pid_ = fork();
    if (pid_ == 0) {
      const std::string rest = std::to_string(rest_), grpc = std::to_string(grpc_);
      execl(PROXIMADB_SERVER, PROXIMADB_SERVER, "--data-dir", dir_->path().c_str(),
            "--rest-port", rest.c_str(), "--grpc-port", grpc.c_str(), "--log-level", "warn",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    // The server starts REST, then gRPC, then recovers its data: ready over REST means both
    // listen, but wait for the gRPC channel too rather than count on that order.
    for (int i = 0; i < 600 && Http(rest_, "GET", "/ready").first != 200; ++i) {
      ASSERT_EQ(waitpid(pid_, nullptr, WNOHANG), 0) << "the server exited";
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_),
                                       grpc::InsecureChannelCredentials());
    ASSERT_TRUE(channel->WaitForConnected(std::chrono::system_clock::now() +
                                          std::chrono::seconds(30)))
        << "gRPC does not accept connections";
    stub_ = v1::ProximaDB::NewStub(channel).release();
  }
  static void TearDownTestSuite() {
    delete stub_;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;  // graceful stop
    delete dir_;
  }

  static std::pair<int, json> Rest(const std::string& method, const std::string& path,
                                   const json& body = nullptr) {
    auto [status, text] = Http(rest_, method, path, body.is_null() ? "" : body.dump());
    return {status, json::parse(text, nullptr, false)};
  }
  // The error code of a failed gRPC call (from the trailing metadata).
  static std::string CodeOf(const grpc::ClientContext& ctx) {
    auto it = ctx.GetServerTrailingMetadata().find("proximadb-error-code");
    return it == ctx.GetServerTrailingMetadata().end() ? ""
                                                       : std::string(it->second.data(),
                                                                     it->second.size());
  }
  static google::protobuf::Struct ToStruct(const json& j) {
    google::protobuf::Struct s;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(j.dump(), &s).ok());
    return s;
  }

  static inline ScopedTempDir* dir_;
  static inline int rest_ = 0, grpc_ = 0;
  static inline pid_t pid_ = 0;
  static inline v1::ProximaDB::Stub* stub_ = nullptr;
};

TEST_F(ParityTest, CollectionsAreTheSameThroughBothApis) {
  grpc::ClientContext ctx;
  v1::CreateCollectionRequest req;
  req.set_name("pc");
  req.set_dimension(4);
  req.set_distance_metric("l2");
  req.set_ef_search(40);
  v1::Collection created;
  ASSERT_TRUE(stub_->CreateCollection(&ctx, req, &created).ok());
  auto [status, rest] = Rest("GET", "/api/v1/collections/pc");
  ASSERT_EQ(status, 200);
  EXPECT_EQ(rest["dimension"], created.dimension());
  EXPECT_EQ(rest["distance_metric"], created.distance_metric());
  EXPECT_EQ(rest["ef_search"], 40);
  EXPECT_EQ(rest["m"], created.m());
  EXPECT_EQ(rest["created_at_us"], created.created_at_us());
  EXPECT_EQ(rest["max_vector_count"], created.max_vector_count());

  grpc::ClientContext update_ctx;
  v1::UpdateCollectionRequest update;
  update.set_name("pc");
  update.set_flush_priority(77);
  v1::Collection updated;
  ASSERT_TRUE(stub_->UpdateCollection(&update_ctx, update, &updated).ok());
  EXPECT_EQ(Rest("GET", "/api/v1/collections/pc").second["flush_priority"], 77);

  grpc::ClientContext dup_ctx;
  v1::Collection dup;
  grpc::Status s = stub_->CreateCollection(&dup_ctx, req, &dup);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(CodeOf(dup_ctx), "ALREADY_EXISTS");
  EXPECT_EQ(Rest("POST", "/api/v1/collections", {{"name", "pc"}, {"dimension", 4}})
                .second["error"]["code"],
            "ALREADY_EXISTS");
}

// The layout fields (strategy, index, quantization, nprobe, compression) and a quantized IVF
// search with per-query nprobe and rerank read the same through both APIs, and a layout change
// made over gRPC shows in REST.
TEST_F(ParityTest, LayoutFieldsAndQuantizedSearchAreTheSameThroughBothApis) {
  grpc::ClientContext ctx;
  v1::CreateCollectionRequest req;
  req.set_name("lay");
  req.set_dimension(8);
  req.set_distance_metric("l2");
  req.set_storage_strategy("custom");
  req.set_indexing_algorithm("ivf");
  req.set_quantization("sq8");
  req.set_nprobe(3);
  req.set_metadata_compression("zstd");
  req.set_id_index("hashmap");
  v1::Collection created;
  ASSERT_TRUE(stub_->CreateCollection(&ctx, req, &created).ok());
  auto [status, rest] = Rest("GET", "/api/v1/collections/lay");
  ASSERT_EQ(status, 200);
  for (const char* field : {"storage_strategy", "indexing_algorithm", "quantization",
                            "metadata_compression", "id_index"}) {
    EXPECT_EQ(rest[field], created.GetReflection()->GetString(
                               created, created.GetDescriptor()->FindFieldByName(field)))
        << field;
  }
  EXPECT_EQ(rest["nprobe"], 3);
  EXPECT_EQ(created.nprobe(), 3u);

  std::mt19937 rng(4);
  std::uniform_real_distribution<float> u(-1, 1);
  json rows = json::array();
  for (int i = 0; i < 600; ++i) {
    std::vector<float> v(8);
    for (float& x : v) x = u(rng);
    rows.push_back({{"id", "v" + std::to_string(i)}, {"vector", v}});
  }
  ASSERT_EQ(Rest("POST", "/api/v1/collections/lay/vectors/batch", {{"vectors", rows}}).first, 200);
  ASSERT_EQ(Rest("POST", "/api/v1/collections/lay/flush").first, 200);
  for (int q = 0; q < 5; ++q) {
    std::vector<float> qv(8);
    for (float& x : qv) x = u(rng);
    auto [st, r] = Rest("POST", "/api/v1/collections/lay/search",
                        {{"vector", qv}, {"k", 5}, {"nprobe", 2}, {"rerank", 20}});
    ASSERT_EQ(st, 200) << r.dump();
    v1::SearchRequest sr;
    sr.set_collection("lay");
    sr.mutable_vector()->Add(qv.begin(), qv.end());
    sr.set_k(5);
    sr.set_nprobe(2);
    sr.set_rerank(20);
    grpc::ClientContext sctx;
    v1::SearchResponse g;
    ASSERT_TRUE(stub_->Search(&sctx, sr, &g).ok());
    EXPECT_EQ(r["plan"], "ivf");
    EXPECT_EQ(g.plan(), "ivf");
    ASSERT_EQ(r["results"].size(), static_cast<size_t>(g.results_size()));
    for (int i = 0; i < g.results_size(); ++i) EXPECT_EQ(r["results"][i]["id"], g.results(i).id());
  }

  grpc::ClientContext update_ctx;
  v1::UpdateCollectionRequest update;
  update.set_name("lay");
  update.set_quantization("pq");
  v1::Collection updated;
  ASSERT_TRUE(stub_->UpdateCollection(&update_ctx, update, &updated).ok());
  EXPECT_EQ(updated.quantization(), "pq");
  EXPECT_EQ(Rest("GET", "/api/v1/collections/lay").second["quantization"], "pq");
  const json stats = Rest("GET", "/api/v1/collections/lay/stats").second;
  EXPECT_TRUE(stats.contains("migration_state")) << stats.dump();
  EXPECT_TRUE(stats.contains("migration_segments_total")) << stats.dump();
}

TEST_F(ParityTest, SameDataGivesSameResultsThroughBothApis) {
  for (const char* name : {"via_grpc", "via_rest"}) {
    ASSERT_EQ(Rest("POST", "/api/v1/collections",
                   {{"name", name}, {"dimension", 8}, {"distance_metric", "cosine"}})
                  .first,
              201);
  }
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-1, 1);
  json rest_rows = json::array();
  v1::BatchWriteRequest batch;
  batch.set_collection("via_grpc");
  for (int i = 0; i < 300; ++i) {
    std::vector<float> v(8);
    for (float& x : v) x = u(rng);
    const json meta = {{"n", i}, {"tag", i % 3 == 0 ? "a" : "b"}, {"nested", {{"k", i % 7}}}};
    rest_rows.push_back({{"id", "r" + std::to_string(i)}, {"vector", v}, {"metadata", meta}});
    v1::VectorInput* in = batch.add_vectors();
    in->set_id("r" + std::to_string(i));
    in->mutable_vector()->Add(v.begin(), v.end());
    *in->mutable_metadata() = ToStruct(meta);
  }
  {
    grpc::ClientContext ctx;
    v1::BatchWriteResponse resp;
    ASSERT_TRUE(stub_->BatchWrite(&ctx, batch, &resp).ok());
    EXPECT_EQ(resp.count(), 300u);
  }
  ASSERT_EQ(Rest("POST", "/api/v1/collections/via_rest/vectors/batch", {{"vectors", rest_rows}})
                .first,
            200);

  // The background indexer must be done: a memtable searched half through its graph and half
  // exactly could answer two identical queries with different plans.
  for (const char* name : {"via_grpc", "via_rest"}) {
    for (int i = 0;; ++i) {
      auto [status, stats] = Rest("GET", std::string("/api/v1/collections/") + name + "/stats");
      ASSERT_EQ(status, 200);
      if (stats["unindexed_rows"] == 0) break;
      ASSERT_LT(i, 1000) << "the indexer did not catch up: " << stats.dump();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  // Both lists give each collection's size.
  {
    grpc::ClientContext ctx;
    v1::ListCollectionsResponse listed;
    ASSERT_TRUE(stub_->ListCollections(&ctx, v1::ListCollectionsRequest(), &listed).ok());
    std::map<std::string, uint64_t> by_grpc, by_rest;
    for (const v1::Collection& c : listed.collections()) {
      EXPECT_TRUE(c.has_vector_count()) << c.name();  // a single node's list counts
      by_grpc[c.name()] = c.vector_count();
    }
    const json rest = Rest("GET", "/api/v1/collections").second;
    for (const json& c : rest["collections"]) {
      by_rest[c["name"].get<std::string>()] = c["vector_count"].get<uint64_t>();
    }
    EXPECT_EQ(by_grpc["via_grpc"], 300u);
    EXPECT_EQ(by_grpc["via_rest"], 300u);
    EXPECT_EQ(by_grpc, by_rest);
  }
  const json filter = {{"tag", "a"}, {"n", {{"$lt", 200}}}};
  for (const char* name : {"via_grpc", "via_rest"}) {
    for (int q = 0; q < 5; ++q) {
      std::vector<float> qv(8);
      for (float& x : qv) x = u(rng);
      for (bool filtered : {false, true}) {
        json body = {{"vector", qv}, {"k", 7}};
        v1::SearchRequest sr;
        sr.set_collection(name);
        sr.mutable_vector()->Add(qv.begin(), qv.end());
        sr.set_k(7);
        if (filtered) {
          body["filter"] = filter;
          *sr.mutable_filter() = ToStruct(filter);
        }
        auto [status, rest] = Rest("POST", std::string("/api/v1/collections/") + name + "/search",
                                   body);
        ASSERT_EQ(status, 200) << rest.dump();
        grpc::ClientContext ctx;
        v1::SearchResponse g;
        ASSERT_TRUE(stub_->Search(&ctx, sr, &g).ok());
        ASSERT_EQ(rest["results"].size(), static_cast<size_t>(g.results_size()));
        EXPECT_EQ(rest["plan"], g.plan());
        for (int i = 0; i < g.results_size(); ++i) {
          EXPECT_EQ(rest["results"][i]["id"], g.results(i).id());
          EXPECT_NEAR(rest["results"][i]["score"].get<double>(), g.results(i).score(), 1e-6);
          EXPECT_EQ(rest["results"][i]["metadata"]["n"].get<double>(),
                    g.results(i).metadata().fields().at("n").number_value());
        }
        // The query as float32 bytes (vector_f32) gets the same answer.
        v1::SearchRequest as_bytes = sr;
        as_bytes.clear_vector();
        as_bytes.set_vector_f32(
            std::string(reinterpret_cast<const char*>(qv.data()), qv.size() * sizeof(float)));
        grpc::ClientContext bytes_ctx;
        v1::SearchResponse gb;
        ASSERT_TRUE(stub_->Search(&bytes_ctx, as_bytes, &gb).ok());
        ASSERT_EQ(gb.results_size(), g.results_size());
        for (int i = 0; i < g.results_size(); ++i) {
          EXPECT_EQ(gb.results(i).id(), g.results(i).id());
          EXPECT_EQ(gb.results(i).score(), g.results(i).score());
        }
      }
    }
    // Counts, gets and scroll pages agree too.
    grpc::ClientContext count_ctx;
    v1::CountRequest cr;
    cr.set_collection(name);
    *cr.mutable_filter() = ToStruct(filter);
    v1::CountResponse count;
    ASSERT_TRUE(stub_->Count(&count_ctx, cr, &count).ok());
    EXPECT_EQ(Rest("POST", std::string("/api/v1/collections/") + name + "/count",
                   {{"filter", filter}})
                  .second["count"],
              count.count());
    EXPECT_EQ(count.count(), 67u);  // i % 3 == 0 and i < 200

    grpc::ClientContext get_ctx;
    v1::VectorRef ref;
    ref.set_collection(name);
    ref.set_id("r42");
    v1::VectorRecord rec;
    ASSERT_TRUE(stub_->GetVector(&get_ctx, ref, &rec).ok());
    const json got = Rest("GET", std::string("/api/v1/collections/") + name + "/vectors/r42").second;
    ASSERT_EQ(got["vector"].size(), static_cast<size_t>(rec.vector_size()));
    for (int i = 0; i < rec.vector_size(); ++i) EXPECT_EQ(got["vector"][i].get<float>(), rec.vector(i));
    EXPECT_EQ(got["metadata"]["nested"]["k"].get<double>(),
              rec.metadata().fields().at("nested").struct_value().fields().at("k").number_value());

    std::vector<std::string> grpc_ids, rest_ids;
    std::string cursor;
    do {
      grpc::ClientContext ctx;
      v1::ScrollRequest sr;
      sr.set_collection(name);
      sr.set_limit(64);
      sr.set_cursor(cursor);
      v1::ScrollResponse page;
      ASSERT_TRUE(stub_->Scroll(&ctx, sr, &page).ok());
      for (const auto& r : page.vectors()) grpc_ids.push_back(r.id());
      cursor = page.next_cursor();
    } while (!cursor.empty());
    json page = Rest("GET", std::string("/api/v1/collections/") + name + "/vectors?limit=64").second;
    while (true) {
      for (const auto& r : page["vectors"]) rest_ids.push_back(r["id"]);
      if (page["next_cursor"].is_null()) break;
      page = Rest("GET", std::string("/api/v1/collections/") + name +
                             "/vectors?limit=64&cursor=" + page["next_cursor"].get<std::string>())
                 .second;
    }
    EXPECT_EQ(grpc_ids.size(), 300u);
    EXPECT_EQ(grpc_ids, rest_ids);
  }
}

TEST_F(ParityTest, StreamUpsertLoadsBatchesAndStopsAtTheFirstBadOne) {
  ASSERT_EQ(Rest("POST", "/api/v1/collections", {{"name", "stream"}, {"dimension", 3}}).first, 201);
  grpc::ClientContext ctx;
  v1::StreamUpsertResponse resp;
  auto writer = stub_->StreamUpsert(&ctx, &resp);
  for (int b = 0; b < 6; ++b) {
    v1::BatchWriteRequest batch;
    batch.set_collection("stream");
    batch.set_upsert(true);
    for (int i = 0; i < 100; ++i) {
      v1::VectorInput* in = batch.add_vectors();
      in->set_id("s" + std::to_string(b * 100 + i));
      const int dim = b == 4 && i == 50 ? 2 : 3;  // batch 4 holds one bad vector
      for (int d = 0; d < dim; ++d) in->add_vector(float(b + i + d));
    }
    if (!writer->Write(batch)) break;  // the server ended the stream
  }
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(CodeOf(ctx), "DIMENSION_MISMATCH");
  EXPECT_EQ(Rest("POST", "/api/v1/collections/stream/count", json::object()).second["count"], 400);

  grpc::ClientContext ok_ctx;
  v1::StreamUpsertResponse ok_resp;
  auto ok_writer = stub_->StreamUpsert(&ok_ctx, &ok_resp);
  for (int b = 0; b < 3; ++b) {
    v1::BatchWriteRequest batch;
    batch.set_collection("stream");
    batch.set_upsert(true);
    for (int i = 0; i < 50; ++i) {
      v1::VectorInput* in = batch.add_vectors();
      in->set_id("t" + std::to_string(b * 50 + i));
      for (int d = 0; d < 3; ++d) in->add_vector(1.0f);
    }
    ASSERT_TRUE(ok_writer->Write(batch));
  }
  ok_writer->WritesDone();
  ASSERT_TRUE(ok_writer->Finish().ok());
  EXPECT_EQ(ok_resp.batches(), 3u);
  EXPECT_EQ(ok_resp.count(), 150u);
  EXPECT_EQ(Rest("POST", "/api/v1/collections/stream/count", json::object()).second["count"], 550);
}

TEST_F(ParityTest, ColumnarBatchesWriteTheSameRecords) {
  ASSERT_EQ(Rest("POST", "/api/v1/collections", {{"name", "cols"}, {"dimension", 2}}).first, 201);
  v1::BatchWriteRequest req;
  req.set_collection("cols");
  v1::BatchColumns* c = req.mutable_columns();
  const float values[] = {1, 2, 3, 4, 5, 6};
  for (const char* id : {"x", "y", "z"}) c->add_ids(id);
  c->set_vectors_f32(std::string(reinterpret_cast<const char*>(values), sizeof(values)));
  for (int i = 0; i < 3; ++i) *c->add_metadata() = ToStruct({{"i", i}});
  grpc::ClientContext ctx;
  v1::BatchWriteResponse resp;
  ASSERT_TRUE(stub_->BatchWrite(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.count(), 3u);
  const json y = Rest("GET", "/api/v1/collections/cols/vectors/y").second;
  EXPECT_EQ(y["vector"], json({3, 4}));
  EXPECT_EQ(y["metadata"]["i"], 1);

  c->set_vectors_f32(std::string(reinterpret_cast<const char*>(values), 5 * sizeof(float)));
  grpc::ClientContext bad_ctx;
  grpc::Status s = stub_->BatchWrite(&bad_ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("equal runs"), std::string::npos) << s.error_message();
}

TEST_F(ParityTest, ErrorsCarryTheSameCodes) {
  ASSERT_EQ(Rest("POST", "/api/v1/collections", {{"name", "errs"}, {"dimension", 2}}).first, 201);
  ASSERT_EQ(Rest("POST", "/api/v1/collections/errs/vectors", {{"id", "a"}, {"vector", {1, 2}}})
                .first,
            201);
  // What an API said of a failed call: the stable code, and the HTTP status or gRPC code.
  using Said = std::pair<std::string, int>;
  struct Case {
    std::string expected;
    int http_status, grpc_code;
    std::function<Said()> rest;
    std::function<Said()> grpc;
  };
  auto rest_code = [](const std::string& method, const std::string& path, const json& body) {
    auto [status, reply] = Rest(method, path, body);
    return Said(reply["error"]["code"].get<std::string>(), status);
  };
  auto grpc_said = [](const grpc::ClientContext& ctx, const grpc::Status& s) {
    return Said(CodeOf(ctx), s.error_code());
  };
  auto search = [&](const std::string& coll, std::vector<float> v, uint32_t k, const json& f,
                    const std::string& f32 = "") {
    grpc::ClientContext ctx;
    v1::SearchRequest r;
    r.set_collection(coll);
    r.mutable_vector()->Add(v.begin(), v.end());
    r.set_vector_f32(f32);
    r.set_k(k);
    if (!f.is_null()) *r.mutable_filter() = ToStruct(f);
    v1::SearchResponse resp;
    return grpc_said(ctx, stub_->Search(&ctx, r, &resp));
  };
  const std::vector<Case> cases = {
      {"COLLECTION_NOT_FOUND", 404, grpc::NOT_FOUND,
       [&] { return rest_code("POST", "/api/v1/collections/none/search", {{"vector", {1, 2}}}); },
       [&] { return search("none", {1, 2}, 10, nullptr); }},
      {"DIMENSION_MISMATCH", 422, grpc::INVALID_ARGUMENT,
       [&] { return rest_code("POST", "/api/v1/collections/errs/search", {{"vector", {1, 2, 3}}}); },
       [&] { return search("errs", {1, 2, 3}, 10, nullptr); }},
      {"INVALID_ARGUMENT", 400, grpc::INVALID_ARGUMENT,
       [&] {
         return rest_code("POST", "/api/v1/collections/errs/search",
                          {{"vector", {1, 2}}, {"filter", {{"x", {{"$bad", 1}}}}}});
       },
       [&] { return search("errs", {1, 2}, 10, {{"x", {{"$bad", 1}}}}); }},
      // vector_f32 of 5 bytes; then both forms of the query at once.
      {"INVALID_ARGUMENT", 400, grpc::INVALID_ARGUMENT,
       [&] {
         return rest_code("POST", "/api/v1/collections/errs/search", {{"vector_f32", "AAAAAAA="}});
       },
       [&] { return search("errs", {}, 10, nullptr, std::string(5, '\0')); }},
      {"INVALID_ARGUMENT", 400, grpc::INVALID_ARGUMENT,
       [&] {
         return rest_code("POST", "/api/v1/collections/errs/search",
                          {{"vector", {1, 2}}, {"vector_f32", "AAAAAAAAAAA="}});
       },
       [&] { return search("errs", {1, 2}, 10, nullptr, std::string(8, '\0')); }},
      {"INVALID_ARGUMENT", 400, grpc::INVALID_ARGUMENT,
       [&] { return rest_code("POST", "/api/v1/collections/errs/search", {{"vector", {1, 2}}, {"k", 100000}}); },
       [&] { return search("errs", {1, 2}, 100000, nullptr); }},
      {"INVALID_ARGUMENT", 400, grpc::INVALID_ARGUMENT,
       [&] {
         return rest_code("POST", "/api/v1/collections", {{"name", "big_m"}, {"dimension", 2}, {"m", 300}});
       },
       [&] {
         grpc::ClientContext ctx;
         v1::CreateCollectionRequest r;
         r.set_name("big_m");
         r.set_dimension(2);
         r.set_m(300);
         v1::Collection c;
         return grpc_said(ctx, stub_->CreateCollection(&ctx, r, &c));
       }},
      {"VECTOR_NOT_FOUND", 404, grpc::NOT_FOUND,
       [&] { return rest_code("GET", "/api/v1/collections/errs/vectors/zz", nullptr); },
       [&] {
         grpc::ClientContext ctx;
         v1::VectorRef ref;
         ref.set_collection("errs");
         ref.set_id("zz");
         v1::VectorRecord r;
         return grpc_said(ctx, stub_->GetVector(&ctx, ref, &r));
       }},
      {"ALREADY_EXISTS", 409, grpc::ALREADY_EXISTS,
       [&] { return rest_code("POST", "/api/v1/collections/errs/vectors", {{"id", "a"}, {"vector", {1, 2}}}); },
       [&] {
         grpc::ClientContext ctx;
         v1::InsertRequest r;
         r.set_collection("errs");
         r.mutable_record()->set_id("a");
         r.mutable_record()->add_vector(1);
         r.mutable_record()->add_vector(2);
         v1::WriteResponse resp;
         return grpc_said(ctx, stub_->Insert(&ctx, r, &resp));
       }},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.rest(), Said(c.expected, c.http_status));
    EXPECT_EQ(c.grpc(), Said(c.expected, c.grpc_code));
  }
}

// grpc.health.v1.Health/Check through a generic stub: (status code, serialized response). The
// request is HealthCheckRequest{service}; a response of SERVING is the bytes 08 01, NOT_SERVING
// 08 02.
std::pair<grpc::StatusCode, std::string> HealthCheck(int port, const std::string& service) {
  grpc::GenericStub stub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                             grpc::InsecureChannelCredentials()));
  std::string request;
  if (!service.empty()) {
    request = std::string(1, '\x0a') + static_cast<char>(service.size()) + service;
  }
  grpc::Slice slice(request);
  grpc::ByteBuffer in(&slice, 1), out;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  ctx.set_wait_for_ready(true);  // the port may open a moment after REST's
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &in, &out,
                 [&](grpc::Status s) { done.set_value(s); });
  const grpc::Status status = done.get_future().get();
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (status.ok() && out.Dump(&slices).ok()) {
    for (const grpc::Slice& part : slices) {
      bytes.append(reinterpret_cast<const char*>(part.begin()), part.size());
    }
  }
  return {status.error_code(), bytes};
}

TEST(GrpcHealthTest, NotServingUntilRecoveryEndsThenServing) {
  ScopedTempDir dir;
  const int rest = FreeLoopbackPort(), grpc_port = FreeLoopbackPort();
  const pid_t pid = fork();
  if (pid == 0) {
    setenv("PROXIMADB_TEST_DELAY_OPEN_MS", "1500", 1);
    const std::string r = std::to_string(rest), g = std::to_string(grpc_port);
    execl(PROXIMADB_SERVER, PROXIMADB_SERVER, "--data-dir", dir.path().c_str(), "--rest-port",
          r.c_str(), "--grpc-port", g.c_str(), "--log-level", "warn", static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait for the REST port (gRPC starts just after it; HealthCheck waits for its channel), while
  // recovery is held back.
  for (int i = 0; i < 500 && Http(rest, "GET", "/health").first != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(Http(rest, "GET", "/ready").first, 503);
  const std::string kNotServing("\x08\x02", 2), kServing("\x08\x01", 2);
  EXPECT_EQ(HealthCheck(grpc_port, ""), std::make_pair(grpc::StatusCode::OK, kNotServing));
  EXPECT_EQ(HealthCheck(grpc_port, "proximadb.v1.ProximaDB"),
            std::make_pair(grpc::StatusCode::OK, kNotServing));
  for (int i = 0; i < 500 && Http(rest, "GET", "/ready").first != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(HealthCheck(grpc_port, ""), std::make_pair(grpc::StatusCode::OK, kServing));
  EXPECT_EQ(HealthCheck(grpc_port, "proximadb.v1.ProximaDB"),
            std::make_pair(grpc::StatusCode::OK, kServing));
  EXPECT_EQ(HealthCheck(grpc_port, "no.such.Service").first, grpc::StatusCode::NOT_FOUND);
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace proximadb
