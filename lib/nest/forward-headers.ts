import { PROTOCOL_HEADERS } from '../core/options';

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Headers that only mean something on one hop, or that the transport owns. */
const TRANSPORT_HEADERS: ReadonlySet<string> = new Set([
  ...PROTOCOL_HEADERS,
  'last-event-id',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);

/**
 * Identity headers choose who the server thinks is calling. Many MCP servers bind the user to the
 * session, so one user's identity must never ride on a session shared with other users: these headers are
 * only forwarded to pools that partition by them (`partitionBy`), which the registry checks at boot.
 */
export const IDENTITY_HEADERS: ReadonlySet<string> = new Set(['authorization', 'cookie']);

/**
 * Checks and lower-cases an allow-list of header names. Throws one error listing every refused name: not
 * an HTTP token, a protocol or hop-by-hop header, or (unless `allowIdentity`) an identity header.
 */
export function normalizeForwardHeaders(names: readonly string[], allowIdentity: boolean): readonly string[] {
  if (!Array.isArray(names)) throw new TypeError('McpPoolModule.forwardHeaders: expected an array of header names');
  const problems: string[] = [];
  const out = new Set<string>();
  for (const raw of names) {
    if (typeof raw !== 'string' || !TOKEN.test(raw)) {
      problems.push(`${JSON.stringify(raw)} is not a valid header name`);
      continue;
    }
    const name = raw.toLowerCase();
    if (TRANSPORT_HEADERS.has(name)) problems.push(`"${name}" is owned by the MCP transport or the connection and cannot be forwarded`);
    else if (IDENTITY_HEADERS.has(name) && !allowIdentity)
      problems.push(
        `"${name}" carries an identity: forward it with McpPoolModule.forwardHeaders, which checks at boot that every HTTP pool partitions by it (partitionBy)`,
      );
    else out.add(name);
  }
  if (problems.length > 0) throw new Error(`McpPoolModule.forwardHeaders: ${problems.join('; ')}`);
  return Object.freeze([...out]);
}

/**
 * The allow-listed headers of an incoming request (Node's `IncomingHttpHeaders`, as Express and Fastify
 * expose them: lower-case names, repeated headers as arrays), or undefined when none is present.
 */
export function pickForwardedHeaders(
  incoming: Readonly<Record<string, string | string[] | undefined>> | undefined,
  allowList: readonly string[],
): Record<string, string> | undefined {
  if (!incoming) return undefined;
  let out: Record<string, string> | undefined;
  for (const name of allowList) {
    const value = incoming[name];
    if (value === undefined) continue;
    (out ??= {})[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}
