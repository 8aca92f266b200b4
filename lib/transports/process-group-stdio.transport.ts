import { spawn, type ChildProcess } from 'node:child_process';
import { getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { drainLines } from './stderr-lines';

export interface ProcessGroupStdioParams {
  command: string;
  args: readonly string[];
  env?: Readonly<Record<string, string>>;
  cwd?: string;
  stderr: 'inherit' | 'ignore' | 'pipe';
  /** How long each step of the close (stdin end, SIGTERM) waits for the process to exit. Default 2000. */
  graceMs?: number;
  /** With `stderr: 'pipe'`: each line the child writes there (the stream is read to its end regardless). */
  onStderrLine?: (line: string) => void;
}

/**
 * The SDK's stdio client transport, with the child in a process group of its own, closed as a group.
 *
 * Why not the SDK's: it spawns the child in our process group and signals only the child's pid. A server
 * started through `npx`, `sh -c` or `uvx` is then a grandchild that the close never signals (left running,
 * re-parented to PID 1), and a Ctrl-C in the terminal (SIGINT to the foreground group) kills every server
 * under a pool that is about to drain gracefully. Here the child leads a new session (`detached`), and the
 * close signals the whole group: stdin end, then SIGTERM, then SIGKILL, as the SDK does, and a last SIGKILL
 * to the group for anything the leader left behind. Messages are framed with the SDK's own ReadBuffer.
 */
export class ProcessGroupStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private child: ChildProcess | undefined;
  private readonly readBuffer = new ReadBuffer();
  private exited: Promise<void> | undefined;

  constructor(private readonly params: ProcessGroupStdioParams) {}

  /** The child's pid (also its process group's id), once started. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): Promise<void> {
    if (this.child) throw new Error('ProcessGroupStdioTransport already started');
    const p = this.params;
    return new Promise((resolve, reject) => {
      const child = spawn(p.command, [...p.args], {
        env: { ...getDefaultEnvironment(), ...p.env },
        cwd: p.cwd,
        stdio: ['pipe', 'pipe', p.stderr],
        shell: false,
        detached: true,
        windowsHide: true,
      });
      this.child = child;
      this.exited = new Promise<void>((done) => child.once('close', () => done()));
      child.once('error', (error) => {
        reject(error);
        this.onerror?.(error);
      });
      child.once('spawn', () => resolve());
      // Read from the first byte: an unread pipe fills and the child blocks on its next write to stderr.
      if (child.stderr) drainLines(child.stderr, p.onStderrLine ?? (() => undefined));
      child.once('close', () => {
        this.child = undefined;
        this.onclose?.();
      });
      child.stdin?.on('error', (error) => this.onerror?.(error));
      child.stdout?.on('error', (error) => this.onerror?.(error));
      child.stdout?.on('data', (chunk: Buffer) => {
        this.readBuffer.append(chunk);
        this.readMessages();
      });
    });
  }

  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      const stdin = this.child?.stdin;
      if (!stdin) {
        reject(new Error('Not connected'));
        return;
      }
      if (stdin.write(serializeMessage(message))) resolve();
      else stdin.once('drain', resolve);
    });
  }

  async close(): Promise<void> {
    const child = this.child;
    const exited = this.exited;
    this.readBuffer.clear();
    if (!child || !exited || child.pid === undefined) return;
    const group = child.pid;
    const grace = this.params.graceMs ?? 2000;
    const waitExit = () => Promise.race([exited.then(() => true), sleep(grace).then(() => false)]);
    try {
      child.stdin?.end();
    } catch {
      // already closed
    }
    if (!(await waitExit())) {
      signalGroup(group, 'SIGTERM');
      if (!(await waitExit())) signalGroup(group, 'SIGKILL');
    }
    // The leader is gone (or killed); whatever it started in its group goes with it.
    signalGroup(group, 'SIGKILL');
    await Promise.race([exited, sleep(grace)]);
  }

  private readMessages(): void {
    for (;;) {
      let message: JSONRPCMessage | null;
      try {
        message = this.readBuffer.readMessage();
      } catch (error) {
        // A line that is not JSON-RPC (a server printing to stdout): report it and read on.
        this.onerror?.(error as Error);
        continue;
      }
      if (message === null) return;
      this.onmessage?.(message);
    }
  }
}

/** Signals every process of the group `pgid`; a group with no process left is not an error. */
function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: nothing left in the group
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
