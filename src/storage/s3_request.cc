#include "storage/s3_request.h"

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

#include "common/errors.h"
#include "common/logging.h"
#include "common/macros.h"
#include "common/strings.h"
#include "storage/digest.h"

namespace proximadb {

namespace {

std::once_flag curl_init_once;

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  std::string_view line(data, size * n);
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) {
      return static_cast<char>(std::tolower(c));
    });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' ||
                              value.back() == ' ')) {
      value.remove_suffix(1);
    }
    (*static_cast<std::map<std::string, std::string>*>(user))[name] = std::string(value);
  }
  return size * n;
}

// The text of the first element named `name` (any namespace) under `node`, depth first.
std::string FindText(xmlNode* node, const char* name) {
  for (xmlNode* n = node; n != nullptr; n = n->next) {
    if (n->type != XML_ELEMENT_NODE) continue;
    if (xmlStrcmp(n->name, reinterpret_cast<const xmlChar*>(name)) == 0) {
      xmlChar* text = xmlNodeGetContent(n);
      std::string out = text ? reinterpret_cast<char*>(text) : "";
      xmlFree(text);
      return out;
    }
    std::string inner = FindText(n->children, name);
    if (!inner.empty()) return inner;
  }
  return "";
}

bool Retryable(long status) { return status == 429 || status >= 500; }

}  // namespace

std::string AwsUriEncode(std::string_view s, bool keep_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 15]);
    }
  }
  return out;
}

absl::Status S3Error(const S3Response& response, std::string_view what) {
  std::string code, message;
  if (!response.body.empty()) {
    xmlDoc* doc = xmlReadMemory(response.body.data(), static_cast<int>(response.body.size()),
                                "error.xml", nullptr, XML_PARSE_NONET | XML_PARSE_NOERROR |
                                                          XML_PARSE_NOWARNING);
    if (doc != nullptr) {
      code = FindText(xmlDocGetRootElement(doc), "Code");
      message = FindText(xmlDocGetRootElement(doc), "Message");
      xmlFreeDoc(doc);
    }
  }
  const std::string text = Cat(what, ": the object store answered HTTP ", response.status,
                               code.empty() ? "" : " ", code, message.empty() ? "" : ": ",
                               message);
  switch (response.status) {
    case 404:
      // A missing bucket is the store's configuration, not a missing object.
      if (code == "NoSuchBucket") {
        return WithErrorCode(absl::UnavailableError(text), kObjectStoreUnavailable);
      }
      if (code == "NoSuchUpload") return absl::InternalError(text);
      return absl::NotFoundError(text);
    case 401:
    case 403:
      return absl::PermissionDeniedError(text);
    case 400:
      if (code == "BadDigest" || code == "InvalidDigest") return absl::DataLossError(text);
      return absl::InternalError(text);
    default:
      if (Retryable(response.status)) return absl::UnavailableError(text);
      return absl::InternalError(text);
  }
}

S3Requester::S3Requester(const ObjectStoreOptions& options)
    : options_(options),
      userpwd_(Cat(options.access_key_id, ":", options.secret_access_key)),
      sigv4_(Cat("aws:amz:", options.region, ":s3")) {
  std::call_once(curl_init_once, [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    xmlInitParser();
  });
}

S3Requester::~S3Requester() {
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

std::string S3Requester::FullKey(std::string_view key) const {
  if (options_.prefix.empty()) return std::string(key);
  return Cat(options_.prefix, "/", key);
}

std::string S3Requester::Url(const S3Request& request) const {
  std::string endpoint = options_.endpoint;
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  std::string url = Cat(endpoint, "/", AwsUriEncode(options_.bucket, false));
  if (!request.key.empty()) AppendCat(&url, "/", AwsUriEncode(FullKey(request.key), true));
  char sep = '?';
  for (const auto& [name, value] : request.query) {
    AppendCat(&url, std::string_view(&sep, 1), AwsUriEncode(name, false), "=",
              AwsUriEncode(value, false));
    sep = '&';
  }
  return url;
}

void* S3Requester::TakeHandle() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  CURL* h = curl_easy_init();
  PROXIMADB_CHECK(h != nullptr);
  return h;
}

void S3Requester::ReturnHandle(void* handle) {
  std::lock_guard<std::mutex> lock(mu_);
  idle_.push_back(handle);
}

absl::StatusOr<S3Response> S3Requester::Attempt(const S3Request& request,
                                                std::string_view what) {
  CURL* h = static_cast<CURL*>(TakeHandle());
  curl_easy_reset(h);
  const std::string url = Url(request);
  S3Response response;
  curl_slist* headers = nullptr;
  const std::string sha = Cat("x-amz-content-sha256: ", Sha256Hex(request.body));
  headers = curl_slist_append(headers, sha.c_str());
  // libcurl would otherwise add "Expect: 100-continue" to large bodies, a round trip more.
  headers = curl_slist_append(headers, "Expect:");
  // libcurl labels a body form data, which servers may parse as a form and so lose.
  headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
  for (const std::string& header : request.headers) {
    headers = curl_slist_append(headers, header.c_str());
  }
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4_.c_str());
  curl_easy_setopt(h, CURLOPT_USERPWD, userpwd_.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout_ms));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout_ms));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &response.headers);
  if (request.head) {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (request.method == "PUT" || request.method == "POST") {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
  const CURLcode rc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
  curl_slist_free_all(headers);
  ReturnHandle(h);
  if (rc != CURLE_OK) {
    return absl::UnavailableError(Cat(what, ": the object store at ", options_.endpoint,
                                      " could not be reached: ", curl_easy_strerror(rc)));
  }
  return response;
}

absl::StatusOr<S3Response> S3Requester::Send(const S3Request& request, std::string_view what) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  int backoff_ms = std::max(1, options_.initial_backoff_ms);
  absl::Status last;
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<S3Response> response = Attempt(request, what);
    // 400 RequestTimeout: the store gave up waiting for the body; sending it again may pass.
    const bool timed_out = response.ok() && response->status == 400 &&
                           response->body.find("<Code>RequestTimeout</Code>") != std::string::npos;
    if (response.ok() && !Retryable(response->status) && !timed_out) return response;
    last = response.ok() ? S3Error(*response, what) : response.status();
    if (attempt >= options_.max_attempts) break;
    // Full jitter: a wait drawn from [backoff/2, backoff], so that clients spread out.
    const int wait = backoff_ms / 2 + static_cast<int>(rng() % (backoff_ms / 2 + 1));
    Log(LogLevel::kWarning, Cat(last.message(), " (attempt ", attempt, " of ",
                                options_.max_attempts, "; again in ", wait, " ms)"));
    std::this_thread::sleep_for(std::chrono::milliseconds(wait));
    backoff_ms = std::min(backoff_ms * 2, 5000);
  }
  return WithErrorCode(absl::UnavailableError(Cat(last.message(), " (after ",
                                                  options_.max_attempts, " attempts)")),
                       kObjectStoreUnavailable);
}

}  // namespace proximadb
