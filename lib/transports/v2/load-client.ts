import { McpPoolConfigError } from '../../core/errors';

/** The optional peer the `'auto'` and `'modern'` protocols run on. */
export const V2_CLIENT_PACKAGE = '@modelcontextprotocol/client';

export type V2ClientModule = typeof import('@modelcontextprotocol/client');
export type V2StdioModule = typeof import('@modelcontextprotocol/client/stdio');

let loaded: V2ClientModule | undefined;

/**
 * Loads the v2 MCP client when a pool first needs it (a pool with `protocol: 'auto'` or `'modern'`), never
 * when this package is imported: a program that only speaks the 2025 era need not install it. Node caches
 * the module; only the first call reads it.
 *
 * If it is not installed, throws an {@link McpPoolConfigError} for `poolName` (field `protocol`) that names
 * the `npm install` line, instead of Node's bare "Cannot find module".
 */
export function loadV2Client(poolName: string, protocol: string): V2ClientModule {
  if (loaded) return loaded;
  try {
    // Plain require() on purpose (see lib/nest/load-validation.ts): an import would load it with this file.
    loaded = require(V2_CLIENT_PACKAGE) as V2ClientModule;
    return loaded;
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'MODULE_NOT_FOUND') throw error;
    throw new McpPoolConfigError(poolName, [
      {
        field: 'protocol',
        message:
          `is ${JSON.stringify(protocol)}, which runs on the v2 MCP client, and ${V2_CLIENT_PACKAGE} is not installed; ` +
          `run: npm install ${V2_CLIENT_PACKAGE} (or set protocol: 'legacy' to stay on the 2025 era with @modelcontextprotocol/sdk)`,
      },
    ]);
  }
}

/** The v2 client's stdio transport (a subpath of the same package). */
export function loadV2Stdio(poolName: string, protocol: string): V2StdioModule {
  loadV2Client(poolName, protocol);
  return require(`${V2_CLIENT_PACKAGE}/stdio`) as V2StdioModule;
}
