// The root entry must not load @nestjs/terminus (an optional peer dependency), not even its types:
// everything Terminus-related lives behind the `nestjs-mcp-pool/terminus` subpath.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import * as ts from 'typescript';

const LIB = join(__dirname, '..', '..', 'lib');

/** Every module specifier reachable from `entry` through relative imports and re-exports (type-only ones included). */
function reachable(entry: string): { files: string[]; packages: Set<string> } {
  const files: string[] = [];
  const packages = new Set<string>();
  const pending = [entry];
  const seen = new Set<string>();
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    files.push(relative(LIB, file));
    for (const { fileName: spec } of ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles) {
      if (!spec.startsWith('.')) {
        packages.add(spec);
        continue;
      }
      const base = resolve(dirname(file), spec);
      const target = [`${base}.ts`, join(base, 'index.ts')].find((candidate) => existsSync(candidate));
      if (!target) throw new Error(`cannot resolve ${spec} from ${file}`);
      pending.push(target);
    }
  }
  return { files, packages };
}

it('nothing reachable from lib/index.ts imports @nestjs/terminus or lib/terminus, types included', () => {
  const { files, packages } = reachable(join(LIB, 'index.ts'));
  expect(files).toContain(join('nest', 'index.ts'));
  expect([...packages].filter((p) => p.startsWith('@nestjs/terminus'))).toEqual([]);
  expect(files.filter((f) => f.startsWith('terminus'))).toEqual([]);
});

it('the terminus entry exports the health indicator', () => {
  const { packages } = reachable(join(LIB, 'terminus', 'index.ts'));
  expect(packages).toContain('@nestjs/terminus');
  expect(Object.keys(require('../../lib/terminus') as object)).toEqual(['McpPoolHealthIndicator']);
});

it('nothing reachable from the core entry (nestjs-mcp-pool/core) imports Nest, OpenTelemetry or prom-client', () => {
  const { packages } = reachable(join(LIB, 'standalone.ts'));
  expect([...packages].filter((p) => /^(@nestjs\/|@opentelemetry\/|prom-client|class-validator|class-transformer|rxjs)/.test(p))).toEqual([]);
  expect([...packages].filter((p) => p.startsWith('@modelcontextprotocol/sdk')).length).toBeGreaterThan(0);
});
