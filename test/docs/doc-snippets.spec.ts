// Every ```ts / ```typescript block of README.md and docs/*.md must compile, so a snippet that stops
// matching the API fails CI. Each block is type-checked as its own CommonJS module (what a Nest app is),
// strict, against the public entry points (`nestjs-mcp-pool`, `/core`, `/terminus`, `/prometheus`,
// `/opentelemetry`, mapped to lib/), all blocks in one TypeScript program.
//
// The snippet convention:
// - A block may have a hidden prelude: an HTML comment right before it (blank lines allowed), invisible on
//   GitHub, holding the imports and `declare`s the block assumes:
//       <!-- prelude
//       import { McpPool } from 'nestjs-mcp-pool/core';
//       declare const pool: McpPool;
//       -->
//   or on one line: `<!-- prelude: declare const q: string; -->`.
// - A prelude line `/* snippet */` marks where the block goes, so the prelude can wrap it, e.g. in
//   `async function example() {` … `}` (a bare `await` does not compile in a CommonJS module) or in a class
//   for a lone constructor. The block's own leading imports are moved to the top of the module.
// - A block whose first line is `// name.ts` is that file: other blocks of the same Markdown file can
//   import it (`import { AppModule } from './app.module'`).
// - ```ts fragment opts a block out. Keep it rare: a prelude almost always does the job.
// A failure names the Markdown file, the line and column inside it, and the TypeScript diagnostic.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { extractTsBlocks, TsBlock } from './markdown-blocks';
import { checkModules, REPO, toModules } from './snippet-compiler';

const markdownFiles = ['README.md', ...readdirSync(join(REPO, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const extracted = markdownFiles.map((file) => extractTsBlocks(file, readFileSync(join(REPO, file), 'utf8')));
const blocks = extracted.flatMap((e) => e.blocks);
const { modules, problems: namingProblems } = toModules(blocks);
const checked = blocks.filter((b) => !b.flags.includes('fragment'));

let result: ReturnType<typeof checkModules>;
beforeAll(() => {
  result = checkModules(modules);
}, 180_000); // one program over lib/ and the Nest, SDK and Node types: seconds, more on a busy machine

it('finds every TypeScript block of README.md and docs/*.md, and the snippet convention is followed', () => {
  // A plain count of opening fences, independent of the extractor, so a parsing slip cannot hide blocks.
  const fences = (file: string) => readFileSync(join(REPO, file), 'utf8').match(/^ *(```|~~~) *(ts|typescript)\b/gim)?.length ?? 0;
  expect(markdownFiles.map((f) => [f, blocks.filter((b) => b.file === f).length])).toEqual(markdownFiles.map((f) => [f, fences(f)]));
  expect(blocks.length).toBeGreaterThan(0);
  expect([...extracted.flatMap((e) => e.problems), ...namingProblems]).toEqual([]);
});

it('the snippet program has no option or global errors', () => {
  expect(result.general).toEqual([]);
});

const label = (b: TsBlock) => `${b.file}:${b.line}`;
it.each(checked.map((b) => [label(b), b] as const))('the ts block at %s compiles', (_, block) => {
  expect(result.byBlock.get(block)).toEqual([]);
});
