// The v2 driver's pure parts: the era cache (per endpoint and identity) and what each v2 client error means.
import * as v2 from '@modelcontextprotocol/client';
import { McpHeaderMismatchError, McpMissingCapabilityError, McpServerError, serverErrorFor } from '../../lib/core/errors';
import type { DriverSession } from '../../lib/core/driver';
import { EraCache, eraCacheKey } from '../../lib/transports/v2/era-cache';
import { classifyV2Error } from '../../lib/transports/v2/classify';

const endpoint = new URL('http://127.0.0.1:1/mcp');
const modern = { kind: 'modern' as const, discover: { supportedVersions: ['2026-07-28'], capabilities: {} } as never };

describe('the era cache', () => {
  it('keeps a modern verdict, and lets a legacy verdict expire (a server may have been upgraded since)', () => {
    const cache = new EraCache(10, 1000);
    cache.set('m', modern, 0);
    cache.set('l', { kind: 'legacy' }, 0);
    expect(cache.get('m', 5000)).toBe(modern);
    expect(cache.get('l', 999)).toEqual({ kind: 'legacy' });
    expect(cache.get('l', 1000)).toBeUndefined();
  });

  it('is bounded: the oldest entry goes first', () => {
    const cache = new EraCache(2);
    cache.set('a', modern);
    cache.set('b', modern);
    cache.set('c', modern);
    expect([cache.get('a'), cache.size]).toEqual([undefined, 2]);
  });

  it('keys by endpoint and identity: other headers, another token or another OAuth provider is another key, and no key holds a secret', () => {
    const base = eraCacheKey(endpoint, { 'x-tenant': 'a' }, 'secret-token', undefined);
    expect(eraCacheKey(endpoint, { 'x-tenant': 'a' }, 'secret-token', undefined)).toBe(base);
    const others = [
      eraCacheKey(endpoint, { 'x-tenant': 'b' }, 'secret-token', undefined),
      eraCacheKey(endpoint, { 'x-tenant': 'a' }, 'other-token', undefined),
      eraCacheKey(endpoint, { 'x-tenant': 'a' }, 'secret-token', {}),
      eraCacheKey(new URL('http://127.0.0.1:2/mcp'), { 'x-tenant': 'a' }, 'secret-token', undefined),
    ];
    expect(new Set([base, ...others]).size).toBe(5);
    for (const key of [base, ...others]) expect(key).not.toMatch(/secret|other-token|tenant/);
  });
});

