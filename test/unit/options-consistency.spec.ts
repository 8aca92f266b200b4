// Every pool option is described once (lib/core/options.ts: POOL_OPTION_KEYS, POOL_DEFAULTS) and every
// other description of it is checked against that: the README's options table, and the Nest DTO that
// validates the same options from configuration (env strings included). An option added in one place and
// forgotten in another fails here.
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getMetadataStorage } from 'class-validator';
import { POOL_DEFAULTS, POOL_OPTION_KEYS } from '../../lib/core/options';
import { CONVERTED_OPTION_KEYS, McpPoolOptionsDto } from '../../lib/nest/mcp-pool-options.dto';

/** Option names in the first cell of each row of the README's "## Options" table. */
function readmeOptions(): Set<string> {
  const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Options'), readme.indexOf('\n## ', readme.indexOf('\n## Options') + 1));
  const names = new Set<string>();
  for (const line of section.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const firstCell = line.split('|')[1]!;
    for (const m of firstCell.matchAll(/`([A-Za-z]+)`/g)) names.add(m[1]!);
  }
  return names;
}

/** Properties the DTO validates (class-validator's own metadata). */
function dtoProperties(): Set<string> {
  const metas = getMetadataStorage().getTargetValidationMetadatas(McpPoolOptionsDto, '', true, false);
  return new Set(metas.map((m) => m.propertyName));
}

describe('option descriptions agree with lib/core/options.ts', () => {
  const keys = [...POOL_OPTION_KEYS].sort();

  it('the README table lists every option, and nothing that is not one', () => {
    const documented = readmeOptions();
    expect(keys.filter((k) => !documented.has(k))).toEqual([]);
    expect([...documented].filter((k) => !POOL_OPTION_KEYS.has(k)).sort()).toEqual([]);
  });

  it('every option with a default has that default in the core resolution, and every numeric one is converted from env strings in Nest', () => {
    const numeric = Object.entries(POOL_DEFAULTS)
      .filter(([, v]) => typeof v === 'number' || typeof v === 'boolean')
      .map(([k]) => k)
      .sort();
    expect(numeric.filter((k) => !POOL_OPTION_KEYS.has(k))).toEqual([]);
    expect(numeric.filter((k) => !(CONVERTED_OPTION_KEYS as readonly string[]).includes(k))).toEqual([]);
  });

  it('the Nest DTO validates every option, and nothing that is not one', () => {
    const validated = dtoProperties();
    // `name` is the registration's (forRoot({ name })), checked by validatePoolOptions itself, not the DTO.
    const byTheModule = new Set(['name']);
    expect(keys.filter((k) => !validated.has(k) && !byTheModule.has(k))).toEqual([]);
    expect([...validated].filter((k) => !POOL_OPTION_KEYS.has(k)).sort()).toEqual([]);
  });
});
