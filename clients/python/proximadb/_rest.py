"""REST transport: each API operation as an HTTP request to the server's /api/v1 routes."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time
from typing import Any, Dict, Optional, Tuple
from urllib.parse import quote

import httpx
import orjson

from .errors import ProximaDBError, UnavailableError, error_for

RETRY_STATUSES = {429, 503}


def _collection(params: Dict[str, Any]) -> str:
    return "/api/v1/collections/" + quote(params["collection"], safe="")


def build_request(op: str, p: Dict[str, Any]) -> Tuple[str, str, Optional[Dict[str, Any]],
                                                      Optional[Dict[str, str]]]:
    """(method, path, JSON body, query) of an operation."""
    if op == "create_collection":
        return "POST", "/api/v1/collections", p["body"], None
    if op == "list_collections":
        return "GET", "/api/v1/collections", None, None
    if op == "get_collection":
        return "GET", _collection(p), None, None
    if op == "update_collection":
        return "PATCH", _collection(p), p["body"], None
    if op == "delete_collection":
        return "DELETE", _collection(p), None, None
    if op == "collection_stats":
        return "GET", _collection(p) + "/stats", None, None
    if op in ("flush", "compact"):
        return "POST", _collection(p) + "/" + op, None, None
    if op == "insert":
        return "POST", _collection(p) + "/vectors", p["record"], None
    if op == "batch_write":
        batch = p["vectors"]
        if hasattr(batch, "matrix"):  # Columns: the columnar form of the batch route, with
            # the vectors as base64 of their float32 bytes (no number formatting on either side)
            packed = base64.b64encode(batch.matrix.astype("<f4", copy=False).tobytes())
            body: Dict[str, Any] = {"ids": batch.ids, "vectors_f32": packed.decode("ascii"),
                                    "upsert": p["upsert"]}
            if batch.metadata is not None:
                body["metadata"] = batch.metadata
            return "POST", _collection(p) + "/vectors/batch", body, None
        return "POST", _collection(p) + "/vectors/batch", {
            "vectors": batch, "upsert": p["upsert"]}, None
    vector_path = _collection(p) + "/vectors/" + quote(p.get("id", ""), safe="")
    if op == "get":
        return "GET", vector_path, None, None
    if op == "upsert_one":
        return "PUT", vector_path, {"vector": p["vector"], "metadata": p["metadata"]}, None
    if op == "patch_metadata":
        return "PATCH", vector_path, {"metadata": p["metadata"]}, None
    if op == "delete_one":
        return "DELETE", vector_path, None, None
    if op == "delete_ids":
        return "POST", _collection(p) + "/vectors/delete", {"ids": p["ids"]}, None
    if op == "delete_filter":
        return "POST", _collection(p) + "/vectors/delete", {"filter": p["filter"]}, None
    if op == "search":
        return "POST", _collection(p) + "/search", p["query"], None
    if op == "search_batch":
        return "POST", _collection(p) + "/search/batch", {"queries": p["queries"]}, None
    if op == "count":
        body = {"filter": p["filter"]} if p.get("filter") else {}
        return "POST", _collection(p) + "/count", body, None
    if op == "scroll":
        query = {"limit": str(p["limit"]),
                 "include_vectors": "true" if p["include_vectors"] else "false"}
        if p.get("cursor"):
            query["cursor"] = p["cursor"]
        if p.get("filter"):
            query["filter"] = json.dumps(p["filter"], separators=(",", ":"))
        return "GET", _collection(p) + "/vectors", None, query
    raise ValueError(f"unknown operation {op}")


def encode(body: Optional[Dict[str, Any]]) -> Optional[bytes]:
    """JSON bytes of a body; NumPy arrays are written directly (orjson), which is what makes
    bulk loads from NumPy fast."""
    if body is None:
        return None
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


JSON_HEADERS = {"Content-Type": "application/json"}


def parse_response(response: httpx.Response) -> Dict[str, Any]:
    """The JSON body of a 2xx response; the mapped exception otherwise."""
    if 200 <= response.status_code < 300:
        return response.json()
    try:
        err = response.json()["error"]
        code, message, details = err["code"], err["message"], err.get("details") or {}
    except (ValueError, KeyError, TypeError):
        code = "UNAVAILABLE" if response.status_code in RETRY_STATUSES else "INTERNAL"
        message, details = response.text or f"HTTP {response.status_code}", {}
    error = error_for(code, message, http_status=response.status_code, details=details)
    try:
        error.retry_after = float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        pass
    raise error


def _retryable(e: Exception) -> bool:
    return isinstance(e, (UnavailableError, httpx.TransportError)) or (
        isinstance(e, ProximaDBError) and e.http_status in RETRY_STATUSES)


def backoff(attempt: int, error: Optional[Exception] = None) -> float:
    """Exponential backoff with jitter: about 0.1, 0.2, 0.4 s ... capped at 2 s; at least the
    server's Retry-After when it sent one."""
    wait = min(2.0, 0.1 * (2 ** attempt)) * (0.5 + random.random() / 2)
    return max(wait, getattr(error, "retry_after", None) or 0.0)


def _transport_error(e: Exception) -> ProximaDBError:
    return UnavailableError("UNAVAILABLE", f"cannot reach the server: {e}")


class RestTransport:
    """Blocking REST transport over one kept-alive httpx.Client."""

    def __init__(self, base_url: str, api_key: Optional[str], timeout: float, retries: int):
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=base_url, timeout=timeout, headers=headers)
        self._retries = retries

    def call(self, op: str, params: Dict[str, Any]) -> Dict[str, Any]:
        method, path, body, query = build_request(op, params)
        for attempt in range(self._retries + 1):
            try:
                return parse_response(self._client.request(method, path, content=encode(body),
                                                           params=query, headers=JSON_HEADERS))
            except Exception as e:  # noqa: BLE001 - re-raised below unless retryable
                if attempt == self._retries or not _retryable(e):
                    if isinstance(e, httpx.TransportError):
                        raise _transport_error(e) from e
                    raise
                time.sleep(backoff(attempt, e))
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._client.close()


class AsyncRestTransport:
    """REST transport over one kept-alive httpx.AsyncClient."""

    def __init__(self, base_url: str, api_key: Optional[str], timeout: float, retries: int):
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout, headers=headers)
        self._retries = retries

    async def call(self, op: str, params: Dict[str, Any]) -> Dict[str, Any]:
        method, path, body, query = build_request(op, params)
        for attempt in range(self._retries + 1):
            try:
                return parse_response(await self._client.request(
                    method, path, content=encode(body), params=query, headers=JSON_HEADERS))
            except Exception as e:  # noqa: BLE001
                if attempt == self._retries or not _retryable(e):
                    if isinstance(e, httpx.TransportError):
                        raise _transport_error(e) from e
                    raise
                await asyncio.sleep(backoff(attempt, e))
        raise AssertionError("unreachable")

    async def close(self) -> None:
        await self._client.aclose()
