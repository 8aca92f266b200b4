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

export function newEchoServer(): McpServer {
  const server = new McpServer({ name: 'bench-in-memory', version: '1.0.0' });
  server.registerTool('echo', { description: 'Returns its text argument.', inputSchema: { text: z.string() } }, async ({ text }) => ({
    content: [{ type: 'text', text }],
  }));
  return server;
}

export interface InMemorySession extends DriverSession {
  readonly server: McpServer;
}

/** Connects `client` to a fresh in-memory echo server. */
export async function connectInMemory(client: Client): Promise<InMemorySession> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const server = newEchoServer();
  await server.connect(serverSide);
  await client.connect(clientSide);
  let closed = false;
  return {
    client,
    server,
    remoteId: undefined,
    async close() {
      if (closed) return;
      closed = true;
      await client.close().catch(() => undefined);
      await server.close().catch(() => undefined);
    },
  };
}

/** A bare SDK client on its own in-memory server (the baseline the pool is compared with). */
export async function bareInMemoryClient(): Promise<InMemorySession> {
  return connectInMemory(new Client({ name: 'bench-bare', version: '1.0.0' }));
}

/** The pool's driver for in-memory sessions; counts creations. */
export class InMemoryDriver implements SessionDriver {
  readonly kind = 'in_memory';
  created = 0;

  async create(ctx: CreateSessionContext): Promise<DriverSession> {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    this.created++;
    return connectInMemory(ctx.newClient());
  }

  classify(): ErrorVerdict {
    return { kind: 'call' };
  }
}
