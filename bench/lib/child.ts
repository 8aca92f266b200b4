/**
 * Helper processes for the benchmarks (the MCP server under test, the delay proxy), driven over Node's
 * IPC channel. A child runs in its own process so that its CPU time does not count as the client's, and
 * it exits by itself when its parent goes away.
 */
import { fork, type ChildProcess } from 'node:child_process';

type Handler = (params: any) => unknown;

interface RpcRequest {
  id: number;
  method: string;
  params?: unknown;
}
interface RpcResponse {
  id: number;
  result?: unknown;
  error?: string;
}

/** Child side: answers requests with `handlers`; `close` is always available and exits the process after. */
export function serveRpc(handlers: Record<string, Handler>, onClose: () => Promise<void>, ready: unknown): void {
  const send = (msg: unknown) => process.send?.(msg);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= onClose().catch(() => undefined));
  process.on('message', (msg: RpcRequest) => {
    if (msg.method === 'close') {
      void close().then(() => {
        send({ id: msg.id, result: true });
        process.disconnect?.();
      });
      return;
    }
    const handler = handlers[msg.method];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown method ${msg.method}`);
        return handler(msg.params);
      })
      .then(
        (result) => send({ id: msg.id, result } satisfies RpcResponse),
        (error: unknown) => send({ id: msg.id, error: String((error as Error)?.stack ?? error) } satisfies RpcResponse),
      );
  });
  // Parent gone (or done with us): clean up and leave.
  process.on('disconnect', () => void close().then(() => process.exit(0)));
  send({ ready });
}

/** Parent side. */
export class ChildHandle<Ready = unknown> {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  private exited: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    readonly ready: Ready,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.on('message', (msg: RpcResponse) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error !== undefined) p.reject(new Error(msg.error));
      else p.resolve(msg.result);
    });
    child.once('exit', (code, signal) => {
      for (const p of this.pending.values()) p.reject(new Error(`child exited (${code ?? signal})`));
      this.pending.clear();
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Forks `script` (a .ts file, run through the same tsx loader as this process) and waits for it to be ready. */
  static async start<R>(script: string, args: string[] = [], env?: Record<string, string>): Promise<ChildHandle<R>> {
    const child = fork(script, args, {
      execArgv: process.execArgv.filter((a) => !a.startsWith('--max-old-space-size')),
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const ready = await new Promise<R>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`${script} exited with ${code} before it was ready`));
      child.once('exit', onExit);
      child.once('message', (msg: { ready: R }) => {
        child.off('exit', onExit);
        resolve(msg.ready);
      });
    });
    return new ChildHandle<R>(child, ready);
  }

  call<T = unknown>(method: string, params?: unknown): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, method, params } satisfies RpcRequest);
    });
  }

  /** Asks the child to clean up and exit; kills it if it has not exited within `timeoutMs`. */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.call('close').catch(() => undefined).then(() => this.exited),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}
