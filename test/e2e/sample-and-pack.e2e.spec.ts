// What a user gets: the sample app, started with the README's command (`npm start`), and the packed library,
// installed into fresh ESM and CommonJS Nest apps outside the repository. One file on purpose: both rebuild
// dist/ (`npm start` builds the library, `npm pack` rebuilds it cleanly in prepack), and Jest runs separate
// files in parallel workers; tests of one file run one after the other.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Agent, request as httpRequest } from 'node:http';
import { realpathSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import request from 'supertest';
import { PROMETHEUS_CONTENT_TYPE } from '../../lib/prometheus';
import { startHttpMcpServer, type TestHttpServer } from '../fixtures/http-mcp-server';
import { parsePrometheusText, valueOf as promValue } from '../observability/support/prometheus-parser';
import { isAlive, waitFor } from './support/nest-app';
import {
  checkDeclarations,
  entrySpecifiers,
  installTarball,
  isBuiltin,
  listFiles,
  manifestTargets,
  packageOf,
  PACKAGE,
  readModuleTexts,
  ROOT,
  sh,
  startApp,
  tsc,
  walkImports,
  writeManifest,
  writeSources,
  type AppKind,
  type PackedManifest,
  type RunningApp,
} from './support/throwaway-app';

const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** POSTs `body` as JSON through `agent` (supertest has no keep-alive); resolves with the status, the Connection header and the JSON answer. */
function postWith(agent: Agent, url: string, body: unknown): Promise<{ status?: number; connection?: string; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode, connection: res.headers.connection, body: JSON.parse(text) as unknown }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}
const STDIO_FIXTURE = join(ROOT, 'test', 'fixtures', 'stdio-server.cjs');

