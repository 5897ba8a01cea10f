// The search playground: a vector typed or taken from a record, a filter, k and ef; the hits
// with their scores and the plan the server chose.
import { call, Hit, SearchAnswer } from "../api";
import { errorBox, h, table } from "../dom";
import { buildFilter, Condition, Match, MATCHES, Operator, OPERATORS } from "../filter";
import { parseVector } from "../format";

// Rows of field, operator and value (each with a "not"), matched all, any or none, that write
// the filter box's JSON.
function filterBuilder(target: HTMLTextAreaElement): HTMLElement {
  const rows = h("div", { "data-testid": "conditions" });
  const conditions: Condition[] = [];
  const match = h("select", { name: "match" },
    ...MATCHES.map((m) => h("option", { value: m }, `match ${m} of`)));
  const write = () => {
    const f = buildFilter(conditions, match.value as Match);
    target.value = Object.keys(f).length ? JSON.stringify(f) : "";
  };
  match.addEventListener("change", write);
  const add = h("button", { type: "button", "data-action": "add-condition" }, "Add condition");
  add.addEventListener("click", () => {
    const c: Condition = { field: "", op: "=", value: "" };
    conditions.push(c);
    const negate = h("input", { name: "negate", type: "checkbox", title: "not" });
    const field = h("input", { name: "field", placeholder: "field (a.b for nested)" });
    const op = h("select", { name: "op" }, ...OPERATORS.map((o) => h("option", { value: o }, o)));
    const value = h("input", { name: "value", placeholder: "value (JSON or text; a, b for in)" });
    negate.addEventListener("change", () => { c.negate = negate.checked; write(); });
    field.addEventListener("input", () => { c.field = field.value; write(); });
    op.addEventListener("change", () => { c.op = op.value as Operator; write(); });
    value.addEventListener("input", () => { c.value = value.value; write(); });
    rows.append(h("div", {}, h("label", {}, negate, "not"), field, op, value));
  });
  return h("div", {}, match, rows, add);
}

export async function searchPage(root: HTMLElement, name: string): Promise<void> {
  // (Draws at once; each search writes only into its own results box.)
  const path = `/api/v1/collections/${encodeURIComponent(name)}`;
  const vector = h("textarea", { name: "vector", rows: "3", placeholder: "[0.1, 0.2, ...]" });
  const fromId = h("input", { name: "id", placeholder: "or a record's id" });
  const filter = h("textarea", { name: "filter", rows: "2", placeholder: '{"type": "document"}' });
  const k = h("input", { name: "k", type: "number", min: "1", value: "10" });
  const ef = h("input", { name: "ef", type: "number", min: "1", placeholder: "ef (default)" });
  const out = h("div", { "data-testid": "results" });
  const form = h("form", { "data-testid": "search" },
    h("label", {}, "Vector", vector), h("label", {}, "Record", fromId),
    h("label", {}, "Filter", filter), filterBuilder(filter),
    h("label", {}, "k", k), h("label", {}, "ef", ef),
    h("button", { type: "submit", "data-action": "search" }, "Search"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    out.replaceChildren();
    try {
      let query: number[];
      if (fromId.value) {
        const record = await call<{ vector: number[] }>(
          "GET", `${path}/vectors/${encodeURIComponent(fromId.value)}`);
        query = record.vector;
        vector.value = JSON.stringify(query);
      } else {
        query = parseVector(vector.value);
      }
      const body: Record<string, unknown> = { vector: query, k: Number(k.value) || 10 };
      if (filter.value.trim()) body.filter = JSON.parse(filter.value);
      if (ef.value) body.ef = Number(ef.value);
      const answer = await call<SearchAnswer>("POST", `${path}/search`, body);
      out.append(
        h("p", { "data-testid": "plan" }, `${answer.results.length} hits, plan ${answer.plan}`),
        table(["#", "id", "score", "metadata"], answer.results.map((r: Hit, i: number) => [
          i + 1, r.id, typeof r.score === "number" ? r.score.toPrecision(6) : "",
          JSON.stringify(r.metadata ?? {}),
        ]), "hits"));
    } catch (e) {
      out.append(errorBox(e));
    }
  });
  root.append(h("h1", {}, `Search ${name}`), form, out);
}
