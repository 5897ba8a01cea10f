// The dashboard in Debian's Chromium (playwright-core) against the real server, serving the
// built dashboard: the overview, creating a collection through the form, records written
// through the API showing up, the search playground (by vector, with a filter made by the
// builder, by a record's id), the data browser (pages, a filter, a record opened), the map
// (points and colours, PCA and UMAP, the UMAP off the page's thread), the
// collection page's stats, live request charts, flush and drop (confirmed), and a server with
// [auth] on, where the page asks for a key and works once it has one. Screenshots of each page
// go to $SCREENSHOTS (build/dashboard-screenshots).
//
//   node e2e/dashboard.e2e.mjs --server build/bin/proximadb-server --dashboard build/dashboard
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const { values: args } = parseArgs({
  options: {
    server: { type: "string" },
    dashboard: { type: "string" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
    screenshots: { type: "string", default: "build/dashboard-screenshots" },
  },
});
assert.ok(args.server && args.dashboard, "--server and --dashboard are required");
mkdirSync(args.screenshots, { recursive: true });

function freePort() {
  return new Promise((done) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => done(port));
    });
  });
}

async function startServer(env = {}) {
  const dir = mkdtempSync(join(tmpdir(), "proximadb-dash-e2e-"));
  const port = await freePort();
  const proc = spawn(resolve(args.server), ["--data-dir", join(dir, "data"), "--rest-port",
    String(port), "--grpc-port", String(await freePort()), "--log-level", "warn"], {
    env: { ...process.env, PROXIMADB_SERVER__DASHBOARD_ENABLED: "true",
      PROXIMADB_SERVER__DASHBOARD_DIR: resolve(args.dashboard), ...env },
    stdio: "ignore",
  });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30000;
  for (;;) {
    try {
      if ((await fetch(`${base}/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    assert.ok(Date.now() < deadline && proc.exitCode === null, "the server did not start");
    await new Promise((r) => setTimeout(r, 50)); // polling readiness
  }
  const stop = async () => {
    if (proc.exitCode === null) {
      proc.kill("SIGTERM");
      await once(proc, "exit");
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { base, stop };
}

async function api(base, method, path, body, key) {
  const headers = { "Content-Type": "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  const r = await fetch(base + path, { method, headers, body: body && JSON.stringify(body) });
  const text = await r.text();
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

async function cellTexts(page, testId, column) {
  await page.getByTestId(testId).waitFor();
  const cells = `[data-testid="${testId}"] tbody tr td:nth-child(${column})`;
  return page.locator(cells).allTextContents();
}

async function shot(page, name) {
  await page.screenshot({ path: join(args.screenshots, `${name}.png`), fullPage: true });
}

// The search playground on `shapes`: by vector, with filters made by the builder, by a
// record's id.
async function searchSteps(page) {
  await page.locator('[data-testid="collections"] a', { hasText: "search" }).click();
  const search = page.getByTestId("search");
  await search.locator("textarea[name=vector]").fill("[1, 0, 0]");
  await search.locator("button[data-action=search]").click();
  assert.deepEqual(await cellTexts(page, "hits", 2), ["a", "c", "b"]);
  assert.match(await page.getByTestId("plan").textContent(), /^3 hits, plan \w+/);
  // The filter through the builder: its rows write the filter box.
  await search.locator("button[data-action=add-condition]").click();
  await search.locator("input[name=field]").fill("kind");
  await search.locator("input[name=value]").fill("y");
  assert.equal(await search.locator("textarea[name=filter]").inputValue(), '{"kind":"y"}');
  await search.locator("button[data-action=search]").click();
  await page.getByTestId("plan").waitFor();
  assert.deepEqual(await cellTexts(page, "hits", 2), ["c", "b"]);
  // A second condition, the first negated, matched "none": kind is y and not x.
  await search.locator("button[data-action=add-condition]").click();
  await search.locator("input[name=field]").nth(1).fill("kind");
  await search.locator("input[name=value]").nth(1).fill("x");
  await search.locator("select[name=match]").selectOption("any");
  assert.equal(await search.locator("textarea[name=filter]").inputValue(),
    '{"$or":[{"kind":"y"},{"kind":"x"}]}');
  await search.locator("input[name=negate]").first().check();
  await search.locator("select[name=match]").selectOption("none");
  assert.equal(await search.locator("textarea[name=filter]").inputValue(),
    '{"$not":{"$or":[{"$not":{"kind":"y"}},{"kind":"x"}]}}');
  await search.locator("button[data-action=search]").click();
  await page.getByTestId("plan").waitFor();
  assert.deepEqual(await cellTexts(page, "hits", 2), ["c", "b"]);
  await search.locator("textarea[name=filter]").fill("");
  await search.locator("input[name=id]").fill("b");
  await search.locator("button[data-action=search]").click();
  await page.getByTestId("plan").waitFor();
  assert.equal((await cellTexts(page, "hits", 2))[0], "b");
  await shot(page, "search");
}

// The map of `shapes` (3 vectors): every vector drawn and coloured by a field, by PCA and by
// UMAP.
async function mapSteps(page, base) {
  // The map: every vector drawn, coloured by a field.
  await page.goto(`${base}/dashboard/#/map/shapes`);
  await page.locator('[data-testid="map"][data-points="3"]').waitFor();
  await page.locator("select[name=colour]").selectOption("kind");
  await page.locator('[data-testid="legend"] li').nth(1).waitFor();
  assert.deepEqual(await page.locator('[data-testid="legend"] li').allTextContents(),
    ['"x"', '"y"']);
  await shot(page, "map");
  // The same vectors by UMAP (the point count is cleared until it draws), still coloured by
  // the field; back to PCA, and to UMAP again (kept from the first time).
  const projection = page.locator("select[name=projection]");
  for (const [chosen, shown] of [["umap", "map-umap"], ["pca", ""], ["umap", ""]]) {
    await projection.selectOption(chosen);
    await page.locator(`[data-testid="map"][data-projection="${chosen}"][data-points="3"]`)
      .waitFor();
    assert.equal(await page.getByTestId("map-status").textContent(), "");
    assert.deepEqual(await page.locator('[data-testid="legend"] li').allTextContents(),
      ['"x"', '"y"']);
    if (shown) await shot(page, shown);
  }
  // Afresh, UMAP chosen, left and chosen again at once (in one task, before its neighbour
  // search starts): the stale choice gives way, and one UMAP is drawn.
  await page.reload();
  await page.locator('[data-testid="map"][data-projection="pca"][data-points="3"]').waitFor();
  await page.evaluate(() => {
    const select = document.querySelector("select[name=projection]");
    for (const value of ["umap", "pca", "umap"]) {
      select.value = value;
      select.dispatchEvent(new Event("change"));
    }
  });
  await page.locator('[data-testid="map"][data-projection="umap"][data-points="3"]').waitFor();
  assert.equal(await page.getByTestId("map-status").textContent(), "");
}

// A UMAP of 2,000 vectors in 10 clusters runs in a worker: the page's own thread is never
// busy for 200 ms meanwhile (15-25 ms here; finding the neighbours on it blocked it for about
// 0.5 s), a switch to PCA and back finds it going on, and every vector is drawn.
async function umapOffThePage(page, base) {
  await api(base, "POST", "/api/v1/collections", { name: "grid", dimension: 64 });
  const vectors = Array.from({ length: 2000 }, (_, i) =>
    Array.from({ length: 64 }, (_, j) => (i % 10) * 4 + Math.sin(i * 64 + j)));
  await api(base, "POST", "/api/v1/collections/grid/vectors/batch",
    { ids: vectors.map((_, i) => `v${i}`), vectors });
  // Each worker the page starts, and when it ends.
  const ended = [];
  const started = (w) => ended.push(new Promise((done) => w.once("close", done)));
  page.on("worker", started);
  await page.goto(`${base}/dashboard/#/map/grid`);
  await page.locator('[data-testid="map"][data-projection="pca"][data-points="2000"]').waitFor();
  // The longest gap between the ticks of a 10 ms timer: how long the page's thread was busy.
  await page.evaluate(() => {
    let last = performance.now();
    window.longestGap = 0;
    window.ticking = setInterval(() => {
      const now = performance.now();
      window.longestGap = Math.max(window.longestGap, now - last);
      last = now;
    }, 10);
  });
  // UMAP chosen, left for PCA once its first layouts are drawn, and chosen again: the same run
  // goes on meanwhile, and its end is drawn.
  const projection = page.locator("select[name=projection]");
  await projection.selectOption("umap");
  await page.getByTestId("map-status").filter({ hasText: /^epoch / }).waitFor();
  const epochsFrom = Date.now();
  await projection.selectOption("pca");
  await page.locator('[data-testid="map"][data-projection="pca"][data-points="2000"]').waitFor();
  await projection.selectOption("umap");
  await page.locator('[data-testid="map"][data-projection="umap"][data-points="2000"]')
    .waitFor();
  const epochs = Date.now() - epochsFrom; // what a run has left after its first layout
  assert.equal(await page.getByTestId("map-status").textContent(), "");
  const longest = await page.evaluate(() => {
    clearInterval(window.ticking);
    return window.longestGap;
  });
  assert.ok(longest < 200, `the page was blocked for ${longest} ms`);
  assert.equal(ended.length, 1); // one run, the same after the switch, ended when done
  await ended[0];
  // A run is stopped when the page is left: its worker ends in well under the time the run
  // had left (measured above on the same run, so that a slow machine slows both).
  await page.reload();
  await page.locator('[data-testid="map"][data-projection="pca"][data-points="2000"]').waitFor();
  const second = page.waitForEvent("worker");
  await projection.selectOption("umap");
  await second;
  await page.getByTestId("map-status").filter({ hasText: /^epoch / }).waitFor();
  await page.goto(`${base}/dashboard/#/`);
  const left = await Promise.race([ended[1].then(() => true),
    new Promise((r) => setTimeout(r, epochs / 2, false))]);
  assert.ok(left, `the UMAP worker went on for ${epochs / 2} ms after the page was left`);
  page.off("worker", started);
  await api(base, "DELETE", "/api/v1/collections/grid");
}

async function workflow(browser) {
  const server = await startServer();
  const page = await browser.newPage();
  page.on("dialog", (d) => d.accept()); // the confirmations of flush and drop
  try {
    await page.goto(`${server.base}/dashboard/`);
    assert.equal(await page.getByTestId("status").textContent(), "ready");
    assert.equal(await page.getByTestId("version").textContent(), "0.1.0");

    // Create a collection through the form.
    const form = page.getByTestId("create");
    await form.locator("input[name=name]").fill("shapes");
    await form.locator("input[name=dimension]").fill("3");
    await form.locator("select[name=metric]").selectOption("l2");
    await form.locator("button").click();
    await page.locator('[data-testid="collections"] a', { hasText: "shapes" }).waitFor();

    // Records written through the API show on the overview.
    await api(server.base, "POST", "/api/v1/collections/shapes/vectors/batch", { vectors: [
      { id: "a", vector: [1, 0, 0], metadata: { kind: "x" } },
      { id: "b", vector: [0, 1, 0], metadata: { kind: "y" } },
      { id: "c", vector: [0.9, 0.1, 0], metadata: { kind: "y" } }] });
    await page.reload();
    assert.deepEqual(await cellTexts(page, "collections", 2), ["3"]);
    await shot(page, "overview");

    await searchSteps(page);

    // The data browser: pages of 2 in id order, a filter, a record opened.
    await page.goto(`${server.base}/dashboard/#/browse/shapes`);
    await page.getByTestId("records").waitFor(); // the first page, before asking for another
    const browse = page.getByTestId("browse");
    await browse.locator("input[name=limit]").fill("2");
    await browse.locator("button[type=submit]").click();
    await page.locator('[data-testid="records"] a[data-id="b"]').waitFor();
    assert.deepEqual(await cellTexts(page, "records", 1), ["a", "b"]);
    await page.locator("button[data-action=next]").click();
    await page.locator('[data-testid="records"] a[data-id="c"]').waitFor();
    assert.deepEqual(await cellTexts(page, "records", 1), ["c"]);
    await browse.locator("textarea[name=filter]").fill('{"kind": "y"}');
    await browse.locator("button[type=submit]").click();
    await page.locator('[data-testid="records"] a[data-id="c"]').waitFor();
    assert.deepEqual(await cellTexts(page, "records", 1), ["b", "c"]);
    await page.locator('[data-testid="records"] a[data-id="c"]').click();
    await page.getByTestId("record").filter({ hasText: "0.9" }).waitFor();
    const opened = JSON.parse(await page.getByTestId("record").textContent());
    assert.equal(opened.id, "c");
    assert.deepEqual(opened.metadata, { kind: "y" });
    await shot(page, "browse");

    await mapSteps(page, server.base);
    await umapOffThePage(page, server.base);

    // The collection page: stats, then a flush and a drop, each confirmed.
    await page.goto(`${server.base}/dashboard/#/collections/shapes`);
    assert.deepEqual((await cellTexts(page, "stats", 1)), ["3"]);
    // The live charts see searches made now (read from /metrics every 2 s).
    await page.getByTestId("live").waitFor();
    // Searches go on until a reading counts them (the first reading may come after a burst).
    const counted = page.getByTestId("rate-searches").filter({ hasText: /^(?!0\.0$)\d+\.\d$/ });
    for (let i = 0; (await counted.count()) === 0; i++) {
      assert.ok(i < 3000, "the live chart never counted the searches");
      await api(server.base, "POST", "/api/v1/collections/shapes/search", { vector: [1, 0, 0] });
    }
    assert.match(await page.getByTestId("search-p99").textContent(), /ms$/);
    await shot(page, "collection");
    await page.locator("button[data-action=flush]").click();
    // (Not waitForFunction: the dashboard's Content-Security-Policy forbids its eval.)
    await page.locator('[data-testid="stats"] tbody td:nth-child(2)')
      .filter({ hasText: /^1$/ }).waitFor();
    // The flush is in the history, with the rows it wrote.
    const flushRow = page.locator('[data-testid="history"] tbody tr').filter({ hasText: "flush" });
    await flushRow.waitFor();
    assert.equal((await cellTexts(page, "history", 6))[0], "3");
    await shot(page, "collection-after-flush");
    await page.locator("button[data-action=drop]").click();
    await page.waitForURL(/#\/$/);
    const left = await api(server.base, "GET", "/api/v1/collections");
    assert.deepEqual(left.collections, []);
  } finally {
    await page.close();
    await server.stop();
  }
}

async function withAuth(browser) {
  const admin = `e2e-admin-${Date.now()}`;
  const server = await startServer({ PROXIMADB_AUTH__ENABLED: "true",
    PROXIMADB_AUTH__ADMIN_KEY: admin });
  const page = await browser.newPage();
  try {
    await api(server.base, "POST", "/api/v1/collections", { name: "secret", dimension: 2 }, admin);
    await page.goto(`${server.base}/dashboard/`);
    await page.getByRole("alert").last().waitFor();
    assert.match(await page.getByRole("alert").last().textContent(),
      /UNAUTHENTICATED.*enter an API key above/);
    await page.locator("#key").fill(admin);
    await page.locator("#key-form button").click();
    await page.locator('[data-testid="collections"] a', { hasText: "secret" }).waitFor();
    // The key stays for the session (session storage), not in the page.
    assert.equal(await page.evaluate(() => sessionStorage.getItem("proximadb.apiKey")), admin);
    assert.equal(await page.locator("#key").inputValue(), "");
    await shot(page, "auth");
  } finally {
    await page.close();
    await server.stop();
  }
}

const browser = await chromium.launch({ executablePath: args.chromium, args: ["--no-sandbox"] });
try {
  await workflow(browser);
  await withAuth(browser);
  console.log(`dashboard e2e: passed; screenshots in ${args.screenshots}`);
} finally {
  await browser.close();
}
