/** Whether `url` is the MCP endpoint itself (same origin and path; the query may differ). */
export function isEndpoint(url: string | URL, endpoint: URL): boolean {
  const u = typeof url === 'string' ? new URL(url) : url;
  return u.origin === endpoint.origin && u.pathname === endpoint.pathname;
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date. */
export function retryAfterMs(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
