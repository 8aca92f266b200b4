/** One server-sent event, as `eventsource-parser` (what the SDK's transport uses) hands it out. */
export interface SseEvent {
  id: string | undefined;
  event: string | undefined;
  data: string;
}

const LF = 10;
const CR = 13;
const SPACE = 32;

/**
 * An incremental Server-Sent Events parser, fed the body's byte chunks as they arrive (no web streams).
 *
 * It gives the events `TextDecoderStream` → `EventSourceParserStream` give the SDK's transport, for any
 * split of the same bytes (test/unit/sse-parser.spec.ts checks this with fast-check): UTF-8 decoded as a
 * stream (a character split across chunks is joined; a leading BOM is dropped), lines ended by LF, CR or
 * CRLF (a CR at the end of a chunk waits for the next one, which may begin with its LF), `data` lines
 * joined with LF, `event`, `id` (ignored when it holds a NUL), `retry` (digits only), comments and unknown
 * fields ignored. As in `eventsource-parser`, an event is dispatched only when it had a `data` line, `id`
 * and `event` apply to that one event, and an event not ended by a blank line when the body ends is dropped.
 */
export class SseParser {
  /** The first bytes of a UTF-8 character the last chunk ended in the middle of. */
  private carry: Buffer | undefined = undefined;
  private pending = '';
  private first = true;
  private id: string | undefined = undefined;
  private event: string | undefined = undefined;
  private data = '';
  private dataLines = 0;

  constructor(
    private readonly onEvent: (event: SseEvent) => void,
    private readonly onRetry?: (ms: number) => void,
  ) {}

  /** Feeds one chunk of the body. */
  feed(chunk: Uint8Array): void {
    let text = this.decode(chunk);
    if (text.length === 0) return;
    if (this.first) {
      this.first = false;
      // A decoder in stream mode drops a BOM that starts the stream.
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      // eventsource-parser drops a BOM read as Latin-1 at the start of its first chunk (the decoder has
      // already removed a real one): the same here, so the two agree even on that.
      if (text.charCodeAt(0) === 0xef && text.charCodeAt(1) === 0xbb && text.charCodeAt(2) === 0xbf) text = text.slice(3);
      if (text.length === 0) return;
    }
    if (this.pending.length > 0) {
      // As eventsource-parser: a chunk without any line end only extends the line in progress (so a CR held
      // at the end of the previous chunk is decided by the next chunk that has a line end).
      if (text.indexOf('\n') === -1 && text.indexOf('\r') === -1) {
        this.pending += text;
        return;
      }
      text = this.pending + text;
      this.pending = '';
    }
    this.lines(text);
  }

  /**
   * Decodes UTF-8 as a stream decoder does, without one: a character cut at the end of a chunk is held back
   * and decoded with the next chunk (Buffer#toString replaces invalid bytes as TextDecoder does).
   */
  private decode(chunk: Uint8Array): string {
    let buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.carry) {
      buf = Buffer.concat([this.carry, buf]);
      this.carry = undefined;
    }
    const end = completeEnd(buf);
    if (end < buf.length) this.carry = Buffer.from(buf.subarray(end));
    return buf.toString('utf8', 0, end);
  }

  private lines(text: string): void {
    let start = 0;
    const n = text.length;
    while (start < n) {
      let end = start;
      let c = 0;
      while (end < n) {
        c = text.charCodeAt(end);
        if (c === LF || c === CR) break;
        end++;
      }
      // No line end yet, or a CR that may be the first half of a CRLF still to come: wait for more.
      if (end === n || (c === CR && end === n - 1)) break;
      this.line(text, start, end);
      start = c === CR && text.charCodeAt(end + 1) === LF ? end + 2 : end + 1;
    }
    if (start < n) this.pending = text.slice(start);
  }

  private line(text: string, start: number, end: number): void {
    if (start === end) {
      if (this.dataLines > 0) this.onEvent({ id: this.id, event: this.event, data: this.data });
      this.id = undefined;
      this.event = undefined;
      this.data = '';
      this.dataLines = 0;
      return;
    }
    if (text.charCodeAt(start) === 58 /* : */) return; // a comment
    const colon = text.indexOf(':', start);
    let field: string;
    let value: string;
    if (colon === -1 || colon >= end) {
      field = text.slice(start, end);
      value = '';
    } else {
      field = text.slice(start, colon);
      value = text.slice(text.charCodeAt(colon + 1) === SPACE ? colon + 2 : colon + 1, end);
    }
    switch (field) {
      case 'data':
        this.data = this.dataLines === 0 ? value : `${this.data}\n${value}`;
        this.dataLines++;
        break;
      case 'event':
        this.event = value || undefined;
        break;
      case 'id':
        if (!value.includes('\0')) this.id = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.onRetry?.(parseInt(value, 10));
        break;
      default:
        break; // unknown fields are ignored
    }
  }
}

/**
 * Where the bytes that make whole characters end: before a lead byte in the last 3 bytes whose sequence is
 * short of its continuation bytes. (Holding back a short sequence that turns out invalid changes nothing:
 * decoded with the next chunk it gives the same U+FFFD.)
 */
function completeEnd(buf: Buffer): number {
  const n = buf.length;
  for (let i = n - 1; i >= 0 && i >= n - 3; i--) {
    const b = buf[i]!;
    if (b < 0x80) return n; // ASCII: everything up to here is complete
    if (b < 0xc0) continue; // a continuation byte: look further back for its lead
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
    return n - i >= need ? n : i;
  }
  return n;
}
