// A 2-D map of a sample of a collection's vectors: their first two principal components, or
// their UMAP, coloured by a metadata field the user picks.
import { call } from "../api";
import { h } from "../dom";
import { project2d } from "../pca";
import type { UmapProgress } from "../umap";
import { UmapJob } from "../umap_job";

interface Row {
  id: string;
  vector: number[];
  metadata?: Record<string, unknown>;
}

const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
  "#7f7f7f", "#bcbd22", "#17becf"];

async function sample(path: string, size: number): Promise<Row[]> {
  const rows: Row[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: String(Math.min(1000, size - rows.length)),
      include_vectors: "true" });
    if (cursor) query.set("cursor", cursor);
    const page = await call<{ vectors: Row[]; next_cursor: string | null }>(
      "GET", `${path}/vectors?${query}`);
    rows.push(...page.vectors);
    cursor = page.next_cursor;
  } while (cursor && rows.length < size);
  return rows;
}

function draw(canvas: HTMLCanvasElement, legend: HTMLElement, rows: Row[], xy: [number, number][],
  field: string): void {
  const ctx = canvas.getContext("2d")!;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const xs = xy.map(([x]) => x), ys = xy.map(([, y]) => y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const scale = (v: number, lo: number, hi: number, size: number) =>
    hi > lo ? 10 + ((v - lo) / (hi - lo)) * (size - 20) : size / 2;
  const own = (r: Row) =>
    (r.metadata && Object.hasOwn(r.metadata, field) ? r.metadata[field] : null);
  const values = rows.map((r) => (field ? JSON.stringify(own(r)) : ""));
  const distinct = [...new Set(values)];
  xy.forEach(([x, y], i) => {
    ctx.fillStyle = COLOURS[distinct.indexOf(values[i]) % COLOURS.length];
    ctx.beginPath();
    ctx.arc(scale(x, x0, x1, canvas.width), canvas.height - scale(y, y0, y1, canvas.height), 3, 0,
      2 * Math.PI);
    ctx.fill();
  });
  canvas.dataset.points = String(xy.length);
  legend.replaceChildren(...(field ? distinct.slice(0, COLOURS.length) : []).map((v, i) => {
    const item = h("li", {}, v);
    item.style.color = COLOURS[i]; // through the CSSOM: the CSP forbids style attributes
    return item;
  }));
}

const PROJECTIONS: Record<string, string> = {
  pca: "on their first two principal components",
  umap: "by UMAP (up to 15 neighbours, 200 epochs, a fixed seed)",
};

export async function mapPage(root: HTMLElement, name: string,
  alive: () => boolean): Promise<void> {
  const path = `/api/v1/collections/${encodeURIComponent(name)}`;
  const rows = (await sample(path, 2000)).filter((r) => Array.isArray(r.vector));
  if (!alive()) return;
  const pca = project2d(rows.map((r) => r.vector));
  let umap: UmapJob | null = null; // started on first choice, runs on after a switch away
  const fields = [...new Set(rows.flatMap((r) => Object.keys(r.metadata ?? {})))].sort();
  const select = h("select", { name: "colour" }, h("option", { value: "" }, "(one colour)"),
    ...fields.map((f) => h("option", { value: f }, f)));
  // UMAP needs neighbours: offered from 3 vectors on.
  const projection = h("select", { name: "projection" }, h("option", { value: "pca" }, "PCA"),
    rows.length >= 3 && h("option", { value: "umap" }, "UMAP"));
  const canvas = h("canvas", { width: "640", height: "480", "data-testid": "map" });
  const legend = h("ul", { "data-testid": "legend" });
  const how = h("span", {}, PROJECTIONS.pca);
  const status = h("span", { "data-testid": "map-status" });
  let shown = pca;
  const show = (xy: [number, number][], text: string) => {
    shown = xy;
    status.textContent = text;
    draw(canvas, legend, rows, xy, select.value);
  };
  const final = (chosen: string, xy: [number, number][]) => {
    show(xy, "");
    canvas.dataset.projection = chosen;
  };
  let generation = 0; // of place(): only the latest one draws
  const place = async () => {
    const mine = ++generation;
    const current = () => alive() && generation === mine;
    const chosen = projection.value;
    how.textContent = PROJECTIONS[chosen];
    if (chosen === "pca") return final(chosen, pca);
    delete canvas.dataset.projection; // and the point count: set again when drawn
    delete canvas.dataset.points;
    status.textContent = "finding neighbours";
    let unfollow: () => void = () => {};
    try {
      const job = (umap ??= new UmapJob(rows.map((r) => r.vector), alive));
      unfollow = job.follow((p: UmapProgress) => {
        if (current()) show(p.xy, p.done < p.epochs ? `epoch ${p.done} of ${p.epochs}` : "");
      });
      const xy = await job.done.catch((e) => {
        if (umap === job) umap = null; // a failed run: the next choice starts afresh
        throw e;
      });
      if (current()) final(chosen, xy);
    } catch (e) {
      if (current()) status.textContent = `UMAP failed: ${e instanceof Error ? e.message : e}`;
    } finally {
      unfollow();
    }
  };
  select.addEventListener("change", () => draw(canvas, legend, rows, shown, select.value));
  projection.addEventListener("change", () => void place());
  root.append(h("h1", {}, `Map of ${name}`),
    h("p", {}, `${rows.length} vectors (the first by id, up to 2,000) `, how, ". ", projection,
      " Colour by ", select, " ", status),
    canvas, legend);
  final("pca", pca);
}
