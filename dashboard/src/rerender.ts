// Draws the current page again, through the router (which drops stale pages and shows errors).
export function rerender(): void {
  window.dispatchEvent(new Event("proximadb:rerender"));
}
