// OpenTelemetry and prom-client are optional peers: only their own subpaths may load them.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import * as ts from 'typescript';

const LIB = join(__dirname, '..', '..', 'lib');

/** Files and packages reachable from `entry` through relative imports and re-exports, type-only ones included. */
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

const optional = (packages: Set<string>) => [...packages].filter((p) => p.startsWith('@opentelemetry/') || p.startsWith('prom-client'));

it.each(['index.ts', 'standalone.ts'].filter((f) => existsSync(join(LIB, f))))('nothing reachable from lib/%s imports OpenTelemetry or prom-client', (entry) => {
  const { files, packages } = reachable(join(LIB, entry));
  expect(optional(packages)).toEqual([]);
  expect(files.filter((f) => f.startsWith('prometheus') || f.startsWith('opentelemetry'))).toEqual([]);
});

it('the prometheus entry imports no prom-client at all, not even its types', () => {
  const { packages } = reachable(join(LIB, 'prometheus', 'index.ts'));
  expect(optional(packages)).toEqual([]);
});

it('the opentelemetry entry imports @opentelemetry/api only', () => {
  const { packages } = reachable(join(LIB, 'opentelemetry', 'index.ts'));
  expect(optional(packages)).toEqual(['@opentelemetry/api']);
});
