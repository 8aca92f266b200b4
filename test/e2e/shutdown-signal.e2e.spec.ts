// SIGTERM to a real Nest process with enableShutdownHooks(): the pools drain and close, and the stdio
// MCP server child process is gone before the Nest process exits.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { isAlive } from './support/nest-app';

const ROOT = join(__dirname, '..', '..');
const APP = join(__dirname, 'fixtures', 'sigterm-app.ts');

it('SIGTERM with enableShutdownHooks closes the pools and leaves no child process', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', APP], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    const line = await lines.next();
    if (line.done) throw new Error(`the app exited without output; stderr:\n${stderr}`);
    return JSON.parse(line.value) as Record<string, unknown>;
  };

  try {
    const ready = await next();
    expect(ready).toMatchObject({ ready: true, mcpPid: expect.any(Number) });
    const mcpPid = ready.mcpPid as number;
    expect(isAlive(mcpPid)).toBe(true);

    child.kill('SIGTERM');
    // Written by the app itself after its pool shut down, while it still ran.
    expect(await next()).toEqual({ poolClosed: true, mcpAlive: false });
    const [code, signal] = await exited;
    // Nest re-raises the signal once its shutdown hooks are done.
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGTERM' });
    expect(isAlive(mcpPid)).toBe(false);
    expect(stderr).toBe('');
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  }
});
