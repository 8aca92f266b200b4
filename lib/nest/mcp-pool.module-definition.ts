import { ConfigurableModuleBuilder, type DynamicModule, type Provider } from '@nestjs/common';
import { McpPool } from '../mcp-pool';
import { DEFAULT_POOL_NAME } from '../core/options';
import { MCP_POOL_MODULE_OPTIONS, getMcpPoolToken } from './mcp-pool.constants';
import { McpPoolCoreModule } from './mcp-pool-core.module';
import type { McpPoolModuleExtras, McpPoolModuleOptions } from './mcp-pool-module-options.interface';
import { McpPoolRegistry } from './mcp-pool.registry';
import { validatePoolOptions } from './validate-pool-options';

/**
 * The provider of one registration's pool: validates the options (one error naming the pool and every
 * bad field), creates the pool and adds it to the application's registry. The registry starts it.
 */
function poolProvider(name: string): Provider {
  return {
    provide: getMcpPoolToken(name),
    inject: [MCP_POOL_MODULE_OPTIONS, McpPoolRegistry],
    useFactory: async (options: McpPoolModuleOptions, registry: McpPoolRegistry): Promise<McpPool> => {
      const pool = new McpPool(validatePoolOptions(name, options));
      registry.add(pool);
      // Registered after the application started (a lazy-loaded module): start it now.
      if (registry.isStarted) await pool.start();
      return pool;
    },
  };
}

// Only the class is exported: OPTIONS_TYPE and ASYNC_OPTIONS_TYPE would be emitted as inlined option types
// whose inferred SDK import paths do not resolve under moduleResolution node10.
export const { ConfigurableModuleClass } = new ConfigurableModuleBuilder<McpPoolModuleOptions>({
  optionsInjectionToken: MCP_POOL_MODULE_OPTIONS,
})
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createMcpPoolOptions')
  .setExtras<McpPoolModuleExtras>({ name: DEFAULT_POOL_NAME, isGlobal: false }, (definition, extras): DynamicModule => {
    const name = extras.name ?? DEFAULT_POOL_NAME;
    const token = getMcpPoolToken(name);
    return {
      ...definition,
      global: extras.isGlobal ?? false,
      imports: [...(definition.imports ?? []), McpPoolCoreModule],
      providers: [...(definition.providers ?? []), poolProvider(name)],
      exports: [token],
    };
  })
  .build();
