// The demo MCP server over stdio: the stdio pool runs `node stdio-server.js`, one child process per session.
// stdout carries the protocol; anything else must go to stderr.
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { createDemoServer } from './demo-server';

const server = createDemoServer('stdio');

// The client ends a session by closing our stdin: stop then, rather than linger.
process.stdin.once('end', () => void server.close());

server.connect(new StdioServerTransport()).catch((error: unknown) => {
  process.stderr.write(`demo stdio server: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
