// REST handlers of backups: create, list, delete, restore (docs/backups.md).
#include "common/strings.h"
#include "server/fields.h"
#include "server/rest_body.h"
#include "server/rest_handlers.h"

namespace proximadb::server {

HttpResponse CreateBackup(const RestCall& call) {
  Body b;
  if (!call.request.body.empty() && !b.Parse(call.request.body, {})) return BadRequest(b.error);
  auto backup = call.service.Backup(call.name);
  if (!backup.ok()) return FromStatus(backup.status());
  return Json(201, FieldsJson(BackupFields(*backup)));
}

HttpResponse ListBackups(const RestCall& call) {
  auto list = call.service.ListBackups();
  if (!list.ok()) return FromStatus(list.status());
  const auto only = call.request.query.find("collection");
  json out = json::array();
  for (const BackupInfo& backup : *list) {
    if (only != call.request.query.end() && backup.collection != only->second) continue;
    out.push_back(FieldsJson(BackupFields(backup)));
  }
  return Json(200, {{"backups", out}});
}

HttpResponse DeleteBackup(const RestCall& call) {
  if (auto s = call.service.DeleteBackup(call.id); !s.ok()) return FromStatus(s);
  return Json(200, {{"backup_id", call.id}, {"deleted", true}});
}

HttpResponse RestoreBackup(const RestCall& call) {
  Body b;
  std::string backup_id, target, source, point_in_time;
  if (!b.Parse(call.request.body,
               {"backup_id", "target_collection", "source_collection", "point_in_time"}) ||
      !b.String("target_collection", &target, true) || !b.String("backup_id", &backup_id) ||
      !b.String("source_collection", &source) || !b.String("point_in_time", &point_in_time)) {
    return BadRequest(b.error);
  }
  // Either a backup, or a source collection and a moment (wal_archive).
  const bool by_time = b.Has("source_collection") || b.Has("point_in_time");
  if (by_time == b.Has("backup_id") ||
      (by_time && !(b.Has("source_collection") && b.Has("point_in_time")))) {
    return BadRequest("give either 'backup_id', or 'source_collection' and 'point_in_time'");
  }
  auto restored = by_time ? call.service.RestoreToTime(source, point_in_time, target)
                          : call.service.Restore(backup_id, target);
  if (!restored.ok()) return FromStatus(restored.status());
  json out = CollectionJson(*restored);
  if (!by_time) out["restored_from"] = backup_id;
  return Json(201, out);
}

}  // namespace proximadb::server
