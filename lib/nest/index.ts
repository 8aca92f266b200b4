export { McpPoolModule } from './mcp-pool.module';
export { McpPoolRegistry } from './mcp-pool.registry';
export { InjectMcpPool } from './inject-mcp-pool.decorator';
export { getMcpPoolToken } from './mcp-pool.constants';
export { McpHeadersInterceptor } from './mcp-headers.interceptor';
export type { McpPoolModuleOptions, McpPoolModuleExtras, McpPoolOptionsFactory } from './mcp-pool-module-options.interface';
