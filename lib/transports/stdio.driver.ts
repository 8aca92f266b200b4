import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CreateSessionContext, DriverSession, ErrorVerdict, SessionDriver } from '../core/driver';
import { classifyCommon } from './error-classification';
import { SdkSession, buildSdkClient } from './sdk-client';
import { ProcessGroupStdioTransport } from './process-group-stdio.transport';

export interface StdioDriverOptions {
  command: string;
  args: readonly string[];
  env?: Readonly<Record<string, string>>;
  cwd?: string;
  /** `'pipe'`: each line of the child's stderr goes to `log` (read to the end, so the child never blocks on it). */
  stderr: 'inherit' | 'ignore' | 'pipe';
  /** Where piped stderr lines go. */
  log?: (level: 'debug' | 'log' | 'warn' | 'error', message: string) => void;
  /** How long to wait for the child to exit after SIGKILL before giving up waiting. Default 2000. */
  killWaitMs?: number;
}

/**
 * stdio sessions: one child process per session, in a process group of its own (see
 * ProcessGroupStdioTransport). The session dies when the child exits; closing ends stdin, then SIGTERMs,
 * then SIGKILLs the group (the SDK's sequence, for the whole group), and then we make sure the child is gone.
 */
export class StdioDriver implements SessionDriver {
  readonly kind = 'stdio';
  readonly supportsHeaders = false;

  constructor(private readonly opts: StdioDriverOptions) {}

  async create(ctx: CreateSessionContext): Promise<DriverSession> {
    const transport = childTransport(this.opts);
    const client = buildSdkClient(ctx.client);
    const session = new StdioSession(client, transport, this.opts.killWaitMs ?? 2000);
    try {
      await client.connect(transport, { signal: ctx.signal, timeout: ctx.timeoutMs });
    } catch (error) {
      await session.close();
      throw error;
    }
    return session;
  }

  classify(error: unknown): ErrorVerdict {
    return classifyCommon(error) ?? { kind: 'call' };
  }
}

class StdioSession extends SdkSession implements DriverSession {
  readonly remoteId = undefined;
  private closing = false;
  private readonly exited: Promise<void>;
  private markExited!: () => void;

  constructor(
    client: Client,
    private readonly transport: ProcessGroupStdioTransport,
    private readonly killWaitMs: number,
  ) {
    super(client);
    this.exited = new Promise((resolve) => (this.markExited = resolve));
    // onclose comes when the child's stdio closes (the process's 'close' event).
    client.onclose = () => {
      this.markExited();
      if (!this.closing) this.onDied?.(new Error('the MCP server process exited'));
    };
  }

  get pid(): number | undefined {
    return this.transport.pid ?? undefined;
  }

  async close(): Promise<void> {
    if (this.closing) return this.exited;
    this.closing = true;
    const pid = this.transport.pid;
    await this.client.close().catch(() => undefined);
    // The transport's close waited for the group; should the leader still be there, make sure it is not.
    if (pid && isAlive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      const deadline = Date.now() + this.killWaitMs;
      while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    }
    this.markExited();
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The transport of one session's child, as both stdio drivers (SDK 1.x and v2) start it. */
export function childTransport(opts: Omit<StdioDriverOptions, 'killWaitMs'>): ProcessGroupStdioTransport {
  const log = opts.log;
  const name = opts.command.split('/').pop();
  return new ProcessGroupStdioTransport({
    command: opts.command,
    args: opts.args,
    env: opts.env,
    cwd: opts.cwd,
    stderr: opts.stderr,
    onStderrLine: log ? (line) => log('log', `stderr of ${name}: ${line}`) : undefined,
  });
}
