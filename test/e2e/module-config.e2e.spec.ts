// Registration, configuration and validation of McpPoolModule, in real (small) Nest applications
// against the HTTP MCP fixture.
import { Controller, Get, Inject, Injectable, Module, UseInterceptors, type INestApplication, type Type } from '@nestjs/common';
import { ConfigModule, ConfigService, registerAs } from '@nestjs/config';
import { APP_INTERCEPTOR, LazyModuleLoader } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import request from 'supertest';
import {
  InjectMcpPool,
  McpHeadersInterceptor,
  McpPool,
  McpPoolConfigError,
  McpPoolModule,
  McpPoolRegistry,
  POOL_DEFAULTS,
  SessionCreateError,
  StreamableHttpDriver,
  getMcpPoolToken,
  type McpPoolModuleOptions,
  type McpPoolOptionsFactory,
} from '../../lib';
import { validatePoolOptions } from '../../lib/nest/validate-pool-options';
import { McpPoolHealthIndicator } from '../../lib/terminus';
import { startHttpMcpServer, type TestHttpServer } from '../fixtures/http-mcp-server';
import { textOf } from './support/e2e-mcp-server';
import { ADAPTERS, initNestContext, startNestApp } from './support/nest-app';

let server: TestHttpServer;
const apps: INestApplication[] = [];

beforeAll(async () => {
  server = await startHttpMcpServer();
});

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

afterAll(async () => {
  await server.close();
});

/** Boots `module` (compile + init) and closes it after the test. */
async function boot(module: Type<unknown>): Promise<INestApplication> {
  const app = await initNestContext(module);
  apps.push(app);
  return app;
}

function moduleOf(metadata: Parameters<typeof Module>[0]): Type<unknown> {
  @Module(metadata)
  class TestModule {}
  return TestModule;
}

const quiet = { logger: false as const, minSessions: 1 };

