// The SQLite ledger with its connections in a worker thread (SqliteWorkerThread.ts): the same SqliteLedger, group
// commit included, but its COMMITs (and their fsyncs) and the SQL of each unit run on another thread, so the server's
// event loop keeps parsing, verifying and answering while a batch is being made durable.
//
// Durability is unchanged: a promise of this class settles only when the thread's reply arrives, and the thread
// replies after the COMMIT of the batch that holds the request. Semantics are those of SqliteLedger: the thread runs
// the requests in the order they were posted, on one write connection.
//
// The thread cannot call back into this thread inside its transaction, so there are no hooks here: openLedger uses
// this class only when no grant/revoke hook is configured (the device grants; what `npm start` runs).
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { WalSync } from './SqliteLedger';
import { TransientError } from '../jws/Errors';
import type {
  ConfirmState,
  DeliverOutcome,
  Ledger,
  LedgerStats,
  NotificationOutcome,
  NotificationRecord,
  NotificationRevoke,
  OrderPayload,
  OrderRow,
  RevokeOutcome,
  RevokeRef,
} from './Ledger';
import { deserializeError, type WorkerData, type WorkerReply, type WorkerRequest } from './SqliteWorkerProtocol';

export interface SqliteWorkerLedgerOptions {
  /** Most units of work committed in one transaction (default 256). */
  maxBatch?: number;
  /** As SqliteLedgerOptions.walSync, in the thread. */
  walSync?: WalSync;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  /** deliver: the order sent, put back into a new grant's outcome (the thread does not send it back). */
  order?: OrderPayload;
}

/** The thread's entry point next to this file, whether it runs as TypeScript (tsx) or compiled JavaScript. */
const THREAD_FILE = path.join(__dirname, `SqliteWorkerThread${path.extname(__filename)}`);

/**
 * Starts the thread. Compiled JavaScript loads its file directly; TypeScript run through tsx needs tsx's require
 * hook in the new thread too (a worker does not inherit the loader hooks registered by `--import tsx`).
 */
function spawnThread(data: WorkerData): Worker {
  if (!THREAD_FILE.endsWith('.ts')) return new Worker(THREAD_FILE, { workerData: data });
  const bootstrap = `require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(THREAD_FILE)});`;
  return new Worker(bootstrap, { eval: true, workerData: data });
}

export class SqliteWorkerLedger implements Ledger {
  readonly backend = 'sqlite';
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private latest: LedgerStats = { commits: 0, failedBatches: 0, units: 0, largestBatch: 0 };
  private readonly started: Promise<void>;
  /** Why no request can be served any more (closed, or the thread failed); undefined while it can. */
  private stopped: string | undefined;
  private closing: Promise<void> | undefined;

  constructor(databasePath: string, options: SqliteWorkerLedgerOptions = {}) {
    const data: WorkerData = { databasePath, maxBatch: options.maxBatch, walSync: options.walSync };
    this.worker = spawnThread(data);
    this.started = new Promise<void>((resolve, reject) => {
      const onFirst = (m: WorkerReply): void => {
        if ('ready' in m) {
          this.worker.off('message', onFirst);
          this.worker.on('message', (r: WorkerReply) => this.settle(r));
          this.idleUnref();
          resolve();
        } else if ('failed' in m) {
          this.worker.off('message', onFirst);
          this.stopped = `the ledger could not open: ${m.failed.message}`;
          reject(deserializeError(m.failed));
        }
      };
      this.worker.on('message', onFirst);
      this.worker.once('error', (e) => reject(e));
      this.worker.once('exit', (code) => reject(new Error(`the ledger thread exited (${code}) before it was ready`)));
    });
    // Observed here too, so that an open failure is never an unhandled rejection when ready() is not awaited yet.
    this.started.catch(() => undefined);
    this.worker.on('error', (e) => this.fail(`the ledger thread failed: ${e.message}`));
    this.worker.on('exit', (code) => this.fail(`the ledger thread exited (${code})`));
  }

