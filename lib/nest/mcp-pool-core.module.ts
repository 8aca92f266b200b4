import { Global, Module } from '@nestjs/common';
import { McpPoolRegistry } from './mcp-pool.registry';

/**
 * Holds the {@link McpPoolRegistry} of the application. Imported by every `McpPoolModule` registration;
 * global, so the registry (and the Terminus indicator built on it) can be injected anywhere.
 */
@Global()
@Module({ providers: [McpPoolRegistry], exports: [McpPoolRegistry] })
export class McpPoolCoreModule {}
