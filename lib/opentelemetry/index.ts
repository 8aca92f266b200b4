/**
 * `nestjs-mcp-pool/opentelemetry`: traces and metrics of MCP pools through `@opentelemetry/api` (an
 * optional peer dependency; only this entry point loads it). With no OpenTelemetry SDK registered,
 * everything here is a no-op. See docs/observability.md.
 *
 * - {@link openTelemetryInstrumentation}: the pool's `instrumentation` option; a CLIENT span per MCP
 *   request, W3C trace context in its HTTP headers, and `mcp.client.operation.duration`.
 * - {@link instrumentMcpPool}: the pool's connection-pool metrics (`mcp.client.connection.*`).
 */
export { openTelemetryInstrumentation, type McpTracingOptions } from './tracing';
export { instrumentMcpPool, type McpPoolMetricsOptions, type McpPoolMetricsHandle } from './metrics';
export { describeMcpError, type McpErrorDescription } from './error-type';
export * as McpSemanticConventions from './semconv';