describe('what a v2 client error means', () => {
  const withSession = { remoteId: 'sid' } as DriverSession;
  const stateless = { remoteId: undefined } as DriverSession;
  const classify = (e: unknown, s?: DriverSession) => classifyV2Error(v2, e, s);

  it('its own deadline is a timeout; a closed connection is a lost session that may have run', () => {
    expect(classify(new v2.SdkError(v2.SdkErrorCode.RequestTimeout, 't'))).toEqual({ kind: 'timeout' });
    expect(classify(new v2.SdkError(v2.SdkErrorCode.ConnectionClosed, 'c'))).toEqual({ kind: 'session-fatal', mayHaveRun: true });
    expect(classify(new v2.SdkError(v2.SdkErrorCode.NotConnected, 'n'))).toEqual({ kind: 'session-fatal', mayHaveRun: false });
  });

  it('-32022 is incompatible, naming what the server supports; other JSON-RPC errors are call errors', () => {
    expect(classify(new v2.ProtocolError(-32022, 'unsupported', { supported: ['2026-07-28'], requested: '2025-11-25' }))).toEqual({
      kind: 'incompatible',
      supportedVersions: ['2026-07-28'],
      requestedVersion: '2025-11-25',
    });
    expect(classify(new v2.ProtocolError(-32601, 'Method not found'))).toMatchObject({ kind: 'call', rpc: { code: -32601 } });
  });

  it('a 404 expires a 2025 session (it has an id); on a stateless session it is a call error', () => {
    const notFound = () => new v2.SdkHttpError(v2.SdkErrorCode.ClientHttpNotImplemented, 'Not Found', { status: 404 });
    expect(classify(notFound(), withSession)).toEqual({ kind: 'session-fatal', mayHaveRun: false });
    expect(classify(notFound(), stateless)).toMatchObject({ kind: 'call', status: 404 });
  });

  it('401/403 are auth, 429 rate-limited, a refused connection a lost session that never ran', () => {
    expect(classify(new v2.SdkHttpError(v2.SdkErrorCode.ClientHttpAuthentication, 'no', { status: 401 }))).toEqual({ kind: 'auth', status: 401 });
    expect(classify(new v2.SdkHttpError(v2.SdkErrorCode.ClientHttpNotImplemented, 'slow down', { status: 429 }))).toMatchObject({ kind: 'rate-limited' });
    const refused = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    expect(classify(refused)).toEqual({ kind: 'session-fatal', mayHaveRun: false });
  });

  it('era negotiation that finds no common version is incompatible; one cut short by the network is an outage', () => {
    const pinned = new v2.SdkError(v2.SdkErrorCode.EraNegotiationFailed, 'Version negotiation failed: the server did not offer pinned protocol version 2026-07-28 via server/discover');
    expect(classify(pinned)).toEqual({ kind: 'incompatible', supportedVersions: [], requestedVersion: '2026-07-28' });
    const network = new v2.SdkError(v2.SdkErrorCode.EraNegotiationFailed, 'probe failed', undefined, { cause: new TypeError('fetch failed') });
    expect(classify(network).kind).toBe('session-fatal');
    const closed = new v2.SdkError(v2.SdkErrorCode.EraNegotiationFailed, 'Version negotiation probe failed: Connection closed during the version negotiation probe');
    expect(classify(closed)).toEqual({ kind: 'session-fatal', mayHaveRun: false });
  });
});

describe('the typed errors of the 2026-07-28 codes', () => {
  it('-32020 and -32021 have classes of their own; other codes are McpServerError', () => {
    const mismatch = serverErrorFor('p', 'tools/call', { code: -32020, message: 'header mismatch' }, undefined);
    const missing = serverErrorFor('p', 'tools/call', { code: -32021, message: 'missing', data: { requiredCapabilities: { elicitation: {} } } }, undefined);
    expect(mismatch).toBeInstanceOf(McpHeaderMismatchError);
    expect(missing).toBeInstanceOf(McpMissingCapabilityError);
    expect((missing as McpMissingCapabilityError).requiredCapabilities).toEqual({ elicitation: {} });
    expect(serverErrorFor('p', 'tools/call', { code: -32602, message: 'bad' }, undefined).constructor).toBe(McpServerError);
  });
});

describe('the SDK 1.x driver against a 2026-07-28-only server', () => {
  const { StreamableHttpDriver } = require('../../lib/transports/streamable-http.driver') as typeof import('../../lib/transports/streamable-http.driver');
  const { StreamableHTTPError } = require('@modelcontextprotocol/sdk/client/streamableHttp.js') as typeof import('@modelcontextprotocol/sdk/client/streamableHttp.js');
  const driver = new StreamableHttpDriver({ endpoint });
  const refused = (body: unknown) => new StreamableHTTPError(400, `Error POSTing to endpoint: ${JSON.stringify(body)}`);

  it('reads 400 / -32022 as incompatible, with the versions the server named', () => {
    const e = refused({ jsonrpc: '2.0', id: 0, error: { code: -32022, message: 'Unsupported protocol version', data: { supported: ['2026-07-28'], requested: '2025-11-25' } } });
    expect(driver.classify(e, undefined)).toEqual({ kind: 'incompatible', supportedVersions: ['2026-07-28'], requestedVersion: '2025-11-25' });
  });

  it('reads 400 / -32020 to its initialize (the 2026 headers are required) as incompatible, and not on a live session', () => {
    const e = refused({ jsonrpc: '2.0', id: 0, error: { code: -32020, message: 'Missing MCP-Protocol-Version header' } });
    expect(driver.classify(e, undefined)).toMatchObject({ kind: 'incompatible', requestedVersion: '2025-11-25' });
    expect(driver.classify(e, { remoteId: 'sid' } as DriverSession).kind).not.toBe('incompatible');
  });
});
