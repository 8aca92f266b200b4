import { join } from 'node:path';
import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { APP_FILTER } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { McpExceptionFilter, McpPoolModule } from 'nestjs-mcp-pool';
import { McpPoolHealthIndicator } from 'nestjs-mcp-pool/terminus';
import { HealthController } from './health.controller';
import { HttpPoolModule, StdioPoolModule } from './mcp-pools';
import { MetricsController } from './metrics.controller';
import { ToolsController } from './tools.controller';

@Module({
  imports: [
    // sample/.env if there is one (see sample/.env.example); the process environment wins over it.
    ConfigModule.forRoot({ isGlobal: true, envFilePath: join(__dirname, '..', '.env') }),
    HttpPoolModule,
    StdioPoolModule,
    // The request headers McpHeadersInterceptor forwards to MCP servers: an allow-list, never everything.
    McpPoolModule.forwardHeaders(['x-request-id']),
    TerminusModule,
  ],
  controllers: [ToolsController, MetricsController, HealthController],
  // The pool's errors as HTTP statuses (504 timeout, 503 unavailable, 502 session lost, 429, 401/403).
  providers: [McpPoolHealthIndicator, { provide: APP_FILTER, useClass: McpExceptionFilter }],
})
export class AppModule {}
