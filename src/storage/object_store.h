// ObjectStore: the cold tier and the backup target, an S3-compatible bucket under a key prefix.
//
// Keys are relative to the configured prefix ("backups/b-1.json" is stored at
// "<prefix>/backups/b-1.json"). Every call retries on what may pass (a refused connection, a
// time-out, HTTP 5xx or 429) with exponential backoff and jitter, and then answers:
//   - kUnavailable       the store could not be reached or kept failing (retry later);
//   - kNotFound          no such key (Get, GetRange, Head);
//   - kPermissionDenied  the store refused the credentials or the signature;
//   - kDataLoss          the bytes stored or read do not match their checksum;
//   - kInternal          any other answer the store gave, with its code and message.
// Messages name the operation and the key; credentials never appear in them or in logs.
//
// Thread-safety: an ObjectStore is safe to use from many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace proximadb {

struct ObjectStoreOptions {
  std::string endpoint;  // "http://127.0.0.1:9000": path-style requests to this base URL
  std::string bucket;
  std::string region = "us-east-1";
  std::string prefix;  // prepended to every key, with a '/' between when not empty
  std::string access_key_id;
  std::string secret_access_key;
  int max_attempts = 6;                    // per call, the first included
  int initial_backoff_ms = 100;            // doubled per attempt, with jitter, up to 5 s
  int connect_timeout_ms = 5000;           // per attempt
  int request_timeout_ms = 120000;         // per attempt, the whole transfer
  uint64_t multipart_threshold = 16 << 20;  // Put of more bytes than this goes in parts
  uint64_t part_size = 8 << 20;             // at least 5 MiB: S3's least part but the last
  int list_page_size = 1000;                // keys per ListObjectsV2 answer
  int upload_concurrency = 4;               // parts of one multipart upload sent at once
};

struct ObjectInfo {
  std::string key;  // relative to the prefix
  uint64_t size = 0;
  std::string etag;  // without quotes
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // Stores `data` at `key`, replacing what was there; returns once the store has confirmed the
  // bytes with their MD5 (Content-MD5 per request and the ETag answered).
  virtual absl::Status Put(std::string_view key, std::string_view data) = 0;
  virtual absl::StatusOr<std::string> Get(std::string_view key) = 0;
  // Bytes [offset, offset + length) of the object; fewer at its end.
  virtual absl::StatusOr<std::string> GetRange(std::string_view key, uint64_t offset,
                                               uint64_t length) = 0;
  virtual absl::StatusOr<ObjectInfo> Head(std::string_view key) = 0;
  // Every object whose key starts with `prefix`, in key order.
  virtual absl::StatusOr<std::vector<ObjectInfo>> List(std::string_view prefix) = 0;
  // Removes `key`; removing a key that is not there is OK.
  virtual absl::Status Delete(std::string_view key) = 0;
};

// The options' problems, each naming its field ("object_store.bucket: ..."); OK when usable.
absl::Status ValidateObjectStoreOptions(const ObjectStoreOptions& options);

// An S3 client over libcurl (SigV4 signing by CURLOPT_AWS_SIGV4) and libxml2.
absl::StatusOr<std::unique_ptr<ObjectStore>> NewS3ObjectStore(const ObjectStoreOptions& options);

}  // namespace proximadb
