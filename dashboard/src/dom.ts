// A few DOM helpers: elements are built with textContent, never innerHTML, so that no name,
// id or metadata value from the server is ever read as markup.

type Child = Node | string | number | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "number" ? String(c) : c);
  }
  return el;
}

export function table(columns: string[], rows: Child[][], testId = ""): HTMLTableElement {
  return h(
    "table",
    testId ? { "data-testid": testId } : {},
    h("thead", {}, h("tr", {}, ...columns.map((c) => h("th", {}, c)))),
    h("tbody", {}, ...rows.map((r) => h("tr", {}, ...r.map((c) => h("td", {}, c))))),
  );
}

export function errorBox(e: unknown): HTMLElement {
  const message = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: string }).code;
  const hint = code === "UNAUTHENTICATED" ? " (enter an API key above)" : "";
  return h("p", { class: "error", role: "alert" }, code ? `${code}: ${message}${hint}` : message);
}
