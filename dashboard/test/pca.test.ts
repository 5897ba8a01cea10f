import { describe, expect, it } from "vitest";
import { project2d } from "../src/pca";

describe("project2d", () => {
  it("puts points spread along one direction on the first axis", () => {
    // Points along (1, 2, 2)/3 with a little spread along (2, -1, 0)/sqrt(5).
    const points = [-3, -1, 0, 2, 4].map((t, i) => {
      const s = i % 2 === 0 ? 0.1 : -0.1;
      return [t / 3 + (2 * s) / Math.sqrt(5), (2 * t) / 3 - s / Math.sqrt(5), (2 * t) / 3];
    });
    const xy = project2d(points);
    const first = xy.map(([a]) => Math.abs(a));
    const second = xy.map(([, b]) => Math.abs(b));
    expect(Math.max(...first)).toBeGreaterThan(3);
    expect(Math.max(...second)).toBeLessThan(0.2);
    // Distances along the line are kept.
    expect(Math.abs(xy[4][0] - xy[0][0])).toBeCloseTo(7, 3);
  });
  it("keeps the second axis orthogonal to the first when their variances are close", () => {
    // Two directions of nearly equal spread, in 3-D.
    const points: number[][] = [];
    for (let i = 0; i < 40; i++) {
      const a = Math.cos(i), b = Math.sin(i * 1.7);
      points.push([a + 0.01 * b, b * 0.99, 0.05 * Math.cos(i * 3.1)]);
    }
    const xy = project2d(points);
    const mean = (k: number) => xy.reduce((s, p) => s + p[k], 0) / xy.length;
    const [mx, my] = [mean(0), mean(1)];
    const sum = (f: (p: [number, number]) => number) => xy.reduce((s, p) => s + f(p), 0);
    const cov = sum(([x, y]) => (x - mx) * (y - my));
    const vx = sum(([x]) => (x - mx) ** 2), vy = sum(([, y]) => (y - my) ** 2);
    expect(Math.abs(cov) / Math.sqrt(vx * vy)).toBeLessThan(1e-3); // uncorrelated axes
    expect(vy).toBeGreaterThan(0.5 * vx); // and the second one carries its share
  });
  it("handles no vectors, one vector and one dimension", () => {
    expect(project2d([])).toEqual([]);
    expect(project2d([[1, 2]])).toEqual([[0, 0]]);
    expect(project2d([[1], [3]]).map(([a, b]) => [Math.abs(a), b])).toEqual([[1, 0], [1, 0]]);
  });
});