describe('the sample, started with npm start', () => {
  const READY = /Listening on (http:\/\/127\.0\.0\.1:\d+) \(pid (\d+)\)/;
  let npm: ChildProcess;
  let exited: Promise<[number | null, NodeJS.Signals | null]>;
  let output = '';
  let url: string;
  let appPid: number;
  let stdioPid: number;

  beforeAll(async () => {
    // As the README says, but on a free port, and with the embedded demo servers whatever sample/.env says.
    npm = spawn(NPM, ['start'], {
      cwd: ROOT,
      detached: true, // its own process group: npm, the shell, the sample and its stdio child, for cleanup
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', NO_COLOR: '1', MCP_HTTP_URL: '', MCP_STDIO_COMMAND: '' },
    });
    exited = once(npm, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    npm.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const ready = await new Promise<RegExpExecArray>((resolve, reject) => {
      npm.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk;
        const match = READY.exec(output);
        if (match) resolve(match);
      });
      void exited.then(([code, signal]) => reject(new Error(`npm start ended (${code ?? signal}) before the sample listened:\n${output}`)));
    });
    url = ready[1]!;
    appPid = Number(ready[2]);
  }, 240_000);

  afterAll(async () => {
    if (npm && npm.exitCode === null && npm.signalCode === null) {
      process.kill(-npm.pid!, 'SIGKILL');
      await exited;
    }
  });

  it('logs where to point curl, with example lines for every route', () => {
    for (const line of [
      `curl ${url}/health`,
      `curl ${url}/tools`,
      `curl -X POST ${url}/tools/http/add`,
      `curl -X POST ${url}/tools/stdio/echo`,
      `curl -X POST ${url}/tools/modern/server_info`,
      `curl ${url}/metrics`,
      `curl ${url}/metrics/json`,
    ])
      expect(output).toContain(line);
  });

  it('GET /health reports the three pools up, each with the protocol era it speaks', async () => {
    const res = await request(url).get('/health').expect(200);
    expect(res.body).toMatchObject({
      status: 'ok',
      info: {
        'mcp:http': { status: 'up', pool: 'http', state: 'running', era: 'legacy' },
        'mcp:stdio': { status: 'up', pool: 'stdio', state: 'running', era: 'legacy' },
        'mcp:modern': { status: 'up', pool: 'modern', state: 'running', era: 'modern' },
      },
    });
  });

  it('POST /tools/modern/:name calls a tool on the embedded 2026-07-28-only server, with the forwarded x-request-id', async () => {
    const res = await request(url).post('/tools/modern/server_info').set('x-request-id', 'sample-e2e-modern').expect(200);
    expect(res.body.structuredContent).toEqual({ server: 'nestjs-mcp-pool-demo-modern', era: '2026-07-28', pid: appPid, requestId: 'sample-e2e-modern' });
  });

  it('GET /tools lists the demo tools of each pool', async () => {
    const res = await request(url).get('/tools').expect(200);
    const names = (pool: string) => (res.body[pool].tools as Array<{ name: string }>).map((t) => t.name).sort();
    expect(names('http')).toEqual(['add', 'echo', 'server_info', 'sleep']);
    expect(names('stdio')).toEqual(['add', 'echo', 'server_info', 'sleep']);
    expect(names('modern')).toEqual(['add', 'echo', 'server_info']);
  });

  it('POST /tools/http/:name calls a tool with the JSON body, on the in-process demo server', async () => {
    const res = await request(url).post('/tools/http/add').send({ a: 2, b: 3 }).expect(200);
    expect(res.body).toEqual({ content: [{ type: 'text', text: '5' }], structuredContent: { sum: 5 } });
  });

  it('forwards the x-request-id of the incoming request to the HTTP pool', async () => {
    const res = await request(url).post('/tools/http/server_info').set('x-request-id', 'sample-e2e-1').expect(200);
    expect(res.body.structuredContent).toEqual({ server: 'nestjs-mcp-pool-demo', transport: 'streamable_http', pid: appPid, requestId: 'sample-e2e-1' });
  });

  it('POST /tools/stdio/:name calls a tool on the demo server running as a child process', async () => {
    const echo = await request(url).post('/tools/stdio/echo').send({ text: 'hello' }).expect(200);
    expect(echo.body).toEqual({ content: [{ type: 'text', text: 'hello' }] });
    const info = await request(url).post('/tools/stdio/server_info').set('x-request-id', 'not-for-stdio').expect(200);
    expect(info.body.structuredContent).toMatchObject({ transport: 'stdio', requestId: null });
    stdioPid = info.body.structuredContent.pid as number;
    expect(stdioPid).not.toBe(appPid);
    expect(isAlive(stdioPid)).toBe(true);
  });

  it('answers 404 for an unknown pool, 400 for a body that is not an object, and a tool error as an isError result', async () => {
    await request(url).post('/tools/nope/echo').send({}).expect(404);
    await request(url).post('/tools/http/add').send([1, 2]).expect(400);
    const res = await request(url).post('/tools/http/no_such_tool').send({}).expect(200);
    expect(res.body).toMatchObject({ isError: true });
  });

  it('answers 415 for a body that is not JSON, instead of calling the tool without its arguments', async () => {
    const res = await request(url).post('/tools/stdio/echo').set('content-type', 'text/plain').send('hello').expect(415);
    expect(res.body).toMatchObject({ statusCode: 415, message: expect.stringContaining('application/json') });
    await request(url).post('/tools/stdio/echo').set('content-type', 'application/json; charset=utf-8').send('{"text":"utf"}').expect(200);
  });

  it('answers 504 when a call outlives its ?timeoutMs (the pool error, mapped by McpExceptionFilter)', async () => {
    const res = await request(url).post('/tools/http/sleep?timeoutMs=200').send({ ms: 10_000 }).expect(504);
    expect(res.body).toMatchObject({ statusCode: 504, error: 'CallTimeoutError', message: expect.stringContaining('timed out after 200 ms') });
  });

  it("GET /metrics serves every pool's metrics in the Prometheus text format", async () => {
    const res = await request(url).get('/metrics').expect(200);
    expect(res.headers['content-type']).toBe(PROMETHEUS_CONTENT_TYPE);
    const families = parsePrometheusText(res.text);
    expect(promValue(families, 'mcp_pool_calls_total', { pool: 'http' })).toBeGreaterThanOrEqual(1);
    expect(promValue(families, 'mcp_pool_connection_timeouts_total', { pool: 'stdio' })).toBe(0);
    expect(families.get('mcp_pool_pending_requests')?.help).toContain('OTel mcp.client.connection.pending_requests');
  });

  it("GET /metrics/json returns every pool's snapshot", async () => {
    await request(url).get('/tools').expect(200); // from the cache this time
    const res = await request(url).get('/metrics/json').expect(200);
    expect(Object.keys(res.body).sort()).toEqual(['http', 'modern', 'stdio']);
    for (const pool of ['http', 'stdio']) {
      expect(res.body[pool]).toMatchObject({ pool, state: 'running', circuitState: 'closed', total: expect.any(Number) });
      expect(res.body[pool].borrowCount).toBeGreaterThanOrEqual(2);
      expect(res.body[pool].cacheHits).toBeGreaterThanOrEqual(1);
    }
    expect(res.body.http.callTimeouts).toBe(1);
    expect(res.body.stdio).toMatchObject({ callTimeouts: 0, errors: 0 });
  });

  it('stops on SIGTERM: answers the request in flight with Connection: close, exits with code 0, the stdio child gone, nothing logged as an error', async () => {
    // A keep-alive client whose call is running when the signal comes: it gets its answer, and its connection
    // does not hold the shutdown up until Node's keep-alive timeout.
    const agent = new Agent({ keepAlive: true });
    const answered = postWith(agent, `${url}/tools/http/sleep`, { ms: 3000 });
    await waitFor(async () => (await request(url).get('/metrics/json')).body.http.inFlight === 1, 10_000, 'the sleep call in flight');
    process.kill(appPid, 'SIGTERM'); // the Node process, as a process manager would (npm does not pass SIGTERM on)
    expect(await answered).toEqual({ status: 200, connection: 'close', body: { content: [{ type: 'text', text: 'slept' }] } });
    agent.destroy();
    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(isAlive(appPid)).toBe(false);
    expect(isAlive(stdioPid)).toBe(false);
    expect(output).toContain('SIGTERM: shutting down');
    expect(output).toContain('stopped');
    expect(output).not.toMatch(/\b(ERROR|WARN)\b/);
    // Nest's default logger prints every level: the pools' per-session debug lines are not handed to it.
    expect(output).not.toContain('session created');
  });
});

