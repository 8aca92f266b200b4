// The root entry must not load @nestjs/terminus (an optional peer dependency), not even its types:
// everything Terminus-related lives behind the `nestjs-mcp-pool/terminus` subpath.
import { join } from 'node:path';
import { LIB, reachable } from '../support/import-graph';

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
