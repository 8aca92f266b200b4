import { createHash } from 'node:crypto';
import type { Client, PriorDiscovery } from '@modelcontextprotocol/client';
import type { CreateSessionContext, DriverSession, ErrorVerdict, McpProtocolOption, SessionDriver } from '../../core/driver';
import { childTransport, type StdioDriverOptions } from '../stdio.driver';
import { classifyV2Error } from './classify';
import { EraCache, sharedEraCache } from './era-cache';
import { loadV2Client, type V2ClientModule } from './load-client';
import { V2Session, buildV2Client, openListChanged } from './v2-session';

/** The child process is described as for the SDK 1.x stdio driver; plus the era to speak. */
export interface V2StdioDriverOptions extends Omit<StdioDriverOptions, 'killWaitMs'> {
  poolName: string;
  protocol: Exclude<McpProtocolOption, 'legacy'>;
  eraCache?: EraCache;
}

/**
 * stdio sessions on the v2 client: one child per session, in a process group of its own (the same
 * transport as the SDK 1.x stdio driver's, closed as a group).
 *
 * What `'auto'` does here: the v2 client probes its own `StdioClientTransport` on a short-lived sibling
 * child (one extra process per connect); on any other stdio-shaped transport, ours included, it probes in
 * place, on the session's own pipe (a 2025 server answers the unknown `server/discover` with an error, or
 * stays silent until the probe times out, and the client falls back to `initialize` on the same pipe). So
 * no extra child is ever spawned, and the verdict is cached per command line, working directory and
 * environment (a digest: the environment may hold secrets): later children connect with `prior`, without
 * a probe.
 */
export class V2StdioDriver implements SessionDriver {
  readonly kind = 'stdio';
  readonly supportsHeaders = false;
  private readonly mod: V2ClientModule;
  private readonly eras: EraCache;
  private readonly key: string;

  constructor(private readonly opts: V2StdioDriverOptions) {
    this.mod = loadV2Client(opts.poolName, opts.protocol);
    this.eras = opts.eraCache ?? sharedEraCache;
    const h = createHash('sha256').update(JSON.stringify([opts.command, opts.args, opts.cwd ?? '', Object.entries(opts.env ?? {}).sort()]));
    this.key = `stdio:${h.digest('base64url')}`;
  }

  async create(ctx: CreateSessionContext): Promise<DriverSession> {
    const cached = this.eras.get(this.key);
    const prior = cached?.kind === 'legacy' && this.opts.protocol === 'modern' ? undefined : cached;
    try {
      return await this.connect(ctx, prior);
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      if (prior !== undefined) {
        this.eras.delete(this.key);
        return this.connect(ctx, undefined);
      }
      // 'auto', no verdict yet, and the child died under the probe: the shape of a 2025 server whose SDK
      // exits on any request before initialize. One more child, straight to initialize; the verdict is kept.
      if (this.opts.protocol === 'auto' && this.classify(error, undefined).kind === 'session-fatal') return this.connect(ctx, { kind: 'legacy' });
      throw error;
    }
  }

  private async connect(ctx: CreateSessionContext, prior: PriorDiscovery | undefined): Promise<DriverSession> {
    const transport = childTransport(this.opts);
    const client: Client = buildV2Client(this.mod, ctx.client, this.opts.protocol);
    try {
      // The transport is the SDK 1.x Transport shape, which the v2 Transport interface accepts as is.
      await client.connect(transport as never, { signal: ctx.signal, timeout: ctx.timeoutMs, ...(prior ? { prior } : {}) });
    } catch (error) {
      await client.close().catch(() => undefined);
      await transport.close().catch(() => undefined);
      throw error;
    }
    const era = client.getProtocolEra() === 'modern' ? 'modern' : 'legacy';
    if (era === 'modern') {
      const discover = client.getDiscoverResult();
      if (discover && prior?.kind !== 'modern') this.eras.set(this.key, { kind: 'modern', discover });
    } else if (prior?.kind !== 'legacy') {
      this.eras.set(this.key, { kind: 'legacy' });
    }
    let subscription = era === 'modern' ? client.autoOpenedSubscription : undefined;
    if (era === 'modern' && !subscription && prior?.kind === 'modern') {
      try {
        subscription = await openListChanged(client, ctx);
      } catch (error) {
        await client.close().catch(() => undefined);
        throw error;
      }
    }
    // The child's exit closes the transport, and the client: the session dies (V2Session's onclose).
    return new V2Session(client, this.mod, era, () => undefined, () => transport.close(), subscription, () => transport.pid);
  }

  classify(error: unknown, session: DriverSession | undefined): ErrorVerdict {
    return classifyV2Error(this.mod, error, session);
  }
}
