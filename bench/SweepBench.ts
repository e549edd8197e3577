// Item 3: sweep cost (issue 7).
//
// The delivery engine (common/iap DeliveryEngine over the RDB ledger, the on-device verifier and the IAP Kit
// adapter, all .ets bundled into Node) recovers N = 1,000 paid, unfinished orders from the IAP Kit simulator, whose
// every call costs a simulated IPC latency of 20 ms and whose queryPurchases pages hold 20 orders.
//
// The floor is computed from figures measured in this same run, on the same orders and the same disk:
//   (pages + one finishPurchase per order) × the measured round trip of one simulated IAP call
//   + N × the measured on-device verification of those orders' purchaseData
//   + N × one durable commit (raw better-sqlite3, WAL + synchronous FULL, same schema): the grant must be on disk
//     before finishPurchase, so no zero-loss pipeline can do with less.
//
// Memory: the same sweep at N = 250, 500 and 1,000 (latency 0: it does not change memory), the live heap sampled
// after full GCs at every page boundary. A store-only control run (the same IAP calls through the same
// IapKitStoreGateway, without the engine) is subtracted page by page, so the simulator's own state (its audit log)
// counts neither for nor against the engine. Streamed means: the engine's median excess at N = 1,000 exceeds the one
// at N = 250 by less than one page of purchaseData, and so does the trend (least-squares slope × pages) across the
// N = 1,000 sweep. An engine that collected the orders would grow by every order's purchaseData.
import Database from 'better-sqlite3';
import * as path from 'node:path';
import type { IapSimulator } from '../tools/iap-sim/IapSimulator';
import type { ProductDefinition } from '../tools/iap-sim/Catalog';
import { ProductType, PurchaseQueryType } from '../tools/iap-sim/IapTypes';
import type { BenchContext, ItemOutput } from './BenchContext';
import type { DeliveryEngineLike, EtsRuntime, GranterLike, OnDeviceVerifierLike, SweepReportLike } from './EtsRuntime';
import { GOALS } from './Goals';
import { liveHeapBytes, median, nowMs, round } from './Measure';
import type { Json } from './Report';

const N = 1000;
const MEMORY_NS = [250, 500, 1000];
const MEMORY_WARMUP_N = 100;
const PAGE_SIZE = 20;
const LATENCY_MS = 20;
const ROUND_TRIP_SAMPLES = 40;
const STORE = 'bench_sweep.db';
const NO_CONTEXT = {};

/** The app's grant is the app's cost: the benchmark measures the engine, so the granter does nothing. */
const NOOP_GRANTER: GranterLike = {
  prepare: async (): Promise<void> => undefined,
  grant: async (): Promise<void> => undefined,
  revoke: async (): Promise<void> => undefined,
};

function catalog(n: number): ProductDefinition[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `bench_gems_${String(i).padStart(4, '0')}`,
    type: ProductType.CONSUMABLE,
    name: `Bench gems ${i}`,
    description: 'benchmark consumable',
    priceFen: 600,
  }));
}

/** A store holding `n` paid, unfinished consumable orders (one per product: a consumable is owned until finished). */
async function storeWithOrders(rt: EtsRuntime, n: number, latencyMs: number): Promise<{ sim: IapSimulator; products: ProductDefinition[] }> {
  const products = catalog(n);
  const sim = await rt.IapSimulator.create({ catalog: products, pageSize: PAGE_SIZE, latencyMs: 0, seed: 7 });
  for (const p of products) sim.purchaseOutsideApp(p.id);
  sim.setLatency(latencyMs);
  rt.installSimulator(sim);
  return { sim, products };
}

function newVerifier(rt: EtsRuntime, sim: IapSimulator): OnDeviceVerifierLike {
  const config = new rt.OnDeviceJwsVerifierConfig(sim.rootCertificatePem);
  config.applicationId = sim.applicationId;
  config.environment = sim.environment;
  return new rt.OnDeviceJwsVerifier(config, new rt.CryptoKitPort());
}

