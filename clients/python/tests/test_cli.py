"""The `proximadb` command-line tool against the real server: collections, import of every
format and export back, an import killed half-way and resumed, search by vector, file, stdin
and id, health, bad input, and API keys."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from proximadb import ProximaDBClient
from proximadb.cli import cli

from conftest import Server, free_port

DIM = 8
CLI = os.path.join(os.path.dirname(sys.executable), "proximadb")


def run(url, *args, input=None, ok=True):
    """The CLI in this process, as a user would call it with PROXIMADB_URL set."""
    result = CliRunner().invoke(cli, list(args), input=input, env={"PROXIMADB_URL": url},
                                catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def records(n, start=0):
    rng = np.random.default_rng(start)
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    return [{"id": f"r{start + i}", "vector": vectors[i].tolist(),
             "metadata": {"n": start + i, "colour": ["red", "green", "blue"][i % 3]}}
            for i in range(n)]


def write_jsonl(path, recs):
    with open(path, "w") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")


def write_csv(path, recs):
    with open(path, "w") as f:
        f.write("id,vector,n,colour\n")
        for r in recs:
            vector = json.dumps(r["vector"]).replace('"', '""')
            f.write(f'{r["id"]},"{vector}",{r["metadata"]["n"]},{r["metadata"]["colour"]}\n')


def write_parquet(path, recs):
    pq.write_table(pa.table({"id": [r["id"] for r in recs],
                             "vector": [r["vector"] for r in recs],
                             "metadata": [json.dumps(r["metadata"]) for r in recs]}), path)


def write_npy(path, recs):
    np.save(path, np.array([r["vector"] for r in recs], dtype=np.float32))
    stem = path[:-4]
    with open(stem + ".ids.txt", "w") as f:
        f.writelines(r["id"] + "\n" for r in recs)
    write_jsonl(stem + ".metadata.jsonl", [r["metadata"] for r in recs])


def stored(url, collection):
    """{id: (vector, metadata)} of everything in the collection."""
    with ProximaDBClient(url) as c:
        return {r.id: (np.asarray(r.vector, dtype=np.float32).tolist(), r.metadata)
                for r in c.scroll(collection, include_vectors=True)}


def expected(recs):
    return {r["id"]: (np.asarray(r["vector"], dtype=np.float32).tolist(), r["metadata"])
            for r in recs}


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_collections_create_list_describe_patch_drop(server, name, protocol, tmp_path):
    url = server.url(protocol)
    run(url, "collections", "create", name, "--dimension", str(DIM), "--metric", "l2",
        "--set", "quantization=sq8", "--set", 'tiering={"ultra_hot": true}')
    write_jsonl(str(tmp_path / "five.jsonl"), records(5))
    run(url, "import", name, str(tmp_path / "five.jsonl"))
    listed = json.loads(run(url, "collections", "list", "-o", "json").output)
    mine = [c for c in listed if c["name"] == name]
    assert mine and mine[0]["dimension"] == DIM and mine[0]["quantization"] == "sq8"
    assert mine[0]["vector_count"] == 5
    assert name in run(url, "collections", "list").output
    run(url, "collections", "patch", name, "--ef-search", "123")
    described = json.loads(run(url, "collections", "describe", name, "-o", "json").output)
    assert described["collection"]["ef_search"] == 123
    assert described["collection"]["tiering"]["ultra_hot"] is True
    assert described["stats"]["vector_count"] == 5
    # Without --yes the drop asks; "n" keeps the collection.
    refused = run(url, "collections", "drop", name, input="n\n", ok=False)
    assert refused.exit_code == 1
    run(url, "collections", "describe", name)
    run(url, "collections", "drop", name, "--yes")
    gone = run(url, "collections", "describe", name, ok=False)
    assert gone.exit_code == 1 and "COLLECTION_NOT_FOUND" in gone.output


def test_bad_settings_name_the_setting(server, name):
    result = run(server.rest_url, "collections", "create", name, "-d", "4", "--set",
                 "pq_m=3", "--set", "quantization=pq", ok=False)
    assert result.exit_code == 1 and "pq_m" in result.output
    result = run(server.rest_url, "collections", "patch", name, ok=False)
    assert result.exit_code == 2 and "nothing to change" in result.output


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet", "npy"])
def test_import_each_format_then_export_each_format(server, name, tmp_path, fmt):
    url = server.rest_url
    run(url, "collections", "create", name, "-d", str(DIM), "--metric", "l2")
    recs = records(2345)
    path = str(tmp_path / f"data.{fmt}")
    {"jsonl": write_jsonl, "csv": write_csv, "parquet": write_parquet, "npy": write_npy}[fmt](
        path, recs)
    result = run(url, "import", name, path, "--batch-size", "500")
    assert "imported 2,345 records" in result.output
    assert not os.path.exists(path + ".proximadb-import")  # the state goes when done
    assert stored(url, name) == expected(recs)

    red = [r for r in recs if r["metadata"]["colour"] == "red"]
    for out_fmt in ("jsonl", "parquet", "npy"):
        out = str(tmp_path / f"out-{fmt}.{out_fmt}")
        run(url, "export", name, out, "--filter", '{"colour": "red"}')
        copy = f"{name}_{out_fmt}"
        run(url, "collections", "create", copy, "-d", str(DIM), "--metric", "l2")
        run(url, "import", copy, out)  # what export writes, import reads
        assert stored(url, copy) == expected(red), out_fmt
        run(url, "collections", "drop", copy, "--yes")
        assert not [f for f in os.listdir(tmp_path) if f.endswith(".part")]


def test_a_bad_record_stops_the_import_naming_file_line_and_field(server, name, tmp_path):
    url = server.rest_url
    run(url, "collections", "create", name, "-d", str(DIM))
    recs = records(250)
    recs[203]["vector"] = recs[203]["vector"][:3]
    path = str(tmp_path / "bad.jsonl")
    write_jsonl(path, recs)
    result = run(url, "import", name, path, "--batch-size", "100", ok=False)
    assert result.exit_code == 1
    assert "bad.jsonl:204: field 'vector' has 3 numbers" in result.output
    assert "the 200 records before its batch were imported" in result.output
    assert run(url, "count", name).output.strip() == "200"  # whole batches only

    for line, reason in (('{"vector": [1,2,3,4,5,6,7,8]}', "field 'id' is required"),
                         ('{"id": "x", "vector": [1,2,3,4,5,6,7,"8"]}', "array of numbers"),
                         ('{"id": "x", "vector": [1,2,3,4,5,6,7,8], "meta": {}}',
                          "unknown field 'meta'"),
                         ('{"id": "x", "vector": [1,2', "not JSON")):
        with open(path, "w") as f:
            f.write(line + "\n")
        result = run(url, "import", name, path, ok=False)
        assert result.exit_code == 1 and reason in result.output, result.output
    unknown = tmp_path / "data.txt"
    unknown.write_text("")
    result = run(url, "import", name, str(unknown), ok=False)
    assert "cannot tell the format" in result.output


def test_an_import_killed_half_way_resumes_where_it_stopped(server, name, tmp_path):
    url = server.rest_url
    run(url, "collections", "create", name, "-d", str(DIM), "--metric", "l2")
    recs = records(60000)
    path = str(tmp_path / "big.jsonl")
    write_jsonl(path, recs)
    state = path + ".proximadb-import"
    env = dict(os.environ, PROXIMADB_URL=url)
    proc = subprocess.Popen([CLI, "import", name, path, "--batch-size", "200"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        done = 0
        while done < 2000:  # some batches in, most still to go
            assert proc.poll() is None, "the import finished before it could be killed"
            assert time.time() < deadline
            try:
                with open(state) as f:
                    done = json.load(f)["records_done"]
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.01)  # polling the state file, not waiting in its place
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with open(state) as f:
        done = json.load(f)["records_done"]
    assert 2000 <= done < 60000
    # The same command goes on from the last acknowledged batch.
    again = subprocess.run([CLI, "import", name, path, "--batch-size", "200"], env=env,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "resuming after record" in again.stderr
    assert "imported 60,000 records" in again.stderr
    assert not os.path.exists(state)
    assert stored(url, name) == expected(recs)


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_search_by_vector_file_stdin_and_id(server, name, tmp_path, protocol):
    url = server.url(protocol)
    recs = records(500)
    with ProximaDBClient(url) as c:
        c.create_collection(name, DIM, "l2")
        c.batch_insert(name, recs)
        want = [h.id for h in c.search(name, recs[7]["vector"], k=5, exact=True)]
        want_red = [h.id for h in c.search(name, recs[7]["vector"], k=5, exact=True,
                                           filter={"colour": "red"})]

    def ids(*args, input=None):
        hits = json.loads(run(url, "search", name, "-k", "5", "--exact", "-o", "json", *args,
                              input=input).output)
        return [h["id"] for h in hits]

    vector = json.dumps(recs[7]["vector"])
    assert ids("--vector", vector) == want
    assert ids("--id", "r7") == want
    assert ids("--vector-file", "-", input=" ".join(map(str, recs[7]["vector"]))) == want
    (tmp_path / "q.json").write_text(vector)
    assert ids("--vector-file", str(tmp_path / "q.json")) == want
    np.save(tmp_path / "q.npy", np.asarray(recs[7]["vector"], dtype=np.float32))
    assert ids("--vector-file", str(tmp_path / "q.npy")) == want
    assert ids("--id", "r7", "--filter", '{"colour": "red"}') == want_red
    table = run(url, "search", name, "--id", "r7", "-k", "3").output
    assert "r7" in table and "colour" in table

    neither = run(url, "search", name, ok=False)
    assert neither.exit_code == 2 and "exactly one of" in neither.output
    wrong = run(url, "search", name, "--vector", "[1, 2]", ok=False)
    assert wrong.exit_code == 1 and "DIMENSION_MISMATCH" in wrong.output
    missing = run(url, "search", name, "--id", "nope", ok=False)
    assert missing.exit_code == 1 and "VECTOR_NOT_FOUND" in missing.output


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_health_and_stats(server, name, protocol):
    url = server.url(protocol)
    report = json.loads(run(url, "health", "-o", "json").output)
    assert report["ready"] is True and report["protocol"] == protocol
    run(url, "collections", "create", name, "-d", str(DIM))
    with ProximaDBClient(url) as c:
        c.batch_insert(name, records(10))
    st = json.loads(run(url, "stats", name, "-o", "json").output)
    assert st["vector_count"] == 10
    flushed = json.loads(run(url, "collections", "flush", name, "-o", "json").output)
    assert flushed["segment_count"] == 1 and flushed["memtable_rows"] == 0
    events = json.loads(run(url, "collections", "history", name, "-o", "json").output)
    assert [(e["kind"], e["rows"]) for e in events] == [("flush", 10)]
    assert "flush" in run(url, "collections", "history", name).output


def test_markup_in_data_is_shown_as_text_and_csv_numbers_are_json_numbers(server, name,
                                                                         tmp_path):
    url = server.rest_url
    run(url, "collections", "create", name, "-d", "2", "--metric", "l2")
    (tmp_path / "m.csv").write_text('id,vector,code,n,flags\n'
                                    'a,"[1, 2]",007,7,[bold]x[/bold]\n'
                                    'b,"[2, 3]",nan,-1.5e3,[/x]\n')
    run(url, "import", name, str(tmp_path / "m.csv"))
    with ProximaDBClient(url) as c:
        assert c.get(name, "a").metadata == {"code": "007", "n": 7, "flags": "[bold]x[/bold]"}
        assert c.get(name, "b").metadata == {"code": "nan", "n": -1500.0, "flags": "[/x]"}
    table = run(url, "search", name, "--vector", "[1, 2]", "-k", "2").output
    assert "[bold]x[/bold]" in table and "[/x]" in table


def test_a_resume_needs_the_same_collection(server, name, tmp_path):
    url = server.rest_url
    run(url, "collections", "create", name, "-d", str(DIM))
    path = str(tmp_path / "d.jsonl")
    write_jsonl(path, records(300))
    # A state left by an import into an earlier collection of the same name.
    with open(path + ".proximadb-import", "w") as f:
        json.dump({"records_done": 200}, f)
    result = run(url, "import", name, path)
    assert "resuming" not in result.output and "imported 300 records" in result.output
    assert run(url, "count", name).output.strip() == "300"


def test_health_of_a_server_that_is_not_there():
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = run(url, "health", ok=False)
    assert result.exit_code == 1 and "not ready" in result.output


def test_api_keys_from_the_command_line(tmp_path):
    admin = "cli-admin-" + os.urandom(8).hex()
    s = Server(PROXIMADB_AUTH__ENABLED="true", PROXIMADB_AUTH__ADMIN_KEY=admin)
    try:
        url = s.rest_url
        ready = json.loads(run(url, "health", "-o", "json").output)  # no key needed
        assert ready["ready"] is True and "collections" not in ready
        denied = run(url, "collections", "list", ok=False)
        assert denied.exit_code == 1 and "UNAUTHENTICATED" in denied.output
        run(url, "--api-key", admin, "collections", "create", "docs", "-d", "4")
        made = json.loads(run(url, "--api-key", admin, "keys", "create", "reader", "--role",
                              "read", "--collections", "docs,logs_*", "-o", "json").output)
        assert made["key"] and made["collections"] == ["docs", "logs_*"]
        listed = run(url, "--api-key", admin, "keys", "list").output
        assert "reader" in listed and made["key"] not in listed
        result = CliRunner().invoke(cli, ["collections", "list", "-o", "json"],
                                    env={"PROXIMADB_URL": url, "PROXIMADB_API_KEY": made["key"]})
        assert result.exit_code == 0 and json.loads(result.output)[0]["name"] == "docs"
        refused = run(url, "--api-key", made["key"], "collections", "drop", "docs", "--yes",
                      ok=False)
        assert refused.exit_code == 1 and "PERMISSION_DENIED" in refused.output
        run(url, "--api-key", admin, "keys", "delete", "reader", "--yes")
        revoked = run(url, "--api-key", made["key"], "collections", "list", ok=False)
        assert "UNAUTHENTICATED" in revoked.output
    finally:
        s.stop()
