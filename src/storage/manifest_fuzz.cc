// Fuzz target: the manifest decoder. Arbitrary bytes must decode or give DATA_LOSS, never
// crash. The trailing CRC is recomputed first so that mutations reach the decoder behind it.
#include <cstdint>
#include <string>

#include "common/coding.h"
#include "common/crc32c.h"
#include "storage/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace proximadb;
  std::string bytes(reinterpret_cast<const char*>(data), size);
  if (bytes.size() >= 16) {
    EncodeFixed32(bytes.data() + bytes.size() - 4, crc32c::Value(bytes.data(), bytes.size() - 4));
  }
  (void)DecodeManifest(bytes, "MANIFEST");
  return 0;
}
