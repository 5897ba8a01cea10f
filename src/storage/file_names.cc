#include "storage/file_names.h"

#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"

namespace proximadb {
namespace {

std::string Numbered(const char* prefix, uint64_t number, const char* suffix) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s%06llu%s", prefix, static_cast<unsigned long long>(number),
                suffix);
  return buf;
}

bool ParseNumbered(std::string_view name, std::string_view prefix, std::string_view suffix,
                   uint64_t* number) {
  if (name.size() <= prefix.size() + suffix.size() || !name.starts_with(prefix) ||
      !name.ends_with(suffix)) {
    return false;
  }
  std::string_view digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
  }
  return absl::SimpleAtoi(absl::string_view(digits.data(), digits.size()), number);
}

}  // namespace

std::string WalFileName(uint64_t number) { return Numbered("wal-", number, ".log"); }
std::string SegmentFileName(uint64_t number) { return Numbered("seg-", number, ".pxs"); }
std::string ColdStubFileName(uint64_t number) { return Numbered("seg-", number, ".pxc"); }

FileKind ParseFileName(std::string_view name, uint64_t* number) {
  if (name == kManifestName) return FileKind::kManifest;
  if (name.ends_with(".tmp")) return FileKind::kTemp;
  if (ParseNumbered(name, "wal-", ".log", number)) return FileKind::kWal;
  if (ParseNumbered(name, "seg-", ".pxs", number)) return FileKind::kSegment;
  if (ParseNumbered(name, "seg-", ".pxc", number)) return FileKind::kColdStub;
  return FileKind::kUnknown;
}

}  // namespace proximadb
