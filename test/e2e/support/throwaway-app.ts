// Throwaway Nest applications for the pack check (sample-and-pack.e2e.spec.ts): written into a temporary
// directory, they install the packed tarball with npm, compile with tsc and run as their own process, as a
// user's application would.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { join, posix } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import * as ts from 'typescript';

const run = promisify(execFile);

export const ROOT = join(__dirname, '..', '..', '..');
export const PACKAGE = 'nestjs-mcp-pool';
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** Runs a command; on failure the error carries its output. */
export async function sh(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  try {
    const { stdout } = await run(file, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${[file, ...args].join(' ')} (in ${cwd}) failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

/** The subset of package.json the checks read. */
export interface PackedManifest {
  name: string;
  main?: string;
  types?: string;
  exports: Record<string, string | Record<string, string>>;
  typesVersions?: Record<string, Record<string, string[]>>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/** Every file path (relative, `/`-separated) under `dir`. */
export async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(dir, path)));
    else out.push(path);
  }
  return out;
}

/** The files the manifest points at: `main`, `types`, every `exports` target and every `typesVersions` target. */
export function manifestTargets(pkg: PackedManifest): string[] {
  const targets = new Set<string>();
  const add = (p: string | undefined): void => void (p && targets.add(posix.normalize(p)));
  add(pkg.main);
  add(pkg.types);
  const walk = (node: unknown): void => {
    if (typeof node === 'string') add(node);
    else if (node && typeof node === 'object') Object.values(node).forEach(walk);
  };
  walk(pkg.exports);
  walk(pkg.typesVersions);
  return [...targets];
}

/** The module specifiers of the package's entry points (`nestjs-mcp-pool`, `nestjs-mcp-pool/terminus`, …). */
export function entrySpecifiers(pkg: PackedManifest): string[] {
  return Object.keys(pkg.exports)
    .filter((key) => !key.endsWith('.json'))
    .map((key) => (key === '.' ? pkg.name : `${pkg.name}/${key.slice(2)}`));
}

/** The name of the package a bare specifier refers to (`@scope/name/sub.js` → `@scope/name`). */
export function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

export function isBuiltin(specifier: string): boolean {
  return specifier.startsWith('node:') || builtinModules.includes(specifier);
}

/** The text of the package's .js and .d.ts files, by path relative to `dir`. */
export async function readModuleTexts(dir: string, files: Iterable<string>): Promise<Map<string, string>> {
  const texts = new Map<string, string>();
  for (const file of files) if (/\.(c?js|d\.ts)$/.test(file)) texts.set(file, await readFile(join(dir, file), 'utf8'));
  return texts;
}

/**
 * Follows the relative imports of the package from its entry points (`require()` in .js files; `from` and
 * `import()` in .d.ts files). Returns the relative imports that point at no file of the package, and every
 * bare specifier met on the way.
 */
export function walkImports(texts: ReadonlyMap<string, string>, entries: string[]): { missing: string[]; bare: Set<string> } {
  const missing: string[] = [];
  const bare = new Set<string>();
  const seen = new Set<string>();
  const pending = [...entries];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const declaration = file.endsWith('.d.ts');
    const pattern = declaration ? /(?:\bfrom\s+|\bimport\()\s*["']([^"']+)["']/g : /\brequire\(["']([^"']+)["']\)/g;
    for (const [, specifier] of (texts.get(file) ?? '').matchAll(pattern)) {
      if (!specifier!.startsWith('.')) {
        bare.add(specifier!);
        continue;
      }
      const base = posix.normalize(posix.join(posix.dirname(file), specifier!));
      const candidates = declaration ? [`${base.replace(/\.js$/, '')}.d.ts`, `${base}/index.d.ts`] : [base, `${base}.js`, `${base}/index.js`];
      const target = candidates.find((c) => texts.has(c));
      if (target) pending.push(target);
      else missing.push(`${file} → ${specifier}`);
    }
  }
  return { missing, bare };
}

