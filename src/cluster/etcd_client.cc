#include "cluster/etcd_client.h"

#include <curl/curl.h>

#include <memory>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "common/strings.h"
#include "nlohmann/json.hpp"

namespace proximadb::cluster {

using json = nlohmann::json;

namespace {

std::string B64(std::string_view s) {
  return absl::Base64Escape(absl::string_view(s.data(), s.size()));
}

// proto3's JSON mapping writes int64 as a string and leaves out fields at their default.
int64_t Int(const json& object, const char* field) {
  auto it = object.find(field);
  if (it == object.end()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  int64_t value = 0;
  if (it->is_string() && absl::SimpleAtoi(it->get<std::string>(), &value)) return value;
  return 0;
}

std::string Bytes(const json& object, const char* field) {
  auto it = object.find(field);
  std::string out;
  if (it != object.end() && it->is_string()) absl::Base64Unescape(it->get<std::string>(), &out);
  return out;
}

KeyValue ToKeyValue(const json& kv) {
  return {.key = Bytes(kv, "key"),
          .value = Bytes(kv, "value"),
          .create_revision = Int(kv, "create_revision"),
          .mod_revision = Int(kv, "mod_revision"),
          .version = Int(kv, "version"),
          .lease = Int(kv, "lease")};
}

// The end of the range of keys that start with `prefix`: the prefix with its last byte below
// 0xff incremented, the bytes after it dropped.
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(prefix.back());
    if (last < 0xff) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');  // every key
}

absl::Status CheckKey(std::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("etcd: a key cannot be empty");
  return absl::OkStatus();
}

size_t OnBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

struct CurlDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

absl::StatusOr<EtcdClient> EtcdClient::Create(EtcdOptions options) {
  if (options.endpoints.empty()) {
    return absl::InvalidArgumentError("etcd_endpoints: at least one endpoint is needed");
  }
  for (const std::string& e : options.endpoints) {
    if (!e.starts_with("http://") && !e.starts_with("https://")) {
      return absl::InvalidArgumentError(
          Cat("etcd_endpoints: '", e, "' is not an http:// or https:// URL"));
    }
  }
  if (options.connect_timeout_ms <= 0) {
    return absl::InvalidArgumentError(
        Cat("etcd connect_timeout_ms: ", options.connect_timeout_ms, " must be positive"));
  }
  if (options.request_timeout_ms <= 0) {
    return absl::InvalidArgumentError(
        Cat("etcd request_timeout_ms: ", options.request_timeout_ms, " must be positive"));
  }
  return EtcdClient(std::move(options));
}

EtcdClient::EtcdClient(EtcdClient&& other) noexcept
    : options_(std::move(other.options_)), current_(other.current_.load()) {}

namespace {

struct Exchange {
  CURLcode rc = CURLE_OK;
  bool sent = false;  // connected: the request may have reached etcd
  long status = 0;
  std::string answer;
};

Exchange Post(const std::string& url, const std::string& payload, curl_slist* headers,
              const EtcdOptions& options) {
  Exchange x;
  std::unique_ptr<CURL, CurlDeleter> h(curl_easy_init());
  if (!h) {
    x.rc = CURLE_OUT_OF_MEMORY;
    return x;
  }
  curl_easy_setopt(h.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(h.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h.get(), CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h.get(), CURLOPT_POSTFIELDS, payload.data());
  curl_easy_setopt(h.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload.size()));
  curl_easy_setopt(h.get(), CURLOPT_CONNECTTIMEOUT_MS, long{options.connect_timeout_ms});
  curl_easy_setopt(h.get(), CURLOPT_TIMEOUT_MS, long{options.request_timeout_ms});
  curl_easy_setopt(h.get(), CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h.get(), CURLOPT_WRITEDATA, &x.answer);
  x.rc = curl_easy_perform(h.get());
  curl_off_t connected_us = 0;  // 0: the connection was never made (say a connect timeout)
  curl_easy_getinfo(h.get(), CURLINFO_CONNECT_TIME_T, &connected_us);
  x.sent = x.rc == CURLE_OK || connected_us > 0;
  curl_easy_getinfo(h.get(), CURLINFO_RESPONSE_CODE, &x.status);
  return x;
}

// etcd's error answer as a Status. Unary calls answer {"error", "code", "message"}; streaming
// ones (lease keep-alive) {"error": {"grpc_code", "message", ...}}.
absl::Status EtcdError(const json& parsed, std::string_view path, long status) {
  const json* detail = &parsed;
  if (auto it = parsed.find("error"); it != parsed.end() && it->is_object()) detail = &*it;
  int64_t code = Int(*detail, "code");
  if (code == 0) code = Int(*detail, "grpc_code");
  std::string message = Cat("HTTP ", status);
  for (const char* field : {"message", "error"}) {
    if (auto it = detail->find(field); it != detail->end() && it->is_string()) {
      message = it->get<std::string>();
      break;
    }
  }
  return absl::Status(code > 0 && code <= 16 ? static_cast<absl::StatusCode>(code)
                                             : absl::StatusCode::kInternal,
                      Cat("etcd ", path, ": ", message));
}

}  // namespace

absl::StatusOr<json> EtcdClient::Call(std::string_view path, const json& body, bool read) {
  const std::string payload = body.dump();
  std::unique_ptr<curl_slist, CurlDeleter> headers(
      curl_slist_append(nullptr, "Content-Type: application/json"));
  const size_t n = options_.endpoints.size();
  const size_t first = current_.load(std::memory_order_relaxed);
  std::string failures;
  // A read goes round the endpoints twice (a single one is tried twice).
  for (size_t i = 0; i < (read ? 2 * n : n); ++i) {
    const size_t e = (first + i) % n;
    const std::string url = Cat(options_.endpoints[e], path);
    Exchange x = Post(url, payload, headers.get(), options_);
    if (x.rc != CURLE_OK) {
      // The next request starts at the next endpoint; this one moves on if it was never sent,
      // or is a read: a write that may have reached etcd is not sent again, which could apply
      // it twice.
      current_.store((e + 1) % n, std::memory_order_relaxed);
      AppendCat(&failures, failures.empty() ? "" : "; ", url, ": ", curl_easy_strerror(x.rc));
      if (!x.sent || read) continue;
      return absl::UnavailableError(Cat("etcd: ", failures));
    }
    current_.store(e, std::memory_order_relaxed);
    const json parsed = json::parse(x.answer, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded() || !parsed.is_object()) {
      return absl::InternalError(Cat("etcd ", url, ": HTTP ", x.status, ", not JSON: ",
                                     x.answer.substr(0, 200)));
    }
    if (x.status != 200 || parsed.contains("error")) return EtcdError(parsed, path, x.status);
    return parsed;
  }
  return absl::UnavailableError(Cat("etcd: no endpoint answered (", failures, ")"));
}

absl::StatusOr<int64_t> EtcdClient::Put(std::string_view key, std::string_view value,
                                        int64_t lease) {
  if (absl::Status s = CheckKey(key); !s.ok()) return s;
  json body = {{"key", B64(key)}, {"value", B64(value)}};
  if (lease != 0) body["lease"] = std::to_string(lease);
  absl::StatusOr<json> answer = Call("/v3/kv/put", body);
  if (!answer.ok()) return answer.status();
  return Int(answer->value("header", json::object()), "revision");
}

absl::StatusOr<std::optional<KeyValue>> EtcdClient::Get(std::string_view key) {
  if (absl::Status s = CheckKey(key); !s.ok()) return s;
  absl::StatusOr<json> answer = Call("/v3/kv/range", {{"key", B64(key)}}, /*read=*/true);
  if (!answer.ok()) return answer.status();
  const json kvs = answer->value("kvs", json::array());
  if (kvs.empty()) return std::nullopt;
  return ToKeyValue(kvs.front());
}

absl::StatusOr<std::vector<KeyValue>> EtcdClient::GetPrefix(std::string_view prefix) {
  if (absl::Status s = CheckKey(prefix); !s.ok()) return s;
  absl::StatusOr<json> answer = Call(
      "/v3/kv/range", {{"key", B64(prefix)}, {"range_end", B64(PrefixEnd(std::string(prefix)))}},
      /*read=*/true);
  if (!answer.ok()) return answer.status();
  std::vector<KeyValue> out;
  for (const json& kv : answer->value("kvs", json::array())) out.push_back(ToKeyValue(kv));
  return out;
}

absl::StatusOr<int64_t> EtcdClient::DeletePrefix(std::string_view prefix) {
  if (absl::Status s = CheckKey(prefix); !s.ok()) return s;
  absl::StatusOr<json> answer =
      Call("/v3/kv/deleterange",
           {{"key", B64(prefix)}, {"range_end", B64(PrefixEnd(std::string(prefix)))}});
  if (!answer.ok()) return answer.status();
  return Int(*answer, "deleted");
}

absl::StatusOr<bool> EtcdClient::Delete(std::string_view key) {
  if (absl::Status s = CheckKey(key); !s.ok()) return s;
  absl::StatusOr<json> answer = Call("/v3/kv/deleterange", {{"key", B64(key)}});
  if (!answer.ok()) return answer.status();
  return Int(*answer, "deleted") > 0;
}

absl::StatusOr<bool> EtcdClient::Txn(const json& compare, const json& success) {
  absl::StatusOr<json> answer =
      Call("/v3/kv/txn",
           {{"compare", json::array({compare})}, {"success", json::array({success})}});
  if (!answer.ok()) return answer.status();
  return answer->value("succeeded", false);  // left out when false
}

absl::StatusOr<bool> EtcdClient::CreateIfAbsent(std::string_view key, std::string_view value,
                                                int64_t lease) {
  if (absl::Status s = CheckKey(key); !s.ok()) return s;
  json put = {{"key", B64(key)}, {"value", B64(value)}};
  if (lease != 0) put["lease"] = std::to_string(lease);
  return Txn({{"key", B64(key)}, {"target", "CREATE"}, {"result", "EQUAL"},
              {"create_revision", "0"}},
             {{"request_put", put}});
}

absl::StatusOr<bool> EtcdClient::CompareAndSwap(std::string_view key, std::string_view value,
                                                int64_t mod_revision) {
  if (absl::Status s = CheckKey(key); !s.ok()) return s;
  return Txn({{"key", B64(key)}, {"target", "MOD"}, {"result", "EQUAL"},
              {"mod_revision", std::to_string(mod_revision)}},
             {{"request_put", {{"key", B64(key)}, {"value", B64(value)}}}});
}

absl::StatusOr<bool> EtcdClient::CompareAndDelete(std::string_view key, int64_t mod_revision) {
  if (absl::Status s = CheckKey(key); !s.ok()) return s;
  return Txn({{"key", B64(key)}, {"target", "MOD"}, {"result", "EQUAL"},
              {"mod_revision", std::to_string(mod_revision)}},
             {{"request_delete_range", {{"key", B64(key)}}}});
}

absl::StatusOr<int64_t> EtcdClient::GrantLease(int64_t ttl_seconds) {
  if (ttl_seconds <= 0) return absl::InvalidArgumentError("etcd: a lease's TTL must be positive");
  absl::StatusOr<json> answer = Call("/v3/lease/grant", {{"TTL", std::to_string(ttl_seconds)}});
  if (!answer.ok()) return answer.status();
  const int64_t id = Int(*answer, "ID");
  if (id == 0) return absl::InternalError(Cat("etcd: lease grant without an ID: ", answer->dump()));
  return id;
}

absl::StatusOr<int64_t> EtcdClient::KeepAlive(int64_t lease) {
  absl::StatusOr<json> answer = Call("/v3/lease/keepalive", {{"ID", std::to_string(lease)}});
  if (!answer.ok()) return answer.status();
  // A streaming RPC through the gateway: each answer is wrapped in "result".
  const int64_t ttl = Int(answer->value("result", json::object()), "TTL");
  if (ttl <= 0) return absl::NotFoundError(Cat("etcd: lease ", lease, " has expired"));
  return ttl;
}

absl::Status EtcdClient::RevokeLease(int64_t lease) {
  return Call("/v3/lease/revoke", {{"ID", std::to_string(lease)}}).status();
}

}  // namespace proximadb::cluster
