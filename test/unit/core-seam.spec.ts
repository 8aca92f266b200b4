// The core is protocol-neutral (DESIGN.md): no file under lib/core loads an SDK module at run time, directly
// or through what it imports, and none imports lib/transports at all (the entry points hand the core its
// drivers). Type-only SDK imports are allowed: they vanish when compiled.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import * as ts from 'typescript';
import { LIB } from '../support/import-graph';

const CORE = join(LIB, 'core');

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** What `file` requires once compiled (type-only and unused imports are elided by the compiler). */
function runtimeRequires(file: string): string[] {
  const out = ts.transpileModule(readFileSync(file, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
  }).outputText;
  return [...out.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]!);
}

/** Every module specifier `file` names, type-only ones included. */
function allImports(file: string): string[] {
  return ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles.map((f) => f.fileName);
}

function resolveRelative(from: string, spec: string): string {
  const base = resolve(dirname(from), spec);
  const target = [`${base}.ts`, join(base, 'index.ts')].find((c) => existsSync(c));
  if (!target) throw new Error(`cannot resolve ${spec} from ${from}`);
  return target;
}

/** Packages loaded at run time from `entry`, following relative runtime requires; with the chain that led there. */
function runtimePackages(entry: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const pending: Array<{ file: string; chain: string[] }> = [{ file: entry, chain: [relative(LIB, entry)] }];
  const seen = new Set<string>();
  while (pending.length) {
    const { file, chain } = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of runtimeRequires(file)) {
      if (!spec.startsWith('.')) {
        if (!found.has(spec)) found.set(spec, chain);
        continue;
      }
      const target = resolveRelative(file, spec);
      pending.push({ file: target, chain: [...chain, relative(LIB, target)] });
    }
  }
  return found;
}

describe('the core seam', () => {
  const coreFiles = tsFiles(CORE);

  it('finds the core files (the walk is not vacuous)', () => {
    expect(coreFiles.map((f) => relative(LIB, f))).toEqual(expect.arrayContaining(['core/mcp-pool.ts', 'core/driver.ts', 'core/lease.ts']));
  });

  it('loads no MCP SDK module at run time from any core file, directly or transitively', () => {
    const offenders: string[] = [];
    for (const file of coreFiles) {
      for (const [pkg, chain] of runtimePackages(file)) if (pkg.startsWith('@modelcontextprotocol/')) offenders.push(`${chain.join(' -> ')} -> ${pkg}`);
    }
    expect(offenders).toEqual([]);
  });

  it('imports nothing from lib/transports, not even types', () => {
    const offenders = coreFiles.flatMap((file) =>
      allImports(file)
        .filter((spec) => spec.startsWith('.') && relative(LIB, resolveRelative(file, spec)).startsWith('transports'))
        .map((spec) => `${relative(LIB, file)} -> ${spec}`),
    );
    expect(offenders).toEqual([]);
  });

  it('would see a runtime SDK import (the check can fail)', () => {
    // The detector itself, on a file that does what the core must not.
    const probe = join(__dirname, '..', 'fixtures', 'seam-probe.ts');
    expect([...runtimePackages(probe).keys()]).toContain('@modelcontextprotocol/sdk/types.js');
  });
});
