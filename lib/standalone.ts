/**
 * The framework-free part of nestjs-mcp-pool (`nestjs-mcp-pool/core`): the pool, its errors, drivers and
 * the request context. Nothing here imports Nest, so it works in any Node program.
 */
export { McpPool } from './mcp-pool';
export { type McpPoolHealth, type McpPoolSessionRow, type AcquireOptions, type PoolCallOptions, type PoolLifecycle } from './core/mcp-pool';
export { McpLease, type CallOptions } from './core/lease';
export { McpPoolGroup, McpPoolGroupError, type McpPoolGroupOptions, type McpPoolGroupStrategy } from './core/pool-group';
export {
  type McpPoolOptions,
  type ResolvedPoolOptions,
  type McpTransportKind,
  type McpAuthOption,
  type McpTokenProvider,
  type McpCallInfo,
  type McpPoolInstrumentation,
  POOL_DEFAULTS,
  DEFAULT_POOL_NAME,
  resolvePoolOptions,
} from './core/options';
export * from './core/errors';
export type { McpPoolMetricsSnapshot, PoolGauges } from './core/metrics';
export type { PercentileSummary } from './core/histogram';
export type { CircuitState } from './core/circuit-breaker';
export { PoolEvents, type McpPoolEvents, type McpPoolEventName, type McpPoolListener, type SessionEndReason } from './core/events';
export type { PartitionBy } from './core/partitions';
export { LatencyHistogram, HISTOGRAM_BOUNDS_MS } from './core/histogram';
export type { PoolMetrics } from './core/metrics';
export type { McpPoolLogger } from './core/logger';
export type { SessionDriver, DriverSession, CreateSessionContext, ErrorVerdict, McpProtocolEra, McpProtocolOption } from './core/driver';
export {
  runWithMcpHeaders,
  currentMcpHeaders,
  runWithMcpHandlers,
  type McpRequestContext,
  type McpCallHandlers,
  type ServerRequestExtra,
} from './context/request-context';
export { StreamableHttpDriver, StdioDriver, RepeatedAuthChallengeError } from './transports';
export * from './core/mcp-types';
export type { DriverConfig, DriverRequestOptions, McpClientSpec, ServerQuestionExtra, SessionDriverFactory } from './core/driver';
export { ServerQuestionRefusedError, type PoolRequest } from './core/server-questions';
export { McpPool as McpPoolCore } from './core/mcp-pool';