function newEngine(rt: EtsRuntime, sim: IapSimulator, products: ProductDefinition[], databaseDir: string): DeliveryEngineLike {
  const context = { databaseDir };
  return new rt.DeliveryEngine(
    {
      store: new rt.IapKitStoreGateway(context),
      ledger: new rt.RdbDeliveryLedger(context, STORE),
      verifier: newVerifier(rt, sim),
      granter: NOOP_GRANTER,
      clock: new rt.TimerClock(),
      logger: new rt.HilogLogger(),
      codec: new rt.UtilTextCodec(),
    },
    {
      applicationId: sim.applicationId,
      environment: sim.environment,
      products: products.map((p) => ({ productId: p.id, productType: p.type })),
      // Only consumables are sold here: sweep what the catalog holds, as an app selling only consumables would.
      sweepProductTypes: [rt.IapProductType.CONSUMABLE],
      restoreProductTypes: [],
    },
  );
}

/** Every purchaseData the UNFINISHED query returns, page by page (the simulator's latency must be 0 here). */
async function allPurchaseData(sim: IapSimulator): Promise<{ items: string[]; pages: number }> {
  const items: string[] = [];
  let pages = 0;
  let token: string | undefined;
  do {
    const page = await sim.queryPurchases(NO_CONTEXT, {
      productType: ProductType.CONSUMABLE,
      queryType: PurchaseQueryType.UNFINISHED,
      ...(token === undefined ? {} : { continuationToken: token }),
    });
    pages++;
    items.push(...(page.purchaseDataList ?? []));
    token = page.continuationToken;
  } while (token !== undefined && token.length > 0);
  return { items, pages };
}

function checkReport(report: SweepReportLike, n: number, sim: IapSimulator, what: string): void {
  const left = sim.unfinishedOrders().length;
  if (!report.complete || report.delivered !== n || left !== 0) {
    throw new Error(`${what}: the sweep delivered ${report.delivered} of ${n} orders, ${left} left unfinished ` +
      `(complete=${report.complete}, pending=${report.pending}, rejected=${report.rejected}, error=${report.errorCategory} ${report.errorMessage})`);
  }
}

interface Calibration {
  roundTripMs: number;
  verifyMsPerOrder: number;
  commitMsPerOrder: number;
  pages: number;
  purchaseDataAvgChars: number;
}

