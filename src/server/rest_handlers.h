// The REST API's handlers, one per route; rest_api.cc's route table maps each method and path
// pattern to one of them. Grouped by file: rest_collections.cc (collections and their
// maintenance), rest_backups.cc (backups and restores), rest_keys.cc (API keys), rest_records.cc (records: write, read, delete, scroll), rest_search.cc
// (search, batch search, count).
#pragma once

#include <string_view>

#include "server/rest_api.h"
#include "server/service.h"

namespace proximadb::server {

class RequestMetrics;

// One request as a handler sees it: the path's {name} and {id} (empty where the route has
// none), and the holder of its key (nullptr while authentication is off).
struct RestCall {
  Service& service;
  const RequestMetrics& metrics;
  const HttpRequest& request;
  std::string name;
  std::string id;
  const Principal* caller = nullptr;
};
using RestHandler = HttpResponse (*)(const RestCall&);

HttpResponse Health(const RestCall& call);
HttpResponse Ready(const RestCall& call);
HttpResponse Metrics(const RestCall& call);
HttpResponse ClusterInfo(const RestCall& call);

HttpResponse ListCollections(const RestCall& call);
HttpResponse CreateCollection(const RestCall& call);
HttpResponse DescribeCollection(const RestCall& call);
HttpResponse UpdateCollection(const RestCall& call);
HttpResponse DropCollection(const RestCall& call);
HttpResponse StatsOfCollection(const RestCall& call);
HttpResponse HistoryOfCollection(const RestCall& call);
HttpResponse FlushCollection(const RestCall& call);
HttpResponse CompactCollection(const RestCall& call);
HttpResponse ApplyTiering(const RestCall& call);

HttpResponse CreateBackup(const RestCall& call);
HttpResponse ListBackups(const RestCall& call);
HttpResponse DeleteBackup(const RestCall& call);
HttpResponse RestoreBackup(const RestCall& call);

HttpResponse CreateKey(const RestCall& call);
HttpResponse ListKeys(const RestCall& call);
HttpResponse DeleteKey(const RestCall& call);

HttpResponse InsertRecord(const RestCall& call);
HttpResponse WriteBatch(const RestCall& call);
HttpResponse DeleteRecords(const RestCall& call);
HttpResponse GetRecord(const RestCall& call);
HttpResponse PutRecord(const RestCall& call);
HttpResponse PatchRecord(const RestCall& call);
HttpResponse DeleteRecord(const RestCall& call);
HttpResponse ScrollRecords(const RestCall& call);

HttpResponse Search(const RestCall& call);
HttpResponse SearchBatch(const RestCall& call);
HttpResponse Count(const RestCall& call);

}  // namespace proximadb::server
