export { McpPoolModule, type McpPoolGroupRegistration } from './mcp-pool.module';
export { McpPoolRegistry } from './mcp-pool.registry';
export { InjectMcpPool, InjectMcpPoolGroup } from './inject-mcp-pool.decorator';
export { getMcpPoolToken, getMcpPoolGroupToken } from './mcp-pool.constants';
export { McpHeadersInterceptor } from './mcp-headers.interceptor';
export type { McpPoolModuleOptions, McpPoolModuleExtras, McpPoolOptionsFactory } from './mcp-pool-module-options.interface';
export { McpExceptionFilter } from './mcp-exception.filter';
export { toMcpHttpError, type McpHttpError } from './mcp-http-error';
