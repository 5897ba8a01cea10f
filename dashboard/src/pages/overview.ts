// The overview: health, version, uptime, memory, disk, and the collections with their sizes;
// a form to create one.
import { call, Collection, metricsText } from "../api";
import { liveCharts } from "../charts";
import { rerender } from "../rerender";
import { errorBox, h, table } from "../dom";
import { bytes, duration } from "../format";
import { parseMetrics, valueOf } from "../prometheus";

async function serverFacts(): Promise<HTMLElement> {
  const ready = await fetch("/ready").then((r) => r.ok);
  const facts = h("dl", { "data-testid": "server" }, h("dt", {}, "Status"),
    h("dd", { "data-testid": "status" }, ready ? "ready" : "recovering"));
  try {
    const samples = parseMetrics(await metricsText());
    const build = samples.find((s) => s.name === "proximadb_build_info");
    const start = valueOf(samples, "proximadb_process_start_time_seconds");
    const memory = valueOf(samples, "proximadb_process_resident_memory_bytes");
    const disk = samples.filter((s) => s.name === "proximadb_filesystem_free_bytes");
    facts.append(
      h("dt", {}, "Version"), h("dd", { "data-testid": "version" }, build?.labels.version ?? "?"),
      h("dt", {}, "Uptime"),
      h("dd", {}, start === undefined ? "?" : duration(Date.now() / 1000 - start)),
      h("dt", {}, "Memory"), h("dd", {}, memory === undefined ? "?" : bytes(memory)),
      ...disk.flatMap((s) => [h("dt", {}, `Free in ${s.labels.directory}`),
        h("dd", {}, bytes(s.value))]));
  } catch (e) {
    facts.append(h("dt", {}, "Metrics"), h("dd", {}, errorBox(e)));
  }
  return facts;
}

function createForm(onCreated: () => void): HTMLElement {
  const name = h("input", { name: "name", placeholder: "name", required: "" });
  const dimension = h("input",
    { name: "dimension", type: "number", min: "1", placeholder: "dimension", required: "" });
  const metric = h("select", { name: "metric" },
    ...["cosine", "l2", "dot"].map((m) => h("option", { value: m }, m)));
  const status = h("span", {});
  const form = h("form", { "data-testid": "create" }, name, dimension, metric,
    h("button", { type: "submit" }, "Create collection"), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.replaceChildren();
    try {
      await call("POST", "/api/v1/collections", {
        name: name.value, dimension: Number(dimension.value), distance_metric: metric.value,
      });
      onCreated();
    } catch (e) {
      status.append(errorBox(e));
    }
  });
  return form;
}

export async function overviewPage(root: HTMLElement, _arg: string,
  alive: () => boolean): Promise<void> {
  const facts = await serverFacts();
  if (!alive()) return;
  root.append(h("h1", {}, "Overview"), facts, h("h2", {}, "Requests, live"), liveCharts());
  const list = await call<{ collections: Collection[] }>("GET", "/api/v1/collections");
  // A single node's list has their sizes; a cluster's does not (each is a fan-out to the
  // collection's shards), so those are asked for one by one there.
  const collections = await Promise.all(list.collections.map((c) => c.vector_count !== undefined
    ? c : call<Collection>("GET", `/api/v1/collections/${encodeURIComponent(c.name)}`)
      .catch(() => c)));
  if (!alive()) return;
  root.append(
    h("h2", {}, `Collections (${collections.length})`),
    table(["name", "vectors", "dimension", "metric", "index", "quantization", ""],
      collections.map((c) => [
        h("a", { href: `#/collections/${encodeURIComponent(c.name)}` }, c.name),
        c.vector_count ?? "", c.dimension, c.distance_metric, c.indexing_algorithm,
        c.quantization,
        h("a", { href: `#/search/${encodeURIComponent(c.name)}` }, "search"),
      ]), "collections"),
    createForm(rerender),
  );
}
