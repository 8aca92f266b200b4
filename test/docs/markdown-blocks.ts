// Finds the TypeScript code blocks of a Markdown file, with the hidden prelude each may have. The
// convention is described at the top of doc-snippets.spec.ts.

/** One line of a generated module and the Markdown line (1-based) and column offset it came from. */
export interface SourceLine {
  text: string;
  mdLine: number;
  column: number;
}

export interface TsBlock {
  /** The Markdown file, relative to the repository root ('README.md', 'docs/nest.md'). */
  file: string;
  /** The line of the opening fence (1-based). */
  line: number;
  /** The words after the language on the fence line (`fragment` is the only one used). */
  flags: string[];
  /** The block's lines, their list indentation removed. */
  body: SourceLine[];
  /** The prelude's lines before the `/* snippet *\/` marker (all of them without one), and after it. */
  preludeBefore: SourceLine[];
  preludeAfter: SourceLine[];
}

export interface ExtractResult {
  blocks: TsBlock[];
  /** Mistakes in the convention itself (a prelude with no block, an unclosed fence…), as `file:line message`. */
  problems: string[];
}

const TS_LANGUAGES = new Set(['ts', 'typescript']);
export const SNIPPET_MARKER = '/* snippet */';
const FENCE = /^( *)(`{3,}|~{3,})\s*(.*)$/;
const PRELUDE_START = /^( *)<!--\s*prelude\b:?(.*)$/;

interface Prelude {
  lines: SourceLine[];
  /** The Markdown line of `<!-- prelude` and of the comment's `-->`. */
  startLine: number;
  endLine: number;
}

export function extractTsBlocks(file: string, markdown: string): ExtractResult {
  const lines = markdown.split(/\r?\n/);
  const blocks: TsBlock[] = [];
  const problems: string[] = [];
  let pending: Prelude | undefined; // a prelude waiting for the block it belongs to

  const orphan = (prelude: Prelude) =>
    problems.push(`${file}:${prelude.startLine} a prelude comment must be followed by a \`\`\`ts block`);

  for (let i = 0; i < lines.length; i++) {
    const prelude = PRELUDE_START.exec(lines[i]);
    if (prelude) {
      if (pending) orphan(pending);
      const parsed = readPrelude(lines, i, prelude[1].length, prelude[2]);
      if (!parsed) {
        problems.push(`${file}:${i + 1} a prelude comment is not closed with -->`);
        return { blocks, problems };
      }
      pending = parsed;
      i = parsed.endLine - 1;
      continue;
    }
    const fence = FENCE.exec(lines[i]);
    if (!fence) {
      // Only blank lines may stand between a prelude and its block.
      if (pending && lines[i].trim() !== '') {
        orphan(pending);
        pending = undefined;
      }
      continue;
    }
    const [, indent, marker, info] = fence;
    const end = findClosingFence(lines, i + 1, marker);
    if (end < 0) {
      problems.push(`${file}:${i + 1} a code fence is never closed`);
      return { blocks, problems };
    }
    const [language = '', ...flags] = info.trim().split(/\s+/);
    if (TS_LANGUAGES.has(language.toLowerCase())) {
      const body = lines.slice(i + 1, end).map((text, k) => dedent(text, indent.length, i + 2 + k));
      blocks.push({ file, line: i + 1, flags, body, ...splitPrelude(pending?.lines ?? []) });
    } else if (pending) {
      orphan(pending);
    }
    pending = undefined;
    i = end;
  }
  if (pending) orphan(pending);
  return { blocks, problems };
}

/** Reads `<!-- prelude …` from line `start` up to and including the line holding `-->`. */
function readPrelude(lines: string[], start: number, indent: number, rest: string): Prelude | undefined {
  const out: SourceLine[] = [];
  // The first line may carry code after `<!-- prelude:` (a one-line prelude).
  let text = rest;
  let column = lines[start].length - rest.length;
  for (let i = start; i < lines.length; i++) {
    if (i > start) {
      const line = dedent(lines[i], indent, i + 1);
      text = line.text;
      column = line.column;
    }
    const close = text.indexOf('-->');
    const code = close >= 0 ? text.slice(0, close) : text;
    if (code.trim() !== '') out.push({ text: code, mdLine: i + 1, column });
    if (close >= 0) return { lines: out, startLine: start + 1, endLine: i + 1 };
  }
  return undefined;
}

function findClosingFence(lines: string[], from: number, marker: string): number {
  const closing = new RegExp(`^ *${marker[0] === '`' ? '`' : '~'}{${marker.length},}\\s*$`);
  for (let i = from; i < lines.length; i++) if (closing.test(lines[i])) return i;
  return -1;
}

/** Removes up to `indent` leading spaces (a block inside a list item is indented with its item). */
function dedent(text: string, indent: number, mdLine: number): SourceLine {
  const removed = Math.min(indent, text.length - text.trimStart().length);
  return { text: text.slice(removed), mdLine, column: removed };
}

function splitPrelude(lines: SourceLine[]): Pick<TsBlock, 'preludeBefore' | 'preludeAfter'> {
  const at = lines.findIndex((l) => l.text.trim() === SNIPPET_MARKER);
  return at < 0
    ? { preludeBefore: lines, preludeAfter: [] }
    : { preludeBefore: lines.slice(0, at), preludeAfter: lines.slice(at + 1) };
}
