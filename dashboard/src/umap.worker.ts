// The Web Worker that runs the map's UMAP (umap_job.ts starts it): one job, the vectors in
// the first message, then it posts the layouts as umap.ts's runUmap makes them, and ends.
import { runUmap, UmapMessage } from "./umap";

onmessage = (e: MessageEvent<{ vectors: number[][] }>) => {
  runUmap(e.data.vectors, (m: UmapMessage) => postMessage(m));
  close();
};
