// toMcpHttpError for the cases no fixture server produces (a 403, another copy of the SDK's classes, pool
// groups, a retry time carried as a field). The situations a real server produces are in
// test/e2e/exception-filter.e2e.spec.ts.
import {
  CallTimeoutError,
  McpAuthError,
  McpPoolConfigError,
  McpPoolGroupError,
  OperationAbortedError,
  PoolUnavailableError,
  RateLimitedError,
  SessionLostError,
  toMcpHttpError,
} from '../../lib';

/** What an ESM app's copy of the SDK's McpError looks like to the CommonJS copy: same name and shape, another class. */
class McpError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(`MCP error ${code}: ${message}`);
    this.name = 'McpError';
  }
}

/** Likewise the SDK's UnauthorizedError, whose `name` stays 'Error'. */
class UnauthorizedError extends Error {}

it("recognises the SDK's McpError by name and shape, from any copy of the class", () => {
  expect(toMcpHttpError(new McpError(-32602, 'Prompt x not found'))).toEqual({
    status: 400,
    body: { statusCode: 400, error: 'McpError', message: 'MCP error -32602: Prompt x not found' },
  });
  expect(toMcpHttpError(new McpError(-32601, 'Method not found'))?.status).toBe(502);
  expect(toMcpHttpError(Object.assign(new Error('MCP error'), { name: 'McpError', code: 'x' }))).toBeUndefined();
});

it("maps the SDK's UnauthorizedError (by class name) to 401", () => {
  expect(toMcpHttpError(new UnauthorizedError('Unauthorized'))).toMatchObject({ status: 401, body: { error: 'UnauthorizedError' } });
});

it("keeps the server's 403 apart from its 401", () => {
  expect(toMcpHttpError(new McpAuthError('p', 403, new Error('forbidden')))?.status).toBe(403);
  expect(toMcpHttpError(new McpAuthError('p', 401, new Error('unauthorized')))?.status).toBe(401);
  expect(toMcpHttpError(new McpAuthError('p', undefined, new Error('unauthorized')))?.status).toBe(401);
});

it("takes the server's Retry-After carried by RateLimitedError (retryAfterMs), rounded up to whole seconds", () => {
  expect(toMcpHttpError(new RateLimitedError('p', new Error('429'), 7_200))).toMatchObject({ status: 429, retryAfterSeconds: 8 });
  expect(toMcpHttpError(new RateLimitedError('p', new Error('429')))?.retryAfterSeconds).toBeUndefined();
});

it("takes the circuit's next probe from PoolUnavailableError's retryInMs, not from its message", () => {
  const error = new PoolUnavailableError('p', 1_200, new Error('down'));
  expect(error.retryInMs).toBe(1_200);
  Object.defineProperty(error, 'message', { value: 'reworded: next probe in 99000 ms' });
  expect(toMcpHttpError(error)).toMatchObject({ status: 503, retryAfterSeconds: 2 });
});

it("answers for a pool group with its last pool's error, and the soonest retry time of all", () => {
  const group = new McpPoolGroupError('search', [
    { pool: 'eu', error: new PoolUnavailableError('eu', 20_000, new Error('down')) },
    { pool: 'us', error: new PoolUnavailableError('us', 4_500, new Error('down')) },
  ]);
  expect(toMcpHttpError(group)).toMatchObject({ status: 503, retryAfterSeconds: 5, body: { error: 'McpPoolGroupError' } });
  expect(toMcpHttpError(new McpPoolGroupError('search', [{ pool: 'eu', error: new CallTimeoutError('eu', 'tools/call', 100) }]))?.status).toBe(504);
  expect(toMcpHttpError(new McpPoolGroupError('search', []))?.status).toBe(503);
});

it('puts mayHaveRun of a lost session in the body', () => {
  expect(toMcpHttpError(new SessionLostError('p', 'tools/call', false, new Error('gone')))?.body).toMatchObject({ mayHaveRun: false });
});

it("leaves the application's own errors, and everything that is not an MCP error, alone", () => {
  expect(toMcpHttpError(new McpPoolConfigError('p', [{ field: 'x', message: 'is bad' }]))).toBeUndefined();
  expect(toMcpHttpError(new OperationAbortedError('p', 'tools/call', new Error('stop')))).toBeUndefined();
  expect(toMcpHttpError(new Error('plain'))).toBeUndefined();
  expect(toMcpHttpError('a string')).toBeUndefined();
});
