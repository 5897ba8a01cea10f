#include "storage/manifest.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/coding.h"
#include "common/crc32c.h"
#include "common/macros.h"
#include "storage/file_names.h"
#include "storage/row_bitmap.h"

namespace proximadb {
namespace {
constexpr char kMagic[8] = {'P', 'X', 'D', 'B', '-', 'M', 'A', 'N'};
}

std::string EncodeManifest(const Manifest& m) {
  std::string out(kMagic, 8);
  PutFixed32(&out, kManifestFormatVersion);
  PutVarint64(&out, m.next_file_number);
  PutVarint64(&out, m.covered_seq);
  PutVarint64(&out, m.wal_start);
  PutVarint64(&out, m.segments.size());
  for (const ManifestSegment& s : m.segments) {
    PutVarint64(&out, s.number);
    PutVarint64(&out, s.num_rows);
    PutLengthPrefixed(&out, EncodeRowBitmap(s.deleted_rows));
    PutVarint64(&out, s.cold_bytes);
  }
  PutFixed32(&out, crc32c::Value(out));
  return out;
}

absl::StatusOr<Manifest> DecodeManifest(std::string_view bytes, std::string_view name) {
  auto corrupt = [&](std::string_view why) {
    return absl::DataLossError(
        absl::StrCat("manifest ", std::string(name), " is corrupt: ", std::string(why)));
  };
  if (bytes.size() < 16 || std::memcmp(bytes.data(), kMagic, 8) != 0) {
    return corrupt("bad magic number");
  }
  const size_t body = bytes.size() - 4;
  if (crc32c::Value(bytes.data(), body) != DecodeFixed32(bytes.data() + body)) {
    return corrupt("checksum mismatch");
  }
  Decoder d(bytes.substr(8, body - 8));
  uint32_t version;
  uint64_t count;
  Manifest m;
  if (!d.GetFixed32(&version)) return corrupt("truncated");
  if (version != 1 && version != kManifestFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat("manifest ", std::string(name),
                                                      " has format version ", version));
  }
  if (!d.GetVarint64(&m.next_file_number) || !d.GetVarint64(&m.covered_seq) ||
      !d.GetVarint64(&m.wal_start) || !d.GetVarint64(&count)) {
    return corrupt("truncated header");
  }
  for (uint64_t i = 0; i < count; ++i) {
    ManifestSegment s;
    std::string_view bitmap;
    if (!d.GetVarint64(&s.number) || !d.GetVarint32(&s.num_rows) ||
        !d.GetLengthPrefixed(&bitmap) || (version >= 2 && !d.GetVarint64(&s.cold_bytes))) {
      return corrupt("truncated segment entry");
    }
    if (absl::Status st = DecodeRowBitmap(bitmap, s.num_rows, &s.deleted_rows); !st.ok()) {
      return corrupt(std::string(st.message()));
    }
    m.segments.push_back(std::move(s));
  }
  if (!d.done()) return corrupt("trailing bytes");
  return m;
}

absl::StatusOr<Manifest> ReadManifest(Env* env, const std::string& dir) {
  const std::string path = JoinPath(dir, kManifestName);
  PROXIMADB_ASSIGN_OR_RETURN(std::string bytes, env->ReadFile(path));
  return DecodeManifest(bytes, path);
}

absl::Status WriteManifest(Env* env, const std::string& dir, const Manifest& m,
                           bool* installed) {
  return env->WriteFileAtomically(JoinPath(dir, kManifestName), EncodeManifest(m), installed);
}

}  // namespace proximadb
