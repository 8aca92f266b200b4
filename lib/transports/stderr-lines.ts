import type { Readable } from 'node:stream';

/** A line longer than this is cut (a child that never writes a newline must not grow our memory). */
const MAX_LINE = 4096;

/**
 * Reads a child's piped stderr to the end, handing each line to `onLine`. Why it must be read: an unread
 * pipe fills (64 KiB), the child blocks on its next write to stderr, and then it neither answers calls nor
 * notices being told to exit; the SDK only offers the stream. Memory stays bounded: a partial line is kept
 * up to MAX_LINE characters.
 */
export function drainLines(stream: Readable, onLine: (line: string) => void): void {
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (partial + chunk).split(/\r?\n/);
    partial = parts.pop() ?? '';
    if (partial.length > MAX_LINE) {
      onLine(`${partial.slice(0, MAX_LINE)}…`);
      partial = '';
    }
    for (const line of parts) if (line.length > 0) onLine(line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line);
  });
  stream.on('end', () => {
    if (partial.length > 0) onLine(partial);
    partial = '';
  });
  // A read error only means the child is gone; its exit is reported elsewhere.
  stream.on('error', () => undefined);
}
