import { readFileSync } from 'node:fs';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/**
 * Whether a process with this pid is running. A zombie (exited, not yet reaped) is not: signal 0 still
 * reaches it, but it holds nothing and runs nothing. That matters for orphans re-parented to a PID 1 that
 * does not reap (a container without an init), where a killed grandchild stays a zombie for good.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (not Linux): signal 0 is all we know
  }
}

/** The text of a tool result's first content item. */
export function textOf(result: CallToolResult | unknown): string {
  const first = (result as CallToolResult).content?.[0];
  if (first?.type !== 'text') throw new Error(`expected text content, got ${JSON.stringify(result)}`);
  return first.text;
}

/** Polls `predicate` until true (for process-level facts no event tells us about), failing after `ms`. */
export async function until(predicate: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
