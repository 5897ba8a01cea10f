"""A LangChain ``VectorStore`` on a ProximaDB collection (``pip install
'proximadb[langchain]'``, which brings ``langchain-core``).

    from proximadb.integrations.langchain import ProximaDBVectorStore

    store = ProximaDBVectorStore.from_texts(texts, embeddings, metadatas=metadatas,
                                            collection_name="docs", url="http://localhost:8080")
    store.similarity_search("what is a vector database?", k=4, filter={"source": "faq"})
    retriever = store.as_retriever(search_type="mmr", search_kwargs={"k": 4})

Each text is stored as a record: its embedding as the vector, its metadata with the text under
``text_key`` ("text"), and the id given or a UUID. ``filter`` is ProximaDB's filter language on
the metadata (docs/api.md). Scores are the server's: cosine similarity and inner product
(higher is better), or the Euclidean distance for ``l2``.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

try:
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_core.vectorstores import VectorStore
    from langchain_core.vectorstores.utils import maximal_marginal_relevance
except ImportError as e:  # pragma: no cover - the optional dependency is missing
    raise ImportError("proximadb.integrations.langchain needs langchain-core: "
                      "pip install 'proximadb[langchain]'") from e

from ..client import ProximaDBClient
from ..errors import CollectionNotFoundError
from ..types import SearchResult


class ProximaDBVectorStore(VectorStore):
    """A ProximaDB collection as a LangChain vector store.

    Args:
        client: the client to use (or ``url`` and ``api_key`` to make one).
        collection_name: the collection; created on the first add when missing, with the
            embeddings' dimension and ``distance_metric``.
        embedding: the LangChain embeddings of texts and queries.
        text_key: the metadata field that holds a document's text.
        distance_metric: ``cosine`` (default), ``l2`` or ``dot``, for a collection created here.
        collection_settings: more settings for a collection created here (m, ef_search, ...).
    """

    def __init__(self, embedding: Embeddings, collection_name: str = "langchain",
                 client: Optional[ProximaDBClient] = None, url: Optional[str] = None,
                 api_key: Optional[str] = None, text_key: str = "text",
                 distance_metric: str = "cosine",
                 collection_settings: Optional[Dict[str, Any]] = None) -> None:
        self._embedding = embedding
        self.collection_name = collection_name
        self._owns_client = client is None
        self.client = client if client is not None else ProximaDBClient(url, api_key=api_key)
        self.text_key = text_key
        self.distance_metric = distance_metric
        self.collection_settings = dict(collection_settings or {})
        self._metric: Optional[str] = None  # the collection's, once known

    @property
    def embeddings(self) -> Embeddings:
        return self._embedding

    def close(self) -> None:
        """Closes the client this store made from ``url`` (a client given is the caller's)."""
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> "ProximaDBVectorStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # Writes --------------------------------------------------------------------------------

    def _ensure_collection(self, dimension: int) -> None:
        if self._metric is not None:
            return
        try:
            self._metric = self.client.get_collection(self.collection_name).distance_metric
        except CollectionNotFoundError:
            self._metric = self.client.create_collection(
                self.collection_name, dimension, self.distance_metric,
                **self.collection_settings).distance_metric

    def _collection_metric(self) -> str:
        """The metric of the collection as it is (an existing one may differ from
        ``distance_metric``)."""
        if self._metric is None:
            self._metric = self.client.get_collection(self.collection_name).distance_metric
        return self._metric

    def add_texts(self, texts: Iterable[str], metadatas: Optional[List[Dict[str, Any]]] = None,
                  *, ids: Optional[List[str]] = None, batch_size: int = 1000,
                  **kwargs: Any) -> List[str]:
        """Embeds and upserts the texts (a given id replaces its record); returns the ids."""
        texts = list(texts)
        if not texts:
            return []
        for name, given in (("metadatas", metadatas), ("ids", ids)):
            if given is not None and len(given) != len(texts):
                raise ValueError(f"{len(given)} {name} for {len(texts)} texts")
        # add_documents passes None for the documents without an id: they get a UUID each.
        ids = [str(i) if i is not None else str(uuid.uuid4())
               for i in (ids if ids is not None else [None] * len(texts))]
        vectors = np.asarray(self._embedding.embed_documents(texts), dtype=np.float32)
        self._ensure_collection(vectors.shape[1])
        metadata = [{**((metadatas or [{}] * len(texts))[i] or {}), self.text_key: text}
                    for i, text in enumerate(texts)]
        self.client.batch_insert(self.collection_name, vectors, ids=ids, metadata=metadata,
                                 batch_size=batch_size, upsert=True)
        return ids

    def delete(self, ids: Optional[List[str]] = None, **kwargs: Any) -> Optional[bool]:
        """Deletes the records of ``ids`` (those that exist), or those matching
        ``filter=...``."""
        if ids is not None:
            if ids:
                self.client.delete_many(self.collection_name, list(ids))
        elif kwargs.get("filter"):
            self.client.delete_by_filter(self.collection_name, kwargs["filter"])
        else:
            raise ValueError("delete needs ids or a filter")
        return True

    # Reads ---------------------------------------------------------------------------------

    def _document(self, id: str, metadata: Optional[Dict[str, Any]]) -> Document:
        metadata = dict(metadata or {})
        text = metadata.pop(self.text_key, "")
        return Document(id=id, page_content=str(text), metadata=metadata)

    def get_by_ids(self, ids: Sequence[str], /) -> List[Document]:
        """The documents of the ids that exist, in the order asked."""
        return [self._document(r.id, r.metadata)
                for r in self.client.get_many(self.collection_name, list(ids))]

    def _search(self, vector: List[float], k: int, filter: Optional[Dict[str, Any]],
                include_vectors: bool = False, **kwargs: Any) -> List[SearchResult]:
        return self.client.search(self.collection_name, vector, k=k, filter=filter,
                                  include_vectors=include_vectors, ef=kwargs.get("ef"))

    def similarity_search_by_vector_with_score(
            self, embedding: List[float], k: int = 4, filter: Optional[Dict[str, Any]] = None,
            **kwargs: Any) -> List[Tuple[Document, float]]:
        return [(self._document(h.id, h.metadata), h.score)
                for h in self._search(embedding, k, filter, **kwargs)]

    def similarity_search_with_score(self, query: str, k: int = 4,
                                     filter: Optional[Dict[str, Any]] = None,
                                     **kwargs: Any) -> List[Tuple[Document, float]]:
        """The k nearest documents to ``query`` with their scores, best first."""
        return self.similarity_search_by_vector_with_score(
            self._embedding.embed_query(query), k, filter, **kwargs)

    def similarity_search(self, query: str, k: int = 4,
                          filter: Optional[Dict[str, Any]] = None,
                          **kwargs: Any) -> List[Document]:
        return [d for d, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    def similarity_search_by_vector(self, embedding: List[float], k: int = 4,
                                    filter: Optional[Dict[str, Any]] = None,
                                    **kwargs: Any) -> List[Document]:
        return [d for d, _ in self.similarity_search_by_vector_with_score(embedding, k, filter,
                                                                          **kwargs)]

    def max_marginal_relevance_search_by_vector(
            self, embedding: List[float], k: int = 4, fetch_k: int = 20,
            lambda_mult: float = 0.5, filter: Optional[Dict[str, Any]] = None,
            **kwargs: Any) -> List[Document]:
        """``k`` documents among the ``fetch_k`` nearest, chosen for relevance to the query and
        diversity among themselves (``lambda_mult``: 1 all relevance, 0 all diversity)."""
        hits = self._search(embedding, max(fetch_k, k), filter, include_vectors=True, **kwargs)
        if not hits:
            return []
        chosen = maximal_marginal_relevance(np.asarray(embedding, dtype=np.float32),
                                            [list(h.vector or []) for h in hits],
                                            lambda_mult=lambda_mult, k=k)
        return [self._document(hits[i].id, hits[i].metadata) for i in chosen]

    def max_marginal_relevance_search(self, query: str, k: int = 4, fetch_k: int = 20,
                                      lambda_mult: float = 0.5,
                                      filter: Optional[Dict[str, Any]] = None,
                                      **kwargs: Any) -> List[Document]:
        return self.max_marginal_relevance_search_by_vector(
            self._embedding.embed_query(query), k, fetch_k, lambda_mult, filter, **kwargs)

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        """Relevance from a score, by the collection's metric: cosine similarity and inner
        product (of normalized embeddings) as they are (LangChain's 1 - cosine distance), a
        Euclidean distance d of normalized embeddings as 1 - d / sqrt(2)."""
        if self._collection_metric() in ("l2", "euclidean"):
            return self._euclidean_relevance_score_fn
        return lambda score: score

    # Construction --------------------------------------------------------------------------

    @classmethod
    def from_texts(cls, texts: List[str], embedding: Embeddings,
                   metadatas: Optional[List[Dict[str, Any]]] = None, *,
                   ids: Optional[List[str]] = None,
                   **kwargs: Any) -> "ProximaDBVectorStore":
        """A store on ``collection_name`` (with ``client``, or ``url`` and ``api_key``, and
        the other arguments of the constructor) holding ``texts``."""
        store = cls(embedding, **kwargs)
        try:
            store.add_texts(texts, metadatas, ids=ids)
        except BaseException:
            store.close()  # the client made here, if any
            raise
        return store
