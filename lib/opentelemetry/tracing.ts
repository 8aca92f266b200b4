import {
  context,
  metrics,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Histogram,
  type MeterProvider,
  type TracerProvider,
} from '@opentelemetry/api';
import { runWithMcpHeaders } from '../context/request-context';
import type { McpCallInfo, McpPoolInstrumentation } from '../core/options';
import { describeMcpError, isToolError, type McpErrorDescription } from './error-type';
import {
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_TOOL_NAME,
  ATTR_MCP_METHOD_NAME,
  ATTR_MCP_SESSION_ID,
  ATTR_MCP_PROTOCOL_ERA,
  ATTR_NETWORK_PROTOCOL_NAME,
  ATTR_NETWORK_TRANSPORT,
  ATTR_POOL_NAME,
  ATTR_POOL_PARTITION,
  ATTR_RPC_RESPONSE_STATUS_CODE,
  INSTRUMENTATION_SCOPE,
  METRIC_OPERATION_DURATION,
  OPERATION_DURATION_BUCKETS,
} from './semconv';

/** Options of {@link openTelemetryInstrumentation}. */
export interface McpTracingOptions {
  /** Where spans go. Default: the global tracer provider (whatever SDK is registered when a call runs). */
  tracerProvider?: TracerProvider;
  /**
   * Where `mcp.client.operation.duration` goes. Default: the global meter provider at the time of each
   * call (the API has no proxy for meters: a meter taken before the SDK is registered stays a no-op).
   */
  meterProvider?: MeterProvider;
  /**
   * Inject the context of each request's span into that request's HTTP headers (`traceparent`,
   * `tracestate`, `baggage`: whatever the registered propagator writes), so that the server can continue
   * the trace. HTTP only; stdio requests have no headers. Default true.
   */
  propagateContext?: boolean;
  /**
   * Record the server's session id as `mcp.session.id` on spans. Default true. Turn it off when the
   * server treats its session id as a credential (anyone holding it can use the session).
   */
  recordSessionId?: boolean;
  /** Record the `mcp.client.operation.duration` histogram. Default true. */
  operationDuration?: boolean;
}

/**
 * Traces every MCP request a pool makes for a caller: pass it as the pool's `instrumentation` option
 * (`new McpPool({ …, instrumentation: openTelemetryInstrumentation() })`, or the same key in
 * `McpPoolModule.forRoot`).
 *
 * Each request gets a CLIENT span, child of the caller's active span, named after the MCP method and
 * target (`tools/call echo`, `tools/list`), with `mcp.method.name`, `gen_ai.tool.name` and
 * `gen_ai.operation.name=execute_tool` for tool calls, `mcp.session.id`, `network.transport`,
 * `mcp.client.connection.pool.name` (and `mcp.client.pool.partition` on an identity partition); on failure `error.type` (the JSON-RPC code, `timeout`, the HTTP
 * status, `tool_error` for a tool result with `isError`…), `rpc.response.status_code` for JSON-RPC errors,
 * and status ERROR. The span's W3C trace context is sent in the request's HTTP headers. The request's
 * duration is recorded in `mcp.client.operation.duration` (seconds) with the same low-cardinality
 * attributes (no session id).
 *
 * Only `@opentelemetry/api` is used: with no SDK registered the API's no-ops make this do nothing (no span,
 * no header, no metric).
 */
