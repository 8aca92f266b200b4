import { Inject, Injectable, Optional, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Observable } from 'rxjs';
import { runWithMcpHeaders } from '../context/request-context';
import { MCP_FORWARD_HEADERS } from './mcp-pool.constants';
import { McpPoolRegistry } from './mcp-pool.registry';
import { normalizeForwardHeaders, pickForwardedHeaders } from './forward-headers';

/**
 * Forwards an allow-list of the incoming request's headers (e.g. `x-request-id`, `traceparent`) to every
 * MCP call made while the request is handled, on every HTTP pool (a stdio pool has no HTTP request to
 * carry them, and ignores them). The headers travel in AsyncLocalStorage (`runWithMcpHeaders`), so
 * concurrent requests sharing one pooled session each send their own; no provider is REQUEST-scoped.
 *
 * The allow-list comes from `McpPoolModule.forwardHeaders([...])`, or is given to the constructor:
 *
 * ```ts
 * @UseInterceptors(McpHeadersInterceptor)                                   // per controller or route
 * { provide: APP_INTERCEPTOR, useClass: McpHeadersInterceptor }             // application-wide
 * @UseInterceptors(new McpHeadersInterceptor(['x-request-id']))             // explicit list
 * ```
 *
 * Identity headers (`authorization`, `cookie`) may be forwarded only through `McpPoolModule.forwardHeaders`,
 * and only if every HTTP pool partitions by them (`partitionBy`): each identity then gets sessions of its
 * own. Works on Express and Fastify; other contexts (RPC, WebSocket) pass through untouched. Header values
 * are never logged. Outside HTTP handlers, call `runWithMcpHeaders(headers, fn)` directly.
 */
@Injectable()
export class McpHeadersInterceptor implements NestInterceptor {
  private readonly allowList: readonly string[];

  constructor(
    @Optional() @Inject(MCP_FORWARD_HEADERS) allowList?: readonly string[],
    @Optional() @Inject(McpPoolRegistry) registry?: McpPoolRegistry,
  ) {
    if (!allowList) {
      throw new Error(
        'McpHeadersInterceptor has no header allow-list: import McpPoolModule.forwardHeaders([...]) in the root module, ' +
          'or use new McpHeadersInterceptor([...])',
      );
    }
    // Made by Nest (a registry is injected), the list is McpPoolModule.forwardHeaders', whose identity
    // headers the registry checked against every pool's partitionBy. A hand-made instance cannot be checked.
    this.allowList = normalizeForwardHeaders(allowList, registry !== undefined);
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<{ headers?: Record<string, string | string[] | undefined> } | undefined>();
    const headers = pickForwardedHeaders(request?.headers, this.allowList);
    if (!headers) return next.handle();
    // The handler runs when the inner observable is subscribed: subscribing inside the context makes
    // the whole handler (and every MCP call it makes) see the headers.
    return new Observable((subscriber) => runWithMcpHeaders(headers, () => next.handle().subscribe(subscriber)));
  }
}
