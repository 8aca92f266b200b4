/**
 * An MCP server in the same process, reached through the SDK's InMemoryTransport: the pool's own cost
 * shows without any network or child process in the way. The server has one `echo` tool (the same
 * schema as the test fixtures' echo) and records nothing, so it cannot grow with the number of calls.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { CreateSessionContext, DriverSession, ErrorVerdict, SessionDriver } from '../../lib';
import { SdkSession, buildSdkClient } from '../../lib/transports/sdk-client';

export function newEchoServer(): McpServer {
  const server = new McpServer({ name: 'bench-in-memory', version: '1.0.0' });
  server.registerTool('echo', { description: 'Returns its text argument.', inputSchema: { text: z.string() } }, async ({ text }) => ({
    content: [{ type: 'text', text }],
  }));
  return server;
}

export interface InMemorySession extends DriverSession {
  readonly client: Client;
  readonly server: McpServer;
}

/** An in-memory session on the built-in drivers' SDK 1.x request path. */
class InMemorySdkSession extends SdkSession implements InMemorySession {
  readonly remoteId = undefined;
  private closed = false;

  constructor(
    override readonly client: Client,
    readonly server: McpServer,
  ) {
    super(client);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.close().catch(() => undefined);
    await this.server.close().catch(() => undefined);
  }
}

/** Connects `client` to a fresh in-memory echo server. */
export async function connectInMemory(client: Client): Promise<InMemorySession> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const server = newEchoServer();
  await server.connect(serverSide);
  await client.connect(clientSide);
  return new InMemorySdkSession(client, server);
}

/** A bare SDK client on its own in-memory server (the baseline the pool is compared with). */
export async function bareInMemoryClient(): Promise<InMemorySession> {
  return connectInMemory(new Client({ name: 'bench-bare', version: '1.0.0' }));
}

/** The pool's driver for in-memory sessions; counts creations. */
export class InMemoryDriver implements SessionDriver {
  readonly kind = 'in_memory';
  readonly supportsHeaders = false;
  created = 0;

  async create(ctx: CreateSessionContext): Promise<DriverSession> {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    this.created++;
    return connectInMemory(buildSdkClient(ctx.client));
  }

  classify(): ErrorVerdict {
    return { kind: 'call' };
  }
}
