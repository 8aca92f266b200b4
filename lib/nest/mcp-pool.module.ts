import { Module, type DynamicModule } from '@nestjs/common';
import { MCP_FORWARD_HEADERS } from './mcp-pool.constants';
import { McpPoolCoreModule } from './mcp-pool-core.module';
import { normalizeForwardHeaders } from './forward-headers';
import { ConfigurableModuleClass } from './mcp-pool.module-definition';

/** Holds the header allow-list of {@link McpHeadersInterceptor} (see `McpPoolModule.forwardHeaders`). */
@Module({})
class McpForwardHeadersModule {}

/**
 * Registers MCP pools in a Nest application.
 *
 * - `McpPoolModule.forRoot({ name, isGlobal, ...options })` registers one pool; several calls register
 *   several pools (each name once).
 * - `McpPoolModule.forRootAsync({ name, isGlobal, imports, inject, useFactory | useClass | useExisting })`
 *   does the same with options resolved through DI (e.g. `ConfigService`, or `...config.asProvider()`
 *   of a `registerAs` namespace). `useClass`/`useExisting` classes implement `createMcpPoolOptions()`.
 * - `McpPoolModule.forwardHeaders(['x-request-id', 'traceparent'])` sets the allow-list of
 *   {@link McpHeadersInterceptor} for the whole application.
 *
 * Each pool is injectable with `@InjectMcpPool(name)` in the module that imports its registration (or
 * anywhere with `isGlobal: true`). The options are validated when the application boots; the pools start
 * in `onModuleInit` and drain and close when the application shuts down (see {@link McpPoolRegistry}).
 */
@Module({})
export class McpPoolModule extends ConfigurableModuleClass {
  /**
   * Makes {@link McpHeadersInterceptor} forward these incoming request headers (case-insensitive) to the
   * MCP calls made while handling each request, on every HTTP pool. Import it once, in the root module;
   * the allow-list is global. Protocol and hop-by-hop headers are refused. Identity headers
   * (`authorization`, `cookie`) are accepted only if every HTTP pool partitions by them (`partitionBy`),
   * checked at boot: on a shared session, one user's identity would reach other users' calls.
   */
  static forwardHeaders(headers: readonly string[]): DynamicModule {
    return {
      module: McpForwardHeadersModule,
      global: true,
      // The registry checks forwarded identity headers against every pool (and must exist for that).
      imports: [McpPoolCoreModule],
      providers: [{ provide: MCP_FORWARD_HEADERS, useValue: normalizeForwardHeaders(headers, true) }],
      exports: [MCP_FORWARD_HEADERS],
    };
  }
}
