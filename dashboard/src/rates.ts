// Request rates and latencies between two readings of /metrics, from the counters' and the
// latency histograms' growth per second: the whole server's searches and writes (REST requests
// and gRPC calls), or one collection's searches, records written and search latency in the
// engine (its operation series, whichever API served them).
import { Sample } from "./prometheus";

export interface Reading {
  at: number; // seconds
  samples: Sample[];
}

export interface Rates {
  searchesPerSecond: number;
  writesPerSecond: number;
  searchP50: number | undefined; // seconds
  searchP99: number | undefined;
}

const SEARCH = /\/search(\/batch)?$/;
const WRITE_ROUTE = /\/vectors(\/batch|\/delete|\/\{id\})?$/;
const WRITE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

const GRPC_SEARCH = new Set(["Search", "SearchBatch"]);
const GRPC_WRITE = new Set(["Insert", "BatchWrite", "StreamUpsert", "UpsertVector",
  "PatchMetadata", "DeleteVector", "DeleteVectors"]);

function isSearch(s: Sample): boolean {
  if (s.name.startsWith("proximadb_grpc_")) return GRPC_SEARCH.has(s.labels.method ?? "");
  return SEARCH.test(s.labels.route ?? "");
}

function isWrite(s: Sample): boolean {
  if (s.name.startsWith("proximadb_grpc_")) return GRPC_WRITE.has(s.labels.method ?? "");
  return WRITE_ROUTE.test(s.labels.route ?? "") && WRITE_METHODS.has(s.labels.method ?? "");
}

function key(s: Sample): string {
  return JSON.stringify(Object.entries(s.labels).sort());
}

// Each series' growth from `before` to `after` (a series absent before grew from 0; a counter
// that went down, after a restart, counts from 0 too).
function growth(before: Sample[], after: Sample[], name: string,
  keep: (s: Sample) => boolean): Sample[] {
  const old = new Map(before.filter((s) => s.name === name).map((s) => [key(s), s.value]));
  return after.filter((s) => s.name === name && keep(s)).map((s) => {
    const was = old.get(key(s)) ?? 0;
    return { ...s, value: s.value >= was ? s.value - was : s.value };
  });
}

// The q-quantile of a histogram's bucket counts (cumulative, by their "le"), by linear
// interpolation inside the bucket, as Prometheus's histogram_quantile does.
export function quantile(q: number, buckets: Sample[]): number | undefined {
  const byLe = new Map<number, number>();
  for (const b of buckets) {
    const le = b.labels.le === "+Inf" ? Infinity : Number(b.labels.le);
    byLe.set(le, (byLe.get(le) ?? 0) + b.value);
  }
  const sorted = [...byLe.entries()].sort((a, b) => a[0] - b[0]);
  const total = sorted.length ? sorted[sorted.length - 1][1] : 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let lowerLe = 0, lowerCount = 0;
  for (const [le, count] of sorted) {
    if (count >= rank) {
      if (le === Infinity) return lowerLe;
      return lowerLe + ((le - lowerLe) * (rank - lowerCount)) / Math.max(count - lowerCount, 1e-12);
    }
    lowerLe = le;
    lowerCount = count;
  }
  return lowerLe;
}

function sum(samples: Sample[]): number {
  return samples.reduce((total, s) => total + s.value, 0);
}

export function ratesBetween(before: Reading, after: Reading): Rates {
  const seconds = Math.max(after.at - before.at, 1e-9);
  const grown = (name: string, keep: (s: Sample) => boolean) =>
    growth(before.samples, after.samples, name, keep);
  const count = (keep: (s: Sample) => boolean) =>
    (sum(grown("proximadb_http_requests_total", keep)) +
      sum(grown("proximadb_grpc_requests_total", keep))) / seconds;
  const buckets = [
    ...grown("proximadb_http_request_duration_seconds_bucket", isSearch),
    ...grown("proximadb_grpc_request_duration_seconds_bucket", isSearch),
  ];
  return {
    searchesPerSecond: count(isSearch),
    writesPerSecond: count(isWrite),
    searchP50: quantile(0.5, buckets),
    searchP99: quantile(0.99, buckets),
  };
}

// One collection's: searches (each query of a batch) and records written per second, and the
// engine's search latency.
export function collectionRatesBetween(before: Reading, after: Reading,
  collection: string): Rates {
  const seconds = Math.max(after.at - before.at, 1e-9);
  const searches = (s: Sample) =>
    s.labels.collection === collection && s.labels.operation === "search";
  const grown = (name: string, keep: (s: Sample) => boolean) =>
    growth(before.samples, after.samples, name, keep);
  const buckets = grown("proximadb_collection_operation_duration_seconds_bucket", searches);
  return {
    searchesPerSecond:
      sum(grown("proximadb_collection_operation_duration_seconds_count", searches)) / seconds,
    writesPerSecond: sum(grown("proximadb_collection_records_written_total",
      (s) => s.labels.collection === collection)) / seconds,
    searchP50: quantile(0.5, buckets),
    searchP99: quantile(0.99, buckets),
  };
}
