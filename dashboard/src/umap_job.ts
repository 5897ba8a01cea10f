// The map's UMAP, computed in a Web Worker (umap.worker.ts) so that the page stays responsive
// while it finds the neighbours and runs the epochs: started once, it runs to the end whether
// or not the map shows it meanwhile, and keeps its latest layout for whoever looks next.
import type { UmapMessage, UmapProgress } from "./umap";

export class UmapJob {
  // The final layout; rejects with the worker's error, or a follower's.
  readonly done: Promise<[number, number][]>;
  private readonly worker: Worker;
  private latest: UmapProgress | null = null;
  private readonly followers = new Set<(p: UmapProgress) => void>();
  private readonly watch: ReturnType<typeof setInterval>;

  // `alive`: whether the page still wants it; checked every quarter of a second (the
  // neighbour search posts nothing for seconds), and the worker stopped once it does not.
  constructor(vectors: number[][], alive: () => boolean) {
    this.worker = new Worker(new URL("./umap.worker.ts", import.meta.url), { type: "module" });
    this.watch = setInterval(() => alive() || this.stop(), 250);
    this.done = new Promise((resolve, reject) => {
      const fail = (e: unknown) => {
        this.stop();
        reject(e instanceof Error ? e : new Error(String(e)));
      };
      this.worker.onmessage = (e: MessageEvent<UmapMessage>) => {
        const m = e.data;
        if (!alive()) return this.stop();
        if ("error" in m) return fail(m.error);
        this.latest = m;
        try {
          this.followers.forEach((f) => f(m));
        } catch (err) {
          return fail(err);
        }
        if (m.done < m.epochs) return;
        this.stop();
        resolve(m.xy);
      };
      this.worker.onerror = (e) => {
        e.preventDefault();
        fail(e.message || "the worker did not start");
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

  private stop(): void {
    clearInterval(this.watch);
    this.worker.terminate();
  }
}
