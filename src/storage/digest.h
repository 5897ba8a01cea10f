// Digests of bytes, by OpenSSL's libcrypto: MD5 (what S3 checks uploads with) and SHA-256
// (backups name segments by it).
#pragma once

#include <string>
#include <string_view>

namespace proximadb {

std::string Md5Base64(std::string_view data);
std::string Md5Bytes(std::string_view data);  // the 16 raw bytes
std::string Md5Hex(std::string_view data);
std::string Sha256Hex(std::string_view data);

// SHA-256 over bytes given in pieces.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(std::string_view data);
  // Lower-case hex of the digest; the object is spent after.
  std::string HexDigest();

 private:
  void* ctx_;  // EVP_MD_CTX
};

}  // namespace proximadb
