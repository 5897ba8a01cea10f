#!/usr/bin/env python3
"""Mutation check: does the suite catch small breaks of critical lines?

Each mutation below changes one line of the engine the way a careless edit could (a check
turned off, an fsync dropped, an operator swapped). For each, this script applies it to the
working tree, rebuilds, runs the end-to-end suites (power loss, crash, engine, recall, REST),
reports which of them failed, and restores the file. A mutation no suite catches is a hole in
the tests. A mutation whose text is no longer in the source is reported as stale: update it.

    scripts/mutations.py [--build-dir build] [--only NAME]

It takes a few minutes per mutation (a rebuild and the suites); not part of `make test`.
Run it from a clean working tree: it restores each file with `git checkout`.
"""
import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name, file, text, replacement, what it breaks
MUTATIONS = [
    ("crc-off", "src/storage/log_reader.cc",
     "  if (crc32c::Extend(crc32c::Value(&h[6], 1), h + kHeaderSize, length) != expected) {",
     "  if (false && crc32c::Extend(crc32c::Value(&h[6], 1), h + kHeaderSize, length) != expected) {",
     "WAL records are no longer checked against their CRC32C"),
    ("no-dir-fsync-after-manifest-rename", "src/env/env.cc",
     "  if (renamed != nullptr) *renamed = true;\n  return SyncDir(DirName(path));",
     "  if (renamed != nullptr) *renamed = true;\n  return absl::OkStatus();",
     "the manifest's rename is not made durable before the WAL files it covers go"),
    ("no-dir-fsync-after-segment-write", "src/storage/build_segment.cc",
     "  if (s.ok()) s = options.env->SyncDir(options.dir);",
     "  // (mutated: no directory fsync)",
     "a new segment's name is not durable before the manifest names it"),
    ("lte-as-lt", "src/filter/filter.cc",
     "                              : FilterNode::kLte;",
     "                              : FilterNode::kLt;",
     "$lte filters behave as $lt"),
    ("last-candidate-dropped", "src/engine/search.cc",
     "  for (const Candidate& c : top.Take()) response.hits.push_back(HitFor(c, req, ctx));",
     "  std::vector<Candidate> best = top.Take();\n"
     "  if (!best.empty()) best.pop_back();\n"
     "  for (const Candidate& c : best) response.hits.push_back(HitFor(c, req, ctx));",
     "a search returns one hit fewer than it found"),
    ("last-graph-candidate-dropped", "src/index/hnsw.cc",
     "  for (size_t i = 0; i < found.size() && i < k; ++i) {",
     "  for (size_t i = 0; i + 1 < found.size() && i < k; ++i) {",
     "a graph search drops its last candidate"),
    ("old-copy-not-deleted", "src/engine/write_path.cc",
     "      old.layer->MarkDeleted(old.row, batch.seq);",
     "      (void)old;",
     "an overwrite or delete leaves the older copy live"),
    ("ef-ignored-by-graph", "src/index/hnsw.cc",
     "      SearchLayer(query, entry, std::max(ef, k), 0, allow, stats, max_distances);",
     "      SearchLayer(query, entry, k, 0, allow, stats, max_distances);",
     "the graph search ignores ef (searches with ef = k)"),
    ("ef-ignored-by-engine", "src/engine/read_path.cc",
     "  SearchContext context{strategy_.get(), options_.config.metric, dim_, req.ef};",
     "  SearchContext context{strategy_.get(), options_.config.metric, dim_, 0};",
     "the request's ef is ignored (the collection's ef_search always)"),
]

# ctest names (regular expressions) of the end-to-end suites.
SUITES = {
    "power loss": "PowerLoss",
    "crash": "CrashTest",
    "engine": "CollectionTest|IndexedCollectionTest|DatabaseTest|FaultTest",
    "recall": "WordnetRecallTest",
    "REST": "rest_e2e|rest_transport_e2e",
}


def run(cmd, **kw):
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, **kw)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--only", help="run only the mutation of this name")
    args = parser.parse_args()
    build = os.path.join(ROOT, args.build_dir)
    if run(["git", "diff", "--quiet"]).returncode != 0:
        sys.exit("mutations.py: the working tree has changes; commit or stash them first")
    results = []
    for name, path, text, replacement, what in MUTATIONS:
        if args.only and name != args.only:
            continue
        full = os.path.join(ROOT, path)
        source = open(full).read()
        if source.count(text) != 1:
            results.append((name, what, "STALE: the text to mutate is not in " + path))
            continue
        try:
            with open(full, "w") as f:
                f.write(source.replace(text, replacement))
            built = run(["cmake", "--build", build, "-j", "2"])
            if built.returncode != 0:
                results.append((name, what, "does not build:\n" + built.stdout[-2000:]))
                continue
            caught = []
            for suite, pattern in SUITES.items():
                tested = run(["ctest", "--test-dir", build, "-R", pattern, "-j", "2",
                              "--timeout", "600"])
                if tested.returncode != 0:
                    caught.append(suite)
            results.append((name, what, "caught by: " + ", ".join(caught) if caught
                            else "NOT CAUGHT by any end-to-end suite"))
        finally:
            with open(full, "w") as f:
                f.write(source)
        print("%-36s %s" % (name, results[-1][2]), flush=True)
    run(["cmake", "--build", build, "-j", "2"])
    print()
    for name, what, verdict in results:
        print("- %s (%s): %s" % (name, what, verdict))
    return 1 if any("NOT CAUGHT" in v or "STALE" in v for _, _, v in results) else 0


if __name__ == "__main__":
    sys.exit(main())
