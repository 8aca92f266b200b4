import { Catch, HttpStatus, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
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

/** The HTTP status that tells a client of this API what happened to its MCP call. */
function statusOf(error: McpPoolError | McpError): number {
  if (error instanceof McpError) {
    // A JSON-RPC error from the MCP server: the caller's fault when the arguments or the method were wrong.
    return error.code === ErrorCode.InvalidParams || error.code === ErrorCode.MethodNotFound ? HttpStatus.BAD_REQUEST : HttpStatus.BAD_GATEWAY;
  }
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
 * Turns the pool's errors and the MCP server's JSON-RPC errors into HTTP answers. Their messages name the
 * pool and say what to do; they never contain headers or tokens.
 */
@Catch(McpPoolError, McpError)
export class McpErrorFilter implements ExceptionFilter {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(error: McpPoolError | McpError, host: ArgumentsHost): void {
    const status = statusOf(error);
    const body: Record<string, unknown> = { statusCode: status, error: error.name, message: error.message };
    if (error instanceof SessionLostError) body.mayHaveRun = error.mayHaveRun;
    this.adapterHost.httpAdapter.reply(host.switchToHttp().getResponse(), body, status);
  }
}
