#include "filter/metadata.h"

#include <nlohmann/json.hpp>

namespace proximadb {
namespace {

absl::StatusOr<nlohmann::json> ParseObject(std::string_view json, std::string_view what) {
  if (json.empty()) return nlohmann::json::object();
  nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return absl::InvalidArgumentError(std::string(what) + " is not valid JSON");
  }
  if (!doc.is_object()) {
    return absl::InvalidArgumentError(std::string(what) + " must be a JSON object, not " +
                                      doc.type_name());
  }
  return doc;
}

std::string Dump(const nlohmann::json& doc) {
  // Invalid UTF-8 in strings is replaced rather than thrown on.
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

absl::StatusOr<std::string> CanonicalMetadata(std::string_view json, std::string_view what) {
  absl::StatusOr<nlohmann::json> doc = ParseObject(json, what);
  if (!doc.ok()) return doc.status();
  return Dump(*doc);
}

absl::StatusOr<std::string> MergeMetadata(std::string_view target, std::string_view patch,
                                          std::string_view what) {
  absl::StatusOr<nlohmann::json> doc = ParseObject(target, what);
  if (!doc.ok()) return doc.status();
  absl::StatusOr<nlohmann::json> p = ParseObject(patch, what);
  if (!p.ok()) return p.status();
  doc->merge_patch(*p);
  return Dump(*doc);
}

}  // namespace proximadb
