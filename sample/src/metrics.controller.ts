import { Controller, Get } from '@nestjs/common';
import { McpPoolRegistry, type McpPoolMetricsSnapshot } from 'nestjs-mcp-pool';

/** `GET /metrics`: every registered pool's numbers, by pool name. */
@Controller('metrics')
export class MetricsController {
  constructor(private readonly pools: McpPoolRegistry) {}

  @Get()
  snapshot(): Record<string, McpPoolMetricsSnapshot> {
    return Object.fromEntries(this.pools.all().map((pool) => [pool.name, pool.metrics.snapshot()]));
  }
}
