import type { McpTokenProvider } from './options';

/**
 * Wraps a token provider so it is called at most once per `ttlMs` (or until the `expiresAt` it returned,
 * whichever is sooner), with concurrent refreshes sharing one call. A failed refresh is not cached.
 * Rotation: the next request after the cached token expires carries the new one, on the same session.
 */
export function cachedTokenSource(provider: McpTokenProvider, ttlMs: number): () => Promise<string> {
  let token: string | undefined;
  let validUntil = 0;
  let refreshing: Promise<string> | undefined;
  return () => {
    if (token !== undefined && Date.now() < validUntil) return Promise.resolve(token);
    refreshing ??= (async () => {
      try {
        const got = await provider();
        const value = typeof got === 'string' ? got : got.token;
        if (typeof value !== 'string' || /[\r\n\0]/.test(value)) throw new Error('the auth provider returned an invalid token');
        const expiresAt = typeof got === 'string' ? undefined : got.expiresAt;
        token = value;
        validUntil = Math.min(Date.now() + ttlMs, expiresAt ?? Infinity);
        return value;
      } finally {
        refreshing = undefined;
      }
    })();
    return refreshing;
  };
}
