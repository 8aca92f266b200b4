// OpenTelemetry and prom-client are optional peers: only their own subpaths may load them.
import { join } from 'node:path';
import { LIB, reachable } from '../support/import-graph';

const optional = (packages: Set<string>) => [...packages].filter((p) => p.startsWith('@opentelemetry/') || p.startsWith('prom-client'));

it.each(['index.ts', 'standalone.ts'])('nothing reachable from lib/%s imports OpenTelemetry or prom-client', (entry) => {
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
