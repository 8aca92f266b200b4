// The native transport's SSE parser against the pipeline of the SDK's own transport (TextDecoderStream →
// eventsource-parser's EventSourceParserStream), over the same bytes split at arbitrary points.
import fc from 'fast-check';
import { EventSourceParserStream } from 'eventsource-parser/stream';
import { SseParser, type SseEvent } from '../../lib/transports/native-http/sse-parser';

interface Parsed {
  events: SseEvent[];
  retries: number[];
}

/** What the SDK's transport sees: the web-stream pipeline it builds on every response body. */
async function reference(chunks: Uint8Array[]): Promise<Parsed> {
  const retries: number[] = [];
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const c of chunks) controller.enqueue(c);
      controller.close();
    },
  });
  const reader = source
    .pipeThrough(new TextDecoderStream() as unknown as TransformStream<Uint8Array, string>)
    .pipeThrough(new EventSourceParserStream({ onRetry: (ms) => retries.push(ms) }))
    .getReader();
  const events: SseEvent[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    events.push({ id: value.id, event: value.event, data: value.data });
  }
  return { events, retries };
}

function native(chunks: Uint8Array[]): Parsed {
  const events: SseEvent[] = [];
  const retries: number[] = [];
  const parser = new SseParser(
    (e) => events.push(e),
    (ms) => retries.push(ms),
  );
  for (const c of chunks) parser.feed(c);
  return { events, retries };
}

const enc = new TextEncoder();

/** Splits `bytes` at the given cut points (duplicates give empty chunks). */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = cuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let at = 0;
  for (const p of points) {
    out.push(bytes.subarray(at, p));
    at = p;
  }
  out.push(bytes.subarray(at));
  return out;
}

// Values with multi-byte UTF-8 (2, 3 and 4 bytes), colons, spaces, a NUL now and then.
const valueChar = fc.constantFrom('a', 'b', ' ', ':', 'é', '€', '😀', '{', '"', '\0', '1', '0');
const value = fc.array(valueChar, { maxLength: 6 }).map((cs) => cs.join(''));
const digits = fc.array(fc.constantFrom('0', '1', '5', '9'), { minLength: 1, maxLength: 4 }).map((cs) => cs.join(''));
const line = fc.oneof(
  value.map((v) => `data: ${v}`),
  value.map((v) => `data:${v}`),
  fc.constant('data'),
  fc.constant('data:'),
  value.map((v) => `event: ${v}`),
  fc.constant('event:'),
  value.map((v) => `id: ${v}`),
  fc.constant('id'),
  digits.map((d) => `retry: ${d}`),
  value.map((v) => `retry: ${v}`),
  value.map((v) => `: ${v}`),
  value.map((v) => `x-unknown: ${v}`),
  value,
  fc.constant(''),
  fc.constant(''),
);
const eol = fc.constantFrom('\n', '\r', '\r\n');
const stream = fc.record({
  bom: fc.boolean(),
  lines: fc.array(fc.tuple(line, eol), { maxLength: 24 }),
  tail: fc.oneof(fc.constant(''), value.map((v) => `data: ${v}`)),
});

describe('SseParser', () => {
  it('gives the events of TextDecoderStream + eventsource-parser for any split of any stream', async () => {
    await fc.assert(
      fc.asyncProperty(stream, fc.array(fc.nat(), { maxLength: 12 }), async (s, cuts) => {
        const text = (s.bom ? '\uFEFF' : '') + s.lines.map(([l, e]) => l + e).join('') + s.tail;
        const chunks = split(enc.encode(text), cuts);
        expect(native(chunks)).toEqual(await reference(chunks));
      }),
      { numRuns: 400 },
    );
  });

  it('decodes any bytes as TextDecoderStream does (invalid UTF-8 and cut sequences included), for any split', async () => {
    const byte = fc.oneof(
      fc.integer({ min: 0, max: 255 }),
      fc.constantFrom(10, 13, 58, 0x64, 0x61, 0x74, 0xef, 0xbb, 0xbf, 0xe0, 0xed, 0xf0, 0xf4, 0x80, 0x9f, 0xa0, 0xbf, 0xc3),
    );
    const prefix = enc.encode('data: ');
    await fc.assert(
      fc.asyncProperty(fc.array(byte, { maxLength: 60 }), fc.array(fc.nat(), { maxLength: 10 }), async (bytes, cuts) => {
        const all = new Uint8Array([...prefix, ...bytes, 10, 10]);
        const chunks = split(all, cuts);
        expect(native(chunks)).toEqual(await reference(chunks));
      }),
      { numRuns: 600 },
    );
  });

  it('joins a CRLF split across chunks into one line end', async () => {
    const chunks = ['data: a\r', '\n\r', '\ndata: b\r\n\r\n'].map((c) => enc.encode(c));
    expect(native(chunks).events).toEqual([
      { id: undefined, event: undefined, data: 'a' },
      { id: undefined, event: undefined, data: 'b' },
    ]);
    expect(native(chunks)).toEqual(await reference(chunks));
  });

  it('leaves a CR at the end of a chunk to the next chunk that has a line end, as eventsource-parser does', async () => {
    const chunks = ['data: a\n\r', 'data: b'].map((c) => enc.encode(c));
    expect(native(chunks)).toEqual(await reference(chunks));
    expect(native(chunks).events).toEqual([]);
  });

  it('joins a UTF-8 character split between chunks', async () => {
    const bytes = enc.encode('data: 😀é\n\n');
    const chunks = [bytes.subarray(0, 8), bytes.subarray(8, 11), bytes.subarray(11)];
    expect(native(chunks).events).toEqual([{ id: undefined, event: undefined, data: '😀é' }]);
  });

  it('dispatches a priming event with an id and empty data, and reports retry', () => {
    const got = native([enc.encode('id: 7\nretry: 500\ndata:\n\n')]);
    expect(got).toEqual({ events: [{ id: '7', event: undefined, data: '' }], retries: [500] });
  });

  it('joins multi-line data, drops a BOM, and drops an unterminated final event', () => {
    const got = native([enc.encode('\uFEFFevent: message\ndata: {"a":\ndata: 1}\n\ndata: lost')]);
    expect(got.events).toEqual([{ id: undefined, event: 'message', data: '{"a":\n1}' }]);
  });
});
