import { LatencyHistogram } from '../core/histogram';
import type { McpPool } from '../core/mcp-pool';

/** Session-creation and lease-use times of one pool, recorded from its events. */
export interface McpPoolTimings {
  /** Time to create a session (connect + initialize + first tools/list), ms. */
  readonly createTime: LatencyHistogram;
  /** Time a lease was held (borrow to release), ms. */
  readonly useTime: LatencyHistogram;
}

const tracked = new WeakMap<McpPool, McpPoolTimings>();

/**
 * Starts timing session creations and lease use of `pool` for the Prometheus export
 * (`mcp_pool_connection_create_time_seconds`, `mcp_pool_connection_use_time_seconds`). The pool's own
 * metrics hold no histogram of these, so they are recorded from its `sessionCreated` and `return` events
 * from this call on; identity partitions are included (their events reach the pool's listeners).
 *
 * `renderPrometheus` and `registerPrometheusCollector` call it for every pool they see, so it is only
 * needed to include what happens before the first scrape: call it before `pool.start()` to time the
 * warm-up sessions too. Idempotent; the histograms live as long as the pool (`metrics.reset()` does not
 * clear them).
 */
export function trackMcpPool(pool: McpPool): McpPoolTimings {
  const known = tracked.get(pool);
  if (known) return known;
  const timings: McpPoolTimings = { createTime: new LatencyHistogram(), useTime: new LatencyHistogram() };
  pool.events.on('sessionCreated', (e) => timings.createTime.record(e.durationMs));
  pool.events.on('return', (e) => timings.useTime.record(e.heldMs));
  tracked.set(pool, timings);
  return timings;
}
