import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { McpPoolHealthIndicator } from 'nestjs-mcp-pool/terminus';

/** `GET /health`: 200 when every pool is up, 503 (with each pool's reason) otherwise. */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly mcp: McpPoolHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.mcp.isHealthyAll('mcp:', { timeoutMs: 2000 })]);
  }
}
