// The general conformance client on the plain v2 client (`@modelcontextprotocol/client`, no pool), with
// version negotiation on (`'auto'`): the same agent (general-client.ts) and OAuth provider as pool-client.ts.
// It is the reference the pool's 2026-07-28 counts are compared with (run-2026-07-28.ts).
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';
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
      connect: async () => {
        await client?.close().catch(() => undefined);
        client = new Client(
          { name: 'nestjs-mcp-pool-conformance-v2', version: '0.1.0' },
          { capabilities: { elicitation: { form: { applyDefaults: true } } }, versionNegotiation: { mode: 'auto' } },
        );
        client.setRequestHandler('elicitation/create', async (request) => {
          log(`elicitation: ${request.params.message}`);
          return elicitationAnswer('requestedSchema' in request.params ? request.params.requestedSchema : undefined) as never;
        });
        transport = new StreamableHTTPClientTransport(url, { authProvider: provider as never });
        await client.connect(transport);
      },
      listTools: async () => (await connected().listTools()).tools,
      callTool: async (name, args) => (await connected().callTool({ name, arguments: args })) as { content?: unknown; isError?: boolean },
      finishAuth: async (code, iss) => {
        if (!transport) throw new Error('no transport to finish the authorization on');
        await transport.finishAuth(code, iss);
      },
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
