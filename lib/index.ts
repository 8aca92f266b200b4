/**
 * nestjs-mcp-pool: warm, shared MCP client sessions. Everything of the core (also available without Nest
 * as `nestjs-mcp-pool/core`) plus the Nest module. The Terminus health indicator lives in
 * `nestjs-mcp-pool/terminus`.
 */
export * from './standalone';
// The Nest layer: McpPoolModule, @InjectMcpPool, McpPoolRegistry, McpHeadersInterceptor (nothing from @nestjs/terminus).
export * from './nest';
