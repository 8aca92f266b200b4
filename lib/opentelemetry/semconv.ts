/**
 * Attribute and metric names, after OpenTelemetry's semantic conventions for MCP (gen-ai/mcp) and for
 * connection pools (`db.client.connection.*`, with "connection" read as "MCP session" and `db` as `mcp`).
 * Written out here rather than imported: @opentelemetry/semantic-conventions marks them experimental and
 * is not a dependency.
 */
export const ATTR_MCP_METHOD_NAME = 'mcp.method.name';
export const ATTR_MCP_SESSION_ID = 'mcp.session.id';
/** The protocol era of the session a call ran on: `legacy` (2025-11-25) or `modern` (2026-07-28). Not in the semconv yet. */
export const ATTR_MCP_PROTOCOL_ERA = 'mcp.protocol.era';
export const ATTR_GEN_AI_TOOL_NAME = 'gen_ai.tool.name';
export const ATTR_GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
export const ATTR_ERROR_TYPE = 'error.type';
export const ATTR_RPC_RESPONSE_STATUS_CODE = 'rpc.response.status_code';
export const ATTR_NETWORK_TRANSPORT = 'network.transport';
export const ATTR_NETWORK_PROTOCOL_NAME = 'network.protocol.name';
/** The pool's name (`db.client.connection.pool.name` in the database conventions). */
export const ATTR_POOL_NAME = 'mcp.client.connection.pool.name';
/** The identity partition (a hash of the identity) that served a call, on spans only. */
export const ATTR_POOL_PARTITION = 'mcp.client.pool.partition';
/** `idle` or `used` (`db.client.connection.state`). */
export const ATTR_CONNECTION_STATE = 'mcp.client.connection.state';

export const METRIC_OPERATION_DURATION = 'mcp.client.operation.duration';
export const METRIC_CONNECTION_COUNT = 'mcp.client.connection.count';
export const METRIC_CONNECTION_IDLE_MIN = 'mcp.client.connection.idle.min';
export const METRIC_CONNECTION_LIMIT = 'mcp.client.connection.limit';
export const METRIC_CONNECTION_PENDING_REQUESTS = 'mcp.client.connection.pending_requests';
export const METRIC_CONNECTION_TIMEOUTS = 'mcp.client.connection.timeouts';
export const METRIC_CONNECTION_CREATE_TIME = 'mcp.client.connection.create_time';
export const METRIC_CONNECTION_WAIT_TIME = 'mcp.client.connection.wait_time';
export const METRIC_CONNECTION_USE_TIME = 'mcp.client.connection.use_time';

/** Bucket advice of `mcp.client.operation.duration` (from the MCP conventions), seconds. */
export const OPERATION_DURATION_BUCKETS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];
/** Bucket advice of the pool's time histograms (waits are often sub-millisecond), seconds. */
export const POOL_TIME_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The name this package's tracer and meter carry (the instrumentation scope). */
export const INSTRUMENTATION_SCOPE = 'nestjs-mcp-pool';