describe('the packed library', () => {
  const KINDS: AppKind[] = ['esm', 'cjs'];
  let work: string;
  let pkg: PackedManifest;
  let files: string[];
  let server: TestHttpServer;
  const appDir = (kind: AppKind): string => join(work, `${kind}-app`);

  beforeAll(async () => {
    work = await mkdtemp(join(realpathSync(tmpdir()), 'nestjs-mcp-pool-pack-'));
    await sh(NPM, ['pack', '--pack-destination', work], ROOT); // prepack: a clean build of dist/
    const tarball = join(work, (await readdir(work)).find((f) => f.endsWith('.tgz'))!);
    for (const kind of KINDS) {
      await writeManifest(appDir(kind), kind);
      await installTarball(appDir(kind), tarball);
    }
    const installed = join(appDir('esm'), 'node_modules', PACKAGE);
    pkg = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as PackedManifest;
    files = await listFiles(installed);
    // The rest of a user's node_modules: the package's peer dependencies (and dependencies, should it get any)
    // plus what the app itself uses, linked from this repository one level up, where both apps find them.
    // Only these: a package the library imports without declaring it is missing there, as for a user.
    const provided = new Set([...Object.keys(pkg.peerDependencies ?? {}), ...Object.keys(pkg.dependencies ?? {}), '@nestjs/platform-express', '@types/node']);
    for (const name of provided) {
      const link = join(work, 'node_modules', name);
      await mkdir(dirname(link), { recursive: true });
      await symlink(join(ROOT, 'node_modules', name), link, 'dir');
    }
    for (const kind of KINDS) await writeSources(appDir(kind), entrySpecifiers(pkg));
    server = await startHttpMcpServer();
  }, 180_000);

  afterAll(async () => {
    await server?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('holds every file its manifest points at, and nothing but dist/, package.json, README.md and LICENSE', () => {
    expect(manifestTargets(pkg).filter((target) => !files.includes(target))).toEqual([]);
    expect(files).toEqual(expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'dist/terminus/index.js', 'dist/terminus/index.d.ts', 'README.md', 'LICENSE']));
    expect(files.filter((f) => !/^(dist\/.+\.(js|d\.ts|js\.map)|package\.json|README\.md|LICENSE)$/.test(f))).toEqual([]);
  });

  it('ships every module its entry points reach, importing only declared packages and Node built-ins', async () => {
    const installed = join(appDir('esm'), 'node_modules', PACKAGE);
    const { missing, bare } = walkImports(await readModuleTexts(installed, files), manifestTargets(pkg));
    expect(missing).toEqual([]);
    const declared = new Set([...Object.keys(pkg.peerDependencies ?? {}), ...Object.keys(pkg.dependencies ?? {})]);
    expect([...bare].filter((s) => !isBuiltin(s) && !declared.has(packageOf(s)))).toEqual([]);
  });

  it('keeps its internals private: a deep import is refused by the exports map', async () => {
    const probe = `import('${PACKAGE}/dist/index.js').then(() => console.log('loaded'), (e) => console.log(e.code))`;
    expect((await sh(process.execPath, ['--input-type=module', '-e', probe], appDir('esm'))).trim()).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  describe.each(KINDS)('in a fresh %s Nest app', (kind) => {
    it('compiles with tsc, and the package declarations type-check without errors', async () => {
      await tsc(appDir(kind));
      const emitted = await readFile(join(appDir(kind), 'dist', 'main.js'), 'utf8');
      if (kind === 'esm') expect(emitted).toMatch(/^import .* from 'nestjs-mcp-pool';$/m);
      else expect(emitted).toContain('require("nestjs-mcp-pool")');
      expect(checkDeclarations(appDir(kind), 'tsconfig.json', { packageFiles: true })).toBe('');
    }, 120_000);

    it('starts against local MCP servers, calls a tool on each pool, reports health, and stops with code 0', async () => {
      const app: RunningApp = await startApp(appDir(kind), { MCP_URL: server.url.href, MCP_STDIO_SERVER: STDIO_FIXTURE });
      try {
        // Every entry point loaded, with its named exports (ESM gets them through Node's CommonJS analysis).
        expect(Object.keys(app.entries).sort()).toEqual(entrySpecifiers(pkg).sort());
        for (const count of Object.values(app.entries)) expect(count).toBeGreaterThan(0);

        const call = await request(app.url).get('/call').expect(200);
        expect(call.body).toEqual({ remote: [{ type: 'text', text: 'over http' }], local: [{ type: 'text', text: 'over stdio' }] });
        const health = await request(app.url).get('/health').expect(200);
        expect(health.body).toMatchObject({ status: 'ok', info: { 'mcp:remote': { status: 'up' }, 'mcp:local': { status: 'up' } } });

        expect(await app.stop()).toEqual({ code: 0, signal: null, stderr: '' });
      } finally {
        await app.kill();
      }
    }, 60_000);
  });

  it('resolves its types in a CommonJS app with moduleResolution bundler (TypeScript 6 for module: commonjs)', () => {
    expect(checkDeclarations(appDir('cjs'), 'tsconfig.bundler.json', { packageFiles: true })).toBe('');
  }, 60_000);

  it('resolves every entry point through typesVersions in a CommonJS app with moduleResolution node10', () => {
    // The app's own files only: under node10 one inferred type in the package's declarations names
    // `@modelcontextprotocol/sdk/client`, a subpath only the SDK's exports map resolves (node10 ignores it).
    expect(checkDeclarations(appDir('cjs'), 'tsconfig.node10.json', { packageFiles: false })).toBe('');
  }, 60_000);
});
