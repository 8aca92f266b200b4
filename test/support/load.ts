import { McpPoolError } from '../../lib';

export interface LoadReport {
  started: number;
  settled: number;
  ok: number;
  /** Error class name → count. */
  errors: Record<string, number>;
  /** Errors that are not the pool's typed errors (must stay empty). */
  untyped: unknown[];
  /** Calls that settled more than once (must be 0). */
  doubleSettled: number;
}

/**
 * Runs `callers` concurrent loops of `call()` until `stop()` is called, recording how every call settles.
 * Each call is wrapped so that a second settlement (which a promise cannot do, but a callback-based bug
 * could) would be counted.
 */
export function startLoad(callers: number, call: (i: number) => Promise<unknown>, pauseMs = 2) {
  const report: LoadReport = { started: 0, settled: 0, ok: 0, errors: {}, untyped: [], doubleSettled: 0 };
  let running = true;
  const loops = Array.from({ length: callers }, async (_, i) => {
    while (running) {
      report.started++;
      let settledOnce = false;
      const settle = () => {
        if (settledOnce) report.doubleSettled++;
        settledOnce = true;
        report.settled++;
      };
      try {
        await call(i);
        settle();
        report.ok++;
      } catch (error) {
        settle();
        const name = error instanceof Error ? error.constructor.name : typeof error;
        report.errors[name] = (report.errors[name] ?? 0) + 1;
        if (!(error instanceof McpPoolError)) report.untyped.push(error);
      }
      // Always yield a macrotask: a call that fails at once (pool closed) would otherwise spin on
      // microtasks and starve the event loop.
      await new Promise((r) => (pauseMs ? setTimeout(r, pauseMs) : setImmediate(r)));
    }
  });
  return {
    report,
    /** Stops the loops and resolves when every call has settled. */
    async stop(): Promise<LoadReport> {
      running = false;
      await Promise.all(loops);
      return report;
    },
  };
}
