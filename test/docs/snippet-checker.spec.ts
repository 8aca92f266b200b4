// The snippet checker of doc-snippets.spec.ts must be able to fail: broken fixture snippets are reported
// with their Markdown file, line, column and TypeScript code, and the prelude convention does what it says.
import { extractTsBlocks, TsBlock } from './markdown-blocks';
import { checkModules, toModules } from './snippet-compiler';

const fence = '```';
const fixtures: Record<string, string> = {
  'fixture/type-error.md': ['# Title', '', `${fence}ts`, "const n: number = 'one';", fence].join('\n'),
  'fixture/undeclared.md': [`${fence}typescript`, 'pool.start();', fence].join('\n'),
  'fixture/prelude.md': [
    "<!-- prelude: import { McpPool } from 'nestjs-mcp-pool/core'; -->",
    '',
    `${fence}ts`,
    "const pool = new McpPool({ endpoint: 'http://127.0.0.1:1/mcp' });",
    fence,
  ].join('\n'),
  'fixture/top-level-await.md': [`${fence}ts`, "import { McpPool } from 'nestjs-mcp-pool/core';", 'declare const pool: McpPool;', 'await pool.start();', fence].join('\n'),
  'fixture/wrapped.md': [
    '<!--prelude',
    "import { McpPool } from 'nestjs-mcp-pool';",
    'async function example(pool: McpPool) {',
    '/* snippet */',
    '}',
    '-->',
    `${fence}ts`,
    "import { McpPoolHealthIndicator } from 'nestjs-mcp-pool/terminus';",
    'const check: typeof McpPoolHealthIndicator = McpPoolHealthIndicator;',
    'await pool.start();',
    'return pool.metrics.snapshot();',
    fence,
  ].join('\n'),
  'fixture/list-item.md': ['- an item:', '', `  ${fence}ts`, '  const x: string = 1;', `  ${fence}`].join('\n'),
  'fixture/fragment.md': [`${fence}ts fragment`, 'this is not TypeScript', fence].join('\n'),
  'fixture/files.md': [
    `${fence}ts`,
    '// shared.ts',
    'export const answer = 42;',
    fence,
    `${fence}ts`,
    "import { answer } from './shared';",
    "const text: string = answer;",
    fence,
  ].join('\n'),
  'fixture/orphan.md': ['<!-- prelude: declare const x: number; -->', 'Some prose.', '', `${fence}ts`, 'x;', fence].join('\n'),
  'fixture/unclosed.md': [`${fence}ts`, 'const a = 1;'].join('\n'),
};

const extracted = Object.fromEntries(Object.entries(fixtures).map(([file, text]) => [file, extractTsBlocks(file, text)]));
const { modules, problems: namingProblems } = toModules(Object.values(extracted).flatMap((e) => e.blocks));
let byBlock: Map<TsBlock, string[]>;
beforeAll(() => {
  byBlock = checkModules(modules).byBlock;
}, 180_000); // one TypeScript program: seconds, more on a busy machine

/** The diagnostics of the fixture's blocks, in order. */
const diagnostics = (file: string) => extracted[file].blocks.map((b) => byBlock.get(b));

it('reports a type error with the Markdown file, line, column and TypeScript code', () => {
  expect(diagnostics('fixture/type-error.md')).toEqual([
    ["fixture/type-error.md:4:7 TS2322: Type 'string' is not assignable to type 'number'."],
  ]);
});

it('reports a name the block does not declare', () => {
  expect(diagnostics('fixture/undeclared.md')).toEqual([["fixture/undeclared.md:2:1 TS2304: Cannot find name 'pool'."]]);
});

it('a one-line prelude brings the imports a block needs, resolved to the package entry points', () => {
  expect(diagnostics('fixture/prelude.md')).toEqual([[]]);
});

it('a block is a CommonJS module: top-level await does not compile', () => {
  expect(diagnostics('fixture/top-level-await.md')).toEqual([
    [expect.stringMatching(/^fixture\/top-level-await\.md:4:1 TS1309: The current file is a CommonJS module/)],
  ]);
});

it('a prelude with /* snippet */ wraps the block, whose own imports move to the top', () => {
  expect(diagnostics('fixture/wrapped.md')).toEqual([[]]);
});

it('a block indented in a list item is reported at its column in the Markdown file', () => {
  expect(diagnostics('fixture/list-item.md')).toEqual([
    ["fixture/list-item.md:4:9 TS2322: Type 'number' is not assignable to type 'string'."],
  ]);
});

it('a ts fragment is extracted but not compiled', () => {
  expect(extracted['fixture/fragment.md'].blocks.map((b) => b.flags)).toEqual([['fragment']]);
  expect(diagnostics('fixture/fragment.md')).toEqual([undefined]);
});

it('a block whose first line is `// name.ts` is that file, importable by the blocks beside it', () => {
  expect(diagnostics('fixture/files.md')).toEqual([
    [],
    ["fixture/files.md:7:7 TS2322: Type 'number' is not assignable to type 'string'."],
  ]);
});

it('a prelude separated from its block by prose, and an unclosed fence, are reported', () => {
  expect(extracted['fixture/orphan.md'].problems).toEqual(['fixture/orphan.md:1 a prelude comment must be followed by a ```ts block']);
  expect(diagnostics('fixture/orphan.md')).toEqual([["fixture/orphan.md:5:1 TS2304: Cannot find name 'x'."]]);
  expect(extracted['fixture/unclosed.md'].problems).toEqual(['fixture/unclosed.md:1 a code fence is never closed']);
  expect(namingProblems).toEqual([]);
});
