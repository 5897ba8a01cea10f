// UMAP of a sample of vectors for the 2-D map (umap-js): seeded, so that the same sample
// comes out the same each time (in one browser engine), and run a few epochs at a time, so
// that the layout can be drawn as it settles. The map runs it in a Web Worker
// (umap.worker.ts, umap_job.ts), so that the page stays responsive meanwhile.
import { UMAP } from "umap-js";

// mulberry32: a small seeded generator of numbers in [0, 1), as umap-js's `random` wants.
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface UmapRun {
  epochs: number; // in all
  // Runs up to `n` more epochs; returns how many have run so far.
  advance(n: number): number;
  embedding(): [number, number][];
}

// Starts a UMAP of `vectors`: their nearest neighbours are found here, in one go (1.9 s of
// the 3.1 s a UMAP of 2,000 vectors of 784 dimensions takes in Chromium here). Null for fewer
// than 3, which have no neighbours to speak of.
export function startUmap(vectors: number[][], seed = 1, epochs = 200): UmapRun | null {
  if (vectors.length < 3) return null;
  const umap = new UMAP({ nComponents: 2, nNeighbors: Math.min(15, vectors.length - 1),
    nEpochs: epochs, random: seeded(seed) });
  const total = umap.initializeFit(vectors);
  let done = 0;
  return {
    epochs: total,
    advance(n: number): number {
      for (let i = 0; i < n && done < total; i++, done++) umap.step();
      return done;
    },
    embedding: () => umap.getEmbedding().map(([x, y]) => [x, y] as [number, number]),
  };
}

// What the worker posts: the layout after `done` of `epochs` epochs, or why it failed.
export interface UmapProgress {
  done: number;
  epochs: number;
  xy: [number, number][];
}
export type UmapMessage = UmapProgress | { error: string };

// The worker's whole job: a UMAP of `vectors` to the end, posting the layout every `every`
// epochs (the last post has done === epochs), or an error. It yields to the worker's event
// loop after each post: a terminate() takes effect there (in the neighbour search, which runs
// in one go, only when it ends, or when Chromium forces it after 2 s).
export async function runUmap(vectors: number[][], post: (m: UmapMessage) => void, every = 10,
  seed = 1): Promise<void> {
  try {
    const run = startUmap(vectors, seed);
    if (!run) return post({ error: "it needs at least 3 vectors" });
    for (let done = 0; done < run.epochs;) {
      done = run.advance(every);
      post({ done, epochs: run.epochs, xy: run.embedding() });
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  } catch (e) {
    post({ error: e instanceof Error ? e.message : String(e) });
  }
}
