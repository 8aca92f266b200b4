/** Header rules shared by the core (validation) and the HTTP drivers (what they never let a caller set). */

/** Headers the transport owns; a user may not set them (statically or per request). */
export const PROTOCOL_HEADERS: ReadonlySet<string> = new Set([
  'mcp-session-id',
  'mcp-protocol-version',
  'content-type',
  'accept',
  'host',
  'content-length',
  // 2026-07-28: the transport mirrors the JSON-RPC method and name (and declared params, `Mcp-Param-*`) into
  // headers, and the server refuses a request whose headers disagree with its body (-32020).
  'mcp-method',
  'mcp-name',
]);

/** Whether `name` (lower-case) is a header the transport owns: one of {@link PROTOCOL_HEADERS}, or `mcp-param-*`. */
export function isProtocolHeader(name: string): boolean {
  return PROTOCOL_HEADERS.has(name) || name.startsWith('mcp-param-');
}

export const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Checks header names and values: a name must be an HTTP token, a value must not contain CR, LF or NUL
 * (header injection), protocol headers are refused. Returns problems; the value is never echoed.
 */
export function headerProblems(field: string, headers: Record<string, unknown>): Array<{ field: string; message: string }> {
  const out: Array<{ field: string; message: string }> = [];
  for (const [name, value] of Object.entries(headers)) {
    if (!TOKEN.test(name)) out.push({ field: `${field}`, message: `has an invalid header name ${JSON.stringify(name)}` });
    else if (isProtocolHeader(name.toLowerCase()))
      out.push({ field: `${field}.${name}`, message: 'is a protocol header owned by the MCP transport and cannot be set' });
    if (typeof value !== 'string') out.push({ field: `${field}.${name}`, message: 'must be a string' });
    else if (/[\r\n\0]/.test(value)) out.push({ field: `${field}.${name}`, message: 'must not contain CR, LF or NUL' });
  }
  return out;
}


/** Credentials a caller may not send per request on shared sessions: a typed error, never silently used. */
export const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set(['authorization', 'proxy-authorization']);

/**
 * Headers that say who the caller is (API keys, cookies, tenant and user ids). On shared sessions they are
 * not sent: the session and the shared cache serve everyone, and a server that binds identity to the
 * session would see one caller's identity on another's requests. Partitions (`partitionBy`) carry them.
 */
const IDENTITY_HEADERS: ReadonlySet<string> = new Set(['cookie', 'x-api-key', 'api-key', 'x-auth-token']);
const IDENTITY_PATTERN = /^x-(tenant|user|org|account)(-id)?$/;

export function isIdentityHeader(name: string): boolean {
  return IDENTITY_HEADERS.has(name) || IDENTITY_PATTERN.test(name);
}
