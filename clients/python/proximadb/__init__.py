"""ProximaDB client: sync and async, over REST or gRPC.

    from proximadb import ProximaDBClient
    with ProximaDBClient("http://localhost:8080") as client:
        client.create_collection("docs", dimension=3)
        client.batch_insert("docs", [{"id": "a", "vector": [0.1, 0.2, 0.3]}])
        hits = client.search("docs", [0.1, 0.2, 0.3], k=5)
"""

from .async_client import AsyncProximaDBClient
from .client import ProximaDBClient
from .errors import (AbortedError, AlreadyExistsError, AuthNotEnabledError, BackupNotFoundError,
                     CollectionNotFoundError, DimensionMismatchError, InsufficientStorageError,
                     InvalidArgumentError,
                     KeyNotFoundError, ObjectStoreNotConfiguredError, PayloadTooLargeError,
                     PermissionDeniedError, ProximaDBError, ResourceExhaustedError,
                     UnauthenticatedError, UnavailableError, VectorNotFoundError)
from .types import (ApiKey, Backup, Collection, CollectionStats, MaintenanceEvent, Record,
                    SearchResult)

__all__ = [
    "AbortedError", "AlreadyExistsError", "ApiKey", "AsyncProximaDBClient", "AuthNotEnabledError",
    "Backup",
    "BackupNotFoundError", "Collection", "CollectionNotFoundError", "CollectionStats",
    "DimensionMismatchError", "InsufficientStorageError", "InvalidArgumentError",
    "KeyNotFoundError", "MaintenanceEvent",
    "ObjectStoreNotConfiguredError", "PayloadTooLargeError", "PermissionDeniedError",
    "ProximaDBClient", "ProximaDBError", "Record", "ResourceExhaustedError", "SearchResult",
    "UnauthenticatedError", "UnavailableError", "VectorNotFoundError",
]
__version__ = "0.1.0"
