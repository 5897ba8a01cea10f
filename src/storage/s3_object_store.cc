// The S3 operations on top of S3Requester: single and multipart uploads verified by MD5,
// ranged reads, listing (ListObjectsV2 with continuation) and deletes.
#include <libxml/parser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <thread>
#include <atomic>
#include <memory>

#include "common/strings.h"
#include "storage/digest.h"
#include "storage/object_store.h"
#include "storage/s3_request.h"

namespace proximadb {

namespace {

std::string Unquote(std::string etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return etag;
}

std::string ChildText(xmlNode* parent, const char* name) {
  for (xmlNode* n = parent->children; n != nullptr; n = n->next) {
    if (n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, BAD_CAST name) == 0) {
      xmlChar* text = xmlNodeGetContent(n);
      std::string out = text ? reinterpret_cast<char*>(text) : "";
      xmlFree(text);
      return out;
    }
  }
  return "";
}

// Whether a single-part object's ETag is its MD5: not under SSE-KMS or SSE-C.
bool EtagIsMd5(const S3Response& response) {
  auto sse = response.headers.find("x-amz-server-side-encryption");
  if (sse != response.headers.end() && sse->second != "AES256") return false;
  return !response.headers.contains("x-amz-server-side-encryption-customer-algorithm");
}

// A parsed XML answer, freed with the object.
class XmlAnswer {
 public:
  explicit XmlAnswer(const std::string& body)
      : doc_(xmlReadMemory(body.data(), static_cast<int>(body.size()), "answer.xml", nullptr,
                           XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)) {}
  ~XmlAnswer() { xmlFreeDoc(doc_); }
  XmlAnswer(const XmlAnswer&) = delete;
  XmlAnswer& operator=(const XmlAnswer&) = delete;
  xmlNode* root() const { return doc_ ? xmlDocGetRootElement(doc_) : nullptr; }

 private:
  xmlDoc* doc_;
};

class S3ObjectStore final : public ObjectStore {
 public:
  explicit S3ObjectStore(const ObjectStoreOptions& options) : s3_(options) {}

  absl::Status Put(std::string_view key, std::string_view data) override {
    if (data.size() > s3_.options().multipart_threshold) return PutParts(key, data);
    S3Request request{.method = "PUT", .key = std::string(key), .body = data};
    const std::string md5 = Md5Base64(data);
    request.headers.push_back(Cat("Content-MD5: ", md5));
    const std::string what = Cat("put of ", key);
    absl::StatusOr<S3Response> response = s3_.Send(request, what);
    if (!response.ok()) return response.status();
    if (response->status != 200) return S3Error(*response, what);
    return CheckEtag(*response, Md5Hex(data), what);
  }

  absl::StatusOr<std::string> Get(std::string_view key) override {
    const std::string what = Cat("get of ", key);
    absl::StatusOr<S3Response> response = s3_.Send({.key = std::string(key)}, what);
    if (!response.ok()) return response.status();
    if (response->status != 200) return S3Error(*response, what);
    // A single-part object's ETag is its MD5: check what came.
    const std::string etag = Unquote(response->headers["etag"]);
    if (EtagIsMd5(*response) && etag.size() == 32 && etag.find('-') == std::string::npos &&
        etag != Md5Hex(response->body)) {
      return absl::DataLossError(Cat(what, ": the bytes read do not match the object's MD5"));
    }
    return std::move(response->body);
  }

  absl::StatusOr<std::string> GetRange(std::string_view key, uint64_t offset,
                                       uint64_t length) override {
    const std::string what = Cat("get of ", key, " bytes ", offset, "+", length);
    if (length == 0) return std::string();
    S3Request request{.key = std::string(key)};
    request.headers.push_back(Cat("Range: bytes=", offset, "-", offset + length - 1));
    absl::StatusOr<S3Response> response = s3_.Send(request, what);
    if (!response.ok()) return response.status();
    if (response->status == 416) return std::string();  // the range starts past the end
    if (response->status != 206 && response->status != 200) return S3Error(*response, what);
    if (response->status == 200) {  // a store that ignores ranges answers the whole object
      std::string whole = std::move(response->body);
      if (offset >= whole.size()) return std::string();
      return whole.substr(offset, length);
    }
    if (response->body.size() > length) {
      return absl::DataLossError(Cat(what, ": ", response->body.size(), " bytes answered"));
    }
    return std::move(response->body);
  }

  absl::StatusOr<ObjectInfo> Head(std::string_view key) override {
    const std::string what = Cat("head of ", key);
    absl::StatusOr<S3Response> response =
        s3_.Send({.method = "HEAD", .key = std::string(key), .head = true}, what);
    if (!response.ok()) return response.status();
    if (response->status != 200) return S3Error(*response, what);
    ObjectInfo info{.key = std::string(key), .etag = Unquote(response->headers["etag"])};
    info.size = std::strtoull(response->headers["content-length"].c_str(), nullptr, 10);
    return info;
  }

  absl::StatusOr<std::vector<ObjectInfo>> List(std::string_view prefix) override;

