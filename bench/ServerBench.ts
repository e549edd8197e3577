// Item 4: server throughput (issue 7).
//
// The reference app server (server/src startServer, its own process, SQLite ledger on disk in WAL + synchronous
// FULL) under autocannon (programmatic API, this process) on loopback with 50 connections. Every request posts a
// different pre-signed purchaseData (consumable orders with distinct purchaseOrderIds, from a few chains as in real
// traffic), so each one is verified AND granted in the ledger with a durable commit. Compared with the in-process
// rate of the server's JwsVerifier from item 1 (warm); measured here when item 1 did not run.
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { JwsVerifier } from '../server/src/jws/JwsVerifier';
import type { BenchContext, ItemOutput } from './BenchContext';
import { APP_ID, createChains, huaweiOrderPayload, purchaseDataOf } from './Fixtures';
import { GOALS } from './Goals';
import { median, nowMs, round } from './Measure';
import type { ServerChildConfig, ServerChildReply } from './ServerChild';

const CONNECTIONS = 50;
const CHAINS = 4;
const WARMUP_REQUESTS = 1000;
/** The measured run is sized from the warm-up rate to last about this long, within the bounds below. */
const TARGET_SECONDS = 8;
const MIN_MEASURED_REQUESTS = 2000;
const MAX_MEASURED_REQUESTS = 40000;
const PATH = '/v1/purchases/verify';

interface LoadRun {
  result: autocannon.Result;
  /** x-delivery header values seen: "new" (granted now) and "replay". */
  deliveries: Map<string, number>;
}

function load(url: string, bodies: readonly string[]): Promise<LoadRun> {
  let next = 0;
  const deliveries = new Map<string, number>();
  return autocannon({
    url,
    connections: CONNECTIONS,
    amount: bodies.length,
    timeout: 30,
    requests: [
      {
        method: 'POST',
        path: PATH,
        headers: { 'content-type': 'application/json' },
        setupRequest: (request) => ({ ...request, body: bodies[next++ % bodies.length] }),
        onResponse: (_status, _body, _context, headers) => {
          const raw = headers?.['x-delivery'];
          const value = Array.isArray(raw) ? raw.join(',') : (raw ?? 'none');
          deliveries.set(value, (deliveries.get(value) ?? 0) + 1);
        },
      },
    ],
  }).then((result) => ({ result, deliveries }));
}

function startChild(config: ServerChildConfig): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(path.join(__dirname, 'ServerChild.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the server process exited (${code}) before listening`)));
    child.once('message', (m: ServerChildReply) => {
      if ('url' in m) resolve({ child, url: m.url });
      else reject(new Error(`the server process failed: ${'error' in m ? m.error : 'closed'}`));
    });
    child.send(config);
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.send('close');
  });
}

function describeFailures(run: LoadRun, expected: number): string {
  const r = run.result;
  const problems: string[] = [];
  if (r['2xx'] !== expected) problems.push(`${r['2xx']} of ${expected} answered 2xx`);
  if (r.non2xx > 0) problems.push(`${r.non2xx} non-2xx (4xx ${r['4xx']}, 5xx ${r['5xx']})`);
  if (r.errors > 0) problems.push(`${r.errors} connection errors (${r.timeouts} timeouts)`);
  const replays = run.deliveries.get('replay') ?? 0;
  if (replays > 0) problems.push(`${replays} replays`);
  return problems.join('; ');
}

