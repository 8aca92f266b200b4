import { McpPoolConfigError } from '../core/errors';

/** The packages McpPoolModule validates its options with: optional peers, installed by Nest apps. */
export const VALIDATION_PACKAGES = ['class-validator', 'class-transformer'] as const;

/** What validation needs at run time: the DTO (class-validator decorators) and the two functions that run it. */
export interface ValidationRuntime {
  McpPoolOptionsDto: typeof import('./mcp-pool-options.dto').McpPoolOptionsDto;
  CONVERTED_OPTION_KEYS: typeof import('./mcp-pool-options.dto').CONVERTED_OPTION_KEYS;
  plainToInstance: typeof import('class-transformer').plainToInstance;
  validateSync: typeof import('class-validator').validateSync;
}

/**
 * Loads class-validator, class-transformer and the DTO that decorates with them, when a pool's options are
 * validated (at boot) — never when the package is imported, so that `nestjs-mcp-pool` loads in a program
 * that has neither (the core alone, or a Nest app that has not installed them yet). Node caches the modules:
 * only the first call reads them.
 *
 * If one of them is missing, throws an {@link McpPoolConfigError} for `poolName` that names the missing
 * packages and the `npm install` line, instead of Node's bare "Cannot find module".
 */
export function loadValidation(poolName: string): ValidationRuntime {
  const missing = VALIDATION_PACKAGES.filter((name) => !isResolvable(name));
  if (missing.length > 0) {
    throw new McpPoolConfigError(poolName, [
      {
        field: 'options',
        message:
          `cannot be validated: McpPoolModule checks them with class-validator and class-transformer, and ` +
          `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not installed; run: npm install ${VALIDATION_PACKAGES.join(' ')}`,
      },
    ]);
  }
  // Plain require() on purpose: an `import` would load the packages with this file, at import time. The
  // package is CommonJS (docs/packaging.md), so require exists in ESM apps too.
  const dto = require('./mcp-pool-options.dto') as typeof import('./mcp-pool-options.dto');
  const { plainToInstance } = require('class-transformer') as typeof import('class-transformer');
  const { validateSync } = require('class-validator') as typeof import('class-validator');
  return { McpPoolOptionsDto: dto.McpPoolOptionsDto, CONVERTED_OPTION_KEYS: dto.CONVERTED_OPTION_KEYS, plainToInstance, validateSync };
}

/** Whether `name` resolves from this file, where the require() above would look for it. */
function isResolvable(name: string): boolean {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
}
