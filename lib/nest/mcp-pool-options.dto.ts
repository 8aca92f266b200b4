import { Transform, type TransformFnParams } from 'class-transformer';
import {
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  Max,
  Min,
  ValidateBy,
  type ValidationArguments,
} from 'class-validator';
import { MAX_OPTION_VALUE, TOO_LARGE, type McpAuthOption, type McpTransportKind } from '../core/options';
import type { PartitionBy } from '../core/partitions';
import type { McpProtocolOption } from '../core/driver';

/** A decimal number written as a string (`'10'`, `' 2.5 '`, `'1e3'`), as environment variables carry them. */
const NUMERIC_STRING = /^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?\s*$/i;

/** Converts a numeric string to a number; anything else is left for the validator to reject. */
function toNumber({ value }: TransformFnParams): unknown {
  return typeof value === 'string' && NUMERIC_STRING.test(value) ? Number(value) : value;
}

/** Converts `'true'`/`'1'` and `'false'`/`'0'` (any case) to booleans; anything else is left for the validator to reject. */
function toBoolean({ value }: TransformFnParams): unknown {
  if (typeof value !== 'string') return value;
  const v = value.trim().toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  return value;
}

/** Applies property decorators in the order given (class-validator then checks them in that order). */
function compose(...decorators: PropertyDecorator[]): PropertyDecorator {
  return (target, key) => {
    for (const decorate of decorators) decorate(target, key);
  };
}

/** An optional integer >= `min` and at most Node's timer limit, given as a number or a numeric string. */
function IntegerOption(min: 0 | 1): PropertyDecorator {
  const message = `must be an integer >= ${min}`;
  return compose(Transform(toNumber), IsOptional(), IsInt({ message }), Min(min, { message }), Max(MAX_OPTION_VALUE, { message: TOO_LARGE }));
}

/** Fails when the property is less than the property `other` (skipped while either is not a number). */
function NotLessThan(other: keyof McpPoolOptionsDto): PropertyDecorator {
  return ValidateBy(
    {
      name: 'notLessThan',
      constraints: [other],
      validator: {
        validate(value: unknown, args?: ValidationArguments): boolean {
          const bound = (args?.object as Record<string, unknown> | undefined)?.[other];
          return typeof value !== 'number' || typeof bound !== 'number' || !Number.isFinite(bound) || value >= bound;
        },
      },
    },
    { message: `must be >= ${other}` },
  );
}

