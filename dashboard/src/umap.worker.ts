// The Web Worker that runs the map's UMAP (umap_job.ts starts it): one job, the vectors in
// the first message, then it posts the layouts as umap.ts's runUmap makes them, and ends.
import { runUmap, UmapMessage } from "./umap";

// The worker's global scope, typed here: the project's lib is the DOM's, where these are a
// window's.
const scope = self as unknown as {
  onmessage: (e: MessageEvent<{ vectors: number[][] }>) => Promise<void>;
  postMessage(m: UmapMessage): void;
  close(): void;
};

scope.onmessage = async (e) => {
  await runUmap(e.data.vectors, (m) => scope.postMessage(m));
  scope.close();
};
