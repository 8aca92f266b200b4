import { Module, type DynamicModule } from '@nestjs/common';
import { MCP_FORWARD_HEADERS, getMcpPoolGroupToken } from './mcp-pool.constants';
import { McpPoolRegistry } from './mcp-pool.registry';
import { McpPoolGroup, type McpPoolGroupStrategy } from '../core/pool-group';
import { McpPoolCoreModule } from './mcp-pool-core.module';
import { normalizeForwardHeaders } from './forward-headers';
import { ConfigurableModuleClass } from './mcp-pool.module-definition';

/** Holds the header allow-list of {@link McpHeadersInterceptor} (see `McpPoolModule.forwardHeaders`). */
@Module({})
class McpForwardHeadersModule {}

/** Holds one pool group registration (see `McpPoolModule.forGroup`). */
@Module({})
class McpPoolGroupModule {}

/** Options of `McpPoolModule.forGroup`. */
export interface McpPoolGroupRegistration {
  /** Name of the group: its injection token and its name in health reports. */
  name: string;
  /** Names of the pools (registered with forRoot/forRootAsync anywhere in the app), in priority order. */
  pools: readonly string[];
  /** Default `'failover'`. */
  strategy?: McpPoolGroupStrategy;
  /** Injectable everywhere (default false: where this registration is imported). */
  isGlobal?: boolean;
}

/**
 * Registers MCP pools in a Nest application.
 *
 * - `McpPoolModule.forRoot({ name, isGlobal, ...options })` registers one pool; several calls register
 *   several pools (each name once).
 * - `McpPoolModule.forRootAsync({ name, isGlobal, imports, inject, useFactory | useClass | useExisting })`
 *   does the same with options resolved through DI (e.g. `ConfigService`, or `...config.asProvider()`
 *   of a `registerAs` namespace). `useClass`/`useExisting` classes implement `createMcpPoolOptions()`.
 * - `McpPoolModule.forGroup({ name, pools: ['a', 'b'], strategy })` uses registered pools as one
 *   {@link McpPoolGroup} (failover, round robin, least busy), injectable with `@InjectMcpPoolGroup(name)`.
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
  static forGroup(registration: McpPoolGroupRegistration): DynamicModule {
    const token = getMcpPoolGroupToken(registration.name);
    const members = [...registration.pools];
    return {
      module: McpPoolGroupModule,
      global: registration.isGlobal ?? false,
      imports: [McpPoolCoreModule],
      providers: [
        {
          provide: token,
          inject: [McpPoolRegistry],
          useFactory: (registry: McpPoolRegistry) => {
            // Member pools may be registered by any module: they are looked up on first use, and checked
            // when the application starts.
            const group = new McpPoolGroup({
              name: registration.name,
              strategy: registration.strategy,
              pools: () => members.map((m) => registry.get(m)),
            });
            registry.addGroup(group, members);
            return group;
          },
        },
      ],
      exports: [token],
    };
  }

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
