import { McpRequestError } from './errors';

/** Pages one list walk may follow; a server that never stops paging is a broken server, not a big list. */
export const MAX_LIST_PAGES = 1000;

/**
 * Follows `nextCursor` from the first page to the last. Stops with a {@link McpRequestError} when a cursor
 * repeats (a server looping over its pages) or after {@link MAX_LIST_PAGES} pages, so a walk always ends
 * (its time is bounded by whoever calls it: the pool gives a shared walk one deadline for every page).
 */
export async function collectPages<P extends { nextCursor?: string }, T>(
  poolName: string,
  method: string,
  fetchPage: (cursor: string | undefined) => Promise<P>,
  items: (page: P) => T[],
  /** Sees the first page (its cache hints: `ttlMs`, `cacheScope`, protocol 2026-07-28). */
  onFirstPage?: (page: P) => void,
): Promise<T[]> {
  const out: T[] = [];
  const seen = new Set<string>();
  let cursor: string | undefined;
  for (let pages = 0; ; pages++) {
    if (pages >= MAX_LIST_PAGES) {
      throw new McpRequestError(poolName, method, undefined, new Error(`the server sent more than ${MAX_LIST_PAGES} pages; stopped following nextCursor`));
    }
    const page = await fetchPage(cursor);
    if (pages === 0) onFirstPage?.(page);
    out.push(...items(page));
    cursor = page.nextCursor;
    if (cursor === undefined || cursor === '') return out;
    if (seen.has(cursor)) {
      throw new McpRequestError(poolName, method, undefined, new Error('the server repeated a nextCursor it had already sent; stopped following it'));
    }
    seen.add(cursor);
  }
}