describe('forRoot / forRootAsync', () => {
  it('registers the default pool under the McpPool class token', async () => {
    const app = await boot(moduleOf({ imports: [McpPoolModule.forRoot({ endpoint: server.url, ...quiet })] }));
    const pool = app.get(McpPool);
    expect(pool.name).toBe('default');
    expect(getMcpPoolToken()).toBe(McpPool);
    expect(textOf(await pool.callTool('echo', { text: 'default' }))).toBe('default');
  });

  it('forRootAsync with inject: [ConfigService] converts numeric and boolean strings from the environment', async () => {
    const env = {
      E2E_MCP_URL: server.url.href,
      E2E_MCP_MIN_SESSIONS: '1',
      E2E_MCP_MAX_SESSIONS: '3',
      E2E_MCP_ACQUIRE_TIMEOUT_MS: ' 2500 ',
      E2E_MCP_FAIL_FAST: 'true',
    };
    Object.assign(process.env, env);
    try {
      const app = await boot(
        moduleOf({
          imports: [
            ConfigModule.forRoot({ ignoreEnvFile: true, isGlobal: true }),
            McpPoolModule.forRootAsync({
              name: 'github',
              inject: [ConfigService],
              useFactory: (config: ConfigService): McpPoolModuleOptions => ({
                endpoint: config.getOrThrow<string>('E2E_MCP_URL'),
                minSessions: config.get<string>('E2E_MCP_MIN_SESSIONS'),
                maxSessions: config.get<string>('E2E_MCP_MAX_SESSIONS'),
                acquireTimeoutMs: config.get<string>('E2E_MCP_ACQUIRE_TIMEOUT_MS'),
                failFast: config.get<string>('E2E_MCP_FAIL_FAST'),
                logger: false,
              }),
            }),
          ],
        }),
      );
      const pool = app.get<McpPool>(getMcpPoolToken('github'));
      expect(pool.options).toMatchObject({ minSessions: 1, maxSessions: 3, acquireTimeoutMs: 2500, failFast: true });
      expect(textOf(await pool.callTool('echo', { text: 'from env' }))).toBe('from env');
    } finally {
      for (const key of Object.keys(env)) delete process.env[key];
    }
  });

  it('forRootAsync({ name, ...config.asProvider() }) takes a registerAs namespace', async () => {
    process.env.E2E_MCP_NS_MAX = '4';
    try {
      const githubConfig = registerAs('mcpGithub', () => ({
        endpoint: server.url.href,
        minSessions: 1,
        maxSessions: process.env.E2E_MCP_NS_MAX,
        logger: false as const,
      }));
      const app = await boot(moduleOf({ imports: [McpPoolModule.forRootAsync({ name: 'github', ...githubConfig.asProvider() })] }));
      expect(app.get<McpPool>(getMcpPoolToken('github')).options.maxSessions).toBe(4);
    } finally {
      delete process.env.E2E_MCP_NS_MAX;
    }
  });

  it('forRootAsync takes useClass and useExisting factories (createMcpPoolOptions)', async () => {
    @Injectable()
    class GithubPoolOptions implements McpPoolOptionsFactory {
      createMcpPoolOptions(): McpPoolModuleOptions {
        return { endpoint: server.url, ...quiet, maxSessions: 5 };
      }
    }
    @Module({ providers: [GithubPoolOptions], exports: [GithubPoolOptions] })
    class OptionsModule {}

    const app = await boot(
      moduleOf({
        imports: [
          McpPoolModule.forRootAsync({ name: 'by-class', useClass: GithubPoolOptions }),
          McpPoolModule.forRootAsync({ name: 'by-existing', imports: [OptionsModule], useExisting: GithubPoolOptions }),
        ],
      }),
    );
    expect(app.get(McpPoolRegistry).names()).toEqual(['by-class', 'by-existing']);
    expect(app.get<McpPool>(getMcpPoolToken('by-existing')).options.maxSessions).toBe(5);
  });

  it('isGlobal makes a pool injectable in modules that do not import its registration', async () => {
    @Injectable()
    class FeatureService {
      constructor(@InjectMcpPool('shared') readonly pool: McpPool) {}
    }
    @Module({ providers: [FeatureService] })
    class FeatureModule {}

    const app = await boot(
      moduleOf({ imports: [McpPoolModule.forRoot({ name: 'shared', isGlobal: true, endpoint: server.url, ...quiet }), FeatureModule] }),
    );
    expect(app.get(FeatureService).pool.name).toBe('shared');
  });

  it('without isGlobal, a pool is only visible where its registration is imported', async () => {
    @Injectable()
    class FeatureService {
      constructor(@InjectMcpPool('local') readonly pool: McpPool) {}
    }
    @Module({ providers: [FeatureService] })
    class FeatureModule {}

    await expect(
      boot(moduleOf({ imports: [McpPoolModule.forRoot({ name: 'local', endpoint: server.url, ...quiet }), FeatureModule] })),
    ).rejects.toThrow(/McpPool:local/);
  });

  it('one registration imported by several modules is one pool', async () => {
    const shared = McpPoolModule.forRoot({ name: 'shared', endpoint: server.url, ...quiet });
    @Injectable()
    class ServiceA {
      constructor(@InjectMcpPool('shared') readonly pool: McpPool) {}
    }
    @Injectable()
    class ServiceB {
      constructor(@InjectMcpPool('shared') readonly pool: McpPool) {}
    }
    @Module({ imports: [shared], providers: [ServiceA] })
    class ModuleA {}
    @Module({ imports: [shared], providers: [ServiceB] })
    class ModuleB {}

    const app = await boot(moduleOf({ imports: [ModuleA, ModuleB] }));
    expect(app.get(ServiceA).pool).toBe(app.get(ServiceB).pool);
    expect(app.get(McpPoolRegistry).names()).toEqual(['shared']);
  });

  it('two applications in one process each see only their own pools', async () => {
    const other = await startHttpMcpServer();
    try {
      const a = await boot(moduleOf({ imports: [McpPoolModule.forRoot({ endpoint: server.url, ...quiet })] }));
      const b = await boot(moduleOf({ imports: [McpPoolModule.forRoot({ endpoint: other.url, ...quiet })] }));
      expect(a.get(McpPoolRegistry)).not.toBe(b.get(McpPoolRegistry));
      expect(a.get(McpPoolRegistry).all()).toEqual([a.get(McpPool)]);
      expect(b.get(McpPoolRegistry).all()).toEqual([b.get(McpPool)]);

      await a.close();
      expect(a.get(McpPool).state).toBe('closed');
      expect(b.get(McpPool).state).toBe('running');
      expect(textOf(await b.get(McpPool).callTool('echo', { text: 'b' }))).toBe('b');
    } finally {
      await Promise.all(apps.splice(0).map((app) => app.close()));
      await other.close();
    }
  });

  it('a pool registered by a lazy-loaded module starts at once and closes with the application', async () => {
    const app = await boot(moduleOf({ imports: [McpPoolModule.forRoot({ name: 'eager', endpoint: server.url, ...quiet })] }));
    @Module({ imports: [McpPoolModule.forRoot({ name: 'lazy', endpoint: server.url, ...quiet })] })
    class LazyModule {}

    await app.get(LazyModuleLoader).load(() => LazyModule);
    const lazy = app.get(McpPoolRegistry).get('lazy');
    expect(lazy.state).toBe('running');
    expect(app.get(McpPoolRegistry).names()).toEqual(['eager', 'lazy']);
    await app.close();
    expect(lazy.state).toBe('closed');
  });
});

