// The pieces every REST handler uses: a parsed, validated JSON request body (simdjson), and
// the writers of responses and errors (docs/api.md). Only the REST files include it; it keeps
// simdjson and nlohmann out of every other header.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <simdjson.h>

#include "absl/status/status.h"
#include "server/fields.h"
#include "server/rest_api.h"

namespace proximadb::server {

using json = nlohmann::json;
namespace dom = simdjson::dom;

// How deep a request body may nest objects and arrays (metadata included); deeper is a 400.
inline constexpr size_t kMaxBodyDepth = 64;

// A JSON object body with typed, validated access; the first problem is kept in `error`, and
// each accessor returns false once there is one. Absent optional fields leave outputs alone.
class Body {
 public:
  // Parses `text` as an object whose keys are all in `allowed`.
  bool Parse(const std::string& text, const std::vector<std::string_view>& allowed);
  bool FromElement(dom::element e, std::string_view what,
                   const std::vector<std::string_view>& allowed);

  // Whether the field is there and not null (null stands for absent in optional fields).
  bool Has(std::string_view field) const;
  // Whether the field is there at all, null included.
  bool Present(std::string_view field) const;
  // The field's value; only for fields Has() reports (a default element must not be used).
  dom::element Get(std::string_view field) const;

  bool String(std::string_view field, std::string* out, bool required = false);
  bool OptionalString(std::string_view field, std::optional<std::string>* out);
  bool Integer(std::string_view field, int64_t* out, int64_t min, int64_t max,
               bool required = false);
  template <typename Int>
  bool Integer(std::string_view field, Int* out, int64_t min, int64_t max, bool required = false) {
    int64_t v = static_cast<int64_t>(*out);
    if (!Integer(field, &v, min, max, required)) return false;
    *out = static_cast<Int>(v);
    return true;
  }
  bool Number(std::string_view field, double* out);
  bool Bool(std::string_view field, bool* out);
  // A JSON array of numbers.
  bool Vector(std::string_view field, std::vector<float>* out, bool required = true);
  bool VectorFrom(dom::element e, const std::string& what, std::vector<float>* out);
  // A required JSON string of base64 (of little-endian float32 values), decoded into `bytes`.
  bool Base64(std::string_view field, std::string* bytes);
  // Such a string holding one vector: at least one float32 value, the bytes a whole number of
  // them.
  bool Float32Base64(std::string_view field, std::vector<float>* out);
  // A required JSON array of `what`.
  bool Array(std::string_view field, std::string_view what, dom::array* out);
  // A JSON object, returned as compact text ("{}" when absent).
  bool Object(std::string_view field, std::string* out);

  // The optional field "consistency" of a read (strong, the default, or eventual).
  bool Consistency(ReadConsistency* out);

  bool Fail(std::string message);

  std::string error;

 private:
  dom::object object_;
};

HttpResponse ErrorResponse(int status, std::string_view code, std::string_view message,
                           json details = json::object());
HttpResponse BadRequest(std::string_view message);
// An error from the service, with its HTTP status and stable code.
HttpResponse FromStatus(const absl::Status& s);
HttpResponse Json(int status, const json& body);
// A JSON object of the fields (server/fields.h).
json FieldsJson(const std::vector<Field>& fields);
// A collection as REST shows it: its fields and its "tiering" object.
json CollectionJson(const CollectionInfo& info);
// The body's "tiering" object, when given, into `out` (a missing key: false or null); false
// with b's error naming the field otherwise.
bool ParseTiering(Body& b, TieringPolicy* out);

// `s` as a JSON string (ids and cursors rarely need escaping: those go through as they are).
void AppendString(std::string* out, std::string_view s);
void AppendFloat(std::string* out, float f);
void AppendVector(std::string* out, const std::vector<float>& v);

}  // namespace proximadb::server
