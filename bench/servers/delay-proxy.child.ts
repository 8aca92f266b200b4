/** Child process: delay proxies (see ../lib/delay-proxy.ts) in front of a port on 127.0.0.1. */
import { serveRpc } from '../lib/child';
import { DelayProxy } from '../lib/delay-proxy';

const proxies: DelayProxy[] = [];

serveRpc(
  {
    /** Starts one proxy; returns its port. */
    open: async (p: { targetPort: number; oneWayDelayMs: number }) => {
      const proxy = new DelayProxy({ targetPort: p.targetPort, oneWayDelayMs: p.oneWayDelayMs });
      proxies.push(proxy);
      return proxy.listen();
    },
    stats: () => proxies.map((p) => ({ ...p.stats })),
  },
  async () => {
    await Promise.all(proxies.map((p) => p.close()));
  },
  { pid: process.pid },
);
