#include "storage/digest.h"

#include <openssl/evp.h>

#include "common/macros.h"

namespace proximadb {

namespace {

std::string Digest(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  PROXIMADB_CHECK(EVP_Digest(data.data(), data.size(), out, &n, md, nullptr) == 1);
  return std::string(reinterpret_cast<char*>(out), n);
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

}  // namespace

std::string Md5Base64(std::string_view data) {
  const std::string md5 = Digest(EVP_md5(), data);
  unsigned char out[32];
  const int n = EVP_EncodeBlock(out, reinterpret_cast<const unsigned char*>(md5.data()),
                                static_cast<int>(md5.size()));
  return std::string(reinterpret_cast<char*>(out), n);
}

std::string Md5Hex(std::string_view data) { return Hex(Digest(EVP_md5(), data)); }

std::string Md5Bytes(std::string_view data) { return Digest(EVP_md5(), data); }

std::string Sha256Hex(std::string_view data) { return Hex(Digest(EVP_sha256(), data)); }

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  PROXIMADB_CHECK(ctx_ != nullptr);
  PROXIMADB_CHECK(EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) == 1);
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::Update(std::string_view data) {
  PROXIMADB_CHECK(EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size()) == 1);
}

std::string Sha256::HexDigest() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  PROXIMADB_CHECK(EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), out, &n) == 1);
  return Hex(std::string_view(reinterpret_cast<char*>(out), n));
}

}  // namespace proximadb
