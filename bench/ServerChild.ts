// The reference app server in its own process for item 4 (so that the load generator and the server do not share an
// event loop). Started by ServerBench with fork(); receives a ServerChildConfig, answers { url } once listening,
// profiles a window of the load on 'profile-start' / 'profile-stop', and closes cleanly (in-flight requests, the
// ledger) on a 'close' message or when the parent goes away.
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import Fastify from 'fastify';
import { DEFAULT_BODY_LIMIT, startServer, type RunningServer } from '../server/src/App';
import { openLedger } from '../server/src/ledger/OpenLedger';
import type { SignatureChecks } from '../server/src/jws/JwsVerifier';
import type { LedgerStats } from '../server/src/ledger/Ledger';
import { CpuProfiler, type ProfileBreakdown } from './CpuProfile';

export interface ServerChildConfig {
  trustedRootPem: string;
  appId: string;
  /** An SQLite file or a postgres:// URL. */
  databasePath: string;
  /** SQLite: the connections in a worker thread (what `npm start` runs), or on the event loop. */
  sqliteThread: boolean;
  /** Where the server runs its ES256 signature checks (SIGNATURE_CHECKS; the server's default: 'pool'). */
  signatureChecks?: SignatureChecks;
  /**
   * The HTTP floor instead of the server: Fastify with the same route, body schema and limits, answering a canned
   * payload without verifying or recording anything (what HTTP alone costs on this machine).
   */
  floor?: boolean;
}

export type ServerChildReply =
  | { url: string }
  | { error: string }
  | { closed: true }
  | { profiling: true }
  | { stats: LedgerStats }
  | { profile: ProfileBreakdown | undefined; eventLoopUtilization: number; eventLoopActiveMs: number; commits: LedgerStats; cpuMs: number };

/** 'window-start' / 'window-stop' measure a window of the load (event loop, CPU, commits); 'profile-*' add a CPU profile. */
export type ServerChildCommand = ServerChildConfig | 'close' | 'stats' | 'window-start' | 'window-stop' | 'profile-start' | 'profile-stop';

function reply(message: ServerChildReply): void {
  process.send?.(message);
}

let server: RunningServer | undefined;
let profiler: CpuProfiler | undefined;
let window: { elu: EventLoopUtilization; commits: LedgerStats; cpu: NodeJS.CpuUsage } | undefined;

/** The ledger's counters; zeros for the HTTP floor, which has none. */
function ledgerStats(): LedgerStats {
  return server ? server.ledger.stats() : { commits: 0, failedBatches: 0, units: 0, largestBatch: 0 };
}

async function stop(): Promise<void> {
  if (server) await server.close();
  server = undefined;
  if (floorApp) await floorApp.close();
  floorApp = undefined;
}

function fail(e: unknown): void {
  reply({ error: e instanceof Error ? e.message : String(e) });
}

process.on('message', (message: ServerChildCommand) => {
  if (message === 'close') {
    stop().then(() => {
      reply({ closed: true });
      process.disconnect?.();
    }, fail);
    return;
  }
  if (message === 'stats') {
    reply({ stats: ledgerStats() });
    return;
  }
  if (message === 'profile-start' || message === 'window-start') {
    profiler = message === 'profile-start' ? new CpuProfiler() : undefined;
    window = { elu: performance.eventLoopUtilization(), commits: ledgerStats(), cpu: process.cpuUsage() };
    (profiler ? profiler.start() : Promise.resolve()).then(() => reply({ profiling: true }), fail);
    return;
  }
  if (message === 'profile-stop' || message === 'window-stop') {
    const started = window!;
    const p = profiler;
    profiler = undefined;
    (p ? p.stop() : Promise.resolve(undefined)).then((profile) => {
      const now = ledgerStats();
      const cpu = process.cpuUsage(started.cpu);
      const elu = performance.eventLoopUtilization(started.elu);
      const commits: LedgerStats = {
        commits: now.commits - started.commits.commits,
        failedBatches: now.failedBatches - started.commits.failedBatches,
        units: now.units - started.commits.units,
        largestBatch: now.largestBatch,
      };
      reply({ profile, eventLoopUtilization: elu.utilization, eventLoopActiveMs: elu.active, commits, cpuMs: (cpu.user + cpu.system) / 1000 });
    }, fail);
    return;
  }
  if (message.floor) {
    startFloor().then((url) => reply({ url }), fail);
    return;
  }
  startServer({
    host: '127.0.0.1',
    port: 0,
    trustedRootPem: message.trustedRootPem,
    appId: message.appId,
    environment: 'SANDBOX',
    databasePath: message.databasePath,
    ledger: openLedger(message.databasePath, {}, { sqliteThread: message.sqliteThread }),
    logger: false,
    ...(message.signatureChecks ? { signatureChecks: message.signatureChecks } : {}),
  }).then((s) => {
    server = s;
    reply({ url: s.url });
  }, fail);
});

/** The HTTP floor (see ServerChildConfig.floor). */
async function startFloor(): Promise<string> {
  const app = Fastify({ logger: false, bodyLimit: DEFAULT_BODY_LIMIT });
  const payload = { purchaseOrderId: 'floor', purchaseToken: 'floor', productId: 'gems_100', productType: '0', quantity: 1, price: 600, currency: 'CNY' };
  app.post(
    '/v1/purchases/verify',
    {
      schema: {
        body: { type: 'object', required: ['purchaseData'], additionalProperties: false, properties: { purchaseData: { type: 'string', minLength: 1, maxLength: 60000 } } },
        response: { 200: { type: 'object', required: ['status', 'payload'], properties: { status: { type: 'string' }, payload: { type: 'object', additionalProperties: true } } } },
      },
    },
    async (_req, r) => {
      void r.header('x-delivery', 'new');
      return { status: 'valid', payload };
    },
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  floorApp = app;
  return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
}

let floorApp: { close(): Promise<unknown> } | undefined;

process.on('disconnect', () => {
  void stop().finally(() => process.exit(0));
});
