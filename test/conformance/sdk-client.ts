// The general conformance client on the plain SDK (no pool): the same agent (general-client.ts) and the same
// OAuth provider as pool-client.ts, over one SDK Client and StreamableHTTPClientTransport. It is the
// reference the pool's counts are compared with: what the SDK alone gets with the same app logic.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { configFromEnvironment, describe, elicitationAnswer, log, providerFor, runAgent } from './general-client';

async function main(): Promise<number> {
  const config = configFromEnvironment(process.argv, process.env);
  const provider = providerFor(config);
  const url = new URL(config.serverUrl);
  let client: Client | undefined;
  let transport: StreamableHTTPClientTransport | undefined;
  const connected = (): Client => {
    if (!client) throw new Error('not connected');
    return client;
  };
  return runAgent(
    {
      // A transport is started once: connecting again (after an authorization) takes a new client and transport.
      connect: async () => {
        await client?.close().catch(() => undefined);
        client = new Client({ name: 'nestjs-mcp-pool-conformance-sdk', version: '0.1.0' }, { capabilities: { elicitation: { form: { applyDefaults: true } } } });
        client.setRequestHandler(ElicitRequestSchema, async (request) => {
          log(`elicitation: ${request.params.message}`);
          return elicitationAnswer('requestedSchema' in request.params ? request.params.requestedSchema : undefined);
        });
        transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
        await client.connect(transport);
      },
      listTools: async () => {
        const tools = [];
        let cursor: string | undefined;
        do {
          const page = await connected().listTools(cursor === undefined ? undefined : { cursor });
          tools.push(...page.tools);
          cursor = page.nextCursor;
        } while (cursor);
        return tools;
      },
      callTool: async (name, args) => (await connected().callTool({ name, arguments: args })) as { content?: unknown; isError?: boolean },
      finishAuth: async (code) => {
        if (!transport) throw new Error('no transport to finish the authorization on');
        await transport.finishAuth(code);
      },
      // The SDK's transport throws UnauthorizedError when the provider waits for the user.
      isAuthError: (error) => error instanceof UnauthorizedError,
      close: async () => {
        await transport?.terminateSession().catch(() => undefined);
        await client?.close().catch(() => undefined);
      },
    },
    provider,
  );
}

main().then(
  (code) => {
    process.exitCode = code;
    setTimeout(() => {
      process.stderr.write(`conformance-client: still running 2 s after close; open resources: ${process.getActiveResourcesInfo().join(', ')}\n`);
      process.exit(3);
    }, 2000).unref();
  },
  (error: unknown) => {
    process.stderr.write(`conformance-client: ${describe(error)}\n${error instanceof Error ? error.stack : ''}\n`);
    process.exit(1);
  },
);
