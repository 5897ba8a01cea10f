"""The async client through REST and gRPC."""

import numpy as np
import pytest

from proximadb import CollectionNotFoundError, DimensionMismatchError, VectorNotFoundError


async def test_async_client(aclient, name):
    c = await aclient.create_collection(name, dimension=3, distance_metric="l2")
    assert c.dimension == 3
    data = np.arange(30, dtype=np.float32).reshape(10, 3)
    ids = await aclient.batch_insert(name, data, ids=[f"a{i}" for i in range(10)],
                                     metadata=[{"n": i} for i in range(10)], batch_size=4)
    assert ids[-1] == "a9"
    assert await aclient.count(name) == 10
    hits = await aclient.search(name, [0, 1, 2], k=2)
    assert [h.id for h in hits] == ["a0", "a1"]
    batches = await aclient.search_batch(name, [[0, 1, 2], [27, 28, 29]], k=1)
    assert [b[0].id for b in batches] == ["a0", "a9"]
    assert [r.id async for r in aclient.scroll(name, batch_size=3)] == [f"a{i}" for i in range(10)]
    await aclient.update_metadata(name, "a0", {"x": 1})
    assert (await aclient.get(name, "a0")).metadata["x"] == 1
    assert [r.id for r in await aclient.get_many(name, ["a1", "zz"])] == ["a1"]
    assert await aclient.delete_by_filter(name, {"n": {"$gte": 5}}) == 5
    assert (await aclient.collection_stats(name)).vector_count == 5
    with pytest.raises(VectorNotFoundError):
        await aclient.get(name, "a7")
    with pytest.raises(DimensionMismatchError):
        await aclient.search(name, [1, 2])
    assert await aclient.delete_collection(name)
    with pytest.raises(CollectionNotFoundError):
        await aclient.count(name)
