// Live charts: searches and writes per second and the search latency (p50, p99), read from
// /metrics every two seconds while the charts are on the page: the whole server's requests
// (REST and gRPC), or, given a collection, its own operations (writes in records per second,
// latency in the engine).
import { metricsText } from "./api";
import { h } from "./dom";
import { parseMetrics } from "./prometheus";
import { collectionRatesBetween, ratesBetween, Reading } from "./rates";

const SVG = "http://www.w3.org/2000/svg";
const POINTS = 60;

function sparkline(values: number[]): SVGSVGElement {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${POINTS} 20`);
  svg.setAttribute("class", "sparkline");
  svg.setAttribute("preserveAspectRatio", "none"); // stretched to the cell, not letterboxed
  const max = Math.max(...values, 1e-12);
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("vector-effect", "non-scaling-stroke");
  // Spread over the whole width (one reading: a flat line), the newest on the right.
  const shown = values.length === 1 ? [values[0], values[0]] : values;
  line.setAttribute("points", shown.map((v, i) =>
    `${((i * (POINTS - 1)) / (shown.length - 1)).toFixed(2)},${(19 - (v / max) * 18).toFixed(2)}`)
    .join(" "));
  svg.append(line);
  return svg;
}

interface Series {
  label: string;
  testId: string;
  unit: (v: number) => string;
  values: number[];
  cell: HTMLElement;
}

export function liveCharts(collection?: string): HTMLElement {
  const make = (label: string, testId: string, unit: (v: number) => string): Series =>
    ({ label, testId, unit, values: [], cell: h("td", { "data-testid": testId }, "…") });
  const series = [
    make("searches/s", "rate-searches", (v) => v.toFixed(1)),
    make(collection === undefined ? "writes/s" : "records written/s", "rate-writes",
      (v) => v.toFixed(1)),
    make("search p50", "search-p50", (v) => `${(v * 1000).toFixed(2)} ms`),
    make("search p99", "search-p99", (v) => `${(v * 1000).toFixed(2)} ms`),
  ];
  const charts = series.map(() => h("td", {}));
  const root = h("table", { "data-testid": "live" }, h("tbody", {},
    ...series.map((s, i) => h("tr", {}, h("th", {}, s.label), s.cell, charts[i]))));
  let last: Reading | null = null;
  let first = true;
  const tick = async () => {
    if (!first && !root.isConnected) return; // the page moved on: stop polling
    first = false;
    try {
      const samples = parseMetrics(await metricsText());
      const now: Reading = { at: performance.now() / 1000, samples };
      if (last) {
        const r = collection === undefined ? ratesBetween(last, now)
          : collectionRatesBetween(last, now, collection);
        const values = [r.searchesPerSecond, r.writesPerSecond, r.searchP50, r.searchP99];
        series.forEach((s, i) => {
          const v = values[i] ?? 0;
          s.values = [...s.values, v].slice(-POINTS);
          s.cell.textContent = values[i] === undefined ? "–" : s.unit(v);
          charts[i].replaceChildren(sparkline(s.values));
        });
      }
      last = now;
    } catch {
      // Metrics unavailable (off, a key missing, the server restarting): said, and tried again.
      series.forEach((s) => (s.cell.textContent = "metrics unavailable"));
    }
    setTimeout(() => void tick(), 2000);
  };
  void tick();
  return root;
}
