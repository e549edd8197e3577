// Runs many chaos schedules under fast-check (reproducible from a seed; a failing schedule is shrunk to a small
// one) and aggregates the per-fault table and the four counters of issue 4.
import * as fc from 'fast-check';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ScheduleResult, runSchedule } from './ChaosWorld';
import { Violation, ViolationKind } from './Invariants';
import { FAULTS, Fault, Schedule, scheduleArbitrary } from './Scenario';

export interface ChaosOptions {
  runs: number;
  seed: number;
  /** fast-check replay path of a reported failure (with the same seed). */
  path?: string;
  /** Do not shrink a failing schedule (faster report, longer trace). */
  noShrink?: boolean;
  /** Where the per-schedule ledger folders go (default: a RAM disk when there is one). */
  workDir?: string;
  /** Called after every counted schedule. */
  onProgress?: (done: number) => void;
}

export interface FaultRow {
  fault: Fault;
  /** Schedules containing the fault. */
  schedules: number;
  /** Times it actually fired. */
  injected: number;
  /** Fired in schedules that ended with every invariant holding. */
  recovered: number;
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
  const counters: Record<ViolationKind, number> = { lost: 0, duplicated: 0, 'premature-finish': 0, 'wrongly-granted': 0, stuck: 0 };
  const rows = new Map<Fault, FaultRow>(FAULTS.map((f) => [f, { fault: f, schedules: 0, injected: 0, recovered: 0 }]));
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
    for (const f of r.faults) {
      const row = rows.get(f);
      if (row) row.schedules++;
    }
    for (const [f, count] of r.injected) {
      const row = rows.get(f);
      if (!row) continue;
      row.injected += count;
      if (r.violations.length === 0) row.recovered += count;
    }
  };

  const property = fc.asyncProperty(scheduleArbitrary, async (schedule) => {
    const { result } = await runSchedule(schedule, path.join(workDir, `s${n++}`));
    if (counting) {
      aggregate(result);
      options.onProgress?.(runs);
    }
    if (result.violations.length > 0) {
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
    });
    if (details.failed) {
      const schedule = details.counterexample?.[0];
      if (!schedule) throw new Error(`fast-check failed without a counterexample: ${String(details.errorInstance)}`);
      const replay = await runSchedule(schedule, path.join(workDir, 'replay'));
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

/** The last line of every chaos run (issue 4). */
export function finalLine(s: ChaosSummary): string {
  const c = s.counters;
  return `chaos: runs ${s.runs}, orders ${s.orders}, lost ${c.lost}, duplicated ${c.duplicated}, ` +
    `premature-finish ${c['premature-finish']}, wrongly-granted ${c['wrongly-granted']}`;
}

/** The table, any failure in full, and the final line. `replayArgs` are extra CLI arguments of the run (e.g. a mutant). */
export function formatSummary(s: ChaosSummary, seed: number, replayArgs = ''): string {
  const lines: string[] = [];
  const pad = (v: string | number, w: number): string => String(v).padStart(w);
  lines.push(`${'fault'.padEnd(17)}${pad('schedules', 10)}${pad('injected', 10)}${pad('recovered', 11)}`);
  for (const r of s.rows) lines.push(`${r.fault.padEnd(17)}${pad(r.schedules, 10)}${pad(r.injected, 10)}${pad(r.recovered, 11)}`);
  lines.push(`seed ${seed}; ${s.recoveries} restarts after a crash completed their launch; ${(s.elapsedMs / 1000).toFixed(1)} s`);
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
  if (s.counters.stuck > 0) lines.push(`stuck schedules (engine never settled): ${s.counters.stuck}`);
  lines.push(finalLine(s));
  return lines.join('\n');
}
