// McpExceptionFilter in a real Nest application, on Express and on Fastify: each error is produced by a real
// situation against real MCP servers on 127.0.0.1 (a call that outlives its deadline, a full pool, a closed
// pool, a server that forgets sessions mid-call, refuses the token, rate-limits, or is down), and the test
// checks the status, the body and the Retry-After header the API client gets.
import { Body, Controller, Get, Headers, HttpCode, Inject, Module, NotFoundException, Param, Post, Query, type INestApplication, type Type } from '@nestjs/common';
import { APP_FILTER, HttpAdapterHost } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { z } from 'zod';
import { McpExceptionFilter, McpPoolModule, McpPoolRegistry, type McpPoolModuleOptions } from '../../lib';
import { startHttpMcpServer, type TestHttpServer } from '../fixtures/http-mcp-server';
import { startE2eMcpServer, type E2eMcpServer } from './support/e2e-mcp-server';
import { ADAPTERS, startNestApp, type RunningApp } from './support/nest-app';

const TOKEN = 'right-token-3f9c';
const WRONG_TOKEN = 'wrong-token-b71d';

let main: E2eMcpServer; // gate, a prompt (so prompts/get is served); timeouts, exhaustion, tenants, JSON-RPC errors, closed pool
let lossy: E2eMcpServer; // forgets its sessions in the middle of a call
let locked: TestHttpServer; // wants TOKEN
let limited: TestHttpServer; // answers 429 when told to
let deadUrl: URL; // nothing listens there

beforeAll(async () => {
  main = await startE2eMcpServer({
    configureServer: (mcp) => {
      mcp.registerPrompt('greet', { argsSchema: { name: z.string() } }, ({ name }) => ({
        messages: [{ role: 'user', content: { type: 'text', text: `hello ${name}` } }],
      }));
    },
  });
  lossy = await startE2eMcpServer();
  locked = await startHttpMcpServer();
  locked.setRequireAuth(TOKEN);
  limited = await startHttpMcpServer();
  const dead = await startHttpMcpServer();
  deadUrl = dead.url;
  await dead.close();
});

afterAll(async () => {
  await Promise.all([main?.server.close(), lossy?.server.close(), locked?.close(), limited?.close()]);
});

const quiet = { logger: false as const };

function pools(): Record<string, McpPoolModuleOptions> {
  return {
    main: { endpoint: main.server.url, minSessions: 1, maxSessions: 2, ...quiet },
    tiny: { endpoint: main.server.url, minSessions: 1, maxSessions: 1, maxWaiters: 0, ...quiet },
    tenant: { endpoint: main.server.url, minSessions: 0, tenantLimit: { maxConcurrentPerTenant: 1, tenantFrom: 'x-tenant-id' }, ...quiet },
    closing: { endpoint: main.server.url, minSessions: 0, ...quiet },
    lossy: { endpoint: lossy.server.url, minSessions: 1, ...quiet },
    locked: { endpoint: locked.url, minSessions: 0, auth: WRONG_TOKEN, ...quiet },
    limited: { endpoint: limited.url, minSessions: 1, ...quiet },
    dead: { endpoint: deadUrl, minSessions: 0, failureThreshold: 1, recoveryTimeoutMs: 60_000, ...quiet },
  };
}

@Controller()
class CallController {
  constructor(@Inject(McpPoolRegistry) private readonly registry: McpPoolRegistry) {}

  /** Calls `tool` on `pool` with the JSON body; `?timeoutMs=`; `x-tenant-id` goes to the call's headers. */
  @Post('call/:pool/:tool')
  @HttpCode(200)
  call(
    @Param('pool') pool: string,
    @Param('tool') tool: string,
    @Body() args: Record<string, unknown> | undefined,
    @Query('timeoutMs') timeoutMs?: string,
    @Headers('x-tenant-id') tenant?: string,
  ) {
    return this.registry.get(pool).callTool(tool, args ?? {}, {
      ...(timeoutMs ? { timeoutMs: Number(timeoutMs) } : {}),
      ...(tenant ? { headers: { 'x-tenant-id': tenant } } : {}),
    });
  }

  /** prompts/get of a prompt the server does not have: it answers JSON-RPC "Invalid params". */
  @Get('unknown-prompt')
  prompt() {
    return this.registry.get('main').session((lease) => lease.getPrompt('no_such_prompt'));
  }

