// Starts the sample: `npm start` from the repository root (which builds the library and this sample first),
// or `node sample/dist/main.js` once built. See docs/sample.md.
import { Logger, type INestApplication } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { McpPoolRegistry } from 'nestjs-mcp-pool';
import { AppModule } from './app.module';
import { HTTP_POOL, MODERN_POOL, STDIO_POOL } from './mcp-pools';

const logger = new Logger('Sample');

/** Where each pool points, and curl lines to try (demo tools only when the demo servers are in use). */
function describe(app: INestApplication, url: string): string {
  const config = app.get(ConfigService);
  const pools = app.get(McpPoolRegistry);
  const httpDemo = !config.get<string>('MCP_HTTP_URL');
  const stdioDemo = !config.get<string>('MCP_STDIO_COMMAND');
  const modernDemo = !config.get<string>('MCP_MODERN_URL');
  const modern = pools.get(MODERN_POOL);
  const http = pools.get(HTTP_POOL).options;
  const stdio = pools.get(STDIO_POOL).options;
  const json = `-H 'content-type: application/json'`;
  const lines = [
    `pool "${HTTP_POOL}":  ${httpDemo ? 'the embedded demo server, ' : ''}${String(http.endpoint)}${httpDemo ? ' (set MCP_HTTP_URL to use another server)' : ''}`,
    `pool "${STDIO_POOL}": ${stdioDemo ? 'the embedded demo server, ' : ''}${[stdio.command, ...stdio.args].join(' ')}${stdioDemo ? ' (set MCP_STDIO_COMMAND to use another server)' : ''}`,
    `pool "${MODERN_POOL}": ${modernDemo ? 'the embedded 2026-07-28-only demo server, ' : ''}${String(modern.options.endpoint)}, protocol '${modern.options.protocol}' (speaking ${modern.protocolEra ?? 'not yet known'})${modernDemo ? ' (set MCP_MODERN_URL to use another server)' : ''}`,
    'Try:',
    `  curl ${url}/health`,
    `  curl ${url}/tools`,
    httpDemo
      ? `  curl -X POST ${url}/tools/${HTTP_POOL}/add ${json} -d '{"a": 2, "b": 3}'`
      : `  curl -X POST ${url}/tools/${HTTP_POOL}/<tool> ${json} -d '{...arguments}'`,
    httpDemo
      ? `  curl -X POST ${url}/tools/${HTTP_POOL}/server_info -H 'x-request-id: my-request-1'`
      : `  curl -X POST ${url}/tools/${HTTP_POOL}/<tool> -H 'x-request-id: my-request-1' ${json} -d '{...}'`,
    stdioDemo
      ? `  curl -X POST ${url}/tools/${STDIO_POOL}/echo ${json} -d '{"text": "hello"}'`
      : `  curl -X POST ${url}/tools/${STDIO_POOL}/<tool> ${json} -d '{...arguments}'`,
    modernDemo
      ? `  curl -X POST ${url}/tools/${MODERN_POOL}/server_info -H 'x-request-id: my-request-2'`
      : `  curl -X POST ${url}/tools/${MODERN_POOL}/<tool> ${json} -d '{...arguments}'`,
    `  curl ${url}/metrics`,
    `  curl ${url}/metrics/json`,
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  const app = await NestFactory.create(AppModule);
  const config = app.get(ConfigService);

  // On SIGTERM or SIGINT (Ctrl-C): app.close() closes the HTTP server once the requests in flight are
  // answered (KeepAliveCloser ends their keep-alive connections), then the pools drain and close every MCP
  // session and child process, and Node exits by itself with code 0. Not app.enableShutdownHooks(): it
  // re-raises the signal once done, so the exit status would say "killed" after a clean stop. Run as
  // `node sample/dist/main.js` under a process manager: npm does not pass SIGTERM on (docs/sample.md).
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return; // Ctrl-C reaches both npm and this process: one stop is enough
    stopping = true;
    logger.log(`${signal}: shutting down`);
    app.close().then(
      () => {
        logger.log('stopped');
        // Nothing of ours should keep Node alive now; if something does, say what and give up.
        setTimeout(() => {
          logger.error(`still running 10 s after shutdown: ${process.getActiveResourcesInfo().join(', ')}`);
          process.exit(1);
        }, 10_000).unref();
      },
      (error: unknown) => {
        logger.error(`shutdown failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  await app.listen(Number(config.get('PORT', 3000)), config.get<string>('HOST', '127.0.0.1'));
  const url = (await app.getUrl()).replace('[::1]', 'localhost');
  logger.log(`Listening on ${url} (pid ${process.pid})\n${describe(app, url)}`);
}

main().catch((error: unknown) => {
  logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