describe('validation at boot', () => {
  it('fails with one McpPoolConfigError that names the pool and every bad field', async () => {
    const error = await boot(
      moduleOf({
        imports: [
          McpPoolModule.forRoot({
            name: 'github',
            endpoint: 'not a url',
            minSessions: 5,
            maxSessions: '2',
            acquireTimeoutMs: 'soon',
            maxConcurrentPerSession: 0,
            failFast: 'maybe',
            logger: false,
          }),
        ],
      }),
    ).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(McpPoolConfigError);
    const config = error as McpPoolConfigError;
    expect(config.poolName).toBe('github');
    expect(config.message).toMatch(/^mcp pool "github": /);
    expect(config.message).toContain('maxSessions must be >= minSessions');
    expect(Object.fromEntries(config.issues.map((i) => [i.field, i.message]))).toEqual({
      maxSessions: 'must be >= minSessions',
      acquireTimeoutMs: 'must be an integer >= 0',
      maxConcurrentPerSession: 'must be an integer >= 1',
      failFast: "must be true or false (or the string 'true'/'false')",
      endpoint: 'is not a valid URL',
    });
  });

  it('converts every numeric and boolean option of the core (the DTO mirrors McpPoolOptions)', () => {
    const convertible = Object.entries(POOL_DEFAULTS)
      .filter(([, v]) => typeof v === 'number' || typeof v === 'boolean')
      .map(([k]) => k);
    const given = Object.fromEntries(convertible.map((k) => [k, typeof (POOL_DEFAULTS as Record<string, unknown>)[k] === 'boolean' ? 'true' : '7']));
    // An option missing from McpPoolOptionsDto would stay a string, and the core would reject it.
    expect(validatePoolOptions('github', { endpoint: server.url, ...given, minSessions: '1' })).toMatchObject(
      Object.fromEntries(convertible.map((k) => [k, k === 'minSessions' ? 1 : typeof (POOL_DEFAULTS as Record<string, unknown>)[k] === 'boolean' ? true : 7])),
    );
  });

  it.each([
    [{ maxSessions: ' 12 ', minSessions: '0', callTimeoutMs: '1e3', failFast: 'FALSE' }, { maxSessions: 12, minSessions: 0, callTimeoutMs: 1000, failFast: false }],
    [{ maxWaiters: 7, failFast: '1' }, { maxWaiters: 7, failFast: true }],
    [{ recoveryInitialMs: ' 500 ', recoveryTimeoutMs: '10000' }, { recoveryInitialMs: 500, recoveryTimeoutMs: 10_000 }],
  ])('converts strings as environment variables carry them: %j', (given, expected) => {
    expect(validatePoolOptions('github', { endpoint: server.url, ...given })).toMatchObject({ name: 'github', ...expected });
  });

  it.each([
    [{ maxSessions: '' }, 'maxSessions must be an integer >= 1'],
    [{ maxSessions: '2.5' }, 'maxSessions must be an integer >= 1'],
    [{ idleTimeoutMs: '-1' }, 'idleTimeoutMs must be an integer >= 0'],
    [{ retryBaseDelayMs: '500', retryMaxDelayMs: '100' }, 'retryMaxDelayMs must be >= retryBaseDelayMs'],
    [{ recoveryInitialMs: '5000', recoveryTimeoutMs: '2000' }, 'recoveryInitialMs must be <= recoveryTimeoutMs'],
    [{ recoveryInitialMs: '0' }, 'recoveryInitialMs must be an integer >= 1'],
    [{ minSessions: 20 }, 'maxSessions must be >= minSessions'],
    [{ transport: 'sse' }, "transport must be 'streamable_http' or 'stdio'"],
    [{ failFast: 'yes please' }, "failFast must be true or false (or the string 'true'/'false')"],
    [{ logger: console.log }, 'logger must be false or an object with log, warn and error methods (a Nest Logger fits)'],
  ])('rejects %j', (given, message) => {
    expect(() => validatePoolOptions('github', { endpoint: server.url, ...given })).toThrow(`mcp pool "github": ${message}`);
  });

  it('reports non-numeric environment strings from forRootAsync, without echoing their values', async () => {
    const error = await boot(
      moduleOf({
        imports: [
          McpPoolModule.forRootAsync({
            name: 'files',
            useFactory: (): McpPoolModuleOptions => ({ transport: 'stdio', command: 'node', idleTimeoutMs: 'ten minutes', headers: { 'x-a': 'b' } }),
          }),
        ],
      }),
    ).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(McpPoolConfigError);
    expect((error as Error).message).toBe(
      'mcp pool "files": idleTimeoutMs must be an integer >= 0; headers cannot be used with the stdio transport (there is no HTTP request to carry them)',
    );
    expect((error as Error).message).not.toContain('ten minutes');
  });

  it('fails when two registrations use the same name', async () => {
    await expect(
      boot(
        moduleOf({
          imports: [
            McpPoolModule.forRoot({ name: 'github', endpoint: server.url, ...quiet }),
            McpPoolModule.forRoot({ name: 'github', endpoint: server.url, ...quiet }),
          ],
        }),
      ),
    ).rejects.toThrow(/^mcp pool "github": name is registered more than once/);
  });
});

