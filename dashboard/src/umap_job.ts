// The map's UMAP, computed in a Web Worker (umap.worker.ts) so that the page stays responsive
// while it finds the neighbours and runs the epochs: started once, it runs to the end whether
// or not the map shows it meanwhile, and keeps its latest layout for whoever looks next.
import type { UmapMessage, UmapProgress } from "./umap";

export class UmapJob {
  // The final layout; rejects with the worker's error.
  readonly done: Promise<[number, number][]>;
  private readonly worker: Worker;
  private latest: UmapProgress | null = null;
  private readonly followers = new Set<(p: UmapProgress) => void>();

  // `alive`: whether the page still wants it; the worker is stopped at its next layout if not.
  constructor(vectors: number[][], alive: () => boolean) {
    this.worker = new Worker(new URL("./umap.worker.ts", import.meta.url), { type: "module" });
    this.done = new Promise((resolve, reject) => {
      this.worker.onmessage = (e: MessageEvent<UmapMessage>) => {
        const m = e.data;
        if (!alive()) return this.worker.terminate();
        if ("error" in m) return reject(new Error(m.error));
        this.latest = m;
        this.followers.forEach((f) => f(m));
        if (m.done >= m.epochs) resolve(m.xy);
      };
      this.worker.onerror = (e) => {
        e.preventDefault();
        reject(new Error(e.message || "the worker did not start"));
      };
    });
    this.worker.postMessage({ vectors });
  }

  // Calls `fn` with the latest layout at once (if there is one yet) and with each new one,
  // until the returned function is called.
  follow(fn: (p: UmapProgress) => void): () => void {
    if (this.latest) fn(this.latest);
    this.followers.add(fn);
    return () => this.followers.delete(fn);
  }
}
