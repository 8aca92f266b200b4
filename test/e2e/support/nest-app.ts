// Boots a real Nest application (Express or Fastify) on 127.0.0.1 for the e2e specs.
import type { AddressInfo } from 'node:net';
import type { INestApplication, Type } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';

export type AdapterKind = 'express' | 'fastify';
export const ADAPTERS: AdapterKind[] = ['express', 'fastify'];

export interface RunningApp {
  app: INestApplication;
  /** http://127.0.0.1:PORT */
  url: string;
}

/** Compiles `module`, creates the application on the given adapter and listens on 127.0.0.1:0. */
export async function startNestApp(module: Type<unknown>, adapter: AdapterKind): Promise<RunningApp> {
  const moduleRef = await Test.createTestingModule({ imports: [module] }).compile();
  const app =
    adapter === 'express'
      ? moduleRef.createNestApplication(new ExpressAdapter(), { logger: false })
      : moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
  try {
    await app.listen(0, '127.0.0.1');
  } catch (error) {
    await app.close();
    throw error;
  }
  const { port } = (app.getHttpServer() as { address(): AddressInfo }).address();
  return { app, url: `http://127.0.0.1:${port}` };
}

/** Compiles `module` and initialises the application (no HTTP listener). Closes it again if init fails. */
export async function initNestContext(module: Type<unknown>): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({ imports: [module] }).compile();
  const app = moduleRef.createNestApplication(new ExpressAdapter(), { logger: false });
  try {
    await app.init();
  } catch (error) {
    await app.close();
    throw error;
  }
  return app;
}

export { isAlive } from '../../support/pids';

/** Polls `predicate` every 5 ms (for states that emit no event), failing after `timeoutMs`. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`waitFor: ${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
