/**
 * A small TCP proxy that adds a fixed one-way latency in each direction, to run the HTTP benchmark as if
 * the MCP server were some milliseconds away. Loopback only, and bounded:
 *
 * - it listens on 127.0.0.1 and only forwards to 127.0.0.1;
 * - at most `maxConnections` connections (further ones are refused by the listener);
 * - each direction buffers at most `maxBufferedBytes` in flight; above that the source socket is paused
 *   (TCP back-pressure), so a fast sender cannot grow the proxy's memory;
 * - one timer per direction, not one per chunk: chunks leave in arrival order once their time is due.
 *
 * A new connection also pays one round trip before its first bytes are forwarded, standing in for the
 * TCP handshake that a real remote server would cost (on loopback the handshake itself is free).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface DelayProxyOptions {
  /** Port of the upstream server on 127.0.0.1. */
  targetPort: number;
  /** Latency added to every chunk in each direction (ms). Round trip = 2 × this. */
  oneWayDelayMs: number;
  /** Charge one round trip to each new connection (models the TCP handshake). Default true. */
  handshakeRoundTrip?: boolean;
  maxConnections?: number;
  maxBufferedBytes?: number;
}

export interface DelayProxyStats {
  connections: number;
  bytesForwarded: number;
}

export class DelayProxy {
  readonly stats: DelayProxyStats = { connections: 0, bytesForwarded: 0 };
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly pipes = new Set<DelayedPipe>();

  constructor(private readonly opts: DelayProxyOptions) {}

  /** Starts listening on 127.0.0.1 (a free port); returns the port. */
  async listen(): Promise<number> {
    const { targetPort, oneWayDelayMs } = this.opts;
    const maxBuffered = this.opts.maxBufferedBytes ?? 4 * 1024 * 1024;
    const server = createServer({ noDelay: true }, (client) => {
      this.stats.connections++;
      const establishedAt = performance.now() + (this.opts.handshakeRoundTrip === false ? 0 : 2 * oneWayDelayMs);
      const upstream = connect({ host: '127.0.0.1', port: targetPort, noDelay: true });
      const all = [client, upstream];
      for (const s of all) {
        this.sockets.add(s);
        s.once('close', () => this.sockets.delete(s));
        // Either side failing ends the pair; errors are expected when a peer resets.
        s.on('error', () => undefined);
        s.once('close', () => {
          for (const o of all) o.destroy();
        });
      }
      const up = new DelayedPipe(client, upstream, oneWayDelayMs, establishedAt, maxBuffered, this.stats);
      const down = new DelayedPipe(upstream, client, oneWayDelayMs, 0, maxBuffered, this.stats);
      this.pipes.add(up).add(down);
      client.once('close', () => {
        this.pipes.delete(up);
        this.pipes.delete(down);
        up.dispose();
        down.dispose();
      });
    });
    server.maxConnections = this.opts.maxConnections ?? 2048;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  /** Stops listening and destroys every connection and pending timer. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const p of this.pipes) p.dispose();
    this.pipes.clear();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** One direction: chunks from `src` reach `dst` `delayMs` after they arrived (never before `notBefore`). */
class DelayedPipe {
  private readonly queue: Array<{ at: number; chunk: Buffer }> = [];
  private head = 0;
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private ended = false;
  private paused = false;

  constructor(
    private readonly src: Socket,
    private readonly dst: Socket,
    private readonly delayMs: number,
    private readonly notBefore: number,
    private readonly maxBuffered: number,
    private readonly stats: DelayProxyStats,
  ) {
    src.on('data', (chunk: Buffer) => {
      const now = performance.now();
      this.queue.push({ at: Math.max(now, this.notBefore) + this.delayMs, chunk });
      this.queuedBytes += chunk.length;
      if (this.queuedBytes > this.maxBuffered && !this.paused) {
        this.paused = true;
        src.pause();
      }
      this.schedule();
    });
    src.once('end', () => {
      this.ended = true;
      this.schedule();
    });
    dst.on('drain', () => this.maybeResume());
  }

  private schedule(): void {
    if (this.timer) return;
    if (this.head >= this.queue.length) {
      if (this.ended && !this.dst.destroyed) this.dst.end();
      return;
    }
    const wait = this.queue[this.head]!.at - performance.now();
    this.timer = setTimeout(() => this.flush(), Math.max(0, wait));
  }

  private flush(): void {
    this.timer = undefined;
    const now = performance.now() + 0.5; // setTimeout has ~1 ms granularity: send what is due within it
    while (this.head < this.queue.length && this.queue[this.head]!.at <= now) {
      const { chunk } = this.queue[this.head]!;
      this.queue[this.head++] = undefined as never;
      this.queuedBytes -= chunk.length;
      this.stats.bytesForwarded += chunk.length;
      if (!this.dst.destroyed) this.dst.write(chunk);
    }
    if (!this.paused && this.dst.writableLength > this.maxBuffered) {
      this.paused = true;
      this.src.pause();
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    this.maybeResume();
    this.schedule();
  }

  private maybeResume(): void {
    if (this.paused && this.queuedBytes <= this.maxBuffered / 2 && this.dst.writableLength < this.maxBuffered) {
      this.paused = false;
      this.src.resume();
    }
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    this.head = 0;
  }
}
