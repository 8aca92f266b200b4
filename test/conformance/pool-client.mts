// pool-client.ts as an ES module app (`node --import tsx test/conformance/pool-client.mts <server-url>`): it
// imports the built package by its name (`nestjs-mcp-pool`, a CommonJS package, through its `exports`), and
// the SDK as ESM, which loads the SDK's ESM build, another copy of its classes than the one the package uses.
// That is the point: the error checks must work for an ESM consumer. The agent is the same as pool-client.ts's.
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { McpAuthError, McpPool } from 'nestjs-mcp-pool';
import { configFromEnvironment, describe, log, poolOptionsFor, providerFor, runAgent } from './general-client.js';

/**
 * The library's auth error works with `instanceof` (one copy of the package). The SDK's UnauthorizedError,
 * which the pool passes through while its authProvider waits for the user, is the CommonJS build's class
 * here: `instanceof` on the ESM build's class misses it, so it is recognised by its class name as well.
 */
function isAuthError(error: unknown): boolean {
  if (error instanceof McpAuthError || error instanceof UnauthorizedError) return true;
  if (error instanceof Error && error.constructor.name === 'UnauthorizedError') {
    log('(an SDK UnauthorizedError of another module copy: recognised by class name, not instanceof)');
    return true;
  }
  return false;
}

const config = configFromEnvironment(process.argv, process.env);
const provider = providerFor(config);
const pool = new McpPool(poolOptionsFor(config, provider));

try {
  process.exitCode = await runAgent(
    {
      connect: () => pool.start(),
      listTools: () => pool.listTools(),
      callTool: (name, args) => pool.callTool(name, args),
      finishAuth: (code) => pool.finishAuth(code),
      isAuthError,
      close: () => pool.shutdown(),
    },
    provider,
  );
  setTimeout(() => {
    process.stderr.write(`conformance-client: still running 2 s after shutdown; open resources: ${process.getActiveResourcesInfo().join(', ')}\n`);
    process.exit(3);
  }, 2000).unref();
} catch (error) {
  process.stderr.write(`conformance-client: ${describe(error)}\n${error instanceof Error ? error.stack : ''}\n`);
  process.exit(1);
}
