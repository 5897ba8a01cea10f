#!/usr/bin/env python3
"""deploy/prometheus and deploy/grafana against the real thing: promtool checks the scrape
configuration and the alert rules and runs their unit tests; then Debian's Prometheus, started
on loopback with the shipped configuration pointed at a real proximadb-server, must scrape it
(`up == 1`, a collection's series), evaluate every alert rule without error, and answer every
query of the Grafana dashboard; and every ProximaDB metric the rules and the dashboard name
must be one the server exports.

    observability_test.py --server build/bin/proximadb-server
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.parse
import urllib.request

import harness
from harness import free_port, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROMETHEUS_DIR = os.path.join(ROOT, "deploy", "prometheus")
DASHBOARD = os.path.join(ROOT, "deploy", "grafana", "proximadb.json")
SERVER = None  # set from --server



def http(url, body=None, timeout=10):
    """(status, text) of a GET (or a POST of JSON `body`)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()




def metric_names(expr):
    """The ProximaDB metric names a PromQL expression reads (histogram series by their base)."""
    return {re.sub(r"_(bucket|sum|count)$", "", n)
            for n in re.findall(r"\b(proximadb_[a-z0-9_]+)", expr)}


def dashboard_exprs():
    with open(DASHBOARD) as f:
        dashboard = json.load(f)
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    return exprs


def rule_exprs():
    """The alert expressions of alerts.yml (its `expr:` entries, folded or on one line)."""
    exprs, current = [], None
    with open(os.path.join(PROMETHEUS_DIR, "alerts.yml")) as f:
        for line in f:
            stripped = line.strip()
            if stripped.startswith("expr:"):
                rest = stripped[len("expr:"):].strip()
                current = [] if rest == ">" else None
                if rest != ">":
                    exprs.append(rest)
            elif current is not None:
                if stripped and not re.match(r"^[a-z_]+:", stripped):
                    current.append(stripped)
                else:
                    exprs.append(" ".join(current))
                    current = None
    return exprs


