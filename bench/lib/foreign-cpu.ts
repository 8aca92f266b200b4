/**
 * How much CPU other processes took while a benchmark ran (Linux /proc; elsewhere it reports nothing).
 * The load average cannot tell the benchmark's own processes from someone else's test run; this can:
 * every 500 ms it reads utime + stime of every process and charges the growth to "foreign" unless the
 * process descends from `ownPid` (the runner: its workers, their servers and children).
 */
import { cpus } from 'node:os';
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

interface Proc {
  ppid: number;
  ticks: number;
  startTicks: number;
}

function readProcs(): Map<number, Proc> | undefined {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return undefined;
  }
  const out = new Map<number, Proc>();
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // f[0] = state (field 3); ppid = field 4, utime = 14, stime = 15, starttime = 22
      out.set(Number(name), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), startTicks: Number(f[19]) });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function uptimeTicks(): number {
  return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * TICKS_PER_SECOND;
}

export interface ForeignCpu {
  /** CPU seconds used by other processes. */
  cpuSeconds: number;
  /** That, as a share of the machine (elapsed × cores). */
  share: number;
}

export class ForeignCpuMonitor {
  private last = new Map<number, number>();
  private foreign = 0;
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private startUptime = 0;
  private supported = true;

  constructor(private readonly ownPid: number = process.pid) {}

  start(): void {
    this.startedAt = performance.now();
    try {
      this.startUptime = uptimeTicks();
    } catch {
      this.supported = false;
      return;
    }
    this.sample(true);
    this.timer = setInterval(() => this.sample(false), 500);
    this.timer.unref();
  }

  stop(): ForeignCpu | undefined {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (!this.supported) return undefined;
    this.sample(false);
    const elapsedS = (performance.now() - this.startedAt) / 1000;
    const cpuSeconds = this.foreign / TICKS_PER_SECOND;
    return { cpuSeconds, share: cpuSeconds / (elapsedS * cpus().length) };
  }

  private sample(baseline: boolean): void {
    const procs = readProcs();
    if (!procs) {
      this.supported = false;
      return;
    }
    const own = (pid: number): boolean => {
      for (let p = pid, hops = 0; p > 1 && hops < 64; hops++) {
        if (p === this.ownPid) return true;
        const next = procs.get(p)?.ppid;
        if (next === undefined) return false;
        p = next;
      }
      return false;
    };
    for (const [pid, p] of procs) {
      const prev = this.last.get(pid);
      this.last.set(pid, p.ticks);
      if (baseline || own(pid)) continue;
      if (prev !== undefined) this.foreign += Math.max(0, p.ticks - prev);
      else if (p.startTicks >= this.startUptime) this.foreign += p.ticks; // started while we watched
    }
  }
}
