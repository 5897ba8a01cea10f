import { describe, expect, it } from "vitest";
import { parseMetrics } from "../src/prometheus";
import { collectionRatesBetween, quantile, ratesBetween } from "../src/rates";

const route = "/api/v1/collections/{name}";
const requests = "proximadb_http_requests_total";
const buckets = "proximadb_http_request_duration_seconds_bucket";
const search = `method="POST",route="${route}/search",status="200"`;

function text(searches: number, writes: number, fast: number, slow: number): string {
  return [
    `${requests}{${search}} ${searches}`,
    `${requests}{method="POST",route="${route}/vectors/batch",status="200"} ${writes}`,
    `${requests}{method="GET",route="${route}/vectors/{id}",status="200"} 999`,
    `${buckets}{${search},le="0.001"} ${fast}`,
    `${buckets}{${search},le="0.01"} ${fast + slow}`,
    `${buckets}{${search},le="+Inf"} ${fast + slow}`,
  ].join("\n");
}

describe("ratesBetween", () => {
  it("counts searches and writes per second, not gets, and their latency quantiles", () => {
    const before = { at: 100, samples: parseMetrics(text(10, 5, 10, 0)) };
    const after = { at: 102, samples: parseMetrics(text(110, 25, 90, 20)) };
    const r = ratesBetween(before, after);
    expect(r.searchesPerSecond).toBe(50);
    expect(r.writesPerSecond).toBe(10);
    // 100 new searches: 80 under 1 ms, 20 between 1 and 10 ms.
    expect(r.searchP50).toBeCloseTo(0.000625, 6);
    expect(r.searchP99).toBeCloseTo(0.001 + 0.009 * (19 / 20), 6);
  });
  it("treats a counter that went down (a restart) as counting from zero", () => {
    const before = { at: 0, samples: parseMetrics(text(500, 0, 500, 0)) };
    const after = { at: 1, samples: parseMetrics(text(3, 0, 3, 0)) };
    expect(ratesBetween(before, after).searchesPerSecond).toBe(3);
  });
  it("has no quantile without requests", () => {
    expect(quantile(0.5, [])).toBeUndefined();
  });
  it("adds gRPC calls: searches and writes by method", () => {
    const grpcBuckets = "proximadb_grpc_request_duration_seconds_bucket";
    const grpc = (searches: number, writes: number, fast: number) => [
      `proximadb_grpc_requests_total{method="Search",code="OK"} ${searches}`,
      `proximadb_grpc_requests_total{method="StreamUpsert",code="OK"} ${writes}`,
      `proximadb_grpc_requests_total{method="GetVector",code="OK"} 999`,
      `${grpcBuckets}{method="Search",code="OK",le="0.001"} ${fast}`,
      `${grpcBuckets}{method="Search",code="OK",le="+Inf"} ${fast}`,
    ].join("\n");
    const before = { at: 0, samples: parseMetrics(text(0, 0, 0, 0) + "\n" + grpc(0, 0, 0)) };
    const after = { at: 1, samples: parseMetrics(text(10, 2, 10, 0) + "\n" + grpc(30, 4, 30)) };
    const r = ratesBetween(before, after);
    expect(r.searchesPerSecond).toBe(40);
    expect(r.writesPerSecond).toBe(6);
    expect(r.searchP99).toBeLessThanOrEqual(0.001);
  });
});

describe("collectionRatesBetween", () => {
  const ops = "proximadb_collection_operation_duration_seconds";
  const text = (name: string, searches: number, slow: number, written: number) => {
    const search = `collection="${name}",operation="search",outcome="ok"`;
    return [
      `${ops}_bucket{${search},le="0.001"} ${searches - slow}`,
      `${ops}_bucket{${search},le="0.01"} ${searches}`,
      `${ops}_bucket{${search},le="+Inf"} ${searches}`,
      `${ops}_count{${search}} ${searches}`,
      `${ops}_count{collection="${name}",operation="write",outcome="ok"} 77`,
      `proximadb_collection_records_written_total{collection="${name}"} ${written}`,
    ].join("\n");
  };
  it("counts one collection's searches, records written and engine latency", () => {
    const reading = (at: number, a: string, b: string) =>
      ({ at, samples: parseMetrics(`${a}\n${b}`) });
    const before = reading(10, text("a", 0, 0, 0), text("b", 0, 0, 0));
    const after = reading(12, text("a", 100, 20, 500), text("b", 9, 0, 9));
    const r = collectionRatesBetween(before, after, "a");
    expect(r.searchesPerSecond).toBe(50);
    expect(r.writesPerSecond).toBe(250);
    expect(r.searchP50).toBeCloseTo(0.000625, 6);
    expect(collectionRatesBetween(before, after, "c").searchP99).toBeUndefined();
  });
});
