// The sample's KeepAliveCloser, which docs/nest.md ("Shutting down in production") tells applications to
// copy, on Express and on Fastify: a keep-alive client whose request (and MCP call) is in flight when
// app.close() begins gets its answer with Connection: close, so the HTTP server's close, and the pools'
// drain after it, need not wait for Node's keep-alive timeout (5 s on Express, 72 s on Fastify).
import { Agent, get } from 'node:http';
import { Controller, Get, Inject, Injectable, Module, type BeforeApplicationShutdown, type Type } from '@nestjs/common';
import { McpPoolModule, McpPoolRegistry } from '../../lib';
import { KeepAliveCloser } from '../../sample/src/keep-alive-closer';
import { startE2eMcpServer, textOf, type E2eMcpServer } from './support/e2e-mcp-server';
import { ADAPTERS, startNestApp } from './support/nest-app';

let mcp: E2eMcpServer;

beforeAll(async () => {
  mcp = await startE2eMcpServer();
});

afterAll(async () => {
  await mcp?.server.close();
});

/** GETs `url` through `agent`; resolves with the status, the Connection header and the body. */
function getWith(agent: Agent, url: string): Promise<{ status?: number; connection?: string; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode, connection: res.headers.connection, body }));
    }).on('error', reject);
  });
}

function appModule(shutdownBegan: () => void): Type<unknown> {
  @Controller()
  class GateController {
    constructor(@Inject(McpPoolRegistry) private readonly pools: McpPoolRegistry) {}

    @Get('gate')
    async gate(): Promise<string> {
      return textOf(await this.pools.get('main').callTool('gate'));
    }
  }

  /** Tells the test that shutdown has begun: KeepAliveCloser's hook, which is synchronous, ran in the same batch. */
  @Injectable()
  class ShutdownProbe implements BeforeApplicationShutdown {
    beforeApplicationShutdown(): void {
      shutdownBegan();
    }
  }

  @Module({
    imports: [McpPoolModule.forRoot({ name: 'main', endpoint: mcp.server.url, minSessions: 1, logger: false })],
    controllers: [GateController],
    providers: [KeepAliveCloser, ShutdownProbe],
  })
  class AppModule {}
  return AppModule;
}

it.each(ADAPTERS)('on %s, answers the request in flight with Connection: close and lets app.close() end right after', async (adapter) => {
  let began!: () => void;
  const shutdownBegan = new Promise<void>((resolve) => (began = resolve));
  const { app, url } = await startNestApp(appModule(() => began()), adapter);
  const agent = new Agent({ keepAlive: true });
  try {
    const gate = mcp.nextGate();
    const answered = getWith(agent, `${url}/gate`);
    await gate.entered; // the request is in flight, its MCP call running on the server
    const closed = app.close();
    await shutdownBegan;
    gate.open();
    expect(await answered).toEqual({ status: 200, connection: 'close', body: 'gated' });
    await closed; // without KeepAliveCloser, this waits for the keep-alive timeout (72 s on Fastify: past the test's timeout)
    expect(app.get(McpPoolRegistry).get('main').state).toBe('closed');
  } finally {
    agent.destroy();
  }
});
