import { join } from 'node:path';
import { Injectable, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { McpPoolRegistry } from 'nestjs-mcp-pool';
import { startDemoHttpServer, type DemoHttpServer } from './demo-http-server';
import { startDemoModernServer, type DemoModernServer } from './demo-modern-server';

/**
 * The embedded demo MCP servers, used by a pool only when no other server is configured. The HTTP one runs
 * inside this process and starts on first use; the stdio one is a script the stdio pool runs as a child.
 */
@Injectable()
export class DemoServers implements OnApplicationShutdown {
  private readonly logger = new Logger('DemoServers');
  private http?: Promise<DemoHttpServer>;
  private modern?: Promise<DemoModernServer>;

  constructor(private readonly pools: McpPoolRegistry) {}

  /** The URL of the demo HTTP server, started on 127.0.0.1 (a free port) on the first call. */
  async httpUrl(): Promise<string> {
    this.http ??= startDemoHttpServer();
    const { url } = await this.http;
    this.logger.log(`demo MCP server listening on ${url}`);
    return url;
  }

  /** The URL of the demo 2026-07-28 server (stateless, modern-only), started on 127.0.0.1 on the first call. */
  async modernUrl(): Promise<string> {
    this.modern ??= startDemoModernServer();
    const { url } = await this.modern;
    this.logger.log(`demo MCP server (2026-07-28 only) listening on ${url}`);
    return url;
  }

  /** How to run the demo stdio server: this Node binary and the compiled script next to this file. */
  stdioCommand(): { command: string; args: string[] } {
    return { command: process.execPath, args: [join(__dirname, 'stdio-server.js')] };
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.http && !this.modern) return;
    // Nest runs this hook before the pool registry's own (global modules shut down last), but the pools must
    // end their sessions (an HTTP DELETE each) while this server still listens: wait for them first.
    // shutdown() is idempotent, so the registry's later call just finds the pools closed.
    await Promise.all(this.pools.all().map((pool) => pool.shutdown()));
    if (this.http) await (await this.http).close();
    if (this.modern) await (await this.modern).close();
  }
}

@Module({ providers: [DemoServers], exports: [DemoServers] })
export class DemoModule {}
