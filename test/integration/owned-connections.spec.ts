// The v2 driver's own HTTP connections (an undici Agent of its own, which the pool closes at shutdown),
// against a real HTTP server on 127.0.0.1: it must behave as fetch does where the SDK and its OAuth code look.
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { OwnedConnections } from '../../lib/transports/v2/owned-connections';
import { until } from '../support/pids';

let server: Server;
let url: string;
const sockets = new Set<Socket>();
const seen: Array<{ method?: string; type?: string; body: string }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method, type: req.headers['content-type'], body });
      if (req.url === '/slow') return void setTimeout(() => res.end('late'), 2000).unref();
      if (req.url === '/quick-slow') return void setTimeout(() => res.end('done'), 50);
      res.writeHead(200, { 'content-type': 'application/json', 'x-two': ['a', 'b'] }).end(JSON.stringify({ ok: true }));
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

it('sends string and form bodies as fetch does (an OAuth token request is a URLSearchParams body)', async () => {
  const c = new OwnedConnections(4);
  const json = await c.fetch(`${url}/a`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"x":1}' });
  expect(await json.json()).toEqual({ ok: true });
  expect(json.headers.get('x-two')).toBe('a, b');
  expect(json.statusText).toBe('OK'); // the v2 client builds its HTTP error messages from it
  await c.fetch(`${url}/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'authorization_code', code: 'c 1' }) });
  expect(seen.at(-1)).toEqual({ method: 'POST', type: 'application/x-www-form-urlencoded;charset=UTF-8', body: 'grant_type=authorization_code&code=c+1' });
  c.close();
});

it('reuses kept-alive sockets, and close() destroys them at once', async () => {
  await until(() => sockets.size === 0, 1000, 'the earlier sockets closed');
  const c = new OwnedConnections(4);
  // undici may open a second connection while the first is being handed back; never one per request.
  for (let i = 0; i < 20; i++) await (await c.fetch(`${url}/a`)).text();
  expect(sockets.size).toBeGreaterThanOrEqual(1);
  expect(sockets.size).toBeLessThanOrEqual(2);
  expect(c.openSockets).toBe(sockets.size);
  c.close();
  await until(() => sockets.size === 0, 1000, 'the socket closed');
});

it('rejects as fetch does: an AbortError when the signal aborts, TypeError("fetch failed") with the errno code when refused', async () => {
  const c = new OwnedConnections(4);
  const ac = new AbortController();
  const slow = c.fetch(`${url}/slow`, { signal: ac.signal });
  setTimeout(() => ac.abort(), 50);
  await expect(slow).rejects.toMatchObject({ name: 'AbortError' });
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const refused = (await c.fetch(`http://127.0.0.1:${port}/`).catch((e: unknown) => e)) as TypeError & { cause?: { code?: string } };
  expect(refused).toBeInstanceOf(TypeError);
  expect(refused.message).toBe('fetch failed');
  expect(refused.cause?.code).toBe('ECONNREFUSED');
  c.close();
});

it('holds at most maxSockets connections per origin (the rest queue), and after close() sends nothing', async () => {
  await until(() => sockets.size === 0, 1000, 'the earlier sockets closed');
  const c = new OwnedConnections(2);
  let peak = 0;
  const watch = setInterval(() => (peak = Math.max(peak, sockets.size)), 5);
  const slow = Array.from({ length: 6 }, () => c.fetch(`${url}/quick-slow`, { method: 'POST', body: 'x' }).then((r) => r.text()));
  await Promise.all(slow);
  clearInterval(watch);
  expect(peak).toBeLessThanOrEqual(2);
  c.close();
  const before = seen.length;
  const after = (await c.fetch(`${url}/a`).catch((e: unknown) => e)) as TypeError & { cause?: { code?: string } };
  expect(after.message).toBe('fetch failed');
  expect(after.cause?.code).toBe('ECONNREFUSED'); // "never sent": the pool may try elsewhere
  expect(seen.length).toBe(before);
  await until(() => sockets.size === 0, 1000, 'every socket closed');
});
