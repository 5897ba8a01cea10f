"""The LangChain VectorStore against the real server, with a deterministic bag-of-words
embedding (texts sharing words are near): add, search with filters and scores, MMR, get,
delete, from_texts and the retriever, over REST and gRPC."""

import hashlib
import re

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from proximadb import ProximaDBClient
from proximadb.integrations.langchain import ProximaDBVectorStore

DIM = 64


class BagOfWords(Embeddings):
    """Each word hashed to one of DIM axes; the counts normalized."""

    def _embed(self, text):
        v = np.zeros(DIM, dtype=np.float32)
        for word in re.findall(r"[a-z]+", text.lower()):
            v[int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1
        norm = np.linalg.norm(v)
        return (v / norm if norm else v).tolist()

    def embed_documents(self, texts):
        return [self._embed(t) for t in texts]

    def embed_query(self, text):
        return self._embed(text)


TEXTS = ["the cat sat on the mat", "a cat and a kitten purr", "cat cat cat purr",
         "dogs bark at the mailman", "fish swim in the sea"]
META = [{"animal": "cat", "n": 0}, {"animal": "cat", "n": 1}, {"animal": "cat", "n": 2},
        {"animal": "dog", "n": 3}, {"animal": "fish", "n": 4}]


@pytest.fixture
def store(client, name):
    s = ProximaDBVectorStore.from_texts(TEXTS, BagOfWords(), metadatas=META,
                                        ids=[f"d{i}" for i in range(5)], client=client,
                                        collection_name=name)
    yield s
    client.delete_collection(name)


def test_from_texts_creates_the_collection_and_stores_text_and_metadata(store, client, name):
    described = client.get_collection(name)
    assert described.dimension == DIM and described.distance_metric == "cosine"
    assert described.vector_count == 5
    docs = store.get_by_ids(["d3", "missing", "d0"])
    assert [d.id for d in docs] == ["d3", "d0"]
    assert docs[0].page_content == TEXTS[3] and docs[0].metadata == META[3]
    stored = client.get(name, "d0")
    assert stored.metadata == {**META[0], "text": TEXTS[0]}


def test_similarity_search_with_scores_and_filters(store):
    hits = store.similarity_search_with_score("cat purr", k=3)
    assert [d.id for d, _ in hits] == ["d2", "d1", "d0"]
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True) and 0 < scores[0] <= 1.0 + 1e-6
    # A filter on the metadata, in ProximaDB's filter language.
    docs = store.similarity_search("cat purr", k=3, filter={"animal": {"$in": ["dog", "fish"]}})
    assert {d.id for d in docs} == {"d3", "d4"}
    assert [d.id for d in store.similarity_search_by_vector(BagOfWords().embed_query("sea"),
                                                            k=1)] == ["d4"]
    relevance = store.similarity_search_with_relevance_scores("cat purr", k=2)
    assert all(0 <= r <= 1 for _, r in relevance)


def test_max_marginal_relevance_trades_relevance_for_diversity(store):
    e = BagOfWords()
    exact = np.asarray(e.embed_documents(TEXTS)) @ np.asarray(e.embed_query("cat purr kitten"))
    want = [f"d{i}" for i in np.argsort(-exact)[:2]]
    plain = [d.id for d in store.similarity_search("cat purr kitten", k=2)]
    assert plain == want and set(plain) <= {"d0", "d1", "d2"}  # two documents about cats
    diverse = [d.id for d in store.max_marginal_relevance_search("cat purr kitten", k=2,
                                                                 fetch_k=5, lambda_mult=0.2)]
    assert diverse[0] == want[0] and diverse[1] in ("d3", "d4")
    all_relevance = [d.id for d in store.max_marginal_relevance_search(
        "cat purr kitten", k=2, fetch_k=5, lambda_mult=1.0)]
    assert all_relevance == plain


def test_add_replaces_by_id_and_delete_by_ids_and_filter(store, client, name):
    ids = store.add_texts(["the cat sat on the mat again"], [{"animal": "cat", "n": 9}],
                          ids=["d0"])
    assert ids == ["d0"]
    assert store.get_by_ids(["d0"])[0].page_content == "the cat sat on the mat again"
    new = store.add_texts(["birds sing"])
    assert len(new) == 1 and client.count(name) == 6
    store.delete(["d0", new[0]])
    assert client.count(name) == 4
    store.delete(filter={"animal": "cat"})
    assert {d.id for d in store.similarity_search("anything", k=10)} == {"d3", "d4"}
    with pytest.raises(ValueError):
        store.add_texts(["a", "b"], ids=["only one"])


def test_retriever_and_l2_collections(server, name):
    with ProximaDBClient(server.rest_url) as client:
        store = ProximaDBVectorStore.from_texts(TEXTS, BagOfWords(), metadatas=META,
                                                client=client, collection_name=name,
                                                distance_metric="l2")
        assert client.get_collection(name).distance_metric == "l2"
        retriever = store.as_retriever(search_kwargs={"k": 1})
        assert retriever.invoke("fish in the sea")[0].page_content == TEXTS[4]
        hits = store.similarity_search_with_score("fish in the sea", k=2)
        assert hits[0][1] <= hits[1][1]  # distances: lower is better
        relevance = store.similarity_search_with_relevance_scores("fish in the sea", k=2)
        assert relevance[0][1] >= relevance[1][1] and all(0 <= r <= 1 for _, r in relevance)
        client.delete_collection(name)


def test_documents_without_ids_get_their_own_and_existing_metrics_are_used(server, name):
    from langchain_core.documents import Document

    with ProximaDBClient(server.rest_url) as client:
        client.create_collection(name, DIM, "l2")
        # The constructor's metric is for new collections: this one is l2 already.
        store = ProximaDBVectorStore(BagOfWords(), collection_name=name, client=client)
        ids = store.add_documents([Document(page_content="a cat", id="given"),
                                   Document(page_content="a dog"),
                                   Document(page_content="a fish")])
        assert ids[0] == "given" and len(set(ids)) == 3 and client.count(name) == 3
        relevance = store.similarity_search_with_relevance_scores("a cat", k=3)
        assert relevance[0][0].id == "given" and relevance[0][1] == pytest.approx(1.0)
        assert all(0 <= r <= 1 for _, r in relevance)
        store.delete([])  # nothing to delete: nothing happens
        assert client.count(name) == 3
        client.delete_collection(name)


def test_a_store_closes_the_client_it_made_and_only_that(server, client, name):
    with ProximaDBVectorStore.from_texts(TEXTS[:2], BagOfWords(), url=server.rest_url,
                                         collection_name=name) as own:
        assert len(own.similarity_search("cat", k=2)) == 2
    with pytest.raises(RuntimeError, match="the client is closed"):
        own.similarity_search("cat", k=1)
    with ProximaDBVectorStore(BagOfWords(), collection_name=name, client=client) as given:
        assert len(given.similarity_search("cat", k=2)) == 2
    assert client.count(name) == 2  # still open
    client.delete_collection(name)
