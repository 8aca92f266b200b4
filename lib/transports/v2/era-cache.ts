import { createHash } from 'node:crypto';
import type { PriorDiscovery } from '@modelcontextprotocol/client';

/**
 * What the driver learned about an endpoint's era, per endpoint AND identity: the `server/discover` result
 * of a modern server (reused by `connect({ prior })`: no round trip) or the fact that a server is legacy
 * (no probe: straight to `initialize`). Never shared across principals: the key includes a digest of every
 * credential a session presents (static headers, the bearer token, the OAuth provider object), so a
 * discovery answer given to one user is never replayed for another.
 *
 * A modern verdict stays until a connect that used it fails (then it is dropped and the next connect
 * probes again). A legacy verdict is dated and expires after {@link LEGACY_VERDICT_TTL_MS}: a stale legacy
 * verdict would otherwise succeed silently forever against a server that has since been upgraded.
 */
export class EraCache {
  private readonly entries = new Map<string, { prior: PriorDiscovery; at: number }>();

  constructor(
    private readonly maxEntries = 1000,
    private readonly legacyTtlMs = LEGACY_VERDICT_TTL_MS,
  ) {}

  get(key: string, now = Date.now()): PriorDiscovery | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.prior.kind === 'legacy' && now - e.at >= this.legacyTtlMs) {
      this.entries.delete(key);
      return undefined;
    }
    return e.prior;
  }

  set(key: string, prior: PriorDiscovery, now = Date.now()): void {
    this.entries.delete(key);
    this.entries.set(key, { prior, at: now });
    // Oldest first out: Map keeps insertion order.
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}

/** How long a legacy verdict is trusted before the next connect probes again. */
export const LEGACY_VERDICT_TTL_MS = 10 * 60_000;

/** Verdicts of every v2 pool in this process. Keys carry identity digests, never credentials. */
export const sharedEraCache = new EraCache();

/** One value per OAuth provider object, so that two providers (two users) never share a key. */
const providerIds = new WeakMap<object, number>();
let nextProviderId = 1;

/**
 * The cache key of one endpoint and identity: the endpoint URL, and a SHA-256 digest of the static headers
 * (names and values), the bearer token and the OAuth provider's identity. Only the digest is kept.
 */
export function eraCacheKey(endpoint: URL, headers: Readonly<Record<string, string>>, bearer: string | undefined, authProvider: object | undefined): string {
  const h = createHash('sha256');
  for (const name of Object.keys(headers).sort()) h.update(`${name.toLowerCase()}\0${headers[name]}\0`);
  h.update(`\u0001${bearer ?? ''}\u0001`);
  if (authProvider) {
    let id = providerIds.get(authProvider);
    if (id === undefined) providerIds.set(authProvider, (id = nextProviderId++));
    h.update(`provider:${id}`);
  }
  return `${endpoint.href}#${h.digest('base64url')}`;
}
