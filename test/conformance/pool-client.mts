// pool-client.ts as an ES module app (`node --import tsx test/conformance/pool-client.mts <server-url>`): it
// imports the built package by its name (`nestjs-mcp-pool`, a CommonJS package, through its `exports`), and
// nothing of the SDK: the error checks must work for an ESM consumer, whose SDK classes (the ESM build)
// differ from the ones the package loads. The agent is the same as pool-client.ts's.
import { McpAuthError, McpPool } from 'nestjs-mcp-pool';
import { configFromEnvironment, describe, poolOptionsFor, providerFor, runAgent } from './general-client.js';

/**
 * The library's auth error, with `instanceof`, exactly as the docs say: the pool hands callers only its own
 * error classes (one copy, whatever the module format), McpAuthorizationRequiredError (a McpAuthError)
 * included when the authProvider waits for the user. No SDK class and no name check is needed.
 */
function isAuthError(error: unknown): boolean {
  return error instanceof McpAuthError;
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
      finishAuth: (code, iss) => pool.finishAuth(code, iss),
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
