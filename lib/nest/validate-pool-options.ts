import type { ValidationError } from 'class-validator';
import { McpPoolConfigError } from '../core/errors';
import { POOL_DEFAULTS, resolvePoolOptions, type McpPoolOptions } from '../core/options';
import { defaultPoolLogger } from './default-pool-logger';
import { loadValidation } from './load-validation';
import type { McpPoolModuleOptions } from './mcp-pool-module-options.interface';

type Issue = { field: string; message: string };

/**
 * Checks the options of the pool registered as `name` and turns them into core options: numeric and
 * boolean strings become numbers and booleans (class-transformer), every field is checked
 * (class-validator), then the core's own rules run on the result. Every problem found by either goes
 * into one {@link McpPoolConfigError}, e.g. `mcp pool "github": maxSessions must be >= minSessions;
 * endpoint is not a valid URL`. Values are never echoed (an option may hold a secret).
 *
 * class-validator and class-transformer are loaded here, on the first validation, not when the package is
 * imported; without them this throws an McpPoolConfigError naming the packages to install.
 */
export function validatePoolOptions(name: unknown, raw: unknown): McpPoolOptions {
  const poolName = typeof name === 'string' && name.length > 0 ? name : 'default';
  const issues: Issue[] = [];
  if (typeof name !== 'string' || name.length === 0) issues.push({ field: 'name', message: 'must be a non-empty string' });
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    issues.push({ field: 'options', message: `must be an object (the options factory returned ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw})` });
    throw new McpPoolConfigError(poolName, issues);
  }
  const input = raw as Record<string, unknown> & McpPoolModuleOptions;
  if (input.name !== undefined && input.name !== name) {
    issues.push({ field: 'name', message: 'is the registration\'s name (forRoot/forRootAsync({ name })) and cannot be changed by the options' });
  }

  const { McpPoolOptionsDto, CONVERTED_OPTION_KEYS, plainToInstance, validateSync } = loadValidation(poolName);
  // class-transformer converts the strings; the defaults fill the gaps so that the cross-field checks
  // (maxSessions >= minSessions) see what the pool would use.
  const given: Record<string, unknown> = {};
  for (const key of CONVERTED_OPTION_KEYS) if (input[key] !== undefined) given[key] = input[key];
  const dto = plainToInstance(McpPoolOptionsDto, { ...numericDefaults(CONVERTED_OPTION_KEYS), ...given });
  const converted: Record<string, unknown> = {};
  for (const key of Object.keys(given)) converted[key] = (dto as unknown as Record<string, unknown>)[key];
  // The other fields are validated as they are: class-transformer would rebuild objects such as a URL,
  // a logger or a driver as plain objects.
  for (const [key, value] of Object.entries(input)) {
    if (!(CONVERTED_OPTION_KEYS as readonly string[]).includes(key) && key !== 'name') (dto as unknown as Record<string, unknown>)[key] = value;
  }
  for (const error of validateSync(dto, { stopAtFirstError: true })) issues.push(toIssue(error));

  const { logger, ...rest } = input;
  const options: McpPoolOptions = {
    ...(rest as McpPoolOptions),
    ...converted,
    name: poolName,
    logger: logger === false ? undefined : (logger ?? defaultPoolLogger()),
  };

  // The core's transport-dependent rules, reported in the same error (fields already reported are skipped).
  try {
    resolvePoolOptions(options);
  } catch (error) {
    if (!(error instanceof McpPoolConfigError)) throw error;
    for (const issue of error.issues) {
      if (!issues.some((i) => i.field === issue.field || issue.field.startsWith(`${i.field}.`))) issues.push(issue);
    }
  }
  if (issues.length > 0) throw new McpPoolConfigError(poolName, issues);
  return options;
}

function numericDefaults(keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) out[key] = (POOL_DEFAULTS as Record<string, unknown>)[key];
  return out;
}

function toIssue(error: ValidationError): Issue {
  const messages = Object.values(error.constraints ?? {});
  return { field: error.property, message: messages[0] ?? 'is invalid' };
}
