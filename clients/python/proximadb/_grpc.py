"""gRPC transport: the same operations as the REST transport, over proximadb.v1.ProximaDB.

Requests and results use the REST transport's JSON shapes, so that the client code above both
is the same. Metadata and filters travel as google.protobuf.Struct, whose numbers are doubles:
metadata read back over gRPC has floats where REST has integers.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator, Dict, Iterable, List, Optional

import grpc
import numpy as np
from google.protobuf import json_format, struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ._rest import backoff, resendable
from ._tls import Tls
from .errors import ProximaDBError, UnavailableError, error_for
from .v1 import proximadb_pb2 as pb
from .v1 import proximadb_pb2_grpc as pb_grpc


def _struct(value: Optional[Dict[str, Any]]) -> Optional[struct_pb2.Struct]:
    if value is None:
        return None
    s = struct_pb2.Struct()
    json_format.ParseDict(value, s)
    return s


def _value(v: struct_pb2.Value) -> Any:
    kind = v.WhichOneof("kind")
    if kind == "number_value":
        return v.number_value
    if kind == "string_value":
        return v.string_value
    if kind == "bool_value":
        return v.bool_value
    if kind == "struct_value":
        return _dict(v.struct_value)
    if kind == "list_value":
        return [_value(x) for x in v.list_value.values]
    return None


def _dict(s: struct_pb2.Struct) -> Dict[str, Any]:
    """A Struct as a dict (json_format.MessageToDict's result, without its reflection cost)."""
    fields = s.fields
    if not fields:  # the common case of search hits; items() on the map is slow in Python
        return {}
    return {k: _value(v) for k, v in fields.items()}


def _flat(msg: Any, presence: bool = False) -> Dict[str, Any]:
    """A message's fields as REST shows them: a Tiering as a dict with None for unset hours,
    the stats' tier_<tier>_<what> fields nested under "tiers"; with `presence`, an optional
    field left unset left out (a cluster's list has no vector_count; elsewhere an older
    server's unset field is its 0)."""
    out: Dict[str, Any] = {}
    for f in msg.DESCRIPTOR.fields:
        if presence and f.containing_oneof is not None and not msg.HasField(f.name):
            continue
        value = getattr(msg, f.name)
        if f.name == "tiering":
            value = {"ultra_hot": value.ultra_hot,
                     **{h: getattr(value, h) if value.HasField(h) else None
                        for h in ("warm_after_hours", "cold_after_hours")}}
        if f.name.startswith("tier_"):
            tier, _, what = f.name[len("tier_"):].rpartition("_")
            out.setdefault("tiers", {}).setdefault(tier, {})[what] = value
            continue
        out[f.name] = value
    return out


def _plain(msg: Any) -> Dict[str, Any]:
    """A message as nested dicts and lists, every field by its name."""
    out: Dict[str, Any] = {}
    for f in msg.DESCRIPTOR.fields:
        value = getattr(msg, f.name)
        repeated = f.is_repeated
        if f.message_type is not None:
            value = [_plain(v) for v in value] if repeated else _plain(value)
        elif repeated:
            value = list(value)
        out[f.name] = value
    return out


def _tiering(settings: Dict[str, Any]) -> Dict[str, Any]:
    """`settings` with a tiering dict as the message wants it (None hours left unset)."""
    if settings.get("tiering") is None:
        return settings
    tiering = {k: v for k, v in settings["tiering"].items() if v is not None}
    return {**settings, "tiering": pb.Tiering(**tiering)}


def _fill(v: pb.VectorInput, r: Dict[str, Any]) -> pb.VectorInput:
    v.vector.extend(r["vector"])
    if r.get("id") is not None:
        v.id = r["id"]
    if r.get("metadata"):  # an empty object is what the server stores for none
        json_format.ParseDict(r["metadata"], v.metadata)
    return v


def _vector_input(r: Dict[str, Any]) -> pb.VectorInput:
    return _fill(pb.VectorInput(), r)


def _batch(collection: str, vectors: Any, upsert: bool) -> pb.BatchWriteRequest:
    req = pb.BatchWriteRequest(collection=collection, upsert=upsert)
    if hasattr(vectors, "matrix"):  # Columns: all vectors as one float32 byte string
        c = req.columns
        c.ids.extend(vectors.ids)
        c.vectors_f32 = np.ascontiguousarray(vectors.matrix, dtype="<f4").tobytes()
        if vectors.metadata is not None:
            for m in vectors.metadata:
                json_format.ParseDict(m, c.metadata.add())
        return req
    for r in vectors:
        _fill(req.vectors.add(), r)  # built in place, not copied in
    return req


def _search_request(collection: str, q: Dict[str, Any]) -> pb.SearchRequest:
    # The query as its float32 bytes (40 us less per call at 784-d than a repeated float).
    req = pb.SearchRequest(collection=collection,
                           vector_f32=np.ascontiguousarray(q["vector"], dtype="<f4").tobytes(),
                           include_vectors=q.get("include_vectors", False),
                           exact=q.get("exact", False))
    for key in ("k", "ef", "include_metadata", "rerank", "nprobe", "consistency"):
        if q.get(key) is not None:
            setattr(req, key, q[key])
    if q.get("filter") is not None:
        req.filter.CopyFrom(_struct(q["filter"]))
    return req


def _search_result(resp: pb.SearchResponse, q: Dict[str, Any]) -> Dict[str, Any]:
    with_metadata, with_vectors = q.get("include_metadata", True), q.get("include_vectors")
    results = []
    for h in resp.results:
        r: Dict[str, Any] = {"id": h.id, "score": h.score}
        if with_metadata:
            r["metadata"] = _dict(h.metadata)
        if with_vectors:
            r["vector"] = list(h.vector)
        results.append(r)
    return {"results": results, "plan": resp.plan}


def _record(r: pb.VectorRecord, with_vector: bool = True) -> Dict[str, Any]:
    out: Dict[str, Any] = {"id": r.id, "metadata": _dict(r.metadata)}
    if with_vector:
        out["vector"] = list(r.vector)
    return out


def _request(op: str, p: Dict[str, Any]) -> Any:
    """(stub method name, request message) of an operation."""
    if op == "create_collection":
        return "CreateCollection", pb.CreateCollectionRequest(**_tiering(p["body"]))
    if op == "list_collections":
        return "ListCollections", pb.ListCollectionsRequest()
    if op == "update_collection":
        return "UpdateCollection", pb.UpdateCollectionRequest(name=p["collection"],
                                                              **_tiering(p["body"]))
    names = {"get_collection": "GetCollection", "delete_collection": "DeleteCollection",
             "collection_stats": "GetCollectionStats", "flush": "Flush", "compact": "Compact",
             "apply_tiering": "ApplyTiering", "collection_history": "GetCollectionHistory"}
    if op in names:
        return names[op], pb.CollectionRef(name=p["collection"])
    if op == "create_backup":
        return "CreateBackup", pb.CollectionRef(name=p["collection"])
    if op == "list_backups":
        req = pb.ListBackupsRequest()
        if p.get("collection"):
            req.collection = p["collection"]
        return "ListBackups", req
    if op == "delete_backup":
        return "DeleteBackup", pb.BackupRef(backup_id=p["backup_id"])
    if op == "restore_backup":
        return "Restore", pb.RestoreRequest(backup_id=p["backup_id"],
                                            target_collection=p["target"])
    if op == "restore_time":
        return "Restore", pb.RestoreRequest(source_collection=p["source"],
                                            point_in_time=p["time"],
                                            target_collection=p["target"])
    if op == "create_key":
        body = p["body"]
        req = pb.CreateKeyRequest(name=body["name"], role=body["role"])
        if body.get("collections") is not None:
            req.scope.collections.extend(body["collections"])
        return "CreateKey", req
    if op == "list_keys":
        return "ListKeys", pb.ListKeysRequest()
    if op == "cluster":
        return "GetCluster", pb.GetClusterRequest()
    if op == "health":  # the standard health service (docs/api.md)
        return "Check", health_pb2.HealthCheckRequest(service="proximadb.v1.ProximaDB")
    if op == "delete_key":
        return "DeleteKey", pb.KeyRef(name=p["name"])
    c = p.get("collection", "")
    if op == "insert":
        return "Insert", pb.InsertRequest(collection=c, record=_vector_input(p["record"]))
    if op == "batch_write":
        return "BatchWrite", _batch(c, p["vectors"], p["upsert"])
    if op in ("get", "delete_one"):
        return ("GetVector" if op == "get" else "DeleteVector"), pb.VectorRef(
            collection=c, id=p["id"], consistency=p.get("consistency") or "")
    if op == "upsert_one":
        req = pb.UpsertVectorRequest(collection=c, id=p["id"], vector=p["vector"])
        if p.get("metadata") is not None:
            req.metadata.CopyFrom(_struct(p["metadata"]))
        return "UpsertVector", req
    if op == "patch_metadata":
        return "PatchMetadata", pb.PatchMetadataRequest(collection=c, id=p["id"],
                                                        metadata=_struct(p["metadata"]))
    if op == "delete_ids":
        return "DeleteVectors", pb.DeleteVectorsRequest(collection=c, ids=p["ids"])
    if op == "delete_filter":
        return "DeleteVectors", pb.DeleteVectorsRequest(collection=c, filter=_struct(p["filter"]))
    consistency = p.get("consistency") or ""
    if op == "search":
        return "Search", _search_request(c, p["query"])
    if op == "search_batch":
        return "SearchBatch", pb.SearchBatchRequest(
            collection=c, queries=[_search_request(c, q) for q in p["queries"]])
    if op == "count":
        req = pb.CountRequest(collection=c, consistency=consistency)
        if p.get("filter"):
            req.filter.CopyFrom(_struct(p["filter"]))
        return "Count", req
    if op == "scroll":
        req = pb.ScrollRequest(collection=c, limit=p["limit"], cursor=p.get("cursor") or "",
                               include_vectors=p["include_vectors"], consistency=consistency)
        if p.get("filter"):
            req.filter.CopyFrom(_struct(p["filter"]))
        return "Scroll", req
    raise ValueError(f"unknown operation {op}")


def _key(k: Any) -> Dict[str, Any]:
    """An ApiKey message as REST shows it: ``collections`` null for every collection."""
    return {"name": k.name, "role": k.role, "created_at_ms": k.created_at_ms,
            "collections": list(k.scope.collections) if k.HasField("scope") else None,
            "key": k.key if k.HasField("key") else None}


def _result(op: str, p: Dict[str, Any], resp: Any) -> Dict[str, Any]:
    """The REST-shaped result of an operation's response message."""
    if op in ("create_collection", "get_collection", "update_collection",
              "collection_stats", "flush", "compact", "apply_tiering", "delete_collection",
              "create_backup",
              "delete_backup", "restore_backup", "restore_time"):
        return _flat(resp)
    if op == "list_collections":
        return {"collections": [_flat(c, presence=True) for c in resp.collections]}
    if op == "list_backups":
        return {"backups": [_flat(b) for b in resp.backups]}
    if op == "collection_history":
        return {"name": resp.name, "events": [_flat(e) for e in resp.events]}
    if op == "create_key":
        return _key(resp)
    if op == "list_keys":
        return {"keys": [_key(k) for k in resp.keys]}
    if op == "health":
        if resp.status != health_pb2.HealthCheckResponse.SERVING:
            raise UnavailableError("UNAVAILABLE", "the server is not serving (recovering, or "
                                   "shutting down)")
        return {"status": "ready"}
    if op == "delete_key":
        return {"name": resp.name, "deleted": resp.deleted}
    if op == "cluster":
        return _plain(resp)
    if op in ("insert", "upsert_one", "patch_metadata"):
        return {"id": resp.id}
    if op == "batch_write":
        return {"ids": list(resp.ids), "count": resp.count}
    if op == "get":
        return _record(resp)
    if op in ("delete_one", "delete_ids", "delete_filter"):
        return {"deleted": resp.deleted}
    if op == "search":
        return _search_result(resp, p["query"])
    if op == "search_batch":
        return {"results": [_search_result(r, q) for r, q in zip(resp.results, p["queries"])]}
    if op == "count":
        return {"count": resp.count}
    if op == "scroll":
        return {"vectors": [_record(r, p["include_vectors"]) for r in resp.vectors],
                "next_cursor": resp.next_cursor or None}
    raise ValueError(f"unknown operation {op}")


def _error(e: grpc.RpcError) -> ProximaDBError:
    code = None
    for key, value in (e.trailing_metadata() or ()):
        if key == "proximadb-error-code":
            code = value
    answered = code is not None  # the server's own answer, not a failed connection
    status = e.code()
    if code is None and status == grpc.StatusCode.RESOURCE_EXHAUSTED:
        code = "PAYLOAD_TOO_LARGE"  # gRPC's own message size limit, not the server's overload
    if code is None:
        code = "UNAVAILABLE" if status == grpc.StatusCode.UNAVAILABLE else status.name
    err = error_for(code, e.details() or status.name, grpc_status=status.name)
    err.answered = answered  # type: ignore[attr-defined]
    return err


def _retryable(e: ProximaDBError, op: str, params: Dict[str, Any]) -> bool:
    """UNAVAILABLE is retried when the server answered it (it did nothing), or for an
    operation that may run twice; without an answer gRPC cannot say whether the request got
    through, so an insert, create or delete is not sent again (as over REST)."""
    if e.code == "RESOURCE_EXHAUSTED":  # the server's overload answer: it did nothing
        return True
    if e.code != "UNAVAILABLE" and e.grpc_status != "UNAVAILABLE":
        return False
    return getattr(e, "answered", False) or resendable(op, params)


def _check_open(closed: bool) -> None:
    """A closed client's calls fail alike over both protocols (grpcio's own errors differ
    between its sync and async channels)."""
    if closed:
        raise RuntimeError("the client is closed")


def _options(max_message_bytes: int) -> List[Any]:
    return [("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes)]


class GrpcTransport:
    """Blocking gRPC transport over one channel."""

    def __init__(self, target: str, api_key: Optional[str], timeout: float, retries: int,
                 tls: Optional[Tls] = None, max_message_bytes: int = 64 << 20):
        options = _options(max_message_bytes)
        self._channel = (grpc.secure_channel(target, tls.grpc_credentials(), options=options)
                         if tls is not None else grpc.insecure_channel(target, options=options))
        self._stub = pb_grpc.ProximaDBStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)
        self._metadata = [("authorization", f"Bearer {api_key}")] if api_key else None
        self._timeout = timeout
        self._retries = retries
        self._closed = False

    def call(self, op: str, params: Dict[str, Any]) -> Dict[str, Any]:
        method, request = _request(op, params)
        for attempt in range(self._retries + 1):
            _check_open(self._closed)  # closed during a backoff too
            try:
                stub = self._health if op == "health" else self._stub
                resp = getattr(stub, method)(request, timeout=self._timeout,
                                             metadata=self._metadata)
                return _result(op, params, resp)
            except grpc.RpcError as e:
                err = _error(e)
                if attempt == self._retries or not _retryable(err, op, params):
                    raise err from None
                time.sleep(backoff(attempt))
        raise AssertionError("unreachable")

    def stream_write(self, collection: str, batches: Iterable[List[Dict[str, Any]]],
                     upsert: bool) -> Dict[str, Any]:
        """Streams the batches (StreamUpsert); not retried (a stream is not idempotent)."""
        _check_open(self._closed)
        requests = (_batch(collection, b, upsert) for b in batches)
        try:
            resp = self._stub.StreamUpsert(requests, metadata=self._metadata)
        except grpc.RpcError as e:
            raise _error(e) from None
        return {"batches": resp.batches, "count": resp.count}

    def close(self) -> None:
        self._closed = True
        self._channel.close()


class AsyncGrpcTransport:
    """gRPC transport over one grpc.aio channel."""

    def __init__(self, target: str, api_key: Optional[str], timeout: float, retries: int,
                 tls: Optional[Tls] = None, max_message_bytes: int = 64 << 20):
        options = _options(max_message_bytes)
        self._channel = (
            grpc.aio.secure_channel(target, tls.grpc_credentials(), options=options)
            if tls is not None else grpc.aio.insecure_channel(target, options=options))
        self._stub = pb_grpc.ProximaDBStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)
        self._metadata = (("authorization", f"Bearer {api_key}"),) if api_key else None
        self._timeout = timeout
        self._retries = retries
        self._closed = False

    async def call(self, op: str, params: Dict[str, Any]) -> Dict[str, Any]:
        method, request = _request(op, params)
        for attempt in range(self._retries + 1):
            _check_open(self._closed)  # closed during a backoff too
            try:
                stub = self._health if op == "health" else self._stub
                resp = await getattr(stub, method)(request, timeout=self._timeout,
                                                   metadata=self._metadata)
                return _result(op, params, resp)
            except grpc.RpcError as e:
                err = _error(e)
                if attempt == self._retries or not _retryable(err, op, params):
                    raise err from None
                await asyncio.sleep(backoff(attempt))
        raise AssertionError("unreachable")

    async def stream_write(self, collection: str, batches: Iterable[List[Dict[str, Any]]],
                           upsert: bool) -> Dict[str, Any]:
        _check_open(self._closed)

        async def requests() -> AsyncIterator[pb.BatchWriteRequest]:
            for b in batches:
                yield _batch(collection, b, upsert)

        try:
            resp = await self._stub.StreamUpsert(requests(), metadata=self._metadata)
        except grpc.RpcError as e:
            raise _error(e) from None
        return {"batches": resp.batches, "count": resp.count}

    async def close(self) -> None:
        self._closed = True
        await self._channel.close()
