// The dashboard: a hash router over its pages (#/, #/collections/NAME, #/search/NAME,
// #/browse/NAME, #/map/NAME) and the API key form.
import "./style.css";
import { setApiKey } from "./api";
import { errorBox } from "./dom";
import { browsePage } from "./pages/browse";
import { collectionPage } from "./pages/collection";
import { mapPage } from "./pages/map";
import { overviewPage } from "./pages/overview";
import { searchPage } from "./pages/search";

// A page draws into `root` after its requests; it checks `alive()` after each, since the user
// may have moved on meanwhile (a slower, older page must not write into the new one).
type Page = (root: HTMLElement, arg: string, alive: () => boolean) => Promise<void>;

let generation = 0;

const routes: [RegExp, Page][] = [
  [/^#\/collections\/([^/]+)$/, collectionPage],
  [/^#\/search\/([^/]+)$/, searchPage],
  [/^#\/browse\/([^/]+)$/, browsePage],
  [/^#\/map\/([^/]+)$/, mapPage],
  [/^(#\/?)?$/, overviewPage],
];

async function render(): Promise<void> {
  const root = document.getElementById("app")!;
  root.replaceChildren();
  const mine = ++generation;
  const alive = () => mine === generation;
  const hash = location.hash;
  for (const [pattern, page] of routes) {
    const m = pattern.exec(hash);
    if (!m) continue;
    try {
      await page(root, m[1] ? decodeURIComponent(m[1]) : "", alive);
    } catch (e) {
      if (alive()) root.append(errorBox(e));
    }
    return;
  }
  root.append(errorBox(new Error(`no page ${hash}`)));
}

document.getElementById("key-form")!.addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("key") as HTMLInputElement;
  setApiKey(input.value);
  input.value = "";
  void render();
});
window.addEventListener("hashchange", () => void render());
// Pages ask for a fresh drawing of the current page (after a create, a flush) this way.
window.addEventListener("proximadb:rerender", () => void render());
void render();
