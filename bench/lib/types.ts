/** The contract between bench/run.ts, bench/worker.ts and each benchmark module. */

export interface BenchContext {
  /** `--quick`: short windows and small counts, for a smoke run. */
  readonly quick: boolean;
  /** Progress line on stderr (not part of the results). */
  log(message: string): void;
}

/** One row of the goals summary. `met` undefined: informational, no target. */
export interface GoalRow {
  goal: string;
  target: string;
  measured: string;
  met?: boolean;
  /** Why it was missed, or how it was measured. */
  note?: string;
}

export interface BenchResult {
  /** Markdown section body (tables and notes), without the `##` title. */
  markdown: string;
  goals: GoalRow[];
}

export interface Benchmark {
  /** Name used on the command line: `npm run bench -- http`. */
  readonly name: string;
  readonly title: string;
  run(ctx: BenchContext): Promise<BenchResult>;
}

/** What a worker process sends back to the runner. */
export interface WorkerReport {
  name: string;
  ok: boolean;
  result?: BenchResult;
  error?: string;
  /** Every process 'warning' seen in the worker (MaxListenersExceededWarning and others). */
  warnings: string[];
  elapsedMs: number;
}
