// The data browser: the records of a collection a page at a time in id order, optionally
// filtered; a record's id opens it (vector and metadata).
import { call } from "../api";
import { errorBox, h, table } from "../dom";

interface Page {
  vectors: { id: string; metadata?: Record<string, unknown> }[];
  next_cursor: string | null;
}

export async function browsePage(root: HTMLElement, name: string,
  alive: () => boolean): Promise<void> {
  const path = `/api/v1/collections/${encodeURIComponent(name)}`;
  const filter = h("textarea", { name: "filter", rows: "2", placeholder: '{"type": "document"}' });
  const limit = h("input", { name: "limit", type: "number", min: "1", max: "10000", value: "50" });
  const next = h("button", { type: "button", "data-action": "next", disabled: "" }, "Next page");
  const out = h("div", { "data-testid": "page" });
  const record = h("pre", { "data-testid": "record" });
  let cursor: string | null = null;
  let latest = 0; // only the newest load draws: an older answer arriving later is dropped
  const show = h("button", { type: "submit" }, "Show");

  const load = async (from: string | null) => {
    const mine = ++latest;
    out.replaceChildren();
    show.disabled = next.disabled = true;
    try {
      const query = new URLSearchParams({ limit: limit.value || "50" });
      if (from) query.set("cursor", from);
      if (filter.value.trim()) query.set("filter", JSON.stringify(JSON.parse(filter.value)));
      const page = await call<Page>("GET", `${path}/vectors?${query}`);
      if (mine !== latest || !alive()) return;
      cursor = page.next_cursor;
      next.disabled = !cursor;
      out.append(table(["id", "metadata"], page.vectors.map((r) => {
        const open = h("a", { href: "#", "data-id": r.id }, r.id);
        open.addEventListener("click", async (event) => {
          event.preventDefault();
          try {
            const full = await call("GET", `${path}/vectors/${encodeURIComponent(r.id)}`);
            record.textContent = JSON.stringify(full, null, 2);
          } catch (e) {
            record.replaceChildren(errorBox(e));
          }
        });
        return [open, JSON.stringify(r.metadata ?? {})];
      }), "records"));
    } catch (e) {
      if (mine === latest) out.append(errorBox(e));
    } finally {
      if (mine === latest) show.disabled = false;
    }
  };
  const form = h("form", { "data-testid": "browse" }, h("label", {}, "Filter", filter),
    h("label", {}, "Page size", limit), show, " ", next);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void load(null);
  });
  next.addEventListener("click", () => void load(cursor));
  root.append(h("h1", {}, `Records of ${name}`), form, out, record);
  await load(null);
}