describe('start-up', () => {
  async function stoppedEndpoint(): Promise<URL> {
    const gone = await startHttpMcpServer();
    await gone.close();
    return gone.url;
  }

  it('a failed warm-up does not stop the application; the pool reports down and keeps retrying', async () => {
    const app = await boot(moduleOf({ imports: [McpPoolModule.forRoot({ endpoint: await stoppedEndpoint(), ...quiet, retryBaseDelayMs: 10 })] }));
    const pool = app.get(McpPool);
    expect(pool.state).toBe('running');
    expect((await pool.checkHealth({ timeoutMs: 200 })).status).toBe('down');
  });

  it('with failFast, a failed warm-up fails app.init() and leaves every pool closed', async () => {
    let registry: McpPoolRegistry | undefined;
    @Injectable()
    class Spy {
      constructor(@Inject(McpPoolRegistry) r: McpPoolRegistry) {
        registry = r;
      }
    }
    const error = await boot(
      moduleOf({
        imports: [
          McpPoolModule.forRoot({ name: 'up', endpoint: server.url, ...quiet }),
          McpPoolModule.forRoot({ name: 'down', endpoint: await stoppedEndpoint(), ...quiet, failFast: true }),
        ],
        providers: [Spy],
      }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionCreateError);
    expect((error as SessionCreateError).poolName).toBe('down');
    expect(registry!.all().map((p) => [p.name, p.state])).toEqual([
      ['up', 'closed'],
      ['down', 'closed'],
    ]);
  });
});

describe('McpPoolHealthIndicator', () => {
  async function bootWithTerminus(...pools: ReturnType<typeof McpPoolModule.forRoot>[]): Promise<McpPoolHealthIndicator> {
    const app = await boot(moduleOf({ imports: [TerminusModule.forRoot({ logger: false }), ...pools], providers: [McpPoolHealthIndicator] }));
    return app.get(McpPoolHealthIndicator);
  }

  it('checks one pool by name, under the given key', async () => {
    const health = await bootWithTerminus(McpPoolModule.forRoot({ name: 'github', endpoint: server.url, ...quiet }));
    const result = await health.isHealthy('gh', { pool: 'github', timeoutMs: 1000 });
    expect(result).toEqual({
      gh: expect.objectContaining({ status: 'up', pool: 'github', state: 'running', total: 1, minSessions: 1, circuit: 'closed' }),
    });
  });

  it('reports an unknown pool as down instead of throwing', async () => {
    const health = await bootWithTerminus(McpPoolModule.forRoot({ name: 'github', endpoint: server.url, ...quiet }));
    const result = await health.isHealthy('x', { pool: 'nope' });
    expect(result.x).toMatchObject({ status: 'down', pool: 'nope', reason: 'no MCP pool named "nope" is registered (registered: github)' });
  });

  it('reports a pool below minSessions as up, flagged degraded, with the reason', async () => {
    // The first session connects; every later creation is refused.
    const real = new StreamableHttpDriver({ endpoint: server.url });
    let creations = 0;
    const driver = {
      kind: 'streamable_http',
      supportsHeaders: true,
      classify: real.classify.bind(real),
      create: (ctx: Parameters<StreamableHttpDriver['create']>[0]) =>
        ++creations === 1 ? real.create(ctx) : Promise.reject(new Error('refused by the test driver')),
    };
    const health = await bootWithTerminus(McpPoolModule.forRoot({ name: 'half', endpoint: server.url, driver, minSessions: 2, logger: false }));
    const result = await health.isHealthy('half', { pool: 'half' });
    expect(result.half).toMatchObject({ status: 'up', degraded: true, reason: '1 of 2 minimum sessions', total: 1 });
  });
});

describe('McpHeadersInterceptor registration', () => {
  function appWithGlobalInterceptor(): Type<unknown> {
    @Controller()
    class WhoamiController {
      constructor(@InjectMcpPool() private readonly pool: McpPool) {}

      @Get('whoami')
      async whoami() {
        return JSON.parse(textOf(await this.pool.callTool('whoami'))) as unknown;
      }

      @Get('whoami-correlated')
      @UseInterceptors(new McpHeadersInterceptor(['x-correlation-id']))
      async correlated() {
        return JSON.parse(textOf(await this.pool.callTool('whoami'))) as unknown;
      }
    }
    return moduleOf({
      imports: [McpPoolModule.forRoot({ endpoint: server.url, ...quiet }), McpPoolModule.forwardHeaders(['X-Request-Id'])],
      controllers: [WhoamiController],
      providers: [{ provide: APP_INTERCEPTOR, useClass: McpHeadersInterceptor }],
    });
  }

  it.each(ADAPTERS)('works as APP_INTERCEPTOR, and nests with a route-level instance (%s)', async (adapter) => {
    const { app, url } = await startNestApp(appWithGlobalInterceptor(), adapter);
    apps.push(app);
    const plain = await request(url).get('/whoami').set('x-request-id', 'r1').set('x-correlation-id', 'c1').expect(200);
    expect((plain.body as { headers: Record<string, string> }).headers).toMatchObject({ 'x-request-id': 'r1' });
    expect((plain.body as { headers: Record<string, string> }).headers).not.toHaveProperty('x-correlation-id');

    const both = await request(url).get('/whoami-correlated').set('x-request-id', 'r2').set('x-correlation-id', 'c2').expect(200);
    expect((both.body as { headers: Record<string, string> }).headers).toMatchObject({ 'x-request-id': 'r2', 'x-correlation-id': 'c2' });
  });

  it('fails at boot when no allow-list is configured', async () => {
    await expect(
      boot(
        moduleOf({
          imports: [McpPoolModule.forRoot({ endpoint: server.url, ...quiet })],
          providers: [{ provide: APP_INTERCEPTOR, useClass: McpHeadersInterceptor }],
        }),
      ),
    ).rejects.toThrow(/McpHeadersInterceptor has no header allow-list/);
  });

  it('refuses protocol and hop-by-hop headers and invalid names, all in one error', () => {
    expect(() => McpPoolModule.forwardHeaders(['x-request-id', 'Content-Type', 'mcp-session-id', 'connection', 'Proxy-Authorization', 'bad name'])).toThrow(
      'McpPoolModule.forwardHeaders: "content-type" is owned by the MCP transport or the connection and cannot be forwarded; ' +
        '"mcp-session-id" is owned by the MCP transport or the connection and cannot be forwarded; ' +
        '"connection" is owned by the MCP transport or the connection and cannot be forwarded; ' +
        '"proxy-authorization" is owned by the MCP transport or the connection and cannot be forwarded; ' +
        '"bad name" is not a valid header name',
    );
  });

  it('refuses identity headers in a hand-made instance, which nothing can check against the pools', () => {
    expect(() => new McpHeadersInterceptor(['x-request-id', 'Authorization'])).toThrow(
      '"authorization" carries an identity: forward it with McpPoolModule.forwardHeaders, which checks at boot that every HTTP pool partitions by it (partitionBy)',
    );
  });
});

describe('forwarding identity headers', () => {
  function appWithPartitions(partitioned: boolean): Type<unknown> {
    @Controller()
    class WhoamiController {
      constructor(@InjectMcpPool() private readonly pool: McpPool) {}

      @Get('whoami')
      async whoami() {
        return JSON.parse(textOf(await this.pool.callTool('whoami'))) as unknown;
      }
    }
    return moduleOf({
      imports: [
        McpPoolModule.forRoot({ endpoint: server.url, ...quiet, ...(partitioned ? { partitionBy: ['authorization'] } : {}) }),
        McpPoolModule.forRoot({ name: 'files', transport: 'stdio', command: process.execPath, args: ['-e', ''], minSessions: 0, logger: false }),
        McpPoolModule.forwardHeaders(['x-request-id', 'authorization']),
      ],
      controllers: [WhoamiController],
      providers: [{ provide: APP_INTERCEPTOR, useClass: McpHeadersInterceptor }],
    });
  }

  it.each(ADAPTERS)('gives each identity sessions of its own when the pool partitions by it (%s)', async (adapter) => {
    const { app, url } = await startNestApp(appWithPartitions(true), adapter);
    apps.push(app);
    type Seen = { sessionId: string; headers: Record<string, string> };
    const whoami = async (token?: string): Promise<Seen> => {
      const req = request(url).get('/whoami').set('x-request-id', 'r');
      return (await (token ? req.set('authorization', `Bearer ${token}`) : req).expect(200)).body as Seen;
    };
    const alice1 = await whoami('alice');
    const alice2 = await whoami('alice');
    const bob = await whoami('bob');
    const anonymous = await whoami();

    expect([alice1, alice2, bob].map((s) => s.headers.authorization)).toEqual(['Bearer alice', 'Bearer alice', 'Bearer bob']);
    expect(alice2.sessionId).toBe(alice1.sessionId);
    expect(bob.sessionId).not.toBe(alice1.sessionId);
    expect(anonymous.headers).not.toHaveProperty('authorization');
    expect([alice1.sessionId, bob.sessionId]).not.toContain(anonymous.sessionId);
  });

  it('fails at boot when an identity header would reach an HTTP pool that does not partition by it', async () => {
    const error = await boot(appWithPartitions(false)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpPoolConfigError);
    expect((error as Error).message).toBe(
      'mcp pool "default": partitionBy must include \'authorization\', which McpPoolModule.forwardHeaders forwards: ' +
        "without a partition per identity, one user's authorization would be sent on sessions shared with other users",
    );
  });
});
