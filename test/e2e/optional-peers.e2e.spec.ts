// class-validator and class-transformer are optional peers: the root entry must load without them, and
// McpPoolModule, which needs them to validate options, must say which to install. Each case runs in a
// fresh Node process (fixtures/optional-peers-app.ts), whose module cache shows what was really loaded.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const ROOT = join(__dirname, '..', '..');
const APP = join(__dirname, 'fixtures', 'optional-peers-app.ts');

interface Report {
  afterImport: string[];
  afterBoot: string[];
  error?: { name: string; message: string; field?: string; isConfigError: boolean };
}

async function run(hide: string[] = []): Promise<Report> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', APP], {
    cwd: ROOT,
    env: { ...process.env, HIDE_PACKAGES: hide.join(',') },
  });
  return JSON.parse(stdout) as Report;
}

it('importing the root entry loads neither class-validator nor class-transformer; validating a pool at boot loads both', async () => {
  const report = await run();
  expect(report).toEqual({ afterImport: [], afterBoot: ['class-transformer', 'class-validator'] });
}, 60_000);

it('without class-transformer, the root entry still loads, and the boot fails with a McpPoolConfigError naming the package to install', async () => {
  const report = await run(['class-transformer']);
  expect(report.afterImport).toEqual([]);
  expect(report.error).toEqual({
    name: 'McpPoolConfigError',
    isConfigError: true,
    field: 'options',
    message: expect.stringContaining('class-transformer is not installed; run: npm install class-validator class-transformer'),
  });
  expect(report.error?.message).toMatch(/^mcp pool "github": /);
}, 60_000);

it('without either package, the error names both', async () => {
  const report = await run(['class-validator', 'class-transformer']);
  expect(report.error?.message).toContain('class-validator and class-transformer are not installed; run: npm install class-validator class-transformer');
}, 60_000);
