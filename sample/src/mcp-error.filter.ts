import { Catch, HttpStatus, type ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter, HttpAdapterHost } from '@nestjs/core';
import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';
import {
  CallTimeoutError,
  McpAuthError,
  McpPoolError,
  PoolClosedError,
  PoolExhaustedError,
  PoolUnavailableError,
  SessionCreateError,
  SessionLostError,
} from 'nestjs-mcp-pool';

/**
 * A JSON-RPC error from the MCP server (the SDK's `McpError`). Checked by name, not `instanceof`: the SDK
 * ships a CommonJS and an ESM build, and in an ESM app the class you import is not the one the pool's
 * errors come from (see docs/packaging.md). The pool's own errors have one class in both formats.
 */
function isMcpError(error: unknown): error is Error & { code: number } {
  return error instanceof Error && error.name === 'McpError' && typeof (error as { code?: unknown }).code === 'number';
}

/** The HTTP status that tells a client of this API what happened to its MCP call; undefined if not an MCP error. */
function statusOf(error: unknown): number | undefined {
  if (isMcpError(error)) {
    // The caller's fault when the arguments or the method were wrong; otherwise the server failed.
    return error.code === ErrorCode.InvalidParams || error.code === ErrorCode.MethodNotFound ? HttpStatus.BAD_REQUEST : HttpStatus.BAD_GATEWAY;
  }
  if (!(error instanceof McpPoolError)) return undefined;
  if (error instanceof CallTimeoutError) return HttpStatus.GATEWAY_TIMEOUT;
  // No session could be had (pool busy, server unreachable, circuit open) or the app is shutting down: retry later.
  if (
    error instanceof PoolExhaustedError ||
    error instanceof PoolUnavailableError ||
    error instanceof SessionCreateError ||
    error instanceof PoolClosedError
  )
    return HttpStatus.SERVICE_UNAVAILABLE;
  // The server failed under the call, or refused the pool's credentials.
  if (error instanceof SessionLostError || error instanceof McpAuthError) return HttpStatus.BAD_GATEWAY;
  return HttpStatus.INTERNAL_SERVER_ERROR;
}

/**
 * Turns the pool's errors and the MCP server's JSON-RPC errors into HTTP answers; anything else goes to
 * Nest's default handling. The messages name the pool and say what to do; they never contain headers or
 * tokens.
 */
@Catch()
export class McpErrorFilter extends BaseExceptionFilter {
  constructor(private readonly adapterHost: HttpAdapterHost) {
    super(adapterHost.httpAdapter);
  }

  override catch(error: unknown, host: ArgumentsHost): void {
    const status = statusOf(error);
    if (status === undefined) return super.catch(error, host);
    const { name, message } = error as Error;
    const body: Record<string, unknown> = { statusCode: status, error: name, message };
    if (error instanceof SessionLostError) body.mayHaveRun = error.mayHaveRun;
    this.adapterHost.httpAdapter.reply(host.switchToHttp().getResponse(), body, status);
  }
}
