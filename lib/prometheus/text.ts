import type { McpPool } from '../core/mcp-pool';
import { collectPrometheusFamilies, type PrometheusExportOptions } from './families';

/** The Content-Type of {@link renderPrometheus}'s output (Prometheus text format 0.0.4). */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * Renders the metrics of `pools` in the Prometheus text exposition format (0.0.4): counters end in
 * `_total`, histograms have cumulative `_bucket{le="…"}` series (the last one `le="+Inf"`) plus `_sum` and
 * `_count`, times are in seconds, and every series has the label `pool="<name>"`. Serve it with
 * {@link PROMETHEUS_CONTENT_TYPE}. Pass `McpPoolRegistry.all()` in a Nest app (see docs/observability.md).
 *
 * Each pool is read once (a consistent snapshot per pool). The first render starts timing session
 * creation and lease use of each pool ({@link trackMcpPool}); call that earlier to include the warm-up.
 */
export function renderPrometheus(pools: Iterable<McpPool>, opts?: PrometheusExportOptions): string {
  const lines: string[] = [];
  for (const family of collectPrometheusFamilies(pools, opts)) {
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) lines.push(`${sample.name}${formatLabels(sample.labels)} ${formatValue(sample.value)}`);
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/** `{a="x",b="y"}`, values escaped; empty for no labels. */
export function formatLabels(labels: Record<string, string>): string {
  const parts = Object.keys(labels).map((name) => `${name}="${escapeLabelValue(labels[name]!)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

/** Escapes a label value: backslash, double quote and line feed (the only escapes the format has). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Escapes HELP text: backslash and line feed. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A sample value: integers as such, `NaN`, `+Inf`, `-Inf`, else JavaScript's shortest round-trip form. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
