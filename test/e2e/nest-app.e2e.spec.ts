// A real Nest application, on Express and on Fastify, with two named pools: `github` over Streamable
// HTTP (the in-process fixture server) and `files` over stdio (a child process).
import { join } from 'node:path';
import { Controller, Get, Inject, Injectable, Module, Query, UseInterceptors, type Type } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import request from 'supertest';
import { getMcpPoolToken, InjectMcpPool, McpHeadersInterceptor, McpPool, McpPoolModule, McpPoolRegistry, PoolClosedError } from '../../lib';
import { McpPoolHealthIndicator } from '../../lib/terminus';
import { startE2eMcpServer, textOf, type E2eMcpServer } from './support/e2e-mcp-server';
import { ADAPTERS, isAlive, startNestApp, waitFor, type RunningApp } from './support/nest-app';

const STDIO_SERVER = join(__dirname, '..', 'fixtures', 'stdio-server.cjs');

function buildAppModule(githubUrl: URL): Type<unknown> {
  @Injectable()
  class ToolsService {
    constructor(
      @InjectMcpPool('github') readonly github: McpPool,
      @InjectMcpPool('files') readonly files: McpPool,
    ) {}

    async echoBoth(text: string): Promise<{ github: string; files: string }> {
      const [github, files] = await Promise.all([this.github.callTool('echo', { text }), this.files.callTool('echo', { text })]);
      return { github: textOf(github), files: textOf(files) };
    }

    async whoami(): Promise<{ headers: Record<string, string> }> {
      return JSON.parse(textOf(await this.github.callTool('whoami'))) as { headers: Record<string, string> };
    }
  }

  @Controller()
  class ToolsController {
    constructor(@Inject(ToolsService) private readonly tools: ToolsService) {}

    @Get('echo')
    @UseInterceptors(McpHeadersInterceptor)
    echo(@Query('text') text: string) {
      return this.tools.echoBoth(text);
    }

    @Get('whoami')
    @UseInterceptors(McpHeadersInterceptor)
    whoami() {
      return this.tools.whoami();
    }

    @Get('whoami-no-interceptor')
    whoamiPlain() {
      return this.tools.whoami();
    }

    @Get('slow-whoami')
    @UseInterceptors(McpHeadersInterceptor)
    async slowWhoami(@Query('ms') ms: string) {
      return JSON.parse(textOf(await this.tools.github.callTool('slow_whoami', { ms: Number(ms) }))) as unknown;
    }

    @Get('gate')
    async gate() {
      return { text: textOf(await this.tools.github.callTool('gate')) };
    }

    @Get('gate-then-echo')
    async gateThenEcho() {
      // A second MCP call after the first: it runs while Nest is closing the HTTP server.
      const first = textOf(await this.tools.github.callTool('gate'));
      return { first, second: textOf(await this.tools.github.callTool('echo', { text: 'second' })) };
    }

    @Get('pid')
    async pid() {
      return { pid: Number(textOf(await this.tools.files.callTool('pid'))) };
    }
  }

  @Controller('health')
  class HealthController {
    constructor(
      @Inject(HealthCheckService) private readonly health: HealthCheckService,
      @Inject(McpPoolHealthIndicator) private readonly mcp: McpPoolHealthIndicator,
    ) {}

    @Get()
    @HealthCheck()
    check() {
      return this.health.check([() => this.mcp.isHealthyAll('mcp:', { timeoutMs: 1000 })]);
    }
  }

  @Module({
    imports: [
      TerminusModule.forRoot({ logger: false }),
      McpPoolModule.forRoot({
        name: 'github',
        endpoint: githubUrl,
        minSessions: 1,
        maxSessions: 2,
        maxConcurrentPerSession: 100,
        retryBaseDelayMs: 10,
        retryMaxDelayMs: 50,
        recoveryTimeoutMs: 100,
        logger: false,
      }),
      McpPoolModule.forRoot({
        name: 'files',
        transport: 'stdio',
        command: process.execPath,
        args: [STDIO_SERVER],
        minSessions: 1,
        maxSessions: 1,
        logger: false,
      }),
      McpPoolModule.forwardHeaders(['x-request-id', 'traceparent']),
    ],
    controllers: [ToolsController, HealthController],
    providers: [ToolsService, McpPoolHealthIndicator],
  })
  class AppModule {}
  return AppModule;
}

