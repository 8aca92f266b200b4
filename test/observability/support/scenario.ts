// One scripted sequence against a real MCP server, shared by the observability specs: every counter it
// moves is known exactly.
import { AcquireTimeoutError, CallTimeoutError, McpPool } from '../../../lib';

/** What {@link runScenario} does, counted. */
export const SCENARIO = {
  /** echo ×3, prompts/list (JSON-RPC -32601), sleep (times out), tools/list after an invalidation. */
  calls: 6,
  callErrors: 2,
  callTimeouts: 1,
  /** The borrow made while the only session is held. */
  acquireTimeouts: 1,
  /** 2 call errors + 1 borrow timeout. */
  errors: 3,
  /** 6 calls + the lease held during the borrow timeout. */
  borrows: 7,
  /** listTools answered by the list the new session fetched. */
  cacheHits: 1,
  /** prompts/list (failed, not stored) and tools/list after the invalidation. */
  cacheMisses: 2,
  cacheRefreshes: 1,
  sessionsCreated: 1,
} as const;

/**
 * Runs on a started pool with exactly one session (minSessions = maxSessions = 1) and a fresh tools cache:
 * 3 echo calls, a cache hit, a JSON-RPC error, a call timeout, a borrow timeout, a cache miss.
 */
export async function runScenario(pool: McpPool): Promise<void> {
  for (const text of ['a', 'b', 'c']) await pool.callTool('echo', { text });
  await pool.listTools(); // the session's first tools/list filled the cache: a hit
  // The fixture has no prompts: the server answers -32601 (Method not found). A miss, and not stored.
  await expect(pool.listPrompts()).rejects.toMatchObject({ code: -32601 });
  await expect(pool.callTool('sleep', { ms: 10_000 }, { timeoutMs: 50 })).rejects.toBeInstanceOf(CallTimeoutError);
  const held = await pool.acquire();
  await expect(pool.acquire({ acquireTimeoutMs: 30 })).rejects.toBeInstanceOf(AcquireTimeoutError);
  held.release();
  pool.invalidateToolsCache();
  await pool.listTools(); // a miss: fetched and stored again
}