  /** Resolves when the thread has opened (and migrated) the database. */
  ready(): Promise<void> {
    return this.started;
  }

  ping(): Promise<void> {
    return this.call('ping', []);
  }

  get(purchaseOrderId: string): Promise<OrderRow | undefined> {
    return this.call('get', [purchaseOrderId]);
  }

  ordersByToken(purchaseToken: string): Promise<OrderRow[]> {
    return this.call('ordersByToken', [purchaseToken]);
  }

  grantedCount(): Promise<number> {
    return this.call('grantedCount', []);
  }

  deliver(order: OrderPayload, accountId: string | undefined, now: number, confirmPending: boolean): Promise<DeliverOutcome> {
    return this.call('deliver', [order, accountId, now, confirmPending], order);
  }

  revoke(ref: RevokeRef, reason: string, now: number): Promise<RevokeOutcome> {
    return this.call('revoke', [ref, reason, now]);
  }

  revokeToken(purchaseToken: string, reason: string, now: number): Promise<number> {
    return this.call('revokeToken', [purchaseToken, reason, now]);
  }

  applyNotification(n: NotificationRecord, revoke: NotificationRevoke | undefined): Promise<NotificationOutcome> {
    return this.call('applyNotification', [n, revoke]);
  }

  setConfirmState(purchaseOrderId: string, state: ConfirmState, error: string | undefined, now: number): Promise<void> {
    return this.call('setConfirmState', [purchaseOrderId, state, error, now]);
  }

  /** The thread's group-commit counters, as of its latest reply. */
  stats(): LedgerStats {
    return { ...this.latest };
  }

  /** Commits every request already posted, closes the database, then stops the thread. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        if (this.stopped === undefined) {
          // Posted after every request sent so far: the thread commits those before it closes.
          const done = this.send<void>('close', []);
          this.stopped = 'the ledger is closed';
          await done;
        }
      } finally {
        await this.worker.terminate();
      }
    })();
    return this.closing;
  }

  /**
   * Posts a request at once, even before the thread is ready (the port keeps it until the thread listens): the
   * thread sees the requests in the order they were made, and close() after them.
   */
  private call<T>(op: string, args: unknown[], order?: OrderPayload): Promise<T> {
    if (this.stopped !== undefined) return Promise.reject(new TransientError('storage-unavailable', this.stopped, 1));
    return this.send<T>(op, args, order);
  }

  private outbox: WorkerRequest[] = [];

  /** Queues a request; the requests of one turn of the event loop go to the thread in one message. */
  private send<T>(op: string, args: unknown[], order?: OrderPayload): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, order });
      if (this.pending.size === 1) this.worker.ref();
      this.outbox.push({ id, op, args });
      if (this.outbox.length === 1) setImmediate(() => this.worker.postMessage(this.outbox.splice(0)));
    });
  }

  private settle(r: WorkerReply): void {
    if (!('answers' in r)) return;
    this.latest = r.stats;
    for (const a of r.answers) {
      const p = this.pending.get(a.id);
      if (!p) continue;
      this.pending.delete(a.id);
      if (!a.ok) {
        p.reject(deserializeError(a.error));
        continue;
      }
      const v = a.value as { kind?: string; replay?: boolean; payload?: unknown } | undefined;
      p.resolve(p.order && v?.kind === 'granted' && v.replay === false ? { ...v, payload: p.order } : a.value);
    }
    this.idleUnref();
  }

  /** An idle thread does not keep the process alive (like an idle socket); one with requests in flight does. */
  private idleUnref(): void {
    if (this.pending.size === 0) this.worker.unref();
  }

  /** The thread is gone: what was in flight may or may not have committed, so every caller gets a retryable error. */
  private fail(why: string): void {
    if (this.stopped === undefined) this.stopped = why;
    const error = new TransientError('storage-unavailable', why, 1);
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }
}
