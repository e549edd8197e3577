// Where the machine's CPU went during a load (Linux /proc; elsewhere nothing is reported): the whole machine's busy
// share (/proc/stat), and the CPU time of the PostgreSQL server's processes (every process named `postgres`: the
// embedded server's postmaster and backends, the only PostgreSQL on a bench machine). The server and load-generator
// processes report their own (process.cpuUsage, every thread).
import * as fs from 'node:fs';

/** USER_HZ: the unit of /proc's CPU times, 100 on every Linux architecture Node runs on. */
const TICKS_PER_SECOND = 100;

export interface CpuSample {
  /** Jiffies of all CPUs: busy (everything but idle and iowait), and in all. */
  busy: number;
  total: number;
  /** CPU ms of the `postgres` processes alive now. */
  postgresMs: number;
}

function machineJiffies(): { busy: number; total: number } | undefined {
  try {
    const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - cpu[3]! - cpu[4]!, total };
  } catch {
    return undefined;
  }
}

function postgresMs(): number {
  let ticks = 0;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const open = stat.indexOf('(');
      const close = stat.lastIndexOf(')');
      if (stat.slice(open + 1, close) !== 'postgres') continue;
      const fields = stat.slice(close + 2).split(' ');
      // Fields 14 and 15 of stat (utime, stime), counted after the ")": indexes 11 and 12.
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // the process ended meanwhile
    }
  }
  return (ticks * 1000) / TICKS_PER_SECOND;
}

export function cpuSample(): CpuSample | undefined {
  const m = machineJiffies();
  return m && { ...m, postgresMs: postgresMs() };
}

/** The machine's busy share between two samples, and the PostgreSQL processes' CPU ms meanwhile. */
export function cpuBetween(a: CpuSample | undefined, b: CpuSample | undefined): { machineBusy: number; postgresMs: number } | undefined {
  if (!a || !b || b.total <= a.total) return undefined;
  return { machineBusy: (b.busy - a.busy) / (b.total - a.total), postgresMs: Math.max(0, b.postgresMs - a.postgresMs) };
}
