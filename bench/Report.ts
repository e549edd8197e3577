// The shape of bench/results.json (issue 7), the machine description, and the printed table.
import * as fs from 'node:fs';
import * as os from 'node:os';

/** A JSON value (what `detail` may hold). */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export interface BenchResult {
  /** Stable id, e.g. "jws-cold-server". */
  name: string;
  /** The figure compared with `goal`; null when the item could not run (detail.error says why). */
  ratio: number | null;
  goal: number;
  better: 'higher' | 'lower';
  detail: { [key: string]: Json };
}

export interface ResultsFile {
  machine: { [key: string]: Json };
  results: BenchResult[];
}

export function meetsGoal(r: BenchResult): boolean | undefined {
  if (r.ratio === null) return undefined;
  return r.better === 'higher' ? r.ratio >= r.goal : r.ratio <= r.goal;
}

/** Linux statfs magic numbers of the file systems a data directory usually lives on. */
const FS_TYPES = new Map<number, string>([
  [0xef53, 'ext4'],
  [0x58465342, 'xfs'],
  [0x9123683e, 'btrfs'],
  [0x01021994, 'tmpfs'],
  [0x794c7630, 'overlayfs'],
  [0x6a656a63, 'fakeowner'],
]);

export function fileSystemOf(dir: string): string {
  try {
    const type = fs.statfsSync(dir).type;
    return FS_TYPES.get(type) ?? `0x${type.toString(16)}`;
  } catch {
    return 'unknown';
  }
}

export function describeMachine(dataDir: string): { [key: string]: Json } {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    logicalCpus: cpus.length,
    totalMemoryMiB: Math.round(os.totalmem() / 2 ** 20),
    platform: `${os.platform()} ${os.release()}`,
    arch: os.arch(),
    node: process.version,
    openssl: process.versions.openssl ?? 'unknown',
    sqlite: sqliteVersion(),
    dataDirFileSystem: fileSystemOf(dataDir),
    /** Other load on the machine when the run started (1-minute load average; compare with logicalCpus). */
    loadAverageAtStart: Math.round(os.loadavg()[0]! * 100) / 100,
    date: new Date().toISOString(),
  };
}

function sqliteVersion(): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const Database = require('better-sqlite3') as typeof import('better-sqlite3');
    const db = new Database(':memory:');
    try {
      return String((db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v);
    } finally {
      db.close();
    }
  } catch {
    return 'unknown';
  }
}

function formatRatio(r: BenchResult): string {
  return r.ratio === null ? 'n/a' : `${r.ratio.toFixed(2)}×`;
}

function formatGoal(r: BenchResult): string {
  return `${r.better === 'higher' ? '≥' : '≤'} ${r.goal}×`;
}

function verdict(r: BenchResult): string {
  const ok = meetsGoal(r);
  return ok === undefined ? 'not run' : ok ? 'met' : 'MISSED';
}

/** A fixed-width text table: item, ratio, goal, verdict, and one line of context. */
export function formatTable(results: readonly BenchResult[], summaries: ReadonlyMap<string, string>): string {
  const rows = results.map((r) => [r.name, formatRatio(r), formatGoal(r), verdict(r), summaries.get(r.name) ?? '']);
  const header = ['item', 'ratio', 'goal', 'verdict', 'measured'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The README table: the same figures as Markdown. */
export function formatMarkdownTable(results: readonly BenchResult[], summaries: ReadonlyMap<string, string>): string {
  const out = ['| item | ratio | goal | verdict | measured |', '|---|---|---|---|---|'];
  for (const r of results) {
    out.push(`| \`${r.name}\` | ${formatRatio(r)} | ${formatGoal(r)} | ${verdict(r)} | ${summaries.get(r.name) ?? ''} |`);
  }
  return out.join('\n');
}

export function writeResults(file: string, data: ResultsFile): void {
  fs.writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
}
