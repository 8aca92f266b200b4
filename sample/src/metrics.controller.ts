import { Controller, Get, Header } from '@nestjs/common';
import { McpPoolRegistry, type McpPoolMetricsSnapshot } from 'nestjs-mcp-pool';
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from 'nestjs-mcp-pool/prometheus';

/** `GET /metrics` (Prometheus text, for a scraper) and `GET /metrics/json` (the same numbers, for a human). */
@Controller('metrics')
export class MetricsController {
  constructor(private readonly pools: McpPoolRegistry) {}

  /** Every registered pool in the Prometheus text format (docs/observability.md lists the metrics). */
  @Get()
  @Header('Content-Type', PROMETHEUS_CONTENT_TYPE)
  prometheus(): string {
    return renderPrometheus(this.pools.all());
  }

  /** `metrics.snapshot()` of every registered pool, by pool name. */
  @Get('json')
  snapshot(): Record<string, McpPoolMetricsSnapshot> {
    return Object.fromEntries(this.pools.all().map((pool) => [pool.name, pool.metrics.snapshot()]));
  }
}
