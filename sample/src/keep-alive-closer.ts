import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';

/**
 * Lets the HTTP server's close end as soon as the requests in flight are answered. Without it, Nest's
 * HTTP-server close (which comes before the pools drain, in onApplicationShutdown) also waits for the
 * keep-alive connections of the clients whose requests were in flight: Node keeps each open until the
 * server's keepAliveTimeout, 5 s on Express and 72 s on Fastify. Once shutdown begins, every response not yet
 * started says `Connection: close`, and every connection is closed as soon as it is idle. Unlike Nest's
 * `forceCloseConnections`, which destroys every socket, no request in flight is cut off.
 *
 * Works on Express and Fastify (both serve from a Node `http.Server`). Nothing here is specific to MCP:
 * copy it into your application (docs/nest.md, "Shutting down in production").
 */
@Injectable()
export class KeepAliveCloser implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private server?: Server;
  private closing = false;
  /** Responses whose headers may not be sent yet. */
  private readonly pending = new Set<ServerResponse>();

  constructor(@Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost) {}

  onApplicationBootstrap(): void {
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    if (!server) return; // an application context without HTTP
    this.server = server;
    server.on('request', (_request: IncomingMessage, response: ServerResponse) => {
      if (this.closing) response.shouldKeepAlive = false; // arrived on a kept-alive connection meanwhile
      this.pending.add(response);
      response.once('close', () => this.pending.delete(response));
      // Node marks the connection idle on 'finish' before this listener runs: close it now if it stays open.
      response.once('finish', () => {
        if (this.closing) server.closeIdleConnections();
      });
    });
  }

  beforeApplicationShutdown(): void {
    if (!this.server) return;
    this.closing = true;
    for (const response of this.pending) if (!response.headersSent) response.shouldKeepAlive = false;
    this.server.closeIdleConnections();
  }
}
