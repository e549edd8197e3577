// Group commit for a better-sqlite3 connection.
//
// With WAL + synchronous=FULL every COMMIT waits for an fsync, and better-sqlite3 is synchronous: one transaction per
// request serialises the whole server on the disk. GroupCommit queues the units of work that arrive while a batch is
// pending and, on the next turn of the event loop (setImmediate), runs up to `maxBatch` of them in ONE
// `BEGIN IMMEDIATE … COMMIT`, one fsync for the lot:
//
// - each unit runs in its own SAVEPOINT (a nested better-sqlite3 transaction): a unit that throws is rolled back alone
//   and only its caller's promise rejects, with that error;
// - the units run one after the other, in arrival order, on the same connection, so a unit sees the writes of the
//   units before it in the batch (a second presentation of an order is a replay of the first);
// - every promise settles only after the batch's COMMIT returned: nothing is answered before it is durable;
// - when BEGIN or COMMIT fails, or SQLite drops the transaction midway, no unit of the batch is recorded and every
//   caller gets a TransientError (`storage-unavailable`, HTTP 503 + Retry-After).
//
// The batch runs synchronously inside one event-loop callback, so no other code ever sees the open transaction.
import type Database from 'better-sqlite3';
import { TransientError } from '../jws/Errors';

export const DEFAULT_MAX_BATCH = 256;

/** Counters since construction (metrics, tests). */
export interface GroupCommitStats {
  /** Batches whose transaction committed. */
  commits: number;
  /** Batches that failed as a whole (BEGIN or COMMIT failed, or the transaction was lost); none of their units is recorded. */
  failedBatches: number;
  /** Units of work run (committed, failed alone, or lost with their batch). */
  units: number;
  /** Largest batch so far. */
  largestBatch: number;
}

interface Unit {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** The outcome of one unit inside a batch that is still open. */
type UnitOutcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** The batch transaction was rolled back by SQLite itself (I/O error, disk full, …) while a unit ran. */
class BatchLostError extends Error {
  constructor(cause: unknown) {
    super('the batch transaction was rolled back by SQLite', { cause });
    this.name = 'BatchLostError';
  }
}

function sqliteCode(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : e instanceof Error ? e.name : 'unknown';
}

export class GroupCommit {
  private readonly maxBatch: number;
  private readonly queue: Unit[] = [];
  private scheduled: NodeJS.Immediate | undefined;
  private closed = false;
  private readonly counters: GroupCommitStats = { commits: 0, failedBatches: 0, units: 0, largestBatch: 0 };
  /** Runs one unit in a SAVEPOINT (the batch transaction is open when it is called). */
  private readonly inSavepoint: (work: () => unknown) => unknown;
  /** Runs a batch in BEGIN IMMEDIATE … COMMIT; returns each unit's outcome. */
  private readonly inTransaction: (units: readonly Unit[]) => UnitOutcome[];

  constructor(
    private readonly db: Database.Database,
    options: { maxBatch?: number } = {},
  ) {
    const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`maxBatch must be a positive integer, got ${maxBatch}`);
    this.maxBatch = maxBatch;
    this.inSavepoint = db.transaction((work: () => unknown): unknown => work());
    this.inTransaction = db.transaction((units: readonly Unit[]): UnitOutcome[] => {
      const outcomes: UnitOutcome[] = [];
      for (const unit of units) {
        try {
          outcomes.push({ ok: true, value: this.inSavepoint(unit.work) });
        } catch (error) {
          // SQLite rolls the whole transaction back on some errors (SQLITE_FULL, SQLITE_IOERR, …): the units before this
          // one are gone too, and the next ones would run in autocommit mode. Abandon the batch.
          if (!db.inTransaction) throw new BatchLostError(error);
          outcomes.push({ ok: false, error });
        }
      }
      return outcomes;
    }).immediate;
  }

  /**
   * Queues `work` (synchronous; it must not return a promise) for the next batch. Resolves with its result once the
   * batch has committed; rejects with its own error (only this unit rolled back), or with a TransientError when the
   * batch as a whole could not be committed.
   */
  run<T>(work: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new TransientError('storage-unavailable', 'the ledger is closed', 1));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      this.scheduled ??= setImmediate(() => this.flushOne());
    });
  }

  stats(): GroupCommitStats {
    return { ...this.counters };
  }

  /** Units waiting for their batch. */
  get pending(): number {
    return this.queue.length;
  }

  /** Commits everything still queued, synchronously, then refuses new work. Call before closing the connection. */
  close(): void {
    this.closed = true;
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    while (this.queue.length > 0) this.commitBatch(this.queue.splice(0, this.maxBatch));
  }

  private flushOne(): void {
    this.scheduled = undefined;
    this.commitBatch(this.queue.splice(0, this.maxBatch));
    // Leftovers (more than maxBatch arrived at once) go in the next turn, so I/O keeps flowing between batches.
    if (this.queue.length > 0) this.scheduled = setImmediate(() => this.flushOne());
  }

  private commitBatch(units: Unit[]): void {
    if (units.length === 0) return;
    this.counters.units += units.length;
    this.counters.largestBatch = Math.max(this.counters.largestBatch, units.length);
    let outcomes: UnitOutcome[];
    try {
      outcomes = this.inTransaction(units);
    } catch (e) {
      // BEGIN or COMMIT failed (better-sqlite3 has rolled back), or the transaction was lost: nothing is recorded.
      this.counters.failedBatches++;
      const cause = e instanceof BatchLostError ? e.cause : e;
      const error = new TransientError('storage-unavailable', `database: batch not committed (${sqliteCode(cause)})`, 1);
      for (const unit of units) unit.reject(error);
      return;
    }
    this.counters.commits++;
    units.forEach((unit, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) unit.resolve(outcome.value);
      else unit.reject(outcome.error);
    });
  }
}
