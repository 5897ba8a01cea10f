// The map's UMAP, computed in a Web Worker (umap.worker.ts) so that the page stays responsive
// while it finds the neighbours and runs the epochs: started once, it runs to the end whether
// or not the map shows it meanwhile, and keeps its latest layout for whoever looks next.
import type { UmapMessage, UmapProgress } from "./umap";

export class UmapJob {
  // The final layout; rejects with the worker's error, a follower's, or when the page is left.
  readonly done: Promise<[number, number][]>;
  private readonly worker: Worker;
  private latest: UmapProgress | null = null;
  private readonly followers = new Set<(p: UmapProgress) => void>();
  private readonly watch: ReturnType<typeof setInterval>;
  private reject: (e: Error) => void = () => {};

  // `alive`: whether the page still wants it; checked every quarter of a second (the
  // neighbour search posts nothing for seconds), and the worker stopped once it does not.
  constructor(vectors: number[][], alive: () => boolean) {
    this.worker = new Worker(new URL("./umap.worker.ts", import.meta.url), { type: "module" });
    this.watch = setInterval(() => alive() || this.fail("the page was left"), 250);
    this.done = new Promise((resolve, reject) => {
      this.reject = reject;
      this.worker.onmessage = (e: MessageEvent<UmapMessage>) => {
        const m = e.data;
        if (!alive()) return this.fail("the page was left");
        if ("error" in m) return this.fail(m.error);
        this.latest = m;
        this.followers.forEach((f) => this.call(f, m));
        if (m.done < m.epochs) return;
        this.stop();
        resolve(m.xy);
      };
      this.worker.onerror = (e) => {
        e.preventDefault();
        this.fail(e.message || "the worker did not start");
      };
    });
    this.worker.postMessage({ vectors });
  }

  // Calls `fn` with the latest layout at once (if there is one yet) and with each new one,
  // until the returned function is called.
  follow(fn: (p: UmapProgress) => void): () => void {
    if (this.latest) this.call(fn, this.latest);
    this.followers.add(fn);
    return () => this.followers.delete(fn);
  }

  // A follower that throws fails the job (its error would otherwise be lost in a callback).
  private call(fn: (p: UmapProgress) => void, p: UmapProgress): void {
    try {
      fn(p);
    } catch (e) {
      this.fail(e);
    }
  }

  private fail(e: unknown): void {
    this.stop();
    this.reject(e instanceof Error ? e : new Error(String(e)));
  }

  private stop(): void {
    clearInterval(this.watch);
    this.worker.terminate();
  }
}
