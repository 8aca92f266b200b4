#!/usr/bin/env node
'use strict';
// A stdio MCP server for the stdio benchmark: the shared demo tools (sleep, echo, ...) plus `spin` {ms},
// which burns ms milliseconds of CPU time. With MCP_FIXTURE_SERIAL=1 every tool call runs one at a
// time, like a single-threaded backend (the same serial queue as test/fixtures/stdio-server.cjs).
// Plain CommonJS, run by plain `node`, so that a session starts as fast as the fixture's.
const { McpServer } = require('@modelcontextprotocol/sdk/server/mcp.js');
const { StdioServerTransport } = require('@modelcontextprotocol/sdk/server/stdio.js');
const z = require('zod');
const { Recorder, registerDemoTools, createSerialQueue } = require('../../test/fixtures/demo-tools.cjs');

async function main() {
  const server = new McpServer({ name: 'bench-stdio-cpu', version: '1.0.0' });
  const queue = process.env.MCP_FIXTURE_SERIAL === '1' ? createSerialQueue() : undefined;
  const rec = new Recorder();
  registerDemoTools(server, rec, { queue });
  // The recorder logs every call; this server lives only as long as a benchmark, but keep it small anyway.
  setInterval(() => rec.reset(), 1000).unref();
  server.registerTool(
    'spin',
    { description: 'Busy-waits ms milliseconds of CPU.', inputSchema: { ms: z.number().nonnegative() } },
    async ({ ms }) => {
      // Burns `ms` of this process's CPU time (not of wall time: a process that is descheduled mid-spin
      // must not finish early, or more processes than cores would look faster than the cores allow).
      const run = async () => {
        const cpu = () => {
          const u = process.cpuUsage();
          return u.user + u.system;
        };
        const end = cpu() + ms * 1000;
        let x = 0;
        while (cpu() < end) x++;
        return { content: [{ type: 'text', text: String(x > 0) }] };
      };
      return queue ? queue.run(run) : run();
    },
  );
  process.stdin.on('end', () => process.exit(0));
  await server.connect(new StdioServerTransport());
}

main().catch((err) => {
  process.stderr.write(`stdio-cpu-server: ${err && err.stack ? err.stack : String(err)}\n`);
  process.exit(1);
});
