// Runs many chaos schedules under fast-check (reproducible from a seed; a failing schedule is shrunk to a small
// one) and aggregates the per-fault table and the four counters of issue 4.
import * as fc from 'fast-check';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RemoteServerFactory, ScheduleResult, lateBoundMs, runSchedule } from './ChaosWorld';
import { VIOLATION_KINDS, Violation, ViolationKind } from './Invariants';
import { DEFECT_SCHEDULES } from './DefectSchedules';
import { FAULTS, Fault, Schedule, scheduleArbitrary, subscriptionScheduleArbitrary } from './Scenario';

export interface ChaosOptions {
  runs: number;
  seed: number;
  /** fast-check replay path of a reported failure (with the same seed). */
  path?: string;
  /** Do not shrink a failing schedule (faster report, longer trace). */
  noShrink?: boolean;
  /** Where the per-schedule ledger folders go (default: a RAM disk when there is one). */
  workDir?: string;
  /** Run every schedule even after a violation (no shrinking): counts how many schedules break, per fault. */
  keepGoing?: boolean;
  /** Stop only at a schedule violating this counter (how a mutant is shown to be caught by its counter). */
  stopOn?: ViolationKind;
  /**
   * The device verifies through the real RemoteVerifier against the real reference server this factory starts
   * (one per schedule, ChaosServer.ts) instead of on the device.
   */
  remote?: RemoteServerFactory;
  /** Subscriptions in the mix (subscriptionScheduleArbitrary): the Gem Club group, renewals, billing retry. */
  subscriptions?: boolean;
  /** Called after every counted schedule, with the figures so far. */
  onProgress?: (done: number, orders: number, counters: Readonly<Record<ViolationKind, number>>) => void;
}

export interface FaultRow {
  fault: Fault;
  /** Schedules containing the fault. */
  schedules: number;
  /** Times it actually fired. */
  injected: number;
  /** Fired in schedules that ended with every invariant holding. */
  recovered: number;
  /** Schedules containing the fault that ended with a violation, by counter. */
  failedBy: Partial<Record<ViolationKind, number>>;
}

export interface ChaosFailure {
  seed: number;
  path: string;
  schedule: Schedule;
  violations: Violation[];
  trace: string[];
  engineLog: string[];
}

export interface ChaosSummary {
  runs: number;
  orders: number;
  counters: Record<ViolationKind, number>;
  rows: FaultRow[];
  /** App processes that started and completed their launch after a crash. */
  recoveries: number;
  elapsedMs: number;
  failure?: ChaosFailure;
}

function defaultWorkDir(): string {
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  return fs.mkdtempSync(path.join(base, 'zerolost-chaos-'));
}

