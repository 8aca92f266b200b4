// The general conformance client through an McpPool, as a CommonJS app (`node --require tsx/cjs
// test/conformance/pool-client.ts <server-url>`; the conformance CLI appends the URL). Its ESM twin is
// pool-client.mts; the plain SDK client doing the same steps is sdk-client.ts. The agent (general-client.ts)
// is the same for every scenario; this file only builds the pool and says which errors ask for credentials.
// The framework-free entry (`nestjs-mcp-pool/core`), from source: the package index would also load the Nest
// layer, which this program does not use and which doubles the start-up cost of each client process.
import { McpAuthError, McpPool } from '../../lib/standalone';
import { configFromEnvironment, describe, log, poolOptionsFor, providerFor, runAgent } from './general-client';

async function main(): Promise<number> {
  const config = configFromEnvironment(process.argv, process.env);
  const provider = providerFor(config);
  const pool = new McpPool(poolOptionsFor(config, provider));
  return runAgent(
    {
      connect: () => pool.start(),
      listTools: () => pool.listTools(),
      callTool: (name, args) => pool.callTool(name, args),
      finishAuth: (code, iss) => pool.finishAuth(code, iss),
      // The library's auth error: 401/403 refused, or McpAuthorizationRequiredError (a subclass) when the
      // authProvider waits for the user. No SDK error class is needed.
      isAuthError: (error) => error instanceof McpAuthError,
      close: () => pool.shutdown(),
    },
    provider,
  );
}

main().then(
  (code) => {
    process.exitCode = code;
    // The pool is shut down: nothing of it may keep the process alive. If something does, say what and fail.
    setTimeout(() => {
      process.stderr.write(`conformance-client: still running 2 s after shutdown; open resources: ${process.getActiveResourcesInfo().join(', ')}\n`);
      process.exit(3);
    }, 2000).unref();
  },
  (error: unknown) => {
    process.stderr.write(`conformance-client: ${describe(error)}\n${error instanceof Error ? error.stack : ''}\n`);
    process.exit(1);
  },
);
