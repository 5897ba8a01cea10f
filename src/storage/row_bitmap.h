// Sets of row numbers on disk: Roaring bitmaps in their portable serialization (the format
// other Roaring implementations read too). Used for the deletion bitmaps of segments and of the
// manifest.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace proximadb {

std::string EncodeRowBitmap(const std::vector<uint32_t>& rows);
// Decodes into ascending `rows`; an error (for the caller to wrap) if the bytes are malformed or
// a row is not below `num_rows`.
absl::Status DecodeRowBitmap(std::string_view bytes, uint32_t num_rows,
                             std::vector<uint32_t>* rows);

}  // namespace proximadb