  absl::Status Delete(std::string_view key) override {
    const std::string what = Cat("delete of ", key);
    absl::StatusOr<S3Response> response =
        s3_.Send({.method = "DELETE", .key = std::string(key)}, what);
    if (!response.ok()) return response.status();
    if (response->status != 204 && response->status != 200 && response->status != 404) {
      return S3Error(*response, what);
    }
    return absl::OkStatus();
  }

 private:
  static absl::Status CheckEtag(S3Response& response, const std::string& md5_hex,
                                std::string_view what) {
    // With KMS or customer-key encryption the ETag is not the MD5 (Content-MD5 still checked
    // the bytes on arrival).
    if (!EtagIsMd5(response)) return absl::OkStatus();
    const std::string etag = Unquote(response.headers["etag"]);
    if (etag != md5_hex) {
      return absl::DataLossError(Cat(what, ": the store's ETag ", etag,
                                     " is not the MD5 of the bytes sent"));
    }
    return absl::OkStatus();
  }

  absl::Status PutParts(std::string_view key, std::string_view data);
  // Completes the upload; on NoSuchUpload, accepts the object if it is already `data`.
  absl::Status CompleteParts(std::string_view key, const std::string& upload_id,
                             const std::string& body, std::string_view data,
                             const std::string& multipart_etag, std::string_view what);
  absl::StatusOr<std::string> PutPart(std::string_view key, const std::string& upload_id,
                                      int number, std::string_view part);

