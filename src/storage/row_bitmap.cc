#include "storage/row_bitmap.h"

#include <roaring/roaring.hh>

namespace proximadb {

std::string EncodeRowBitmap(const std::vector<uint32_t>& rows) {
  Roaring bitmap(rows.size(), rows.data());
  bitmap.runOptimize();
  std::string out(bitmap.getSizeInBytes(/*portable=*/true), '\0');
  bitmap.write(out.data(), /*portable=*/true);
  return out;
}

absl::Status DecodeRowBitmap(std::string_view bytes, uint32_t num_rows,
                             std::vector<uint32_t>* rows) {
  rows->clear();
  try {
    Roaring bitmap = Roaring::readSafe(bytes.data(), bytes.size());
    if (bitmap.getSizeInBytes(/*portable=*/true) != bytes.size()) {
      return absl::DataLossError("row bitmap has trailing bytes");
    }
    for (uint32_t row : bitmap) {
      if (row >= num_rows) return absl::DataLossError("row bitmap names a row past the end");
      rows->push_back(row);
    }
  } catch (const std::exception& e) {
    return absl::DataLossError(std::string("malformed row bitmap: ") + e.what());
  }
  return absl::OkStatus();
}

}  // namespace proximadb