export type AppKind = 'esm' | 'cjs';

/**
 * The application's source: a controller that calls a tool on an HTTP pool and on a stdio pool, the Terminus
 * health route with the indicator from `nestjs-mcp-pool/terminus`, and every entry point of the package
 * imported (the ready line reports how many exports each has). The type assertions fail to compile if the
 * package's types degrade to `any`.
 */
function appSource(entries: string[]): string {
  const entryImports = entries.map((spec, i) => `import * as entry${i} from '${spec}';`).join('\n');
  const entryTable = entries.map((spec, i) => `  '${spec}': Object.keys(entry${i}).length,`).join('\n');
  return `import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { HealthCheck, HealthCheckService, TerminusModule, type HealthCheckResult } from '@nestjs/terminus';
import { InjectMcpPool, McpPool, McpPoolModule, PoolClosedError } from 'nestjs-mcp-pool';
import { McpPoolHealthIndicator } from 'nestjs-mcp-pool/terminus';
${entryImports}

// Compile-time: the package's types resolved (an unresolved type is \`any\`).
type IsAny<T> = 0 extends 1 & T ? true : false;
export const typesResolved: [
  IsAny<McpPool>,
  IsAny<Awaited<ReturnType<McpPool['callTool']>>>,
  IsAny<Parameters<McpPool['session']>[0]>,
  IsAny<McpPoolHealthIndicator>,
  IsAny<Awaited<ReturnType<McpPoolHealthIndicator['isHealthyAll']>>>,
  IsAny<PoolClosedError['poolName']>,
] = [false, false, false, false, false, false];

@Controller()
class AppController {
  constructor(
    @InjectMcpPool('remote') private readonly remote: McpPool,
    @InjectMcpPool('local') private readonly local: McpPool,
    private readonly health: HealthCheckService,
    private readonly mcp: McpPoolHealthIndicator,
  ) {}

  @Get('call')
  async call(): Promise<unknown> {
    const [remote, local] = await Promise.all([
      this.remote.callTool('echo', { text: 'over http' }),
      this.local.session((lease) => lease.callTool('echo', { text: 'over stdio' })),
    ]);
    return { remote: remote.content, local: local.content };
  }

  @Get('health')
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.mcp.isHealthyAll('mcp:', { timeoutMs: 5000 })]);
  }
}

@Module({
  imports: [
    TerminusModule,
    McpPoolModule.forRoot({ name: 'remote', endpoint: process.env.MCP_URL, minSessions: 1, logger: false }),
    McpPoolModule.forRoot({
      name: 'local',
      transport: 'stdio',
      command: process.execPath,
      args: [process.env.MCP_STDIO_SERVER ?? 'missing MCP_STDIO_SERVER'],
      minSessions: 1,
      logger: false,
    }),
  ],
  controllers: [AppController],
  providers: [McpPoolHealthIndicator],
})
class AppModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  process.once('SIGTERM', () => void app.close());
  await app.listen(0, '127.0.0.1');
  const entries = {
${entryTable}
  };
  console.log(JSON.stringify({ url: await app.getUrl(), entries }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
`;
}

const BASE_COMPILER_OPTIONS = {
  target: 'ES2022',
  strict: true,
  experimentalDecorators: true,
  emitDecoratorMetadata: true,
  // As a Nest project has it: the package's own declarations are checked by checkDeclarations() instead.
  skipLibCheck: true,
  types: ['node'],
  rootDir: 'src',
  outDir: 'dist',
};

/** Writes the app's package.json (`"type": "module"` for esm): enough for `npm install`. */
export async function writeManifest(dir: string, kind: AppKind): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'package.json'), json({ name: `${kind}-app`, private: true, type: kind === 'esm' ? 'module' : 'commonjs' }));
}

/**
 * Writes src/main.ts (see {@link appSource}) and the compiler configurations: tsconfig.json (`module: nodenext`,
 * which emits ESM or CommonJS after the package type, as `nest new` sets it up), and two type-check-only ones
 * for older setups: tsconfig.node10.json (moduleResolution node10, which reads `typesVersions`) and
 * tsconfig.bundler.json (`module: commonjs`, which TypeScript 6 resolves as bundler).
 */
