/**
 * `nestjs-mcp-pool/terminus`: the Terminus health indicator. A separate entry point, so that
 * `@nestjs/terminus` stays an optional peer dependency of the root entry.
 */
export { McpPoolHealthIndicator, type McpPoolHealthOptions } from './mcp-pool.health';
