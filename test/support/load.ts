import { McpPoolError } from '../../lib';

export interface LoadReport {
  started: number;
  settled: number;
  ok: number;
  /** Error class name → count. */
  errors: Record<string, number>;
  /** Errors that are not the pool's typed errors (must stay empty). */
  untyped: unknown[];
  /**
   * Calls still pending when stop() gave up waiting (must be 0): a call that never settles shows here,
   * with a count, instead of as the test's own timeout.
   */
  unsettled: number;
}

/** What a pool's metrics say about its leases: every borrow returned exactly once means borrowCount === returnCount. */
export interface LeaseBalance {
  metrics: { snapshot(): { borrowCount: number; returnCount: number; inFlight?: number } };
}

/**
 * Runs `callers` concurrent loops of `call()` until `stop()` is called, recording how every call settles.
 * "Every call settles exactly once" is checked where it can fail: stop() waits a bounded time and counts
 * the calls still pending (`unsettled`), and {@link expectLeasesBalanced} checks the pool's own count of
 * borrows and returns (a lease released twice, or never, breaks it).
 */
export function startLoad(callers: number, call: (i: number) => Promise<unknown>, pauseMs = 2) {
  const report: LoadReport = { started: 0, settled: 0, ok: 0, errors: {}, untyped: [], unsettled: 0 };
  let running = true;
  const loops = Array.from({ length: callers }, async (_, i) => {
    while (running) {
      report.started++;
      try {
        await call(i);
        report.ok++;
      } catch (error) {
        const name = error instanceof Error ? error.constructor.name : typeof error;
        report.errors[name] = (report.errors[name] ?? 0) + 1;
        if (!(error instanceof McpPoolError)) report.untyped.push(error);
      } finally {
        report.settled++;
      }
      // Always yield a macrotask: a call that fails at once (pool closed) would otherwise spin on
      // microtasks and starve the event loop.
      await new Promise((r) => (pauseMs ? setTimeout(r, pauseMs) : setImmediate(r)));
    }
  });
  return {
    report,
    /**
     * Stops the loops and waits up to `settleWithinMs` for the calls in flight; resolves with the report
     * either way (`unsettled` counts the calls that did not settle in time).
     */
    async stop(settleWithinMs = 10_000): Promise<LoadReport> {
      running = false;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(loops), new Promise((r) => (timer = setTimeout(r, settleWithinMs)))]);
      clearTimeout(timer);
      report.unsettled = report.started - report.settled;
      return report;
    },
  };
}

/** Every borrow of the pool came back exactly once, and no lease is out. */
export function expectLeasesBalanced(pool: LeaseBalance): void {
  const s = pool.metrics.snapshot();
  expect({ returned: s.returnCount, inFlight: s.inFlight ?? 0 }).toEqual({ returned: s.borrowCount, inFlight: 0 });
}
