#include "server/request_id.h"

#include <cstdint>
#include <random>

namespace proximadb::server {
namespace {

bool ValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("._:/+=-").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

// 16 random hex digits.
std::string NewRequestId() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(16, '0');
  uint64_t bits = rng();
  for (char& c : id) {
    c = kHex[bits & 15];
    bits >>= 4;
  }
  return id;
}

}  // namespace

std::string RequestId(std::string_view given) {
  return ValidRequestId(given) ? std::string(given) : NewRequestId();
}

}  // namespace proximadb::server
