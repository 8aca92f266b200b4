// What a pool registered with McpPoolModule logs through the application's logger: by default its log,
// warn and error lines, not the debug line per session created (Nest's default logger prints every level).
import { Logger, Module, type INestApplication, type LoggerService, type LogLevel, type Type } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { McpPoolModule, McpPoolRegistry, type McpPoolModuleOptions } from '../../lib';
import { startHttpMcpServer, type TestHttpServer } from '../fixtures/http-mcp-server';
import { waitFor } from './support/nest-app';

/** An application logger that keeps every line with its level and context. */
class RecordingLogger implements LoggerService {
  readonly lines: Array<{ level: LogLevel; message: string; context?: string }> = [];
  private record(level: LogLevel, message: unknown, context: unknown): void {
    this.lines.push({ level, message: String(message), context: typeof context === 'string' ? context : undefined });
  }
  log(message: unknown, context?: unknown): void {
    this.record('log', message, context);
  }
  warn(message: unknown, context?: unknown): void {
    this.record('warn', message, context);
  }
  error(message: unknown, context?: unknown): void {
    this.record('error', message, context);
  }
  debug(message: unknown, context?: unknown): void {
    this.record('debug', message, context);
  }
  verbose(message: unknown, context?: unknown): void {
    this.record('verbose', message, context);
  }
  fatal(message: unknown, context?: unknown): void {
    this.record('fatal', message, context);
  }
  /** The pools' lines. */
  pool(): Array<{ level: LogLevel; message: string }> {
    return this.lines.filter((l) => l.context === 'McpPool').map(({ level, message }) => ({ level, message }));
  }
}

let server: TestHttpServer;
let deadUrl: URL;
let app: INestApplication | undefined;

beforeAll(async () => {
  server = await startHttpMcpServer();
  const dead = await startHttpMcpServer();
  deadUrl = dead.url;
  await dead.close();
});

afterEach(async () => {
  await app?.close();
  app = undefined;
});

afterAll(async () => {
  await server.close();
});

/** Boots an application with these pools, every line of it going to `logger`. */
async function boot(logger: RecordingLogger, pools: Record<string, McpPoolModuleOptions>): Promise<INestApplication> {
  @Module({ imports: Object.entries(pools).map(([name, options]) => McpPoolModule.forRoot({ name, ...options })) })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule as Type<unknown>] })
    .setLogger(logger)
    .compile();
  app = moduleRef.createNestApplication(new ExpressAdapter(), { logger });
  await app.init();
  return app;
}

it('by default, logs warnings through the Nest logger but not a debug line per session created', async () => {
  const logger = new RecordingLogger();
  const running = await boot(logger, {
    warm: { endpoint: server.url, minSessions: 3 },
    down: { endpoint: deadUrl, minSessions: 1, retryBaseDelayMs: 10_000 },
  });
  const registry = running.get(McpPoolRegistry);
  await registry.get('warm').waitReady({ timeoutMs: 10_000 });
  await waitFor(() => logger.pool().some((l) => l.level === 'warn'), 10_000, 'a warning of pool "down"');

  expect(registry.get('warm').metrics.snapshot().sessionsCreated).toBe(3);
  expect(logger.pool()).toContainEqual({ level: 'warn', message: expect.stringMatching(/^mcp pool "down": session creation failed \(1 in a row\)/) });
  expect(logger.pool().filter((l) => /session created/.test(l.message))).toEqual([]);
  expect(logger.pool().filter((l) => l.level === 'debug' || l.level === 'verbose')).toEqual([]);
});

it("with logger: new Logger('McpPool'), the pool logs each session created at debug", async () => {
  const logger = new RecordingLogger();
  const running = await boot(logger, { warm: { endpoint: server.url, minSessions: 2, logger: new Logger('McpPool') } });
  await running.get(McpPoolRegistry).get('warm').waitReady({ timeoutMs: 10_000 });
  await waitFor(() => logger.pool().filter((l) => /session created/.test(l.message)).length === 2, 5000, 'two "session created" lines');
  expect(logger.pool().filter((l) => /session created/.test(l.message)).map((l) => l.level)).toEqual(['debug', 'debug']);
});
