// Numbers as people read them.

export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

export function duration(seconds: number): string {
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

// A vector typed by a person: a JSON array, or numbers separated by spaces or commas.
export function parseVector(text: string): number[] {
  const trimmed = text.trim();
  let values: unknown;
  try {
    values = JSON.parse(trimmed);
  } catch {
    values = trimmed.split(/[\s,]+/).filter(Boolean).map(Number);
  }
  const isNumber = (v: unknown) => typeof v === "number" && Number.isFinite(v);
  if (!Array.isArray(values) || values.length === 0 || !values.every(isNumber)) {
    throw new Error(
      "the vector must be numbers: a JSON array, or numbers separated by spaces or commas");
  }
  return values as number[];
}
