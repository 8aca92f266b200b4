import { Inject } from '@nestjs/common';
import { getMcpPoolGroupToken, getMcpPoolToken } from './mcp-pool.constants';

/**
 * Injects the pool registered under `name` (default `'default'`).
 *
 * ```ts
 * constructor(@InjectMcpPool('github') private readonly github: McpPool) {}
 * ```
 */
export function InjectMcpPool(name?: string): PropertyDecorator & ParameterDecorator {
  return Inject(getMcpPoolToken(name));
}

/**
 * Injects the pool group registered with `McpPoolModule.forGroup({ name })`.
 *
 * ```ts
 * constructor(@InjectMcpPoolGroup('search') private readonly search: McpPoolGroup) {}
 * ```
 */
export function InjectMcpPoolGroup(name: string): PropertyDecorator & ParameterDecorator {
  return Inject(getMcpPoolGroupToken(name));
}