export async function writeSources(dir: string, entries: string[]): Promise<void> {
  await mkdir(join(dir, 'src'), { recursive: true });
  await writeFile(join(dir, 'tsconfig.json'), json({ compilerOptions: { ...BASE_COMPILER_OPTIONS, module: 'nodenext' }, include: ['src'] }));
  await writeFile(
    join(dir, 'tsconfig.node10.json'),
    json({ extends: './tsconfig.json', compilerOptions: { module: 'commonjs', moduleResolution: 'node10', ignoreDeprecations: '6.0', noEmit: true } }),
  );
  await writeFile(join(dir, 'tsconfig.bundler.json'), json({ extends: './tsconfig.json', compilerOptions: { module: 'commonjs', noEmit: true } }));
  await writeFile(join(dir, 'src', 'main.ts'), appSource(entries));
}

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

/** `npm install <tarball>` into the app: from the file alone, with no registry (peers are found in ../node_modules). */
export async function installTarball(dir: string, tarball: string): Promise<void> {
  await sh('npm', ['install', tarball, '--offline', '--legacy-peer-deps', '--ignore-scripts', '--no-audit', '--no-fund', '--no-package-lock'], dir);
}

/** `tsc -p <config>` in the app, with the repository's TypeScript. */
export async function tsc(dir: string, config = 'tsconfig.json'): Promise<void> {
  await sh(process.execPath, [TSC, '-p', config], dir);
}

/**
 * Type-checks the package's declaration files as the app's compiler sees them, with skipLibCheck off (but only
 * for them: checking all of Nest's declarations would take far longer), plus the app's own files. Returns
 * the formatted diagnostics; empty when all is well.
 */
export function checkDeclarations(dir: string, config: string, options: { packageFiles: boolean }): string {
  const host: ts.ParseConfigFileHost = {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  };
  const parsed = ts.getParsedCommandLineOfConfigFile(join(dir, config), { skipLibCheck: false, noEmit: true }, host)!;
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
  const ours = `/node_modules/${PACKAGE}/`;
  const checked = program
    .getSourceFiles()
    .filter((f) => (options.packageFiles && f.fileName.includes(ours)) || !f.fileName.includes('/node_modules/'));
  const diagnostics = [
    ...parsed.errors,
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...checked.flatMap((f) => [...program.getSyntacticDiagnostics(f), ...program.getSemanticDiagnostics(f)]),
  ];
  if (options.packageFiles && !checked.some((f) => f.fileName.includes(ours)))
    return `no declaration file of ${PACKAGE} was loaded from ${dir}/node_modules`;
  return ts.formatDiagnostics(diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => dir, getNewLine: () => '\n' });
}

export interface RunningApp {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** Export count of each entry point, as loaded by the app. */
  readonly entries: Record<string, number>;
  /** Sends SIGTERM and resolves with how the process ended and everything it wrote to stderr. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  /** SIGKILL if still running (cleanup after a failure). */
  kill(): Promise<void>;
}

/** Starts `node dist/main.js` in the app and waits for its ready line. */
export async function startApp(dir: string, env: Record<string, string>): Promise<RunningApp> {
  const child = spawn(process.execPath, ['dist/main.js'], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const lines = createInterface({ input: child.stdout });
  const first = (await Promise.race([
    once(lines, 'line'),
    exited.then(([code, signal]) => {
      throw new Error(`the app in ${dir} exited (${code ?? signal}) before it was ready:\n${stderr}`);
    }),
  ])) as [string];
  const ready = JSON.parse(first[0]) as { url: string; entries: Record<string, number> };
  const ended = async () => {
    const [code, signal] = await exited;
    return { code, signal, stderr };
  };
  return {
    ...ready,
    stop() {
      child.kill('SIGTERM');
      return ended();
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