class PromtoolTest(unittest.TestCase):
    def promtool(self, *args):
        r = subprocess.run(["promtool", *args], cwd=PROMETHEUS_DIR, capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_config_rules_and_rule_unit_tests(self):
        self.promtool("check", "config", "prometheus.yml")
        self.promtool("check", "rules", "alerts.yml")
        self.promtool("test", "rules", "alerts_test.yml")  # every alert fires where it should


class LivePrometheusTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="proximadb-obs-")
        cls.rest = free_port()
        cls.server = subprocess.Popen(
            [SERVER, "--data-dir", os.path.join(cls.dir, "data"), "--rest-port", str(cls.rest),
             "--grpc-port", str(free_port()), "--log-level", "warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{cls.rest}"
        wait_for("the server", lambda: http(base + "/ready", timeout=1)[0] == 200 or None)
        # A collection with records and a search, so that its series exist.
        assert http(base + "/api/v1/collections", {"name": "obs", "dimension": 2})[0] == 201
        records = [{"id": f"r{i}", "vector": [i, 1]} for i in range(7)]
        assert http(base + "/api/v1/collections/obs/vectors/batch", {"vectors": records})[0] == 200
        assert http(base + "/api/v1/collections/obs/search", {"vector": [1, 1]})[0] == 200
        cls.metrics = http(base + "/metrics")[1]

        # The shipped configuration, pointed at this server, scraping and evaluating each second.
        with open(os.path.join(PROMETHEUS_DIR, "prometheus.yml")) as f:
            config = f.read()
        for old, new in (("localhost:8080", f"127.0.0.1:{cls.rest}"),
                         ("scrape_interval: 15s", "scrape_interval: 1s"),
                         ("evaluation_interval: 15s", "evaluation_interval: 1s"),
                         ("- alerts.yml", f"- {os.path.join(PROMETHEUS_DIR, 'alerts.yml')}")):
            assert old in config, old
            config = config.replace(old, new)
        config_file = os.path.join(cls.dir, "prometheus.yml")
        with open(config_file, "w") as f:
            f.write(config)
        cls.prom_port = free_port()
        cls.prom_log = open(os.path.join(cls.dir, "prometheus.log"), "w")
        cls.prometheus = subprocess.Popen(
            ["prometheus", f"--config.file={config_file}",
             f"--storage.tsdb.path={os.path.join(cls.dir, 'tsdb')}",
             f"--web.listen-address=127.0.0.1:{cls.prom_port}"],
            stdout=cls.prom_log, stderr=subprocess.STDOUT)

    @classmethod
    def tearDownClass(cls):
        for p in (cls.prometheus, cls.server):
            p.terminate()
            p.wait(timeout=30)
        cls.prom_log.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def query(self, expr):
        url = (f"http://127.0.0.1:{self.prom_port}/api/v1/query?"
               + urllib.parse.urlencode({"query": expr}))
        status, text = http(url)
        return status, json.loads(text)

    def series(self, expr):
        """The result of an instant query once it has one, else None."""
        status, body = self.query(expr)
        return body["data"]["result"] or None if status == 200 else None

    def test_prometheus_scrapes_the_server(self):
        up = wait_for("up == 1", lambda: self.series('up{job="proximadb"} == 1'))
        self.assertEqual(up[0]["metric"]["instance"], f"127.0.0.1:{self.rest}")
        vectors = wait_for("a collection series",
                           lambda: self.series('proximadb_collection_vectors{collection="obs"}'))
        self.assertEqual(vectors[0]["value"][1], "7")
        ready = wait_for("proximadb_ready", lambda: self.series("proximadb_ready"))
        self.assertEqual(ready[0]["value"][1], "1")

    def test_every_alert_rule_evaluates_without_error(self):
        url = f"http://127.0.0.1:{self.prom_port}/api/v1/rules"

        def evaluated():
            status, text = http(url)
            rules = [r for g in json.loads(text)["data"]["groups"] for r in g["rules"]]
            done = rules and all(r.get("lastEvaluation", "").startswith("20") for r in rules)
            return rules if status == 200 and done else None

        rules = wait_for("the rules' first evaluation", evaluated)
        self.assertEqual(len(rules), 9)
        for r in rules:
            self.assertEqual(r["health"], "ok", r)
        # A healthy server raises none of them.
        self.assertEqual([r["name"] for r in rules if r["state"] != "inactive"], [])

    def test_every_dashboard_query_runs(self):
        wait_for("a collection series",
                 lambda: self.series('proximadb_collection_vectors{collection="obs"}'))
        for expr in dashboard_exprs():
            promql = (expr.replace("$__rate_interval", "1m").replace("$instance", ".*")
                      .replace("$collection", ".*"))
            if promql.startswith("label_values("):  # a Grafana template query
                inner = re.match(r"label_values\((.*), *[a-z_]+\)$", promql)
                self.assertIsNotNone(inner, expr)
                promql = inner.group(1)
            status, body = self.query(promql)
            self.assertEqual((status, body["status"]), (200, "success"), (expr, body))

    def test_every_metric_named_is_exported(self):
        exported = set(re.findall(r"^# TYPE (\S+) ", self.metrics, re.MULTILINE))
        named = set()
        for expr in dashboard_exprs() + rule_exprs():
            named |= metric_names(expr)
        self.assertGreater(len(named), 20)
        # Cluster mode's series are exported only in cluster mode (tests/e2e/cluster_test.py
        # checks them); this server is a single node.
        cluster_only = {n for n in named
                        if n.startswith(("proximadb_shard_", "proximadb_cluster_"))}
        self.assertEqual(sorted(cluster_only), ["proximadb_shard_apply_stopped"])
        self.assertEqual(sorted(named - exported - cluster_only), [])


if __name__ == "__main__":
    harness.main(sys.modules[__name__])
