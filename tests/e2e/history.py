"""A Jepsen-style history of reads and writes against a cluster, and its checker.

Each key is a register that one writer thread owns: it writes versions 1, 2, 3... of it. Every
operation is recorded with when it was invoked and when it completed (a monotonic clock shared
by every thread), and how it ended: acknowledged, failed, or unknown (a timeout or a cut
connection: the write may or may not have taken effect). The checker reports:

- a lost write: an acknowledged version that the final reads (after every fault) do not reach;
- a stale read: a strong read that returned an older version than a write of that key which was
  acknowledged before the read was invoked, or than another read of that key returned before
  it was invoked (once a version was seen, no later read may go back);
- a phantom: a read of a version that no write tried, or that only a failed write (refused
  with a 4xx, which changes nothing) tried.

A read may return a newer version than the last acknowledged one (a write in flight, or one
whose acknowledgement was lost): that is allowed.
"""

import bisect
import itertools
import threading
import time

OK, FAILED, UNKNOWN = "ok", "failed", "unknown"


class History:
    def __init__(self):
        self._lock = threading.Lock()
        self.writes = []  # (key, version, invoked, completed, outcome)
        self.reads = []   # (key, version or None, invoked, completed, node)

    @staticmethod
    def now():
        return time.monotonic()

    def write(self, key, version, invoked, outcome):
        with self._lock:
            self.writes.append((key, version, invoked, self.now(), outcome))

    def read(self, key, version, invoked, node):
        """A completed strong read of `key` that found `version` (None: not found)."""
        with self._lock:
            self.reads.append((key, version, invoked, self.now(), node))

    def check(self, final):
        """The problems of the history; `final` maps each key to the version the final reads
        found on one node (None: not found). An empty list: none."""
        problems = []
        acked = {}   # key -> [(completed, version)] of acknowledged writes
        tried = {}   # key -> versions a write that may have happened tried
        for key, version, _, completed, outcome in self.writes:
            if outcome != FAILED:
                tried.setdefault(key, set()).add(version)
            if outcome == OK:
                acked.setdefault(key, []).append((completed, version))
        seen = {}  # key -> [(completed, version)] of reads that found one
        for key, version, _, completed, _ in self.reads:
            if version is not None:
                seen.setdefault(key, []).append((completed, version))
        for key, versions in acked.items():
            last = max(v for _, v in versions)
            found = final.get(key)
            if found is None or found < last:
                problems.append(f"lost write: {key} version {last} was acknowledged, the final "
                                f"read found {found}")
        # Per key, the versions acknowledged or read, by completion time, with their running
        # maximum: a read's floor is the maximum of those completed before it was invoked.
        floors = {}
        for key in set(acked) | set(seen):
            done = sorted(acked.get(key, []) + seen.get(key, []))
            floors[key] = ([c for c, _ in done],
                           list(itertools.accumulate((v for _, v in done), max)))
        for key, version, invoked, _, node in self.reads:
            times, highest = floors.get(key, ([], []))
            i = bisect.bisect_left(times, invoked)
            floor = highest[i - 1] if i > 0 else None
            if version is not None and version not in tried.get(key, set()):
                problems.append(f"phantom: node{node} read {key} version {version}, which no "
                                f"write that may have happened tried")
            if floor is not None and (version is None or version < floor):
                problems.append(f"stale read: node{node} read {key} version {version} after "
                                f"version {floor} was acknowledged or read")
        return problems
