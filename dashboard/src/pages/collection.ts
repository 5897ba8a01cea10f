// A collection: its settings and stats (segments and tiers included), its live request rates,
// its flush, compaction and migration history, and flush, compact and drop, each after a
// confirmation.
import { call, Collection, History, Stats } from "../api";
import { liveCharts } from "../charts";
import { errorBox, h, table } from "../dom";
import { bytes } from "../format";
import { rerender } from "../rerender";

function show(value: unknown): string {
  if (typeof value === "object" && value !== null) return JSON.stringify(value);
  return String(value);
}

function action(label: string, question: string, run: () => Promise<void>): HTMLButtonElement {
  const button = h("button", { "data-action": label.toLowerCase() }, label);
  button.addEventListener("click", async () => {
    if (!confirm(question)) return;
    button.disabled = true;
    try {
      await run();
    } catch (e) {
      button.after(errorBox(e));
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

export async function collectionPage(root: HTMLElement, name: string,
  alive: () => boolean): Promise<void> {
  const path = `/api/v1/collections/${encodeURIComponent(name)}`;
  const [config, stats, history] = await Promise.all([
    call<Collection>("GET", path),
    call<Stats>("GET", `${path}/stats`),
    call<History>("GET", `${path}/history`),
  ]);
  if (!alive()) return;
  const refresh = async () => {
    if (alive()) rerender();
  };
  const tiers = (stats.tiers ?? {}) as Record<string, { segments: number; bytes: number }>;
  root.append(
    h("h1", {}, `Collection ${name}`),
    h("p", {},
      h("a", { href: `#/search/${encodeURIComponent(name)}` }, "Search it"), " · ",
      h("a", { href: `#/browse/${encodeURIComponent(name)}` }, "Browse records"), " · ",
      h("a", { href: `#/map/${encodeURIComponent(name)}` }, "Map"), " · ",
      action("Flush", `Flush ${name} now?`, async () => {
        await call("POST", `${path}/flush`);
        await refresh();
      }), " ",
      action("Compact", `Compact ${name} now?`, async () => {
        await call("POST", `${path}/compact`);
        await refresh();
      }), " ",
      action("Drop", `Drop ${name} and all its records?`, async () => {
        await call("DELETE", path);
        if (alive()) location.hash = "#/";
      })),
    h("h2", {}, "Requests, live (REST and gRPC)"),
    liveCharts(name),
    h("h2", {}, "Stats"),
    table(["vectors", "segments", "memtable rows", "memory", "disk", "flushes", "compactions"], [[
      stats.vector_count, stats.segment_count, show(stats.memtable_rows), bytes(stats.memory_bytes),
      bytes(stats.disk_bytes), show(stats.flushes), show(stats.compactions),
    ]], "stats"),
    h("h2", {}, "Tiers"),
    table(["tier", "segments", "bytes"],
      Object.entries(tiers).map(([tier, t]) => [tier, t.segments, bytes(t.bytes)]), "tiers"),
    h("h2", {}, "Flushes, compactions and migrations (newest first, since the server opened it)"),
    table(["started", "kind", "seconds", "segments in", "segments out", "rows", "bytes", "error"],
      history.events.map((e) => [new Date(e.started_at_us / 1000).toLocaleString(), e.kind,
        e.seconds.toFixed(3), e.segments_in, e.segments_out, e.rows, bytes(e.bytes), e.error]),
      "history"),
    h("h2", {}, "Settings"),
    table(["setting", "value"], Object.entries(config).map(([k, v]) => [k, show(v)]), "settings"),
  );
}