export async function runServerBench(ctx: BenchContext): Promise<ItemOutput> {
  const set = await createChains(CHAINS);
  const now = Date.now();
  const sign = (count: number): string[] =>
    Array.from({ length: count }, (_, i) => set.chains[i % CHAINS]!.signJws(huaweiOrderPayload(now)));
  const bodiesOf = (jws: readonly string[]): string[] => jws.map((j) => JSON.stringify({ purchaseData: purchaseDataOf(j) }));
  const warmupJws = sign(WARMUP_REQUESTS);

  let inProcessPerSec = ctx.shared.serverWarmVerifyPerSec;
  let inProcessSource = 'item 1, server JwsVerifier, warm';
  if (inProcessPerSec === undefined) {
    const samples: number[] = [];
    const list = sign(2000);
    for (let r = 0; r < 3; r++) {
      const v = new JwsVerifier({ trustedRootsPem: set.root.rootPem });
      for (const j of warmupJws.slice(0, 200)) v.verify(j);
      const t = nowMs();
      for (const j of list) v.verify(j);
      samples.push((list.length * 1000) / (nowMs() - t));
    }
    inProcessPerSec = Math.round(median(samples));
    inProcessSource = 'measured here (item 1 not run): server JwsVerifier, warm, 4 chains';
  }

  const databasePath = path.join(ctx.dataDir, 'server-ledger.sqlite');
  const { child, url } = await startChild({ trustedRootPem: set.root.rootPem, appId: APP_ID, databasePath });
  let measured: LoadRun;
  let warm: LoadRun;
  let measuredRequests: number;
  try {
    ctx.log(`item 4: ${url}${PATH}, ${CONNECTIONS} connections, ${WARMUP_REQUESTS} warm-up requests`);
    warm = await load(url, bodiesOf(warmupJws));
    const warmRate = WARMUP_REQUESTS / warm.result.duration;
    measuredRequests = Math.min(MAX_MEASURED_REQUESTS, Math.max(MIN_MEASURED_REQUESTS, Math.round(warmRate * TARGET_SECONDS)));
    const bodies = bodiesOf(sign(measuredRequests));
    ctx.log(`item 4: ${measuredRequests} measured requests (each a new order)`);
    measured = await load(url, bodies);
  } finally {
    await stopChild(child);
  }
  const warmProblems = describeFailures(warm, WARMUP_REQUESTS);
  const problems = describeFailures(measured, measuredRequests);
  if (warmProblems || problems) throw new Error(`the server did not grant every order: ${warmProblems || problems}`);

  const db = new Database(databasePath, { readonly: true });
  const granted = (db.prepare('SELECT COUNT(*) AS n FROM orders').get() as { n: number }).n;
  const journalMode = String(db.pragma('journal_mode', { simple: true }));
  db.close();
  if (granted !== WARMUP_REQUESTS + measuredRequests) {
    throw new Error(`the ledger holds ${granted} orders, expected ${WARMUP_REQUESTS + measuredRequests}`);
  }

  const r = measured.result;
  const requestsPerSec = measuredRequests / r.duration;
  const name = 'server-throughput';
  return {
    results: [
      {
        name,
        ratio: round(requestsPerSec / inProcessPerSec),
        goal: GOALS.server,
        better: 'higher',
        detail: {
          requestsPerSec: Math.round(requestsPerSec),
          inProcessVerifyPerSec: inProcessPerSec,
          inProcessSource,
          latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max, mean: round(r.latency.average) },
          p99Ms: r.latency.p99,
          connections: CONNECTIONS,
          requests: measuredRequests,
          warmupRequests: WARMUP_REQUESTS,
          durationSec: round(r.duration, 2),
          status2xx: r['2xx'],
          non2xx: r.non2xx,
          errors: r.errors,
          newGrants: measured.deliveries.get('new') ?? 0,
          ledgerRows: granted,
          ledger: `SQLite file, journal_mode ${journalMode}, synchronous FULL, group commit: concurrent grants share one BEGIN IMMEDIATE … COMMIT, one SAVEPOINT each; every answer after its COMMIT`,
          loadGenerator: 'autocannon 9 (programmatic API) in the bench process; server in a child process',
          endpoint: `POST ${PATH} on 127.0.0.1`,
        },
      },
    ],
    summaries: new Map([
      [name, `${Math.round(requestsPerSec).toLocaleString('en-US')} req/s (p99 ${r.latency.p99} ms) vs in-process ${inProcessPerSec.toLocaleString('en-US')}/s`],
    ]),
  };
}
