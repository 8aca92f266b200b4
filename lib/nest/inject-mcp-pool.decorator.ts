import { Inject } from '@nestjs/common';
import { getMcpPoolToken } from './mcp-pool.constants';

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
