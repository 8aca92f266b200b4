import { AcquireTimeoutError, SessionLostError, errorMessage, type PoolStateSummary } from './errors';
import type { McpProtocolEra } from './driver';
import type { PoolContext, PoolLifecycle } from './pool-context';

/** What {@link McpPool.checkHealth} reports. */
export interface McpPoolHealth extends PoolStateSummary {
  status: 'up' | 'degraded' | 'down';
  /** Why the pool is down or degraded (no secrets). */
  reason?: string;
  pool: string;
  state: PoolLifecycle;
  minSessions: number;
  /** The protocol era the pool's sessions speak, once one has connected (see McpPool.protocolEra). */
  era?: McpProtocolEra;
}

/**
 * Whether the pool can serve, for health endpoints. Never throws. `up` when a live session answers a ping
 * (an idle one of any identity is borrowed for it; busy sessions count as serving) or one can be created within
 * `timeoutMs`; `degraded` when up but below `minSessions`; `down` when shutting down, draining, closed, the
 * circuit is open with no session, or no session answers in time. Runs outside every caller's context
 * (the facade sees to that): a health check carries nobody's headers.
 */
export async function checkHealth(ctx: PoolContext, timeoutMs: number): Promise<McpPoolHealth> {
  const shared = ctx.router.shared;
  const report = (status: McpPoolHealth['status'], reason?: string): McpPoolHealth => ({
    status,
    ...(reason ? { reason } : {}),
    pool: ctx.name,
    state: ctx.lifecycle,
    minSessions: ctx.options.minSessions,
    ...(ctx.lastEra ? { era: ctx.lastEra } : {}),
    ...ctx.summary(),
  });
  if (!ctx.accepting) return report('down', `pool is ${ctx.lifecycle}`);
  if (ctx.shuttingDown) return report('down', 'the application is shutting down');
  if (ctx.incompatible && ctx.totals.records === 0) return report('down', ctx.incompatible.message);
  if (ctx.circuit.poll(Date.now()) === 'open' && ctx.totals.records === 0) {
    return report('down', `circuit open: ${errorMessage(ctx.circuit.lastError)}`);
  }
  const serving = (): McpPoolHealth =>
    shared.store.live < ctx.options.minSessions ? report('degraded', `${shared.store.live} of ${ctx.options.minSessions} minimum sessions`) : report('up');
  const deadline = Date.now() + timeoutMs;
  // A stale session (the server restarted) fails its ping and is evicted; one more try on another or a
  // fresh session tells a restarted server from a dead one.
  for (let attempt = 0; ; attempt++) {
    try {
      // An idle session of any identity proves the endpoint (a partition's is pinged with its own identity);
      // borrowing only from the shared sessions would, on a full pool, close an identity's idle session to
      // make room for a shared one, and that identity's next call would close it again.
      let lease = null;
      for (const slice of ctx.router.slices()) if ((lease = ctx.borrower.tryAcquire(slice, undefined))) break;
      if (!lease) {
        if (ctx.totals.leased > 0) return serving(); // sessions are busy serving calls: alive
        const got = ctx.borrower.acquireNow(shared, { acquireTimeoutMs: Math.max(1, deadline - Date.now()) }, undefined);
        lease = await got;
      }
      try {
        await lease.ping({ timeoutMs: Math.max(1, deadline - Date.now()) });
      } finally {
        lease.release();
      }
      return serving();
    } catch (error) {
      if (attempt === 0 && error instanceof SessionLostError && Date.now() < deadline) continue;
      const reason =
        error instanceof AcquireTimeoutError
          ? `no session could be had within ${timeoutMs} ms${ctx.lastCreateFailure ? `: ${errorMessage(ctx.lastCreateFailure)}` : ''}`
          : errorMessage(error);
      return report('down', reason);
    }
  }
}
