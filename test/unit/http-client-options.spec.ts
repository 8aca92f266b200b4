// The HTTP client options (httpClient, maxConnections) as the core resolves and refuses them.
import { McpPoolConfigError } from '../../lib/core/errors';
import { resolvePoolOptions } from '../../lib/core/options';

function issues(options: Parameters<typeof resolvePoolOptions>[0]): Array<{ field: string; message: string }> {
  try {
    resolvePoolOptions(options);
  } catch (error) {
    expect(error).toBeInstanceOf(McpPoolConfigError);
    return [...(error as McpPoolConfigError).issues];
  }
  return [];
}

describe('httpClient and maxConnections', () => {
  it("default to the native client with no connection bound of its own", () => {
    const o = resolvePoolOptions({ endpoint: 'http://127.0.0.1:1/mcp' });
    expect(o.httpClient).toBe('native');
    expect(o.maxConnections).toBe(0);
  });

  it('refuse an unknown client, naming the field and the pool', () => {
    let error: unknown;
    try {
      resolvePoolOptions({ name: 'p1', endpoint: 'http://127.0.0.1:1/mcp', httpClient: 'fetch' as never });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ name: 'McpPoolConfigError', field: 'httpClient' });
    expect(String(error)).toContain('p1');
  });

  it('refuse a negative or fractional maxConnections, and one given with the SDK client', () => {
    expect(issues({ endpoint: 'http://127.0.0.1:1/mcp', maxConnections: -1 })).toEqual([{ field: 'maxConnections', message: 'must be an integer >= 0' }]);
    expect(issues({ endpoint: 'http://127.0.0.1:1/mcp', maxConnections: 1.5 })).toEqual([{ field: 'maxConnections', message: 'must be an integer >= 0' }]);
    expect(issues({ endpoint: 'http://127.0.0.1:1/mcp', maxConnections: 4, httpClient: 'sdk' }).map((i) => i.field)).toEqual(['maxConnections']);
  });

  it('refuse both on a stdio pool', () => {
    expect(issues({ transport: 'stdio', command: 'node', httpClient: 'native', maxConnections: 2 }).map((i) => i.field).sort()).toEqual(['httpClient', 'maxConnections']);
  });
});
