// One signed S3 HTTP exchange over libcurl, retried on what may pass; the pieces of the S3
// client (s3_object_store.cc) that do not depend on the operation.
//
// Signing is libcurl's (CURLOPT_AWS_SIGV4). libcurl 7.88 signs the query string as given, so
// requests carry it already canonical: parameters sorted by name, every value encoded with
// AWS's rules (UriEncode). The payload's SHA-256 is computed here and sent as
// x-amz-content-sha256, which libcurl then signs.
//
// Thread-safety: an S3Requester is safe to use from many threads; each exchange takes an easy
// handle from a pool (which keeps connections alive between exchanges).
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/object_store.h"

namespace proximadb {

struct S3Request {
  std::string method = "GET";
  std::string key;                          // relative to the prefix; empty = the bucket
  std::map<std::string, std::string> query;  // sorted by name, as the signature wants it
  std::string_view body;
  std::vector<std::string> headers;  // "Name: value"
  bool head = false;                 // no response body (HEAD)
};

struct S3Response {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

class S3Requester {
 public:
  explicit S3Requester(const ObjectStoreOptions& options);
  ~S3Requester();
  S3Requester(const S3Requester&) = delete;
  S3Requester& operator=(const S3Requester&) = delete;

  // Sends `request` until it gets an answer that retrying cannot change (2xx, 3xx, 4xx but
  // 429), or the attempts run out (kUnavailable). `what` names the operation in errors.
  absl::StatusOr<S3Response> Send(const S3Request& request, std::string_view what);

  // The full key in the bucket: the prefix, '/', then `key`.
  std::string FullKey(std::string_view key) const;
  const ObjectStoreOptions& options() const { return options_; }

 private:
  // One attempt; a transport failure (refused, reset, timed out) is kUnavailable.
  absl::StatusOr<S3Response> Attempt(const S3Request& request, std::string_view what);
  std::string Url(const S3Request& request) const;
  void* TakeHandle();
  void ReturnHandle(void* handle);

  const ObjectStoreOptions options_;
  const std::string userpwd_;  // access key ':' secret, for libcurl only
  const std::string sigv4_;    // "aws:amz:<region>:s3"
  std::mutex mu_;
  std::vector<void*> idle_;  // CURL* handles, guarded by mu_
};

// AWS's UriEncode: every byte but A-Z a-z 0-9 - _ . ~ as %XX; '/' kept when `keep_slash`.
std::string AwsUriEncode(std::string_view s, bool keep_slash);

// An S3 error answer as a Status: the code the mapping above gives the HTTP status, with the
// store's <Code> and <Message>.
absl::Status S3Error(const S3Response& response, std::string_view what);

}  // namespace proximadb
