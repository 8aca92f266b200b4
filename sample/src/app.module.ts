import { join } from 'node:path';
import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { APP_FILTER } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { McpExceptionFilter, McpPoolModule } from 'nestjs-mcp-pool';
import { McpPoolHealthIndicator } from 'nestjs-mcp-pool/terminus';
import { HealthController } from './health.controller';
import { KeepAliveCloser } from './keep-alive-closer';
import { HttpPoolModule, ModernPoolModule, StdioPoolModule } from './mcp-pools';
import { MetricsController } from './metrics.controller';
import { ToolsController } from './tools.controller';

@Module({
  imports: [
    // sample/.env if there is one (see sample/.env.example); the process environment wins over it.
    ConfigModule.forRoot({ isGlobal: true, envFilePath: join(__dirname, '..', '.env') }),
    HttpPoolModule,
    StdioPoolModule,
    ModernPoolModule,
    // The request headers McpHeadersInterceptor forwards to MCP servers: an allow-list, never everything.
    McpPoolModule.forwardHeaders(['x-request-id']),
    TerminusModule,
  ],
  controllers: [ToolsController, MetricsController, HealthController],
  providers: [
    McpPoolHealthIndicator,
    // The pool's errors as HTTP statuses (504 timeout, 503 unavailable, 502 session lost, 429, 401/403).
    { provide: APP_FILTER, useClass: McpExceptionFilter },
    // At shutdown, requests in flight are answered with Connection: close: the HTTP server closes as soon as
    // they are done, and the pools drain right after (not after keep-alive clients time out).
    KeepAliveCloser,
  ],
})
export class AppModule {}
