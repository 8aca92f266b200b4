/** Header rules shared by the core (validation) and the HTTP drivers (what they never let a caller set). */

/** Headers the transport owns; a user may not set them (statically or per request). */
export const PROTOCOL_HEADERS: ReadonlySet<string> = new Set([
  'mcp-session-id',
  'mcp-protocol-version',
  'content-type',
  'accept',
  'host',
  'content-length',
]);

export const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Checks header names and values: a name must be an HTTP token, a value must not contain CR, LF or NUL
 * (header injection), protocol headers are refused. Returns problems; the value is never echoed.
 */
export function headerProblems(field: string, headers: Record<string, unknown>): Array<{ field: string; message: string }> {
  const out: Array<{ field: string; message: string }> = [];
  for (const [name, value] of Object.entries(headers)) {
    if (!TOKEN.test(name)) out.push({ field: `${field}`, message: `has an invalid header name ${JSON.stringify(name)}` });
    else if (PROTOCOL_HEADERS.has(name.toLowerCase()))
      out.push({ field: `${field}.${name}`, message: 'is a protocol header owned by the MCP transport and cannot be set' });
    if (typeof value !== 'string') out.push({ field: `${field}.${name}`, message: 'must be a string' });
    else if (/[\r\n\0]/.test(value)) out.push({ field: `${field}.${name}`, message: 'must not contain CR, LF or NUL' });
  }
  return out;
}

