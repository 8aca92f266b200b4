import { JSONRPCMessageSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/**
 * Validates one JSON-RPC message as the SDK's transport does (`JSONRPCMessageSchema.parse`), with a fast path
 * for the message a client receives most: a result response `{ jsonrpc, id, result }` whose result has no
 * `_meta`. That shape is accepted by the schema as it is, so it is returned without running zod's union;
 * anything else goes through the schema (test/unit/native-message.spec.ts checks both agree).
 */
export function parseMessage(value: unknown): JSONRPCMessage {
  if (isPlainResult(value)) return value as JSONRPCMessage;
  return JSONRPCMessageSchema.parse(value);
}

function isPlainResult(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const m = v as Record<string, unknown>;
  if (m.jsonrpc !== '2.0') return false;
  const id = m.id;
  if (!(typeof id === 'string' || (typeof id === 'number' && Number.isSafeInteger(id)))) return false;
  const result = m.result;
  if (typeof result !== 'object' || result === null || Array.isArray(result) || '_meta' in result) return false;
  let keys = 0;
  for (const k in m) {
    if (k !== 'jsonrpc' && k !== 'id' && k !== 'result') return false;
    keys++;
  }
  return keys === 3 && Object.getPrototypeOf(m) === Object.prototype && Object.getPrototypeOf(result) === Object.prototype;
}
