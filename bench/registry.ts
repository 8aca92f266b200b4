/** Every benchmark, in the order `npm run bench` runs them. */
import type { Benchmark } from './lib/types';
import contention from './contention.bench';
import deadBackend from './dead-backend.bench';
import http from './http.bench';
import memory from './memory.bench';
import modern from './modern.bench';
import overhead from './overhead.bench';
import stdio from './stdio.bench';
import transports from './transports.bench';

export const BENCHMARKS: Benchmark[] = [http, stdio, overhead, contention, deadBackend, memory, transports, modern];
