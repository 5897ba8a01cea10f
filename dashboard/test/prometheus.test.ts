import { describe, expect, it } from "vitest";
import { parseMetrics, valueOf } from "../src/prometheus";

const TEXT = `# HELP proximadb_ready 1 once recovery finished.
# TYPE proximadb_ready gauge
proximadb_ready 1
proximadb_build_info{version="0.1.0"} 1
proximadb_collection_vectors{collection="docs"} 250
proximadb_collection_vectors{collection="logs"} 7
proximadb_filesystem_free_bytes{directory="/data/a \\"b\\"\\\\c"} 1.5e+09
proximadb_http_request_duration_seconds_bucket{method="POST",route="/x",status="200",le="+Inf"} 3
`;

describe("parseMetrics", () => {
  const samples = parseMetrics(TEXT);
  it("reads names, labels and values, skipping comments", () => {
    expect(samples).toHaveLength(6);
    expect(valueOf(samples, "proximadb_ready")).toBe(1);
    expect(samples[1].labels).toEqual({ version: "0.1.0" });
    expect(valueOf(samples, "proximadb_collection_vectors", { collection: "logs" })).toBe(7);
    expect(valueOf(samples, "proximadb_collection_vectors", { collection: "none" }))
      .toBeUndefined();
  });
  it("unescapes label values and reads exponents", () => {
    const free = samples.find((s) => s.name === "proximadb_filesystem_free_bytes")!;
    expect(free.labels.directory).toBe('/data/a "b"\\c');
    expect(free.value).toBe(1.5e9);
  });
  it("keeps labels whose values hold commas and signs", () => {
    const bucket = samples[5];
    expect(bucket.labels).toEqual({ method: "POST", route: "/x", status: "200", le: "+Inf" });
  });
});