  /** resources/templates/list on a server without resources: JSON-RPC "Method not found". */
  @Get('unsupported-method')
  unsupported() {
    return this.registry.get('main').session((lease) => lease.listResourceTemplates());
  }

  @Get('not-found')
  notFound() {
    throw new NotFoundException('no such thing');
  }

  @Get('bug')
  bug() {
    throw new Error('a plain bug in the handler');
  }
}

function appModule(): Type<unknown> {
  @Module({
    imports: Object.entries(pools()).map(([name, options]) => McpPoolModule.forRoot({ name, ...options })),
    controllers: [CallController],
    providers: [{ provide: APP_FILTER, useClass: McpExceptionFilter }],
  })
  class AppModule {}
  return AppModule;
}

/** Everything the client received, to check that no token reached it. */
const everything = (res: request.Response): string => JSON.stringify({ headers: res.headers, body: res.body as unknown, text: res.text });

describe.each(ADAPTERS)('McpExceptionFilter on %s', (adapter) => {
  let running: RunningApp;
  let url: string;
  const pool = (name: string) => running.app.get(McpPoolRegistry).get(name);

  beforeAll(async () => {
    running = await startNestApp(appModule(), adapter);
    url = running.url;
    await Promise.all(['main', 'tiny', 'lossy', 'limited'].map((name) => pool(name).waitReady({ timeoutMs: 10_000 })));
  });

  afterAll(async () => {
    await running?.app.close();
  });

  it('lets a successful call through untouched', async () => {
    const res = await request(url).post('/call/main/echo').send({ text: 'fine' }).expect(200);
    expect(res.body).toEqual({ content: [{ type: 'text', text: 'fine' }] });
  });

  it('answers 504 when a call outlives its timeoutMs (CallTimeoutError)', async () => {
    main.nextGate(); // never opened: the call can only end by its deadline
    const res = await request(url).post('/call/main/gate?timeoutMs=100').send({}).expect(504);
    expect(res.body).toEqual({ statusCode: 504, error: 'CallTimeoutError', message: expect.stringContaining('tools/call timed out after 100 ms') });
    expect(res.headers['retry-after']).toBeUndefined();
  });

  it('answers 503 when every session is busy and no caller may wait (PoolExhaustedError)', async () => {
    const gate = main.nextGate();
    const holding = request(url).post('/call/tiny/gate').send({}).then((r) => r);
    await gate.entered; // the only session of "tiny" is now lent out
    const res = await request(url).post('/call/tiny/echo').send({ text: 'x' }).expect(503);
    expect(res.body).toMatchObject({ statusCode: 503, error: 'PoolExhaustedError', message: expect.stringContaining('mcp pool "tiny"') });
    gate.open();
    expect((await holding).status).toBe(200);
  });

  it("answers 429 when the caller's tenant already has its calls in flight (TenantLimitError)", async () => {
    const gate = main.nextGate();
    const holding = request(url).post('/call/tenant/gate').set('x-tenant-id', 'acme').send({}).then((r) => r);
    await gate.entered;
    const res = await request(url).post('/call/tenant/echo').set('x-tenant-id', 'acme').send({ text: 'x' }).expect(429);
    expect(res.body).toMatchObject({ statusCode: 429, error: 'TenantLimitError' });
    await request(url).post('/call/tenant/echo').set('x-tenant-id', 'other').send({ text: 'x' }).expect(200);
    gate.open();
    expect((await holding).status).toBe(200);
  });

  it('answers 503 once the pool is closed (PoolClosedError)', async () => {
    await pool('closing').shutdown();
    const res = await request(url).post('/call/closing/echo').send({ text: 'x' }).expect(503);
    expect(res.body).toEqual({ statusCode: 503, error: 'PoolClosedError', message: 'mcp pool "closing": the pool is closed; no new calls are accepted' });
  });

  it('answers 502 with mayHaveRun when the server loses the session under the call (SessionLostError)', async () => {
    const gate = lossy.nextGate();
    const pending = request(url).post('/call/lossy/gate').send({}).then((r) => r);
    await gate.entered;
    await lossy.server.forgetSessions();
    const res = await pending;
    expect(res.status).toBe(502);
    expect(res.body).toMatchObject({ statusCode: 502, error: 'SessionLostError', mayHaveRun: true });
  });

  it('answers 401 when the server refuses the pool\'s token (McpAuthError), without the token in the answer', async () => {
    const res = await request(url).post('/call/locked/echo').send({ text: 'x' }).expect(401);
    expect(res.body).toMatchObject({ statusCode: 401, error: 'McpAuthError', message: expect.stringContaining('HTTP 401') });
    expect(everything(res)).not.toContain(WRONG_TOKEN);
    expect(everything(res)).not.toContain(TOKEN);
  });

  it('answers 429 when the server rate-limits the pool (RateLimitedError)', async () => {
    limited.setTooManyRequests(7);
    try {
      const res = await request(url).post('/call/limited/echo').send({ text: 'x' }).expect(429);
      expect(res.body).toMatchObject({ statusCode: 429, error: 'RateLimitedError', message: expect.stringContaining('HTTP 429') });
    } finally {
      limited.setTooManyRequests(null);
    }
  });

  it("passes the server's Retry-After on with its 429 (RateLimitedError.retryAfterMs)", async () => {
    limited.setTooManyRequests(7);
    try {
      const res = await request(url).post('/call/limited/echo').send({ text: 'x' }).expect(429);
      expect(res.body).toMatchObject({ statusCode: 429, error: 'RateLimitedError' });
      expect(res.headers['retry-after']).toBe('7');
    } finally {
      limited.setTooManyRequests(null);
    }
  });

  it('answers 503 with Retry-After (the next probe) once the circuit opens on a dead server (PoolUnavailableError)', async () => {
    for (let i = 0; i < 2; i++) {
      // The first call's creation fails and opens the circuit; the second is rejected at once.
      const res = await request(url).post('/call/dead/echo').send({ text: 'x' }).expect(503);
      expect(res.body).toMatchObject({ statusCode: 503, error: 'PoolUnavailableError', message: expect.stringContaining('circuit open') });
      const seconds = Number(res.headers['retry-after']);
      expect(Number.isInteger(seconds)).toBe(true);
      expect(seconds).toBeGreaterThanOrEqual(1);
      // The first open interval (recoveryInitialMs, 1 s), or twice that if its probe has failed meanwhile.
      expect(seconds).toBeLessThanOrEqual(2);
    }
  });

  it('answers 400 for the server\'s JSON-RPC "Invalid params", 502 for its other JSON-RPC errors (McpServerError)', async () => {
    const invalid = await request(url).get('/unknown-prompt').expect(400);
    expect(invalid.body).toMatchObject({ statusCode: 400, error: 'McpServerError', message: expect.stringContaining('(JSON-RPC -32602)') });
    const unsupported = await request(url).get('/unsupported-method').expect(502);
    expect(unsupported.body).toMatchObject({ statusCode: 502, error: 'McpServerError', message: expect.stringContaining('(JSON-RPC -32601)') });
  });

  it("leaves other errors to Nest's own handling: HttpExceptions as they are, unknown errors a 500", async () => {
    const notFound = await request(url).get('/not-found').expect(404);
    expect(notFound.body).toMatchObject({ statusCode: 404, message: 'no such thing' });
    const bug = await request(url).get('/bug').expect(500);
    expect(bug.body).toEqual({ statusCode: 500, message: 'Internal server error' });
  });
});

it('works registered by hand with app.useGlobalFilters(new McpExceptionFilter(app.get(HttpAdapterHost)))', async () => {
  @Module({ imports: [McpPoolModule.forRoot({ name: 'main', endpoint: main.server.url, minSessions: 0, ...quiet })], controllers: [CallController] })
  class ManualModule {}
  const moduleRef = await Test.createTestingModule({ imports: [ManualModule] }).compile();
  const app: INestApplication = moduleRef.createNestApplication(new ExpressAdapter(), { logger: false });
  app.useGlobalFilters(new McpExceptionFilter(app.get(HttpAdapterHost)));
  await app.init();
  try {
    main.nextGate();
    const res = await request(app.getHttpServer()).post('/call/main/gate?timeoutMs=50').send({}).expect(504);
    expect(res.body).toMatchObject({ error: 'CallTimeoutError' });
    await request(app.getHttpServer()).get('/not-found').expect(404);
  } finally {
    await app.close();
  }
});
