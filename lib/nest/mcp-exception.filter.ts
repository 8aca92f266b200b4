import { Catch, Inject, Optional, type ArgumentsHost, type HttpServer } from '@nestjs/common';
import { BaseExceptionFilter, HttpAdapterHost } from '@nestjs/core';
import { toMcpHttpError } from './mcp-http-error';

/**
 * Answers the pool's typed errors, and the MCP server's JSON-RPC errors, with the HTTP status that says what
 * happened (504 timeout; 503 unavailable, exhausted or closed, with `Retry-After` where known; 502 session
 * lost; 429 rate limited; 401/403 refused credentials — the table is {@link toMcpHttpError}'s) and a body
 * `{ statusCode, error, message }`. Everything else goes on to Nest's own handling, as without the filter
 * (HttpExceptions as usual; unknown errors a logged 500). The answers it sends are not logged: they are
 * expected conditions, counted in the pool's metrics.
 *
 * Works on Express and Fastify. Register it for the whole application
 * (`{ provide: APP_FILTER, useClass: McpExceptionFilter }`, or
 * `app.useGlobalFilters(new McpExceptionFilter(app.get(HttpAdapterHost)))`), or on a controller
 * (`@UseFilters(McpExceptionFilter)`).
 */
@Catch()
export class McpExceptionFilter extends BaseExceptionFilter {
  constructor(@Optional() @Inject(HttpAdapterHost) adapterHost?: HttpAdapterHost) {
    super(adapterHost?.httpAdapter);
  }

  override catch(error: unknown, host: ArgumentsHost): void {
    const answer = host.getType() === 'http' ? toMcpHttpError(error) : undefined;
    const adapter: HttpServer | undefined = this.applicationRef ?? this.httpAdapterHost?.httpAdapter;
    if (!answer || !adapter) return super.catch(error, host);
    const response: unknown = host.switchToHttp().getResponse();
    // A streamed answer that already started cannot get a status any more: end it, as Nest does.
    if (adapter.isHeadersSent(response)) return void adapter.end(response);
    if (answer.retryAfterSeconds !== undefined) adapter.setHeader(response, 'Retry-After', String(answer.retryAfterSeconds));
    adapter.reply(response, answer.body, answer.status);
  }
}