export function openTelemetryInstrumentation(opts: McpTracingOptions = {}): McpPoolInstrumentation {
  const propagate = opts.propagateContext ?? true;
  const recordSessionId = opts.recordSessionId ?? true;
  const durations = opts.operationDuration ?? true;
  const histograms = new WeakMap<MeterProvider, Histogram>();
  const durationHistogram = (): Histogram => {
    const provider = opts.meterProvider ?? metrics.getMeterProvider();
    let h = histograms.get(provider);
    if (!h) {
      h = provider.getMeter(INSTRUMENTATION_SCOPE).createHistogram(METRIC_OPERATION_DURATION, {
        unit: 's',
        description: 'Duration of MCP requests as seen by the client, from sending the request to receiving its response.',
        advice: { explicitBucketBoundaries: OPERATION_DURATION_BUCKETS },
      });
      histograms.set(provider, h);
    }
    return h;
  };

  return {
    wrapCall<T>(info: McpCallInfo, fn: () => Promise<T>): Promise<T> {
      const tracer = (opts.tracerProvider ?? trace.getTracerProvider()).getTracer(INSTRUMENTATION_SCOPE);
      const common = commonAttributes(info, info.pool);
      const attributes: Attributes = { ...common };
      // The partition (a keyed hash) goes on the span only, never on metrics (cardinality).
      if (info.partition) attributes[ATTR_POOL_PARTITION] = info.partition;
      if (recordSessionId && info.sessionId) attributes[ATTR_MCP_SESSION_ID] = info.sessionId;
      const parent = context.active();
      const span = tracer.startSpan(spanName(info), { kind: SpanKind.CLIENT, attributes }, parent);
      const active = trace.setSpan(parent, span);
      const started = performance.now();

      const finish = (failure: McpErrorDescription | undefined): void => {
        const seconds = (performance.now() - started) / 1000;
        if (failure) {
          span.setAttribute(ATTR_ERROR_TYPE, failure.type);
          if (failure.rpcCode) span.setAttribute(ATTR_RPC_RESPONSE_STATUS_CODE, failure.rpcCode);
          span.setStatus(failure.message ? { code: SpanStatusCode.ERROR, message: failure.message } : { code: SpanStatusCode.ERROR });
        }
        span.end();
        if (durations) {
          const metricAttributes: Attributes = failure
            ? {
                ...common,
                [ATTR_ERROR_TYPE]: failure.type,
                ...(failure.rpcCode ? { [ATTR_RPC_RESPONSE_STATUS_CODE]: failure.rpcCode } : {}),
              }
            : common;
          durationHistogram().record(seconds, metricAttributes);
        }
      };

      return context.with(active, () => {
        let send = fn;
        if (propagate && info.transport !== 'stdio') {
          const carrier: Record<string, string> = {};
          propagation.inject(active, carrier);
          if (Object.keys(carrier).length > 0) send = () => runWithMcpHeaders(carrier, fn);
        }
        let pending: Promise<T>;
        try {
          pending = send();
        } catch (error) {
          finish(describeMcpError(error));
          throw error;
        }
        return pending.then(
          (result) => {
            finish(isToolError(result) ? { type: 'tool_error' } : undefined);
            return result;
          },
          (error: unknown) => {
            finish(describeMcpError(error));
            throw error;
          },
        );
      });
    },
  };
}

/** `{mcp.method.name} {target}`: the tool's name for tool calls, else the method alone. */
function spanName(info: McpCallInfo): string {
  return info.toolName ? `${info.method} ${info.toolName}` : info.method;
}

/** Attributes of a request's span and duration metric (low cardinality: no session id, no partition). */
function commonAttributes(info: McpCallInfo, pool: string): Attributes {
  const attributes: Attributes = { [ATTR_MCP_METHOD_NAME]: info.method, [ATTR_POOL_NAME]: pool };
  if (info.toolName) attributes[ATTR_GEN_AI_TOOL_NAME] = info.toolName;
  if (info.era) attributes[ATTR_MCP_PROTOCOL_ERA] = info.era;
  if (info.method === 'tools/call') attributes[ATTR_GEN_AI_OPERATION_NAME] = 'execute_tool';
  if (info.transport === 'streamable_http') {
    attributes[ATTR_NETWORK_TRANSPORT] = 'tcp';
    attributes[ATTR_NETWORK_PROTOCOL_NAME] = 'http';
  } else if (info.transport === 'stdio') {
    attributes[ATTR_NETWORK_TRANSPORT] = 'pipe';
  }
  return attributes;
}
