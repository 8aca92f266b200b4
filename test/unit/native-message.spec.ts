// The native transport's message check against the SDK's JSONRPCMessageSchema, which it must agree with.
import fc from 'fast-check';
import { JSONRPCMessageSchema } from '@modelcontextprotocol/sdk/types.js';
import { parseMessage } from '../../lib/transports/native-http/message';

function outcome(f: () => unknown): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: f() };
  } catch {
    return { ok: false };
  }
}

const id = fc.oneof(fc.string({ maxLength: 4 }), fc.integer(), fc.double(), fc.constant(null), fc.constant(undefined));
const result = fc.oneof(
  fc.dictionary(fc.constantFrom('content', 'tools', 'x', '_meta', 'isError'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
  fc.jsonValue({ maxDepth: 1 }),
);
const message = fc.record(
  {
    jsonrpc: fc.constantFrom('2.0', '1.0', 2),
    id,
    result,
    method: fc.constantFrom('ping', 'tools/call'),
    error: fc.record({ code: fc.integer(), message: fc.string({ maxLength: 3 }) }),
    extra: fc.jsonValue({ maxDepth: 1 }),
  },
  { requiredKeys: [] },
);

describe('parseMessage', () => {
  it('accepts and rejects what JSONRPCMessageSchema does, with the same value', () => {
    fc.assert(
      fc.property(fc.oneof(message, fc.jsonValue({ maxDepth: 2 })), (m) => {
        const ours = outcome(() => parseMessage(m));
        const sdk = outcome(() => JSONRPCMessageSchema.parse(m));
        expect(ours.ok).toBe(sdk.ok);
        if (ours.ok && sdk.ok) expect(ours.value).toEqual(sdk.value);
      }),
      { numRuns: 2000 },
    );
  });

  it('takes a plain result response as it is, and one with _meta through the schema', () => {
    const plain = { jsonrpc: '2.0', id: 1, result: { content: [] } };
    expect(parseMessage(plain)).toBe(plain);
    const meta = { jsonrpc: '2.0', id: 1, result: { _meta: 5 } };
    expect(() => parseMessage(meta)).toThrow();
  });
});
