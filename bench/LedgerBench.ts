// Item 2: ledger durability cost (issue 7).
//
// Deliver N = 2,000 orders through the RDB ledger adapter (common/iap RdbDeliveryLedger over the Node
// relationalStore: SQLite, WAL, synchronous FULL, as HarmonyOS defaults), each order exactly as the engine's grant
// step does it: one transaction holding find(purchaseOrderId) + save(granted row), committed (the app's granter,
// which would run inside it, is left out: it is the app's cost). Baseline: raw better-sqlite3 inserting the same rows
// into the same schema (created by the adapter), one commit each, same durability. Disk latency drifts with whatever
// else the machine does, so within each round the sides take turns in blocks of 100 orders. A third side, the same
// statements straight on relationalStore without the adapter, splits the extra cost between the adapter and the
// (Node) platform layer.
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BenchContext, ItemOutput } from './BenchContext';
import type { DeliveryRecordLike, EtsRuntime } from './EtsRuntime';
import { huaweiOrderPayload } from './Fixtures';
import { GOALS } from './Goals';
import { median, medianRatio, nowMs, round, spread } from './Measure';

const N = 2000;
const ROUNDS = 3;
/** Orders per block; the two sides alternate block by block. */
const BLOCK = 100;
const JIT_WARMUP_ORDERS = 100;
const STORE = 'bench_ledger.db';
const TABLE = 'iap_delivery';
const COLUMNS = ['purchase_order_id', 'purchase_token', 'product_id', 'product_type', 'quantity', 'state', 'attempts',
  'last_error_code', 'last_error', 'next_attempt_at', 'created_at', 'updated_at', 'granted_at', 'finished_at', 'payload'];
/** The adapter's upsert (RdbDeliveryLedger.save), for the relationalStore-direct side. */
const UPSERT = `INSERT INTO ${TABLE} (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')}) ` +
  `ON CONFLICT (purchase_order_id) DO UPDATE SET ${COLUMNS.slice(1).map((c) => `${c} = excluded.${c}`).join(', ')}`;

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

  /**
   * One round: both sides write all N orders into fresh files, in alternating blocks of BLOCK orders (the side that
   * goes first alternates too), so that both meet the same disk conditions. Returns each side's total milliseconds.
   */
  const runRound = async (list: readonly DeliveryRecordLike[]): Promise<{ adapter: number; raw: number; store: number }> => {
    const a = await freshStore('adapter');
    const b = await freshStore('raw');
    const c = await freshStore('store');
    const ledger = new rt.RdbDeliveryLedger({ databaseDir: a.dir }, STORE);
    await ledger.open();
    const store = await rt.relationalStore.getRdbStore({ databaseDir: c.dir }, { name: STORE, securityLevel: 1 });
    const db = new Database(b.file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    journalMode = String(db.pragma('journal_mode', { simple: true }));
    synchronous = Number(db.pragma('synchronous', { simple: true }));
    const insert = db.prepare(`INSERT INTO ${TABLE} (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`);

    const adapterBlock = async (block: readonly DeliveryRecordLike[]): Promise<number> => {
      const start = nowMs();
      for (const record of block) {
        // The engine's grant step (DeliveryEngine.deliverVerified): one transaction, committed when it resolves.
        await ledger.transact(async (tx) => {
          const row = await tx.find(record.purchaseOrderId);
          if (row !== undefined && row.state !== rt.DeliveryState.PENDING) return;
          await tx.save(record);
        });
      }
      return nowMs() - start;
    };
    /** The same statements straight on relationalStore, without the adapter (splits the cost: adapter vs platform). */
    const storeBlock = async (block: readonly DeliveryRecordLike[]): Promise<number> => {
      const start = nowMs();
      for (const record of block) {
        store.beginTransaction();
        const rs = await store.querySql(`SELECT * FROM ${TABLE} WHERE purchase_order_id = ?`, [record.purchaseOrderId]);
        const found = rs.goToNextRow();
        rs.close();
        if (!found) await store.executeSql(UPSERT, rowValues(record));
        store.commit();
      }
      return nowMs() - start;
    };
    const rawBlock = (block: readonly DeliveryRecordLike[]): number => {
      const start = nowMs();
      for (const record of block) insert.run(...rowValues(record));
      return nowMs() - start;
    };

    const totals = { adapter: 0, raw: 0, store: 0 };
    const sides: Array<[keyof typeof totals, (block: readonly DeliveryRecordLike[]) => Promise<number> | number]> = [
      ['adapter', adapterBlock],
      ['raw', rawBlock],
      ['store', storeBlock],
    ];
    for (let i = 0, k = 0; i < list.length; i += BLOCK, k++) {
      const block = list.slice(i, i + BLOCK);
      for (let j = 0; j < sides.length; j++) {
        const [side, run] = sides[(j + k) % sides.length]!;
        totals[side] += await run(block);
      }
    }
    await ledger.close();
    await store.close();
    db.close();
    for (const [what, file] of [['the RDB ledger', a.file], ['raw better-sqlite3', b.file], ['relationalStore', c.file]] as const) {
      const stored = countRows(file, rt.DeliveryState.GRANTED);
      if (stored !== list.length) throw new Error(`${what} stored ${stored} of ${list.length} orders`);
    }
    for (const x of [a, b, c]) fs.rmSync(x.dir, { recursive: true, force: true });
    return totals;
  };

  ctx.log(`item 2: ${N} orders × ${ROUNDS} rounds: RDB ledger adapter, raw better-sqlite3 and relationalStore direct, in rotating blocks of ${BLOCK}`);
  await runRound(warmupRecords); // untimed: so that no round pays for the JIT
  const samples = { adapter: [] as number[], raw: [] as number[], store: [] as number[] };
  for (let r = 0; r < ROUNDS; r++) {
    const t = await runRound(records);
    samples.adapter.push(t.adapter);
    samples.raw.push(t.raw);
    samples.store.push(t.store);
  }
  const adapterMs = median(samples.adapter);
  const rawMs = median(samples.raw);
  const storeMs = median(samples.store);
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
          ratioMethod: `median over rounds of adapter/raw; in each round every side writes all ${N} orders into a fresh file, taking turns in blocks of ${BLOCK}`,
          adapterSamplesMs: samples.adapter.map((s) => round(s, 1)),
          rawSamplesMs: samples.raw.map((s) => round(s, 1)),
          adapterSpread: round(spread(samples.adapter)),
          relationalStoreDirectMsPerOrder: round(storeMs / N, 3),
          relationalStoreDirectSamplesMs: samples.store.map((x) => round(x, 1)),
          costSplitMsPerOrder: {
            durableCommit: round(rawMs / N, 3),
            nodeRelationalStore: round((storeMs - rawMs) / N, 3),
            adapter: round((adapterMs - storeMs) / N, 3),
          },
          costSplitNote:
            'relationalStore direct = the same BEGIN IMMEDIATE / SELECT / UPSERT / COMMIT on the Node relationalStore ' +
            '(tools/node-kits/ArkData.ts) without the adapter; on a device relationalStore is native and costs differ',
          journalMode,
          synchronous: synchronous === 2 ? 'FULL' : String(synchronous),
          adapterWork: 'per order: ledger.transact(find + save granted row), i.e. BEGIN IMMEDIATE, SELECT, UPSERT, COMMIT',
          baselineWork: 'per row: one prepared INSERT in autocommit (one commit), same schema and indexes',
        },
      },
    ],
    summaries: new Map([[name, `${round(adapterMs / N, 3)} ms/order vs raw ${round(rawMs / N, 3)} ms/commit (${N} orders, medians)`]]),
  };
}
