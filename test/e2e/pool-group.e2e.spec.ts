// McpPoolModule.forGroup: registered pools used as one group, injectable by name, with real failover and
// a Terminus group health check.
import { Injectable, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import type { INestApplication } from '@nestjs/common';
import { InjectMcpPoolGroup, McpPoolConfigError, McpPoolGroup, McpPoolModule } from '../../lib';
import { McpPoolHealthIndicator } from '../../lib/terminus';
import { startHttpMcpServer, type TestHttpServer } from '../fixtures/http-mcp-server';
import { initNestContext } from './support/nest-app';

let a: TestHttpServer;
let b: TestHttpServer;
let app: INestApplication | undefined;

@Injectable()
class SearchService {
  constructor(@InjectMcpPoolGroup('replicas') readonly group: McpPoolGroup) {}
}

function appModule(pools: string[]) {
  // Generous deadlines: a stopped server refuses connections at once (failureThreshold 1 opens the circuit on
  // the first refusal), so nothing here waits them out; short ones only made a busy CI machine fail the warm-up.
  const common = { minSessions: 1, maxSessions: 2, healthCheckIntervalMs: 0, acquireTimeoutMs: 5000, connectTimeoutMs: 5000, failureThreshold: 1, recoveryTimeoutMs: 60_000 };
  @Module({
    imports: [
      TerminusModule.forRoot({ logger: false }),
      McpPoolModule.forRoot({ name: 'a', endpoint: a.url.href, ...common }),
      McpPoolModule.forRoot({ name: 'b', endpoint: b.url.href, ...common }),
      McpPoolModule.forGroup({ name: 'replicas', pools, strategy: 'failover' }),
    ],
    providers: [SearchService, McpPoolHealthIndicator],
  })
  class AppModule {}
  return AppModule;
}

beforeEach(async () => {
  [a, b] = await Promise.all([startHttpMcpServer(), startHttpMcpServer()]);
});
afterEach(async () => {
  await app?.close();
  app = undefined;
  await Promise.all([a.close(), b.close()]);
});

it('injects the group, fails over when the primary dies, and reports the group degraded', async () => {
  app = await initNestContext(appModule(['a', 'b']));
  const { group } = app.get(SearchService);
  const health = app.get(McpPoolHealthIndicator);
  await group.callTool('lookup', { key: 'one' });
  expect([a.recorder.count('lookup'), b.recorder.count('lookup')]).toEqual([1, 0]);
  expect(await health.isGroupHealthy('search', { group: 'replicas' })).toMatchObject({ search: { status: 'up' } });
  await a.stop();
  await group.callTool('lookup', { key: 'two' });
  expect(b.recorder.count('lookup')).toBe(1);
  const report = await health.isGroupHealthy('search', { group: 'replicas', timeoutMs: 5000 });
  expect(report).toMatchObject({ search: { status: 'up', degraded: true } });
});

it('fails the boot when the group names a pool that is not registered', async () => {
  const err = await initNestContext(appModule(['a', 'missing'])).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(McpPoolConfigError);
  expect((err as Error).message).toMatch(/mcp pool "replicas": pools names pools that are not registered: missing/);
});
