// The server's REST API, from the browser: same origin, the API key (if the user gave one)
// from session storage as a bearer token, and the server's errors as ApiError.

const KEY = "proximadb.apiKey";

export function apiKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function setApiKey(key: string): void {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

// The error of a failed answer: the server's {"error": {code, message}} when it sent one.
export function errorOf(status: number, body: string): ApiError {
  try {
    const e = JSON.parse(body)?.error;
    if (e && typeof e.code === "string") return new ApiError(status, e.code, e.message ?? "");
  } catch {
    // not JSON: the text below
  }
  return new ApiError(status, `HTTP_${status}`, body.slice(0, 200) || `HTTP ${status}`);
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  const key = apiKey();
  if (key) headers["Authorization"] = `Bearer ${key}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw errorOf(response.status, text);
  return (text ? JSON.parse(text) : {}) as T;
}

export async function metricsText(): Promise<string> {
  const headers: Record<string, string> = {};
  const key = apiKey();
  if (key) headers["Authorization"] = `Bearer ${key}`;
  const response = await fetch("/metrics", { headers });
  const text = await response.text();
  if (!response.ok) throw errorOf(response.status, text);
  return text;
}

export interface Collection {
  name: string;
  dimension: number;
  distance_metric: string;
  indexing_algorithm: string;
  storage_strategy: string;
  quantization: string;
  ef_search: number;
  vector_count?: number; // not in a cluster's list
  [setting: string]: unknown;
}

export type Stats = Record<string, unknown> & {
  vector_count: number;
  segment_count: number;
  memory_bytes: number;
  disk_bytes: number;
};

export interface MaintenanceEvent {
  kind: "flush" | "compaction" | "migration";
  started_at: string;
  started_at_us: number;
  seconds: number;
  segments_in: number;
  segments_out: number;
  rows: number;
  bytes: number;
  error: string;
}

export interface History {
  name: string;
  events: MaintenanceEvent[];
}

export interface Hit {
  id: string;
  score: number;
  metadata?: Record<string, unknown>;
}

export interface SearchAnswer {
  results: Hit[];
  plan: string;
}
