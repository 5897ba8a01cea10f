"""Exceptions raised by the ProximaDB clients, one per stable server error code."""

from __future__ import annotations

from typing import Any, Dict, Optional


class ProximaDBError(Exception):
    """An error the server reported (or the transport met).

    Attributes:
        code: the server's stable error code, e.g. ``"DIMENSION_MISMATCH"``.
        message: the server's message, naming the field, record or collection.
        http_status: the HTTP status (REST) or ``None``.
        grpc_status: the gRPC status code name (gRPC) or ``None``.
        details: extra details from the server, if any.
        retry_after: seconds the server asked to wait before retrying (``Retry-After``), if any.
    """

    def __init__(self, code: str, message: str, http_status: Optional[int] = None,
                 grpc_status: Optional[str] = None,
                 details: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status
        self.grpc_status = grpc_status
        self.details = details or {}
        self.retry_after: Optional[float] = None


class InvalidArgumentError(ProximaDBError):
    """Bad input: malformed body, unknown field, bad filter, bad setting, over a limit."""


class DimensionMismatchError(InvalidArgumentError):
    """A vector or query vector has another dimension than the collection."""


class CollectionNotFoundError(ProximaDBError):
    """No collection of that name."""


class VectorNotFoundError(ProximaDBError):
    """No record of that id."""


class AlreadyExistsError(ProximaDBError):
    """Insert of an existing id, or create of an existing collection."""


class AbortedError(ProximaDBError):
    """Cluster mode: another node changed or dropped the collection meanwhile; retry."""


class PayloadTooLargeError(ProximaDBError):
    """A body or batch over the server's configured limit."""


class ResourceExhaustedError(ProximaDBError):
    """The server is overloaded (HTTP 429: too many writes wait); retried automatically, after
    the server's ``Retry-After`` (``retry_after``, seconds) when it gives one."""


class UnavailableError(ProximaDBError):
    """The server is recovering, stopped writes, or cannot be reached, or its object store
    cannot (``OBJECT_STORE_UNAVAILABLE``); retried automatically."""


class BackupNotFoundError(ProximaDBError):
    """No backup of that id."""


class ObjectStoreNotConfiguredError(ProximaDBError):
    """A backup operation on a server without ``[object_store]``."""


class InsufficientStorageError(ProximaDBError):
    """The server's disk is full (HTTP 507): the write was not made. Writes go through again
    once there is space; not retried automatically."""


class UnauthenticatedError(ProximaDBError):
    """No API key, or one the server does not know (HTTP 401)."""


class PermissionDeniedError(ProximaDBError):
    """The API key's role or collections do not allow the operation (HTTP 403)."""


class KeyNotFoundError(ProximaDBError):
    """No API key of that name."""


class AuthNotEnabledError(ProximaDBError):
    """Key management on a server without ``[auth] enabled``."""


_BY_CODE = {
    "INVALID_ARGUMENT": InvalidArgumentError,
    "DIMENSION_MISMATCH": DimensionMismatchError,
    "COLLECTION_NOT_FOUND": CollectionNotFoundError,
    "VECTOR_NOT_FOUND": VectorNotFoundError,
    "ALREADY_EXISTS": AlreadyExistsError,
    "ABORTED": AbortedError,
    "PAYLOAD_TOO_LARGE": PayloadTooLargeError,
    "RESOURCE_EXHAUSTED": ResourceExhaustedError,
    "UNAVAILABLE": UnavailableError,
    "OBJECT_STORE_UNAVAILABLE": UnavailableError,
    "BACKUP_NOT_FOUND": BackupNotFoundError,
    "OBJECT_STORE_NOT_CONFIGURED": ObjectStoreNotConfiguredError,
    "INSUFFICIENT_STORAGE": InsufficientStorageError,
    "UNAUTHENTICATED": UnauthenticatedError,
    "PERMISSION_DENIED": PermissionDeniedError,
    "KEY_NOT_FOUND": KeyNotFoundError,
    "AUTH_NOT_ENABLED": AuthNotEnabledError,
}


def error_for(code: str, message: str, http_status: Optional[int] = None,
              grpc_status: Optional[str] = None,
              details: Optional[Dict[str, Any]] = None) -> ProximaDBError:
    """The exception for a server error code (ProximaDBError for codes without their own)."""
    cls = _BY_CODE.get(code, ProximaDBError)
    return cls(code, message, http_status=http_status, grpc_status=grpc_status, details=details)
