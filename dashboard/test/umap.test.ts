import { describe, expect, it } from "vitest";
import { runUmap, seeded, startUmap, UmapMessage, UmapProgress } from "../src/umap";

// Two clusters of 30 points in 16 dimensions, far apart.
function clusters(): number[][] {
  const random = seeded(3);
  return Array.from({ length: 60 }, (_, i) =>
    Array.from({ length: 16 }, (_, j) => (i < 30 ? 0 : j % 2 === 0 ? 10 : -10) + random()));
}

function run(vectors: number[][], seed = 1): [number, number][] {
  const umap = startUmap(vectors, seed)!;
  while (umap.advance(25) < umap.epochs);
  return umap.embedding();
}

describe("startUmap", () => {
  it("keeps clusters apart", () => {
    const xy = run(clusters());
    const centre = (from: number) => [0, 1].map((k) =>
      xy.slice(from, from + 30).reduce((s, p) => s + p[k], 0) / 30);
    const [a, b] = [centre(0), centre(30)];
    const spread = (from: number, c: number[]) => Math.max(...xy.slice(from, from + 30).map(
      ([x, y]) => Math.hypot(x - c[0], y - c[1])));
    const apart = Math.hypot(a[0] - b[0], a[1] - b[1]);
    expect(apart).toBeGreaterThan(spread(0, a) + spread(30, b));
  });
  it("is the same for the same seed, and runs its epochs in steps", () => {
    const vectors = clusters();
    expect(run(vectors)).toEqual(run(vectors));
    expect(run(vectors, 2)).not.toEqual(run(vectors)); // the seed is what makes it so
    const umap = startUmap(vectors)!;
    expect(umap.epochs).toBe(200);
    expect(umap.advance(10)).toBe(10);
    expect(umap.advance(1000)).toBe(200);
    expect(umap.advance(1)).toBe(200);
  });
  it("needs three vectors", () => {
    expect(startUmap([[1, 2], [3, 4]])).toBeNull();
    expect(startUmap([[1, 2], [3, 4], [5, 7]])).not.toBeNull();
  });
});

describe("runUmap (the worker's job)", () => {
  it("posts the layout every few epochs, the last one whole", async () => {
    const vectors = clusters();
    const posts: UmapMessage[] = [];
    await runUmap(vectors, (m) => posts.push(m), 30);
    const layouts = posts as UmapProgress[];
    expect(layouts.map((p) => p.done)).toEqual([30, 60, 90, 120, 150, 180, 200]);
    expect(layouts.every((p) => p.epochs === 200 && p.xy.length === 60)).toBe(true);
    expect(layouts[6].xy).toEqual(run(vectors)); // the same seed as startUmap's default
  });
  it("posts an error instead of throwing", async () => {
    const posts: UmapMessage[] = [];
    await runUmap([[1, 2], [3, 4]], (m) => posts.push(m));
    expect(posts).toEqual([{ error: "it needs at least 3 vectors" }]);
    posts.length = 0;
    await runUmap(clusters(), (m) => {
      posts.push(m);
      if (posts.length === 1) throw new Error("no room");
    });
    expect(posts.length).toBe(2);
    expect(posts[1]).toEqual({ error: "no room" });
  });
});