export async function runChaos(options: ChaosOptions): Promise<ChaosSummary> {
  const started = Date.now();
  const workDir = options.workDir ?? defaultWorkDir();
  const counters: Record<ViolationKind, number> = { lost: 0, duplicated: 0, 'premature-finish': 0, 'wrongly-granted': 0, late: 0, stuck: 0 };
  const rows = new Map<Fault, FaultRow>(FAULTS.map((f) => [f, { fault: f, schedules: 0, injected: 0, recovered: 0, failedBy: {} }]));
  let runs = 0;
  let orders = 0;
  let recoveries = 0;
  let counting = true;
  let n = 0;

  const aggregate = (r: ScheduleResult): void => {
    runs++;
    orders += r.orders;
    recoveries += r.recoveries;
    for (const v of r.violations) counters[v.kind]++;
    const kinds = new Set(r.violations.map((v) => v.kind));
    for (const f of r.faults) {
      const row = rows.get(f);
      if (!row) continue;
      row.schedules++;
      for (const k of kinds) row.failedBy[k] = (row.failedBy[k] ?? 0) + 1;
    }
    for (const [f, count] of r.injected) {
      const row = rows.get(f);
      if (!row) continue;
      row.injected += count;
      if (r.violations.length === 0) row.recovered += count;
    }
  };

  const arbitrary = options.subscriptions ? subscriptionScheduleArbitrary : scheduleArbitrary;
  const property = fc.asyncProperty(arbitrary, async (schedule) => {
    const { result, engineLog } = await runSchedule(schedule, path.join(workDir, `s${n++}`), options.remote);
    if (counting) {
      if (options.keepGoing === true && process.env.CHAOS_DETAILS) {
        for (const v of result.violations) process.stderr.write(`  [${v.kind}] ${v.detail} | faults: ${[...result.faults].join(',')}\n`);
        if (result.violations.length > 0 && process.env.CHAOS_DETAILS === 'trace') {
          process.stderr.write(`${result.trace.join('\n')}\n${engineLog.map((l) => `    ${l}`).join('\n')}\n`);
        }
      }
      aggregate(result);
      options.onProgress?.(runs, orders, counters);
    }
    const stop = options.stopOn !== undefined
      ? result.violations.some((v) => v.kind === options.stopOn)
      : result.violations.length > 0 && options.keepGoing !== true;
    if (stop) {
      counting = false;
      return false;
    }
    return true;
  });

  let failure: ChaosFailure | undefined;
  try {
    const details = await fc.check(property, {
      seed: options.seed,
      numRuns: options.runs,
      path: options.path,
      endOnFailure: options.noShrink === true,
      // The reproduced defects' schedules run first, every time. A replayed --path counts them too (its first
      // index walks examples, then generated schedules), so they are given to the replay as well.
      examples: DEFECT_SCHEDULES.map((d): [Schedule] => [d.schedule]),
    });
    if (details.failed) {
      const schedule = details.counterexample?.[0];
      if (!schedule) throw new Error(`fast-check failed without a counterexample: ${String(details.errorInstance)}`);
      const replay = await runSchedule(schedule, path.join(workDir, 'replay'), options.remote);
      failure = {
        seed: details.seed,
        path: details.counterexamplePath ?? '',
        schedule,
        violations: replay.result.violations,
        trace: replay.result.trace,
        engineLog: replay.engineLog,
      };
    }
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
  return { runs, orders, counters, rows: [...rows.values()], recoveries, elapsedMs: Date.now() - started, failure };
}

/** Runs one hand-written schedule (DefectSchedules.ts) and returns its violations and trace. */
export async function runOne(schedule: Schedule, workDir?: string, remote?: RemoteServerFactory): Promise<ScheduleResult> {
  const dir = workDir ?? defaultWorkDir();
  try {
    return (await runSchedule(schedule, path.join(dir, 'one'), remote)).result;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The last line of every chaos run: every counter the exit code counts. */
export function finalLine(s: ChaosSummary): string {
  return `chaos: runs ${s.runs}, orders ${s.orders}, ${VIOLATION_KINDS.map((k) => `${k} ${s.counters[k]}`).join(', ')}`;
}

/** Violations of any kind (the exit code is 1 when this is not 0). */
export function violationCount(s: ChaosSummary): number {
  return VIOLATION_KINDS.reduce((n, k) => n + s.counters[k], 0);
}

export { lateBoundMs };

/** What each figure of the summary means, in plain words. */
export const COUNTER_MEANINGS: Readonly<Record<ViolationKind, string>> = {
  lost: 'paid orders never delivered, entitlements taken back without a refund, orders left unfinished',
  duplicated: 'orders delivered more than once',
  'premature-finish': 'orders finished with the store before their delivery was durably recorded',
  'wrongly-granted': 'forged, foreign, unpaid or refunded orders delivered (or kept after a visible refund)',
  late: 'paid orders not delivered and finished within the bound after the last fault, with the app left running; ' +
    'a pending-delivery count or ledger row that disagrees with the store',
  stuck: 'schedules where the engine never settled (a call without a timeout, a deadlock)',
};

/** The table, any failure in full, and the final line. `replayArgs` are extra CLI arguments of the run (e.g. a mutant). */
export function formatSummary(s: ChaosSummary, seed: number, replayArgs = ''): string {
  const lines: string[] = [];
  const pad = (v: string | number, w: number): string => String(v).padStart(w);
  lines.push('Per fault: "schedules" that contained it, times it was "injected" (actually fired), and of those how many');
  lines.push('fired in schedules that ended with every check passing ("recovered").');
  lines.push(`${'fault'.padEnd(17)}${pad('schedules', 10)}${pad('injected', 10)}${pad('recovered', 11)}`);
  for (const r of s.rows) {
    const failed = (Object.keys(r.failedBy) as ViolationKind[]).map((k) => `${k} ${r.failedBy[k]}`).join(', ');
    lines.push(`${r.fault.padEnd(17)}${pad(r.schedules, 10)}${pad(r.injected, 10)}${pad(r.recovered, 11)}${failed ? `   failed: ${failed}` : ''}`);
  }
  lines.push(`seed ${seed}; ${s.runs} schedules, ${s.orders} paid orders in the store at their ends, in ${(s.elapsedMs / 1000).toFixed(1)} s.`);
  lines.push(`After a crash or kill, the app was started again and finished its launch sweep ${s.recoveries} time(s).`);
  lines.push(`Liveness bound: every paid order must be delivered and finished within ${lateBoundMs() / 1000} s after the last fault ` +
    'clears, with the app left running (call timeout + capped retry delay + two passes).');
  lines.push('Counters (each must be 0):');
  for (const k of VIOLATION_KINDS) lines.push(`  ${k.padEnd(17)}${pad(s.counters[k], 6)}  ${COUNTER_MEANINGS[k]}`);
  if (s.failure) {
    const f = s.failure;
    lines.push('');
    const extra = replayArgs ? ` ${replayArgs}` : '';
    lines.push(`VIOLATION — reproduce with: npm run chaos -- --runs ${s.runs} --seed ${f.seed} --path ${f.path}${extra}`);
    for (const v of f.violations) lines.push(`  [${v.kind}] ${v.orderId ? `order ${v.orderId}: ` : ''}${v.detail}`);
    lines.push(`schedule (seed ${f.schedule.seed}, page size ${f.schedule.pageSize}):`);
    lines.push(...f.trace);
    lines.push('engine log (last lines):');
    lines.push(...f.engineLog.map((l) => `  ${l}`));
  }
  lines.push(finalLine(s));
  return lines.join('\n');
}
