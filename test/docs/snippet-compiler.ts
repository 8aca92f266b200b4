// Type-checks Markdown TypeScript blocks, each as its own CommonJS module, in one TypeScript program
// against the package's public entry points (mapped to the lib/ sources, so no build is needed).
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as ts from 'typescript';
import { SourceLine, TsBlock } from './markdown-blocks';

export const REPO = join(__dirname, '..', '..');
/** Where the generated modules seem to live: inside the repository, so node_modules resolves as for a user. */
const VIRTUAL_ROOT = join(REPO, '.doc-snippets');
const FILE_COMMENT = /^\/\/\s*([\w.-]+\.ts)\s*$/; // `// app.module.ts` names the block's file

export interface BlockModule {
  block: TsBlock;
  path: string;
  text: string;
  /** Generated line (0-based) → where it came from in the Markdown file. */
  lines: SourceLine[];
}

/**
 * Builds the module of each block: the block's leading imports, the prelude (or its part before the
 * `/* snippet *\/` marker), the rest of the block, the prelude's part after the marker, and `export {}` so
 * that no two blocks share a global scope. Fragments are left out.
 */
export function toModules(blocks: TsBlock[]): { modules: BlockModule[]; problems: string[] } {
  const modules: BlockModule[] = [];
  const problems: string[] = [];
  const taken = new Map<string, TsBlock>();
  for (const block of blocks) {
    if (block.flags.includes('fragment')) continue;
    const named = FILE_COMMENT.exec(block.body[0]?.text.trim() ?? '')?.[1];
    const path = join(VIRTUAL_ROOT, block.file.replace(/[/\\]/g, '__'), named ?? `block-L${block.line}.ts`);
    const clash = taken.get(path);
    if (clash) {
      problems.push(`${block.file}:${block.line} names the file ${basename(path)}, as the block at line ${clash.line} does`);
      continue;
    }
    taken.set(path, block);
    const head = leadingImportLines(block.body);
    const lines = [
      ...block.body.slice(0, head),
      ...block.preludeBefore,
      ...block.body.slice(head),
      ...block.preludeAfter,
      { text: 'export {};', mdLine: block.line, column: 0 },
    ];
    modules.push({ block, path, text: lines.map((l) => l.text).join('\n'), lines });
  }
  return { modules, problems };
}

/** How many lines the block's leading import declarations (and the comments before them) take. */
function leadingImportLines(body: SourceLine[]): number {
  const text = body.map((l) => l.text).join('\n');
  const source = ts.createSourceFile('block.ts', text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  let end = 0;
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement) && !ts.isImportEqualsDeclaration(statement)) break;
    end = statement.getEnd();
  }
  return end === 0 ? 0 : source.getLineAndCharacterOfPosition(end).line + 1;
}

/** The repository's compiler options, with each public entry point of package.json mapped to its source. */
function compilerOptions(): ts.CompilerOptions {
  const config = ts.readConfigFile(join(REPO, 'tsconfig.json'), ts.sys.readFile);
  const { options, errors } = ts.convertCompilerOptionsFromJson(config.config.compilerOptions, REPO);
  if (errors.length > 0) throw new Error(ts.formatDiagnostics(errors, formatHost));
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { name: string; exports: Record<string, { types?: string }> };
  const paths: Record<string, string[]> = {};
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    const types = target.types; // ./dist/standalone.d.ts → lib/standalone.ts
    if (!types) continue;
    paths[join(pkg.name, subpath).replace(/\\/g, '/')] = [join(REPO, types.replace(/^\.\/dist\//, 'lib/').replace(/\.d\.ts$/, '.ts'))];
  }
  return {
    ...options,
    noEmit: true,
    declaration: false,
    sourceMap: false,
    types: ['node'], // a user's program sees Node's types, not Jest's globals
    rootDir: undefined,
    outDir: undefined,
    paths,
  };
}

const formatHost: ts.FormatDiagnosticsHost = {
  getCanonicalFileName: (f) => f,
  getCurrentDirectory: () => REPO,
  getNewLine: () => '\n',
};

/**
 * Type-checks every module in one program. Returns the diagnostics of each block, as
 * `file:line:column TSxxxx: message`, and those that belong to no block (the options, the global scope).
 */
export function checkModules(modules: BlockModule[]): { byBlock: Map<TsBlock, string[]>; general: string[] } {
  const virtual = new Map(modules.map((m) => [m.path, m]));
  const dirs = new Set(modules.map((m) => dirname(m.path)));
  const options = compilerOptions();
  const host = ts.createCompilerHost(options, true);
  const { fileExists, readFile, getSourceFile, directoryExists } = host;
  host.fileExists = (f) => virtual.has(f) || fileExists.call(host, f);
  host.readFile = (f) => virtual.get(f)?.text ?? readFile.call(host, f);
  host.directoryExists = (d) => dirs.has(d) || d === VIRTUAL_ROOT || (directoryExists?.call(host, d) ?? true);
  host.getSourceFile = (f, language, onError, create) => {
    const m = virtual.get(f);
    return m ? ts.createSourceFile(f, m.text, language) : getSourceFile.call(host, f, language, onError, create);
  };
  const program = ts.createProgram({ rootNames: [...virtual.keys()], options, host });

  const general = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()].map((d) =>
    ts.flattenDiagnosticMessageText(d.messageText, '\n'),
  );
  const byBlock = new Map<TsBlock, string[]>();
  for (const m of modules) {
    const source = program.getSourceFile(m.path);
    if (!source) throw new Error(`the program has no ${m.path}`);
    const diagnostics = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
    byBlock.set(m.block, diagnostics.map((d) => describe(m, source, d)));
  }
  return { byBlock, general };
}

function describe(m: BlockModule, source: ts.SourceFile, d: ts.Diagnostic): string {
  const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
  if (d.start === undefined) return `${m.block.file}:${m.block.line} TS${d.code}: ${message}`;
  const { line, character } = source.getLineAndCharacterOfPosition(d.start);
  const from = m.lines[line];
  return `${m.block.file}:${from.mdLine}:${from.column + character + 1} TS${d.code}: ${message}`;
}
