#include "server/rest_body.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "common/strings.h"

namespace proximadb::server {
namespace {

bool AllFinite(const nlohmann::json& j) {
  if (j.is_number_float()) return std::isfinite(j.get<double>());
  if (!j.is_structured()) return true;
  return std::all_of(j.begin(), j.end(), [](const nlohmann::json& v) { return AllFinite(v); });
}

}  // namespace

bool Body::Parse(const std::string& text, const std::vector<std::string_view>& allowed) {
  // Later growth keeps the depth limit set here (simdjson's ensure_capacity).
  thread_local dom::parser parser = [] {
    dom::parser p;
    if (p.allocate(simdjson::dom::MINIMAL_DOCUMENT_CAPACITY, kMaxBodyDepth) != simdjson::SUCCESS) {
      std::abort();  // a few hundred bytes: only out of memory
    }
    return p;
  }();
  dom::element doc;
  auto e = parser.parse(text.data(), text.size()).get(doc);
  if (e == simdjson::NUMBER_ERROR) {
    // An integer beyond 64 bits is valid JSON that simdjson 3.0 cannot hold: nlohmann reads it
    // as a double, and simdjson parses that text again. A rare, slow path; a number beyond
    // the doubles stays an error.
    bool too_deep = false;
    const nlohmann::json wide = nlohmann::json::parse(
        text, [&](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
          too_deep |= static_cast<size_t>(depth) > kMaxBodyDepth;
          return !too_deep;
        }, false);
    if (!too_deep && !wide.is_discarded() && AllFinite(wide)) {
      const std::string again = wide.dump();
      e = parser.parse(again.data(), again.size()).get(doc);
    }
  }
  if (e != simdjson::SUCCESS) {
    if (e == simdjson::DEPTH_ERROR) {
      return Fail(Cat("request body nests objects and arrays deeper than ", kMaxBodyDepth,
                      " levels"));
    }
    return Fail(Cat("request body is not valid JSON: ", simdjson::error_message(e)));
  }
  return FromElement(doc, "request body", allowed);
}

bool Body::FromElement(dom::element e, std::string_view what,
                       const std::vector<std::string_view>& allowed) {
  if (e.get_object().get(object_) != simdjson::SUCCESS) {
    return Fail(Cat(what, " must be a JSON object"));
  }
  for (auto field : object_) {
    if (std::find(allowed.begin(), allowed.end(), field.key) == allowed.end()) {
      return Fail(Cat("unknown field '", field.key, "' in ", what));
    }
  }
  return true;
}

bool Body::Has(std::string_view field) const {
  dom::element e;
  return object_[field].get(e) == simdjson::SUCCESS && !e.is_null();
}

bool Body::Present(std::string_view field) const {
  dom::element e;
  return object_[field].get(e) == simdjson::SUCCESS;
}

dom::element Body::Get(std::string_view field) const {
  dom::element e;
  if (object_[field].get(e) != simdjson::SUCCESS) return dom::element();
  return e;
}

bool Body::String(std::string_view field, std::string* out, bool required) {
  if (!Has(field)) return !required || Fail(Cat("field '", field, "' is required"));
  std::string_view v;
  if (Get(field).get_string().get(v) != simdjson::SUCCESS) {
    return Fail(Cat("field '", field, "' must be a string"));
  }
  *out = std::string(v);
  return true;
}

bool Body::OptionalString(std::string_view field, std::optional<std::string>* out) {
  if (!Has(field)) return true;
  return String(field, &out->emplace());
}

bool Body::Integer(std::string_view field, int64_t* out, int64_t min, int64_t max,
                   bool required) {
  if (!Has(field)) return !required || Fail(Cat("field '", field, "' is required"));
  int64_t v;
  if (Get(field).get_int64().get(v) != simdjson::SUCCESS) {
    return Fail(Cat("field '", field, "' must be an integer"));
  }
  if (v < min || v > max) {
    return Fail(Cat("field '", field, "' must be between ", min, " and ", max, ", got ", v));
  }
  *out = v;
  return true;
}

bool Body::Number(std::string_view field, double* out) {
  if (!Has(field)) return true;
  if (Get(field).get_double().get(*out) != simdjson::SUCCESS) {
    return Fail(Cat("field '", field, "' must be a number"));
  }
  return true;
}

bool Body::Bool(std::string_view field, bool* out) {
  if (!Has(field)) return true;
  if (Get(field).get_bool().get(*out) != simdjson::SUCCESS) {
    return Fail(Cat("field '", field, "' must be true or false"));
  }
  return true;
}

bool Body::Vector(std::string_view field, std::vector<float>* out, bool required) {
  if (!Has(field)) return !required || Fail(Cat("field '", field, "' is required"));
  return VectorFrom(Get(field), Cat("field '", field, "'"), out);
}

bool Body::Base64(std::string_view field, std::string* bytes) {
  static_assert(std::endian::native == std::endian::little, "float32 bytes are little-endian");
  std::string text;
  if (!String(field, &text, /*required=*/true)) return false;
  if (!absl::Base64Unescape(text, bytes)) {
    return Fail(Cat("field '", field, "' must be base64 (of little-endian float32 values)"));
  }
  return true;
}

bool Body::Float32Base64(std::string_view field, std::vector<float>* out) {
  std::string bytes;
  if (!Base64(field, &bytes)) return false;
  if (bytes.empty() || bytes.size() % sizeof(float) != 0) {
    return Fail(Cat("field '", field, "' has ", bytes.size(),
                    " bytes, not a whole number of float32 values"));
  }
  out->resize(bytes.size() / sizeof(float));
  std::memcpy(out->data(), bytes.data(), bytes.size());
  return true;
}

bool Body::VectorFrom(dom::element e, const std::string& what, std::vector<float>* out) {
  dom::array a;
  if (e.get_array().get(a) != simdjson::SUCCESS) {
    return Fail(Cat(what, " must be an array of numbers"));
  }
  out->clear();
  out->reserve(a.size());
  size_t i = 0;
  for (dom::element x : a) {
    double d;
    if (x.get_double().get(d) != simdjson::SUCCESS) {
      return Fail(Cat(what, " must be an array of numbers; element ", i, " is not"));
    }
    out->push_back(static_cast<float>(d));
    ++i;
  }
  return true;
}

bool Body::Array(std::string_view field, std::string_view what, dom::array* out) {
  // (A default dom::element has no document behind it: never touch one.)
  if (!Has(field)) return Fail(Cat("field '", field, "' is required"));
  if (Get(field).get_array().get(*out) != simdjson::SUCCESS) {
    return Fail(Cat("field '", field, "' must be an array of ", what));
  }
  return true;
}

bool Body::Object(std::string_view field, std::string* out) {
  if (!Has(field)) {
    *out = "{}";
    return true;
  }
  dom::element e = Get(field);
  if (!e.is_object()) return Fail(Cat("field '", field, "' must be a JSON object"));
  *out = simdjson::minify(e);
  return true;
}

bool Body::Fail(std::string message) {
  if (error.empty()) error = std::move(message);
  return false;
}

HttpResponse ErrorResponse(int status, std::string_view code, std::string_view message,
                           json details) {
  HttpResponse r;
  r.status = status;
  // Messages may quote what the client sent, which need not be UTF-8: such bytes become U+FFFD
  // rather than an exception.
  r.body = json{{"error", {{"code", code}, {"message", message}, {"details", details}}}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
  return r;
}

HttpResponse BadRequest(std::string_view message) {
  return ErrorResponse(400, "INVALID_ARGUMENT", message);
}

HttpResponse FromStatus(const absl::Status& s) {
  const ApiError e = ApiErrorOf(s);
  HttpResponse r = ErrorResponse(e.http_status, e.code, std::string(s.message()));
  if (r.status == 429) r.headers.emplace_back("Retry-After", "1");
  return r;
}

json FieldsJson(const std::vector<Field>& fields) {
  json out = json::object();
  for (const Field& f : fields) {
    std::visit([&](const auto& v) { out[std::string(f.name)] = v; }, f.value);
  }
  return out;
}

namespace {

json TieringJson(const TieringPolicy& t) {
  auto hours = [](const std::optional<double>& h) { return h ? json(*h) : json(nullptr); };
  return {{"ultra_hot", t.ultra_hot},
          {"warm_after_hours", hours(t.warm_after_hours)},
          {"cold_after_hours", hours(t.cold_after_hours)}};
}

}  // namespace

bool Body::Consistency(ReadConsistency* out) {
  std::optional<std::string> name;
  if (!OptionalString("consistency", &name)) return false;
  if (!name) return true;  // absent (or null): the default
  absl::StatusOr<ReadConsistency> parsed = ParseConsistency(*name, /*empty_is_default=*/false);
  if (!parsed.ok()) return Fail(std::string(parsed.status().message()));
  *out = *parsed;
  return true;
}

json CollectionJson(const CollectionInfo& info) {
  json out = FieldsJson(CollectionFields(info));
  out["tiering"] = TieringJson(info.config.tiering);
  return out;
}

bool ParseTiering(Body& b, TieringPolicy* out) {
  if (!b.Has("tiering")) return true;
  Body t;
  TieringPolicy policy;
  auto hours = [&](std::string_view field, std::optional<double>* to) {
    if (!t.Has(field) || t.Get(field).is_null()) return true;
    double v = 0;
    if (!t.Number(field, &v)) return false;
    *to = v;
    return true;
  };
  if (!t.FromElement(b.Get("tiering"), "tiering",
                     {"ultra_hot", "warm_after_hours", "cold_after_hours"}) ||
      !t.Bool("ultra_hot", &policy.ultra_hot) ||
      !hours("warm_after_hours", &policy.warm_after_hours) ||
      !hours("cold_after_hours", &policy.cold_after_hours)) {
    return b.Fail(Cat("tiering: ", t.error));
  }
  *out = policy;
  return true;
}

HttpResponse Json(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

void AppendString(std::string* out, std::string_view s) {
  const bool plain = std::all_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x80 &&
           c != '"' && c != '\\';
  });
  if (!plain) {
    // nlohmann escapes it, and turns bytes that are not UTF-8 into U+FFFD.
    *out += json(s).dump(-1, ' ', false, json::error_handler_t::replace);
    return;
  }
  out->push_back('"');
  out->append(s);
  out->push_back('"');
}

void AppendFloat(std::string* out, float f) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), f);
  out->append(buf, end);
}

void AppendVector(std::string* out, const std::vector<float>& v) {
  out->push_back('[');
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out->push_back(',');
    AppendFloat(out, v[i]);
  }
  out->push_back(']');
}

}  // namespace proximadb::server
