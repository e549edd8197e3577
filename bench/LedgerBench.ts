// Item 2: ledger durability cost (issue 7).
//
// Deliver N = 2,000 orders through the RDB ledger adapter (common/iap RdbDeliveryLedger over the Node
// relationalStore: SQLite, WAL, synchronous FULL, as HarmonyOS defaults), each order exactly as the engine's grant
// step does it: one transaction holding find(purchaseOrderId) + the granter + save(granted row), committed.
// Baseline: raw better-sqlite3 inserting the same rows into the same schema, one commit each, same durability.
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BenchContext, ItemOutput } from './BenchContext';
import type { DeliveryRecordLike, EtsRuntime } from './EtsRuntime';
import { huaweiOrderPayload } from './Fixtures';
import { GOALS } from './Goals';
import { interleaved, median, medianRatio, nowMs, round, spread } from './Measure';

const N = 2000;
const ROUNDS = 3;
const JIT_WARMUP_ORDERS = 100;
const STORE = 'bench_ledger.db';
const TABLE = 'iap_delivery';
const COLUMNS = ['purchase_order_id', 'purchase_token', 'product_id', 'product_type', 'quantity', 'state', 'attempts',
  'last_error_code', 'last_error', 'next_attempt_at', 'created_at', 'updated_at', 'granted_at', 'finished_at', 'payload'];

function grantedRecords(rt: EtsRuntime, count: number): DeliveryRecordLike[] {
  const now = Date.now();
  return Array.from({ length: count }, () => {
    const payload = huaweiOrderPayload(now);
    const r = new rt.DeliveryRecord();
    r.purchaseOrderId = String(payload.purchaseOrderId);
    r.purchaseToken = String(payload.purchaseToken);
    r.productId = String(payload.productId);
    r.productType = Number(payload.productType);
    r.quantity = 1;
    r.state = rt.DeliveryState.GRANTED;
    r.createdAt = now;
    r.updatedAt = now;
    r.grantedAt = now;
    r.payload = JSON.stringify(payload);
    return r;
  });
}

function rowValues(r: DeliveryRecordLike): Array<string | number> {
  return [r.purchaseOrderId, r.purchaseToken, r.productId, r.productType, r.quantity, r.state, r.attempts,
    r.lastErrorCode, r.lastError, r.nextAttemptAt, r.createdAt, r.updatedAt, r.grantedAt, r.finishedAt, r.payload];
}

/** Rows in state `state` of the ledger file, read back after the run (the measurement must have stored them all). */
function countRows(file: string, state: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(`SELECT COUNT(*) AS n FROM ${TABLE} WHERE state = ?`).get(state) as { n: number }).n;
  } finally {
    db.close();
  }
}

export async function runLedgerBench(ctx: BenchContext): Promise<ItemOutput> {
  const rt = await ctx.runtime();
  const records = grantedRecords(rt, N);
  const warmupRecords = grantedRecords(rt, JIT_WARMUP_ORDERS);
  let runCounter = 0;
  let journalMode = '';
  let synchronous = -1;

  /** A fresh store file whose schema the adapter itself created (so both sides write into identical tables). */
  const freshStore = async (label: string): Promise<{ dir: string; file: string }> => {
    const dir = path.join(ctx.dataDir, `ledger-${label}-${++runCounter}`);
    fs.rmSync(dir, { recursive: true, force: true });
    const ledger = new rt.RdbDeliveryLedger({ databaseDir: dir }, STORE);
    await ledger.open();
    await ledger.close();
    return { dir, file: path.join(dir, 'rdb', STORE) };
  };

  const adapterRun = async (list: readonly DeliveryRecordLike[] = records): Promise<number> => {
    const { dir, file } = await freshStore('adapter');
    const ledger = new rt.RdbDeliveryLedger({ databaseDir: dir }, STORE);
    await ledger.open();
    const start = nowMs();
    for (const record of list) {
      await ledger.transact(async (tx) => {
        const row = await tx.find(record.purchaseOrderId);
        if (row !== undefined && row.state !== rt.DeliveryState.PENDING) return;
        await tx.save(record);
      });
    }
    const ms = nowMs() - start;
    await ledger.close();
    const stored = countRows(file, rt.DeliveryState.GRANTED);
    if (stored !== list.length) throw new Error(`the RDB ledger stored ${stored} of ${list.length} orders`);
    fs.rmSync(dir, { recursive: true, force: true });
    return ms;
  };

  const rawRun = async (list: readonly DeliveryRecordLike[] = records): Promise<number> => {
    const { dir, file } = await freshStore('raw');
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    journalMode = String(db.pragma('journal_mode', { simple: true }));
    synchronous = Number(db.pragma('synchronous', { simple: true }));
    const insert = db.prepare(`INSERT INTO ${TABLE} (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`);
    const start = nowMs();
    for (const record of list) insert.run(...rowValues(record));
    const ms = nowMs() - start;
    db.close();
    const stored = countRows(file, rt.DeliveryState.GRANTED);
    if (stored !== list.length) throw new Error(`raw better-sqlite3 stored ${stored} of ${list.length} rows`);
    fs.rmSync(dir, { recursive: true, force: true });
    return ms;
  };

  ctx.log(`item 2: ${N} orders × ${ROUNDS} rounds, RDB ledger adapter vs raw better-sqlite3`);
  // An untimed short run of each first, so that no round pays for the JIT.
  await adapterRun(warmupRecords);
  await rawRun(warmupRecords);
  const samples = await interleaved(ROUNDS, { adapter: () => adapterRun(), raw: () => rawRun() });
  const adapterMs = median(samples.adapter);
  const rawMs = median(samples.raw);
  const name = 'ledger-durability';
  return {
    results: [
      {
        name,
        ratio: round(medianRatio(samples.adapter, samples.raw)),
        goal: GOALS.ledger,
        better: 'lower',
        detail: {
          orders: N,
          adapterMs: round(adapterMs, 1),
          rawMs: round(rawMs, 1),
          adapterMsPerOrder: round(adapterMs / N, 3),
          rawMsPerCommit: round(rawMs / N, 3),
          adapterOrdersPerSec: Math.round((N * 1000) / adapterMs),
          rawCommitsPerSec: Math.round((N * 1000) / rawMs),
          rounds: ROUNDS,
          ratioMethod: 'median over rounds of adapter/raw, each pair measured side by side on fresh files',
          adapterSamplesMs: samples.adapter.map((s) => round(s, 1)),
          rawSamplesMs: samples.raw.map((s) => round(s, 1)),
          adapterSpread: round(spread(samples.adapter)),
          journalMode,
          synchronous: synchronous === 2 ? 'FULL' : String(synchronous),
          adapterWork: 'per order: ledger.transact(find + save granted row), i.e. BEGIN IMMEDIATE, SELECT, UPSERT, COMMIT',
          baselineWork: 'per row: one prepared INSERT in autocommit (one commit), same schema and indexes',
        },
      },
    ],
    summaries: new Map([[name, `${round(adapterMs / N, 3)} ms/order vs raw ${round(rawMs / N, 3)} ms/commit (${N} orders)`]]),
  };
}
