// REST handlers of API keys: create, list, delete (docs/security.md#managing-keys).
#include "server/rest_body.h"
#include "server/rest_handlers.h"

namespace proximadb::server {
namespace {

json KeyJson(const KeyInfo& key) {
  return {{"name", key.name},
          {"role", RoleName(key.role)},
          {"collections", key.collections ? json(*key.collections) : json(nullptr)},
          {"created_at_ms", key.created_at_ms}};
}

}  // namespace

HttpResponse CreateKey(const RestCall& call) {
  Body b;
  KeyInfo info;
  std::string role;
  if (!b.Parse(call.request.body, {"name", "role", "collections"}) ||
      !b.String("name", &info.name, true) || !b.String("role", &role, true)) {
    return BadRequest(b.error);
  }
  if (b.Has("collections") && !b.Get("collections").is_null()) {
    dom::array entries;
    if (!b.Array("collections", "collection names or prefixes", &entries)) {
      return BadRequest(b.error);
    }
    info.collections.emplace();
    for (dom::element e : entries) {
      std::string_view entry;
      if (e.get(entry) != simdjson::SUCCESS) {
        return BadRequest("'collections' must be null or an array of strings");
      }
      info.collections->emplace_back(entry);
    }
  }
  absl::StatusOr<Role> parsed = ParseRole(role);
  if (!parsed.ok()) return FromStatus(parsed.status());
  info.role = *parsed;
  auto created = call.service.CreateKey(std::move(info));
  if (!created.ok()) return FromStatus(created.status());
  json out = KeyJson(created->first);
  out["key"] = created->second;
  return Json(201, out);
}

HttpResponse ListKeys(const RestCall& call) {
  auto keys = call.service.ListKeys();
  if (!keys.ok()) return FromStatus(keys.status());
  json out = json::array();
  for (const KeyInfo& key : *keys) out.push_back(KeyJson(key));
  return Json(200, {{"keys", out}});
}

HttpResponse DeleteKey(const RestCall& call) {
  if (auto s = call.service.DeleteKey(call.name); !s.ok()) return FromStatus(s);
  return Json(200, {{"name", call.name}, {"deleted", true}});
}

}  // namespace proximadb::server