describe.each(ADAPTERS)('McpPoolModule in a Nest app on %s', (adapter) => {
  let mcp: E2eMcpServer;
  let running: RunningApp;

  beforeAll(async () => {
    mcp = await startE2eMcpServer();
    running = await startNestApp(buildAppModule(mcp.server.url), adapter);
  });

  afterAll(async () => {
    await running?.app.close();
    await mcp?.server.close();
  });

  it('injects two named pools (HTTP and stdio) into a service and registers both', async () => {
    // The forwarded header goes to the HTTP pool; the stdio pool has no HTTP request and ignores it.
    const res = await request(running.url).get('/echo').query({ text: 'hello' }).set('x-request-id', 'req-echo').expect(200);
    expect(res.body).toEqual({ github: 'hello', files: 'hello' });
    expect(mcp.server.recorder.lastCall('echo')?.headers['x-request-id']).toBe('req-echo');
    const registry = running.app.get(McpPoolRegistry);
    expect(registry.names()).toEqual(['github', 'files']);
    expect(registry.all().map((p) => p.state)).toEqual(['running', 'running']);
  });

  it('forwards allow-listed request headers to the MCP server, and no other header', async () => {
    const res = await request(running.url)
      .get('/whoami')
      .set('X-Request-Id', 'req-42')
      .set('traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')
      .set('X-Internal-Secret', 'do-not-forward')
      .expect(200);
    const headers = (res.body as { headers: Record<string, string> }).headers;
    expect(headers['x-request-id']).toBe('req-42');
    expect(headers['traceparent']).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(headers).not.toHaveProperty('x-internal-secret');
    // What the server recorded for that very call.
    expect(mcp.server.recorder.lastCall('whoami')?.headers['x-request-id']).toBe('req-42');
  });

  it('forwards nothing on a route without the interceptor', async () => {
    const res = await request(running.url).get('/whoami-no-interceptor').set('X-Request-Id', 'req-43').expect(200);
    expect((res.body as { headers: Record<string, string> }).headers).not.toHaveProperty('x-request-id');
  });

  it('keeps 200 concurrent requests apart: each x-request-id reaches the server on its own MCP call over shared sessions', async () => {
    const ids = Array.from({ length: 200 }, (_, i) => `req-${adapter}-${i}`);
    const responses = await Promise.all(
      ids.map((id) => request(running.url).get('/slow-whoami').query({ ms: 20 }).set('x-request-id', id).expect(200)),
    );
    const seen = responses.map((r) => r.body as { requestId: string; sessionId: string });
    expect(seen.map((s) => s.requestId)).toEqual(ids);
    // The calls really shared sessions, many at a time.
    expect(new Set(seen.map((s) => s.sessionId)).size).toBeLessThanOrEqual(2);
    expect(mcp.slowPeak).toBeGreaterThan(1);
  });

  it('/health reports the pools up, github down once its server stops, and up again after it restarts', async () => {
    const up = await request(running.url).get('/health').expect(200);
    expect(up.body).toMatchObject({
      status: 'ok',
      info: { 'mcp:github': { status: 'up', pool: 'github' }, 'mcp:files': { status: 'up', pool: 'files' } },
    });

    await mcp.server.stop();
    const down = await request(running.url).get('/health').expect(503);
    expect(down.body.status).toBe('error');
    expect(down.body.error['mcp:github']).toMatchObject({ status: 'down', pool: 'github', reason: expect.any(String) });
    expect(down.body.error['mcp:github']).toEqual(expect.objectContaining({ total: expect.any(Number), circuit: expect.any(String) }));
    expect(down.body.info['mcp:files']).toMatchObject({ status: 'up' });

    await mcp.server.restart();
    // Nothing signals "the pool has reconnected"; poll the endpoint as a load balancer would.
    await waitFor(async () => (await request(running.url).get('/health')).status === 200, 5000, '/health back to 200');
    const again = await request(running.url).get('/health').expect(200);
    expect(again.body.info['mcp:github']).toMatchObject({ status: 'up' });
  });
});

describe.each(ADAPTERS)('shutting down a Nest app on %s', (adapter) => {
  let mcp: E2eMcpServer;

  beforeAll(async () => {
    mcp = await startE2eMcpServer();
  });

  afterAll(async () => {
    await mcp?.server.close();
  });

  it('app.close(): health goes down at once, a request being served can still make MCP calls, then the pools close and no child is left', async () => {
    const { app, url } = await startNestApp(buildAppModule(mcp.server.url), adapter);
    const { pid } = (await request(url).get('/pid').expect(200)).body as { pid: number };
    expect(isAlive(pid)).toBe(true);
    const github = app.get<McpPool>(getMcpPoolToken('github'));

    const gate = mcp.nextGate();
    const inFlight = request(url).get('/gate-then-echo').then((r) => r);
    await gate.entered;

    let closed = false;
    const closing = app.close().then(() => {
      closed = true;
    });
    await waitFor(() => github.isShuttingDown, 2000, 'beforeApplicationShutdown');
    expect((await github.checkHealth()).status).toBe('down');
    expect(github.state).toBe('running'); // still serving the request in flight
    expect(closed).toBe(false);

    gate.open();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ first: 'gated', second: 'second' });
    await closing;
    await expect(github.callTool('echo', { text: 'late' })).rejects.toBeInstanceOf(PoolClosedError);

    expect(github.state).toBe('closed');
    expect(app.get(McpPoolRegistry).all().map((p) => p.state)).toEqual(['closed', 'closed']);
    expect(isAlive(pid)).toBe(false);
  });
});