/** The floor's ingredients, measured on the very store the timed sweep will empty. */
async function calibrate(rt: EtsRuntime, sim: IapSimulator, dir: string): Promise<Calibration> {
  const trips: number[] = [];
  for (let i = 0; i < ROUND_TRIP_SAMPLES; i++) {
    const t = nowMs();
    await sim.queryEnvironmentStatus(NO_CONTEXT);
    trips.push(nowMs() - t);
  }
  sim.setLatency(0);
  const { items, pages } = await allPurchaseData(sim);
  sim.setLatency(LATENCY_MS);

  const verifier = newVerifier(rt, sim);
  const payloads: Array<Record<string, string | number | boolean>> = [];
  const t0 = nowMs();
  for (const purchaseData of items) {
    const r = await verifier.verify(purchaseData, '');
    if (!r.isValid) throw new Error(`calibration: the on-device verifier rejected the simulator's order: ${r.reason} ${r.detail}`);
  }
  const verifyMs = nowMs() - t0;
  for (const purchaseData of items) {
    const jws = (JSON.parse(purchaseData) as { jwsPurchaseOrder: string }).jwsPurchaseOrder;
    payloads.push(JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, string | number | boolean>);
  }

  // One durable commit per order, raw: the ledger row the engine writes, into the adapter's own schema.
  const ledger = new rt.RdbDeliveryLedger({ databaseDir: dir }, 'bench_floor.db');
  await ledger.open();
  await ledger.close();
  const db = new Database(path.join(dir, 'rdb', 'bench_floor.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  const insert = db.prepare(
    'INSERT INTO iap_delivery (purchase_order_id, purchase_token, product_id, product_type, quantity, state, ' +
      'created_at, updated_at, granted_at, payload) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?)',
  );
  const now = Date.now();
  const t1 = nowMs();
  for (const p of payloads) {
    insert.run(String(p.purchaseOrderId), String(p.purchaseToken), String(p.productId), Number(p.productType),
      rt.DeliveryState.GRANTED, now, now, now, JSON.stringify(p));
  }
  const commitMs = nowMs() - t1;
  db.close();

  return {
    roundTripMs: median(trips),
    verifyMsPerOrder: verifyMs / items.length,
    commitMsPerOrder: commitMs / payloads.length,
    pages,
    purchaseDataAvgChars: items.reduce((s, x) => s + x.length, 0) / items.length,
  };
}

interface MemoryRun {
  orders: number;
  /** Per page boundary: live heap of the engine run minus the store-only control run, bytes. */
  excess: number[];
}

/** Least-squares slope of `ys` over their indexes. */
function slope(ys: readonly number[]): number {
  const n = ys.length;
  if (n < 2) return 0;
  const mx = (n - 1) / 2;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  ys.forEach((y, x) => {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  });
  return num / den;
}

/** Live heap after a full GC at every queryPurchases answer (a page boundary), relative to before the sweep. */
async function sampledPages(sim: IapSimulator, work: () => Promise<void>): Promise<number[]> {
  const baseline = liveHeapBytes();
  const samples: number[] = [];
  const unsubscribe = sim.addObserver((entry) => {
    if (entry.fn === 'queryPurchases') samples.push(liveHeapBytes() - baseline);
  });
  try {
    await work();
  } finally {
    unsubscribe();
  }
  samples.push(liveHeapBytes() - baseline);
  return samples;
}

async function memoryRun(rt: EtsRuntime, n: number, dir: string): Promise<MemoryRun> {
  // Control: the same IAP calls (every page, one finish per order) through the same adapter, without the engine.
  const control = await storeWithOrders(rt, n, 0);
  const gateway = new rt.IapKitStoreGateway({ databaseDir: dir });
  const controlSamples = await sampledPages(control.sim, async () => {
    let token: string | undefined;
    do {
      const page = await gateway.queryPurchases(rt.IapProductType.CONSUMABLE, rt.IapQueryType.UNFINISHED, token);
      for (const purchaseData of page.purchaseDataList) {
        const jws = (JSON.parse(purchaseData) as { jwsPurchaseOrder: string }).jwsPurchaseOrder;
        const p = JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString('utf8')) as { purchaseToken: string; purchaseOrderId: string };
        await gateway.finishPurchase(rt.IapProductType.CONSUMABLE, p.purchaseToken, p.purchaseOrderId);
      }
      token = page.continuationToken;
    } while (token !== undefined && token.length > 0);
  });

  const { sim, products } = await storeWithOrders(rt, n, 0);
  const engine = newEngine(rt, sim, products, path.join(dir, `memory-${n}`));
  await engine.start();
  let report: SweepReportLike | undefined;
  const engineSamples = await sampledPages(sim, async () => {
    report = await engine.recover(rt.SweepTrigger.USER);
  });
  await engine.stop();
  checkReport(report!, n, sim, `memory run N=${n}`);

  const k = Math.min(controlSamples.length, engineSamples.length);
  return {
    orders: n,
    excess: Array.from({ length: k }, (_, i) => engineSamples[i]! - controlSamples[i]!),
  };
}

function kib(bytes: number): number {
  return round(bytes / 1024, 1);
}

