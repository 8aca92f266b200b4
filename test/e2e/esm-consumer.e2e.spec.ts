// An ESM app gets errors it can recognise with instanceof: the pool hands callers only the library's own
// error classes (one copy, whatever the module format), never the SDK's, whose ESM and CommonJS builds
// are different classes. The program runs as a real ES module against the built package (npm test builds
// dist/ first) and real servers on 127.0.0.1.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startHttpMcpServer, type TestHttpServer } from '../fixtures/http-mcp-server';

const run = promisify(execFile);
let open: TestHttpServer;
let guarded: TestHttpServer;

beforeAll(async () => {
  open = await startHttpMcpServer();
  guarded = await startHttpMcpServer();
  guarded.setRequireAuth('the-right-token');
});
afterAll(async () => {
  await open.close();
  await guarded.close();
});

it('an ES module checks the pool’s errors with instanceof, as the docs say', async () => {
  const { stdout } = await run(process.execPath, [join(__dirname, '..', 'fixtures', 'esm-consumer.mjs'), String(open.url), String(guarded.url)], {
    cwd: join(__dirname, '..', '..'),
    timeout: 20_000,
  });
  const out = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, Record<string, unknown>>;
  expect(out).toEqual({
    serverError: { instanceofMcpServerError: true, code: -32601, isMcpPoolError: true, causeInstanceofEsmSdkMcpError: false, causeName: 'McpError' },
    timeout: { instanceofCallTimeoutError: true },
    auth: { instanceofMcpAuthError: true, status: 401, isUnauthorized: true },
  });
});