  S3Requester s3_;
};

absl::Status S3ObjectStore::PutParts(std::string_view key, std::string_view data) {
  const std::string what = Cat("multipart put of ", key);
  S3Request start{.method = "POST", .key = std::string(key)};
  start.query["uploads"] = "";
  absl::StatusOr<S3Response> started = s3_.Send(start, what);
  if (!started.ok()) return started.status();
  if (started->status != 200) return S3Error(*started, what);
  const XmlAnswer answer(started->body);
  const std::string upload_id = answer.root() ? ChildText(answer.root(), "UploadId") : "";
  if (upload_id.empty()) return absl::InternalError(Cat(what, ": no UploadId in the answer"));

  // S3 allows 10,000 parts: larger objects get larger parts.
  const uint64_t part_size = std::max<uint64_t>(
      {s3_.options().part_size, uint64_t{5} << 20, (data.size() + 9999) / 10000});
  // The parts go up `upload_concurrency` at a time (the digests and the sends of several
  // parts overlap); their answers are put back in order.
  const int parts = static_cast<int>((data.size() + part_size - 1) / part_size);
  std::vector<absl::StatusOr<std::string>> etags(parts, absl::UnknownError("not sent"));
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  auto send = [&] {
    for (int i; !failed.load() && (i = next.fetch_add(1)) < parts;) {
      etags[i] = PutPart(key, upload_id, i + 1, data.substr(i * part_size, part_size));
      if (!etags[i].ok()) failed.store(true);
    }
  };
  std::vector<std::thread> senders;
  for (int t = 1; t < std::min(parts, std::max(1, s3_.options().upload_concurrency)); ++t) {
    senders.emplace_back(send);
  }
  send();
  for (std::thread& t : senders) t.join();
  std::string complete = "<CompleteMultipartUpload>";
  std::string part_md5s;  // the parts' binary MD5s, whose MD5 is the object's ETag
  absl::Status status;
  for (int i = 0; i < parts && status.ok(); ++i) {
    if (!etags[i].ok()) {
      status = etags[i].status();
      break;
    }
    part_md5s += Md5Bytes(data.substr(i * part_size, part_size));
    AppendCat(&complete, "<Part><PartNumber>", i + 1, "</PartNumber><ETag>\"", *etags[i],
              "\"</ETag></Part>");
  }
  complete += "</CompleteMultipartUpload>";
  if (status.ok()) {
    status = CompleteParts(key, upload_id, complete, data, Cat(Md5Hex(part_md5s), "-", parts),
                           what);
  }
  if (!status.ok()) {  // abort, best effort: the parts would be kept (and billed) otherwise
    S3Request abort{.method = "DELETE", .key = std::string(key)};
    abort.query["uploadId"] = upload_id;
    s3_.Send(abort, what).IgnoreError();
  }
  return status;
}

absl::Status S3ObjectStore::CompleteParts(std::string_view key, const std::string& upload_id,
                                          const std::string& body, std::string_view data,
                                          const std::string& multipart_etag,
                                          std::string_view what) {
  S3Request finish{.method = "POST", .key = std::string(key), .body = body};
  finish.query["uploadId"] = upload_id;
  absl::Status last;
  for (int attempt = 0; attempt < s3_.options().max_attempts; ++attempt) {
    absl::StatusOr<S3Response> finished = s3_.Send(finish, what);
    if (!finished.ok()) return finished.status();
    const XmlAnswer done(finished->body);
    const bool error_body = done.root() && xmlStrcmp(done.root()->name, BAD_CAST "Error") == 0;
    if (finished->status == 200 && !error_body) return absl::OkStatus();
    if (finished->status == 404 && done.root() &&
        ChildText(done.root(), "Code") == "NoSuchUpload") {
      // An earlier attempt completed it and its answer was lost: the object must be there,
      // whole (its multipart ETag, or the whole object's MD5 on stores that recompute it).
      absl::StatusOr<ObjectInfo> stored = Head(key);
      if (stored.ok() && stored->size == data.size() &&
          (stored->etag == multipart_etag || stored->etag == Md5Hex(data))) {
        return absl::OkStatus();
      }
      return absl::DataLossError(Cat(what, ": the upload is gone and the object is not it"));
    }
    if (finished->status == 200) finished->status = 500;  // 200 with an <Error>: retry it
    last = S3Error(*finished, what);
    if (!error_body) return last;
  }
  return last;
}

absl::StatusOr<std::string> S3ObjectStore::PutPart(std::string_view key,
                                                   const std::string& upload_id, int number,
                                                   std::string_view part) {
  const std::string what = Cat("part ", number, " of the multipart put of ", key);
  S3Request request{.method = "PUT", .key = std::string(key), .body = part};
  request.query["partNumber"] = std::to_string(number);
  request.query["uploadId"] = upload_id;
  request.headers.push_back(Cat("Content-MD5: ", Md5Base64(part)));
  absl::StatusOr<S3Response> response = s3_.Send(request, what);
  if (!response.ok()) return response.status();
  if (response->status != 200) return S3Error(*response, what);
  const std::string md5 = Md5Hex(part);
  if (absl::Status s = CheckEtag(*response, md5, what); !s.ok()) return s;
  return md5;
}

absl::StatusOr<std::vector<ObjectInfo>> S3ObjectStore::List(std::string_view prefix) {
  const std::string what = Cat("list of ", prefix);
  const std::string full_prefix = s3_.FullKey(prefix);
  const size_t strip = full_prefix.size() - prefix.size();
  std::vector<ObjectInfo> out;
  std::string token;
  while (true) {
    S3Request request;
    request.query["list-type"] = "2";
    request.query["max-keys"] = std::to_string(s3_.options().list_page_size);
    request.query["prefix"] = full_prefix;
    if (!token.empty()) request.query["continuation-token"] = token;
    absl::StatusOr<S3Response> response = s3_.Send(request, what);
    if (!response.ok()) return response.status();
    if (response->status != 200) return S3Error(*response, what);
    const XmlAnswer answer(response->body);
    if (answer.root() == nullptr) {
      return absl::InternalError(Cat(what, ": the answer is not XML"));
    }
    for (xmlNode* n = answer.root()->children; n != nullptr; n = n->next) {
      if (n->type != XML_ELEMENT_NODE || xmlStrcmp(n->name, BAD_CAST "Contents") != 0) continue;
      const std::string key = ChildText(n, "Key");
      // Some filesystem-backed stores list their directories as "dir/" keys: not objects.
      if (key.size() <= strip || key.back() == '/') continue;
      out.push_back({.key = key.substr(strip),
                     .size = std::strtoull(ChildText(n, "Size").c_str(), nullptr, 10),
                     .etag = Unquote(ChildText(n, "ETag"))});
    }
    if (ChildText(answer.root(), "IsTruncated") != "true") break;
    token = ChildText(answer.root(), "NextContinuationToken");
    if (token.empty()) return absl::InternalError(Cat(what, ": truncated without a token"));
  }
  std::sort(out.begin(), out.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return out;
}

}  // namespace

absl::Status ValidateObjectStoreOptions(const ObjectStoreOptions& options) {
  const std::string_view endpoint = options.endpoint;
  if (endpoint.substr(0, 7) != "http://" && endpoint.substr(0, 8) != "https://") {
    return absl::InvalidArgumentError(
        Cat("object_store.endpoint: '", endpoint, "' is not an http:// or https:// URL"));
  }
  const std::string& b = options.bucket;
  if (b.size() < 3 || b.size() > 63 ||
      !std::all_of(b.begin(), b.end(), [](unsigned char c) {
        return std::islower(c) || std::isdigit(c) || c == '-' || c == '.';
      })) {
    return absl::InvalidArgumentError(
        Cat("object_store.bucket: '", b,
            "' is not a bucket name (3 to 63 lower-case letters, digits, '-' and '.')"));
  }
  if (options.region.empty()) {
    return absl::InvalidArgumentError("object_store.region: must not be empty");
  }
  if (!options.prefix.empty() && (options.prefix.front() == '/' || options.prefix.back() == '/')) {
    return absl::InvalidArgumentError(
        Cat("object_store.prefix: '", options.prefix, "' must not start or end with '/'"));
  }
  if (options.part_size < (5 << 20)) {
    return absl::InvalidArgumentError("object_store part size: at least 5 MiB");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ObjectStore>> NewS3ObjectStore(const ObjectStoreOptions& options) {
  if (absl::Status s = ValidateObjectStoreOptions(options); !s.ok()) return s;
  return std::unique_ptr<ObjectStore>(new S3ObjectStore(options));
}

}  // namespace proximadb