export async function runSweepBench(ctx: BenchContext): Promise<ItemOutput> {
  const rt = await ctx.runtime();
  const dir = path.join(ctx.dataDir, 'sweep');

  ctx.log(`item 3: ${N} paid orders in the simulator (latency ${LATENCY_MS} ms, pages of ${PAGE_SIZE}); calibrating the floor`);
  const { sim, products } = await storeWithOrders(rt, N, LATENCY_MS);
  const cal = await calibrate(rt, sim, dir);

  ctx.log(`item 3: timed sweep of ${N} orders`);
  const engine = newEngine(rt, sim, products, path.join(dir, 'timed'));
  await engine.start();
  const t0 = nowMs();
  const report = await engine.recover(rt.SweepTrigger.USER);
  const sweepMs = nowMs() - t0;
  await engine.stop();
  checkReport(report, N, sim, 'timed sweep');
  const finishCalls = sim.calls('finishPurchase').length;
  const queryCalls = sim.calls('queryPurchases').length - cal.pages;

  const ipcMs = (cal.pages + N) * cal.roundTripMs;
  const verifyMs = N * cal.verifyMsPerOrder;
  const commitMs = N * cal.commitMsPerOrder;
  const floorMs = ipcMs + verifyMs + commitMs;

  ctx.log(`item 3: memory at N = ${MEMORY_NS.join(', ')} (engine vs store-only control)`);
  await memoryRun(rt, MEMORY_WARMUP_N, dir); // untimed, unreported: settles the JIT and V8's caches first
  const memory: MemoryRun[] = [];
  for (const n of MEMORY_NS) memory.push(await memoryRun(rt, n, dir));
  const onePageBytes = Math.round(PAGE_SIZE * cal.purchaseDataAvgChars);
  const first = memory[0]!;
  const last = memory[memory.length - 1]!;
  const growth = median(last.excess) - median(first.excess);
  const growthBySlope = slope(last.excess) * last.excess.length;
  const streamed = growth < onePageBytes && growthBySlope < onePageBytes;

  const name = 'sweep-cost';
  const memoryDetail: Json[] = memory.map((m) => ({
    orders: m.orders,
    pageBoundaries: m.excess.length,
    engineExcessMedianKiB: kib(median(m.excess)),
    engineExcessMaxKiB: kib(Math.max(...m.excess)),
    engineExcessSlopeKiBPerPage: round(slope(m.excess) / 1024, 2),
  }));
  return {
    results: [
      {
        name,
        ratio: round(sweepMs / floorMs),
        goal: GOALS.sweep,
        better: 'lower',
        detail: {
          orders: N,
          pageSize: PAGE_SIZE,
          latencyMs: LATENCY_MS,
          sweepMs: round(sweepMs, 1),
          sweepMsPerOrder: round(sweepMs / N, 3),
          floorMs: round(floorMs, 1),
          floor: {
            pages: cal.pages,
            finishes: N,
            measuredRoundTripMs: round(cal.roundTripMs, 3),
            ipcMs: round(ipcMs, 1),
            verifyMsPerOrder: round(cal.verifyMsPerOrder, 3),
            verifyMs: round(verifyMs, 1),
            commitMsPerOrder: round(cal.commitMsPerOrder, 3),
            commitMs: round(commitMs, 1),
          },
          engine: {
            queryPurchasesCalls: queryCalls,
            finishPurchaseCalls: finishCalls,
            reportPages: report.pages,
            delivered: report.delivered,
            note: 'per order the engine commits twice: the grant transaction, then (after finishPurchase) the finished mark; the floor counts one',
          },
          memory: memoryDetail,
          memoryMethod:
            'live JS heap after full GCs at every page boundary (each queryPurchases answer), engine sweep minus a ' +
            'store-only control run making the same IAP calls through the same adapter; latency 0 (memory does not depend on it)',
          onePageOfPurchaseDataKiB: kib(onePageBytes),
          collectingEngineWouldGrowKiB: kib((last.orders - first.orders) * cal.purchaseDataAvgChars),
          excessGrowthMedian250To1000KiB: kib(growth),
          excessGrowthBySlopeOver1000KiB: kib(growthBySlope),
          streamed,
        },
      },
    ],
    summaries: new Map([
      [
        name,
        `${round(sweepMs / 1000, 2)} s vs floor ${round(floorMs / 1000, 2)} s (${N} orders); heap above store-only ` +
          `${memory.map((m) => `${kib(median(m.excess))}`).join(' / ')} KiB at N = ${MEMORY_NS.join(' / ')}: ` +
          (streamed ? 'streamed' : 'GROWS with N'),
      ],
    ]),
  };
}
