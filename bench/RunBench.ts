// `npm run bench [-- item ...]`: issue 7's benchmarks, in one process run so that machine noise hits each figure
// and its baseline alike. Prints a table (each ratio next to its goal) and writes bench/results.json.
// Items: jws (1), ledger (2), sweep (3), server (4); none given = all. Exits 0 whatever the figures: a benchmark
// reports, it does not gate. It exits 1 only on a usage error.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BenchContext, ItemOutput, SharedFigures } from './BenchContext';
import { loadEtsRuntime, type EtsRuntime } from './EtsRuntime';
import { runJwsBench } from './JwsBench';
import { runLedgerBench } from './LedgerBench';
import { nowMs, round } from './Measure';
import { GOALS } from './Goals';
import { describeMachine, formatMarkdownTable, formatTable, writeResults, type BenchResult } from './Report';
import { runServerBench, SERVER_RESULT_NAMES } from './ServerBench';
import { runSweepBench } from './SweepBench';

const BENCH_DIR = __dirname;
export const RESULTS_FILE = path.join(BENCH_DIR, 'results.json');

interface Item {
  id: string;
  title: string;
  run: (ctx: BenchContext) => Promise<ItemOutput>;
  /** Result names written when the item cannot run (so results.json always lists every item). */
  names: Array<{ name: string; goal: number; better: 'higher' | 'lower' }>;
}

const ITEMS: Item[] = [
  {
    id: 'jws',
    title: '1. JWS verification vs Apple SignedDataVerifier',
    run: runJwsBench,
    names: ['cold', 'warm', '1000-chains'].flatMap((s) =>
      ['on-device', 'server'].map((w) => ({ name: `jws-${s}-${w}`, goal: s === 'cold' ? GOALS.jwsCold : GOALS.jwsWarm, better: 'higher' as const })),
    ).concat([{ name: 'jws-cold-on-device-with-node-kit', goal: GOALS.jwsCold, better: 'higher' as const }]),
  },
  { id: 'ledger', title: '2. Ledger durability cost', run: runLedgerBench, names: [{ name: 'ledger-durability', goal: GOALS.ledger, better: 'lower' }] },
  { id: 'sweep', title: '3. Sweep cost vs the floor', run: runSweepBench, names: [{ name: 'sweep-cost', goal: GOALS.sweep, better: 'lower' }] },
  {
    id: 'server',
    title: '4. Server throughput: SQLite, PostgreSQL with one and two instances',
    run: runServerBench,
    names: SERVER_RESULT_NAMES.map((n) => ({ ...n, better: 'higher' as const })),
  },
];

function usage(): string {
  return `usage: npm run bench [-- ${ITEMS.map((i) => i.id).join(' | ')} ...]`;
}

async function main(argv: readonly string[]): Promise<number> {
  const unknown = argv.filter((a) => !ITEMS.some((i) => i.id === a));
  if (unknown.length > 0) {
    console.error(`unknown item ${unknown.join(', ')}\n${usage()}`);
    return 1;
  }
  const selected = argv.length === 0 ? ITEMS : ITEMS.filter((i) => argv.includes(i.id));
  const dataDir = path.join(BENCH_DIR, 'tmp', `run-${process.pid}`);
  fs.mkdirSync(dataDir, { recursive: true });
  const shared: SharedFigures = {};
  let runtime: Promise<EtsRuntime> | undefined;
  const ctx: BenchContext = {
    dataDir,
    shared,
    runtime: () => (runtime ??= loadEtsRuntime(dataDir)),
    log: (line: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`),
  };
  const machine = describeMachine(dataDir);
  const results: BenchResult[] = [];
  const summaries = new Map<string, string>();
  const started = nowMs();
  try {
    for (const item of selected) {
      ctx.log(`${item.title}`);
      const t0 = nowMs();
      try {
        const out = await item.run(ctx);
        results.push(...out.results);
        out.summaries.forEach((v, k) => summaries.set(k, v));
      } catch (e) {
        const message = e instanceof Error ? (e.stack ?? e.message) : String(e);
        ctx.log(`${item.id} could not run: ${message}`);
        for (const n of item.names) {
          results.push({ ...n, ratio: null, detail: { error: message.split('\n')[0] ?? message } });
          summaries.set(n.name, `not run: ${(message.split('\n')[0] ?? '').slice(0, 80)}`);
        }
      }
      ctx.log(`${item.id} took ${round((nowMs() - t0) / 1000, 1)} s`);
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  machine.benchSeconds = round((nowMs() - started) / 1000, 1);
  machine.loadAverageAtEnd = round(os.loadavg()[0] ?? 0);
  writeResults(RESULTS_FILE, { machine, results });
  console.log(`\nzerolost benchmarks — ${String(machine.cpuModel)}, ${String(machine.logicalCpus)} CPUs, Node ${process.version}`);
  console.log(formatTable(results, summaries));
  console.log(`\nwritten ${path.relative(process.cwd(), RESULTS_FILE)} (${machine.benchSeconds} s)`);
  if (process.env.BENCH_MARKDOWN === '1') console.log(`\n${formatMarkdownTable(results, summaries)}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(0);
  },
);
