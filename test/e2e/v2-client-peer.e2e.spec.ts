// @modelcontextprotocol/client is an optional peer: loaded only by a pool with protocol 'auto' or 'modern',
// and a clear configuration error when such a pool is built without it. Each case runs in a fresh Node
// process (fixtures/v2-peer-app.ts), whose module cache shows what was really loaded.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const ROOT = join(__dirname, '..', '..');
const APP = join(__dirname, 'fixtures', 'v2-peer-app.ts');

async function run(hide: string[] = []): Promise<Record<string, unknown>> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', APP], { cwd: ROOT, env: { ...process.env, HIDE_PACKAGES: hide.join(',') } });
  return JSON.parse(stdout) as Record<string, unknown>;
}

it('neither importing the package nor a legacy pool loads the v2 client; an auto pool does', async () => {
  expect(await run()).toEqual({ afterImport: false, afterLegacyPool: false, afterAutoPool: true });
}, 60_000);

it('without the v2 client, a legacy pool still works and an auto pool fails with a McpPoolConfigError naming the npm install line', async () => {
  const report = await run(['@modelcontextprotocol/client']);
  expect(report).toMatchObject({ afterImport: false, afterLegacyPool: false, afterAutoPool: false });
  expect(report.error).toEqual({
    name: 'McpPoolConfigError',
    isConfigError: true,
    field: 'protocol',
    message: expect.stringContaining('@modelcontextprotocol/client is not installed; run: npm install @modelcontextprotocol/client'),
  });
  expect((report.error as { message: string }).message).toMatch(/^mcp pool "new": protocol is "auto"/);
}, 60_000);
