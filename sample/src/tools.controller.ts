import {
  BadRequestException,
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  NotFoundException,
  Param,
  Post,
  Query,
  UnsupportedMediaTypeException,
  UseInterceptors,
} from '@nestjs/common';
import type { McpCallToolResult as CallToolResult, McpTool as Tool } from 'nestjs-mcp-pool';
import { errorMessage, InjectMcpPool, McpHeadersInterceptor, McpPool } from 'nestjs-mcp-pool';
import { HTTP_POOL, MODERN_POOL, STDIO_POOL } from './mcp-pools';

/** Whether the request has a body: a Content-Length above 0, or a Transfer-Encoding (chunked). */
function hasBody(headers: Record<string, string | undefined>): boolean {
  return Number(headers['content-length'] ?? 0) > 0 || headers['transfer-encoding'] !== undefined;
}

/** application/json, or a +json type (application/merge-patch+json…), with any parameters. */
const JSON_TYPE = /^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i;

/**
 * `GET /tools` and `POST /tools/:pool/:name`. The interceptor forwards the allow-listed headers of each
 * incoming request (`x-request-id`, see AppModule) to the MCP calls made while handling it, on HTTP pools.
 */
@Controller('tools')
@UseInterceptors(McpHeadersInterceptor)
export class ToolsController {
  private readonly pools: ReadonlyMap<string, McpPool>;

  constructor(@InjectMcpPool(HTTP_POOL) http: McpPool, @InjectMcpPool(STDIO_POOL) stdio: McpPool, @InjectMcpPool(MODERN_POOL) modern: McpPool) {
    this.pools = new Map([
      [HTTP_POOL, http],
      [STDIO_POOL, stdio],
      [MODERN_POOL, modern],
    ]);
  }

  /** The tools of each pool, from the pool's cache: `tools/list` reaches the server once per toolCacheTtlMs. */
  @Get()
  async list(): Promise<Record<string, { tools: Tool[] } | { error: string }>> {
    const entries = await Promise.all(
      [...this.pools].map(async ([name, pool]) => {
        try {
          return [name, { tools: await pool.listTools() }] as const;
        } catch (error) {
          return [name, { error: errorMessage(error) }] as const;
        }
      }),
    );
    return Object.fromEntries(entries);
  }

  /**
   * Calls tool `name` on pool `pool`, with the JSON body as its arguments (no body: none). `?timeoutMs=`
   * sets the call's deadline (default: the pool's callTimeoutMs); past it the call is cancelled on the server
   * and the answer is 504. A tool that fails answers `isError: true` in a 200 result (MCP's way); the pool's
   * own errors become HTTP errors (McpExceptionFilter, see AppModule). A body that is not JSON is refused
   * with 415: Express parses only JSON here, and would otherwise call the tool without the arguments sent.
   */
  @Post(':pool/:name')
  @HttpCode(200)
  call(
    @Param('pool') pool: string,
    @Param('name') name: string,
    @Headers() headers: Record<string, string | undefined>,
    @Body() args: unknown = {},
    @Query('timeoutMs') timeoutMs?: string,
  ): Promise<CallToolResult> {
    const target = this.pools.get(pool);
    if (!target) throw new NotFoundException(`no MCP pool named "${pool}" (pools: ${[...this.pools.keys()].join(', ')})`);
    if (hasBody(headers) && !JSON_TYPE.test(headers['content-type'] ?? ''))
      throw new UnsupportedMediaTypeException("the body must be JSON (content-type: application/json): the arguments of the tool");
    if (typeof args !== 'object' || args === null || Array.isArray(args))
      throw new BadRequestException('the body must be a JSON object: the arguments of the tool');
    if (timeoutMs !== undefined && !/^[1-9]\d*$/.test(timeoutMs)) throw new BadRequestException('timeoutMs must be a positive integer');
    return target.callTool(name, args as Record<string, unknown>, timeoutMs ? { timeoutMs: Number(timeoutMs) } : undefined);
  }
}