/** A custom check with a fixed message. */
function Check(name: string, message: string, test: (value: unknown) => boolean): PropertyDecorator {
  return ValidateBy({ name, validator: { validate: (value: unknown) => test(value) } }, { message });
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isFunction = (v: unknown): boolean => typeof v === 'function';
const isStringRecord = (v: unknown): boolean => isObject(v) && Object.values(v).every((x) => typeof x === 'string');
const hasMethods = (v: unknown, ...names: string[]): boolean =>
  isObject(v) && names.every((n) => typeof (v as Record<string, unknown>)[n] === 'function');

/**
 * The pool options as class-validator sees them: mirrors `McpPoolOptions` (lib/core/options.ts), field by
 * field. Numbers and booleans given as strings are converted by class-transformer first. The checks here
 * are per field (plus `maxSessions >= minSessions` and `retryMaxDelayMs >= retryBaseDelayMs`); the
 * `recoveryInitialMs <= recoveryTimeoutMs` rule and the transport-dependent rules (an HTTP pool needs a URL, a stdio pool a command and no headers) are the
 * core's `resolvePoolOptions`, whose findings are merged into the same error.
 */
export class McpPoolOptionsDto {
  @IsOptional()
  @IsIn(['streamable_http', 'stdio'], { message: "must be 'streamable_http' or 'stdio'" })
  transport?: McpTransportKind;

  @IsOptional()
  @IsIn(['legacy', 'auto', 'modern'], { message: "must be 'legacy', 'auto' or 'modern'" })
  protocol?: McpProtocolOption;

  @IsOptional()
  @Check('isEndpoint', 'must be a URL (streamable_http) or a command line (stdio), as a string or a URL object', (v) => typeof v === 'string' || v instanceof URL)
  endpoint?: string | URL;

  @IsOptional()
  @IsString({ message: 'must be a non-empty string' })
  @IsNotEmpty({ message: 'must be a non-empty string' })
  command?: string;

  @IsOptional()
  @IsArray({ message: 'must be an array of strings' })
  @IsString({ each: true, message: 'must be an array of strings' })
  args?: string[];

  @IsOptional()
  @Check('isStringRecord', 'must be an object whose values are strings', isStringRecord)
  env?: Record<string, string>;

  @IsOptional()
  @IsString({ message: 'must be a string' })
  cwd?: string;

  @IsOptional()
  @IsIn(['inherit', 'ignore', 'pipe'], { message: "must be 'inherit', 'ignore' or 'pipe'" })
  stderr?: 'inherit' | 'ignore' | 'pipe';

  @IntegerOption(0)
  minSessions?: number;

  @IntegerOption(1)
  @NotLessThan('minSessions')
  maxSessions?: number;

  @IsOptional()
  @IsIn(['native', 'sdk'], { message: "must be 'native' or 'sdk'" })
  httpClient?: 'native' | 'sdk';

  @IntegerOption(0)
  maxConnections?: number;

  @IntegerOption(1)
  maxConcurrentPerSession?: number;

  @IntegerOption(0)
  acquireTimeoutMs?: number;

  @IntegerOption(0)
  maxWaiters?: number;

  @IntegerOption(1)
  connectTimeoutMs?: number;

  @IntegerOption(1)
  callTimeoutMs?: number;

  @IntegerOption(0)
  drainTimeoutMs?: number;

  @IntegerOption(0)
  toolCacheTtlMs?: number;

  @IsOptional()
  @Check('isAuth', 'must be a token string or a function returning one (McpTokenProvider)', (v) => typeof v === 'string' || typeof v === 'function')
  auth?: McpAuthOption;

  @IsOptional()
  @Check('isStringRecord', 'must be an object whose values are strings', isStringRecord)
  headers?: Record<string, string>;

  @IntegerOption(0)
  authCacheTtlMs?: number;

  @IsOptional()
  @Check('isObject', 'must be an OAuthClientProvider object', isObject)
  authProvider?: unknown;

  @IsOptional()
  @Check(
    'isPartitionBy',
    'must be a non-empty list of header names or a function',
    (v) => typeof v === 'function' || (Array.isArray(v) && v.length > 0 && v.every((h) => typeof h === 'string')),
  )
  partitionBy?: PartitionBy;

  @IntegerOption(1)
  maxPartitions?: number;

  @IntegerOption(0)
  partitionIdleTimeoutMs?: number;

  @IntegerOption(1)
  maxSessionsPerPartition?: number;

  @IsOptional()
  @Check('isFunction', 'must be a function', isFunction)
  healthProbe?: unknown;

  @IntegerOption(0)
  leakDetectionThresholdMs?: number;

  @IntegerOption(0)
  healthCheckIntervalMs?: number;

  @IntegerOption(1)
  healthCheckTimeoutMs?: number;

  @IntegerOption(0)
  maxSessionLifetimeMs?: number;

  @IntegerOption(0)
  idleTimeoutMs?: number;

  @IntegerOption(0)
  retryBaseDelayMs?: number;

  @IntegerOption(0)
  @NotLessThan('retryBaseDelayMs')
  retryMaxDelayMs?: number;

  @IntegerOption(1)
  failureThreshold?: number;

  @IntegerOption(0)
  recoveryTimeoutMs?: number;

  // `<= recoveryTimeoutMs` is the core's check: it applies only when recoveryInitialMs is given, and here the
  // defaults are filled in before validation.
  @IntegerOption(1)
  recoveryInitialMs?: number;

  @Transform(toBoolean)
  @IsOptional()
  @IsBoolean({ message: "must be true or false (or the string 'true'/'false')" })
  failFast?: boolean;

  @IsOptional()
  @Check('isFunction', 'must be a function', isFunction)
  onToolsChanged?: unknown;

  @IsOptional()
  @Check('isInstrumentation', 'must be an object with a wrapCall method', (v) => hasMethods(v, 'wrapCall'))
  instrumentation?: unknown;

  @IsOptional()
  @Check('isFunction', 'must be a function', isFunction)
  onSessionReady?: unknown;

  @IsOptional()
  @Check('isObject', 'must be an object { requestsPerSecond, burst? }', isObject)
  rateLimit?: unknown;

  @IsOptional()
  @Check('isObject', 'must be an object { maxConcurrentPerTenant, tenantFrom }', isObject)
  tenantLimit?: unknown;

  @IntegerOption(1)
  maxAffinityKeys?: number;

  @IsOptional()
  @Check(
    'isClientInfo',
    'must be an object { name: string, version: string }',
    (v) => isObject(v) && typeof v.name === 'string' && typeof v.version === 'string',
  )
  clientInfo?: { name: string; version: string };

  @IsOptional()
  @Check('isObject', 'must be an object (ClientCapabilities)', isObject)
  capabilities?: unknown;

  @IsOptional()
  @Check('isFunction', 'must be a function', isFunction)
  onElicitation?: unknown;

  @IsOptional()
  @Check('isFunction', 'must be a function', isFunction)
  onSampling?: unknown;

  @IsOptional()
  @Check('isFunction', 'must be a function', isFunction)
  listRoots?: unknown;

  @IsOptional()
  @Check('isFunction', 'must be a function', isFunction)
  configureClient?: unknown;

  @IsOptional()
  @Check('isLogger', 'must be false or an object with log, warn and error methods (a Nest Logger fits)', (v) => v === false || hasMethods(v, 'log', 'warn', 'error'))
  logger?: unknown;

  @IsOptional()
  @Check('isDriver', 'must be an object with create and classify methods (a SessionDriver)', (v) => hasMethods(v, 'create', 'classify'))
  driver?: unknown;
}

/** The options that class-transformer converts from strings (numbers and booleans). */
export const CONVERTED_OPTION_KEYS = [
  'minSessions',
  'maxSessions',
  'maxConnections',
  'maxConcurrentPerSession',
  'acquireTimeoutMs',
  'maxWaiters',
  'connectTimeoutMs',
  'callTimeoutMs',
  'drainTimeoutMs',
  'toolCacheTtlMs',
  'healthCheckIntervalMs',
  'healthCheckTimeoutMs',
  'maxSessionLifetimeMs',
  'idleTimeoutMs',
  'retryBaseDelayMs',
  'retryMaxDelayMs',
  'failureThreshold',
  'recoveryTimeoutMs',
  'recoveryInitialMs',
  'authCacheTtlMs',
  'maxPartitions',
  'partitionIdleTimeoutMs',
  'maxSessionsPerPartition',
  'leakDetectionThresholdMs',
  'maxAffinityKeys',
  'failFast',
] as const satisfies ReadonlyArray<keyof McpPoolOptionsDto>;
