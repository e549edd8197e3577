// Group commit for a better-sqlite3 connection.
//
// With WAL + synchronous=FULL every COMMIT waits for an fsync, and better-sqlite3 is synchronous: one transaction per
// request serialises the whole server on the disk. GroupCommit queues the units of work that arrive while a batch is
// pending and, on the next turn of the event loop (setImmediate), runs up to `maxBatch` of them in ONE
// `BEGIN IMMEDIATE … COMMIT`, one fsync for the lot:
//
// - each unit runs in its own SAVEPOINT: a unit that throws (or rejects) is rolled back alone and only its caller's
//   promise rejects, with that error;
// - the units run one after the other, in arrival order, on the same connection, so a unit sees the writes of the
//   units before it in the batch (a second presentation of an order is a replay of the first); a unit is async (the
//   ledger port is), but it awaits only the connection's own synchronous statements, so a batch normally runs to its
//   COMMIT within one event-loop callback;
// - every promise settles only after the batch's COMMIT returned: nothing is answered before it is durable;
// - when BEGIN or COMMIT fails, or SQLite drops the transaction midway, no unit of the batch is recorded and every
//   caller gets a TransientError (`storage-unavailable`, HTTP 503 + Retry-After).
//
// With a `sync` (the SQLite ledger's walSync 'pool': synchronous=NORMAL, whose COMMIT writes the WAL but does not
// fsync it), the batch's units settle only after sync() resolved, and the batch is running until then: the fsync
// waits on libuv's thread pool, the event loop parses and verifies the next requests meanwhile, and they form the next
// batch. `durable()` is a sync of its own for a read on another connection, run after the read: what the read saw
// (this ledger's batches or another process's) is then on disk. Syncs run one at a time, each started after the one
// before ended: Linux reports a writeback error to one fsync of a file description only, so two overlapping syncs
// could let the second return 0 for pages the first learned were lost. A sync that fails leaves it unknown what is on
// disk: the ledger then refuses everything (fail-stop, as PostgreSQL does after a failed fsync), including a sync
// already queued; a restart recovers from the WAL.
//
// One batch at a time: units arriving while a batch runs wait for the next one. Nobody else writes on the connection
// (the ledger reads on a second, read-only one).
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
  work: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** The outcome of one unit inside a batch that is still open. */
type UnitOutcome = { ok: true; value: unknown } | { ok: false; error: unknown };

function sqliteCode(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : e instanceof Error ? e.name : 'unknown';
}

export class GroupCommit {
  private readonly maxBatch: number;
  private readonly queue: Unit[] = [];
  private scheduled: NodeJS.Immediate | undefined;
  /** The batch being run, if any. */
  private running: Promise<void> | undefined;
  private closed = false;
  private readonly counters: GroupCommitStats = { commits: 0, failedBatches: 0, units: 0, largestBatch: 0 };
  /** The per-unit statements, prepared once instead of parsed again for every unit. */
  private readonly savepoint: Database.Statement;
  private readonly release: Database.Statement;
  private readonly rollbackTo: Database.Statement;
  /** Called after each COMMIT that succeeded (the ledger's checkpoint scheduling). */
  private readonly afterCommit: (() => void) | undefined;
  /** Makes a COMMIT durable when the connection does not (synchronous=NORMAL); undefined: COMMIT is durable itself. */
  private readonly sync: (() => Promise<void>) | undefined;
  /** Set once a sync failed: whether the committed batches since the last good sync are on disk is unknown. */
  private broken: TransientError | undefined;
  /** The last sync asked for (settled, never rejected): the next one starts after it. */
  private lastSync: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Database.Database,
    options: { maxBatch?: number; afterCommit?: () => void; sync?: () => Promise<void> } = {},
  ) {
    this.afterCommit = options.afterCommit;
    this.sync = options.sync;
    const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`maxBatch must be a positive integer, got ${maxBatch}`);
    this.maxBatch = maxBatch;
    this.savepoint = db.prepare('SAVEPOINT unit');
    this.release = db.prepare('RELEASE unit');
    this.rollbackTo = db.prepare('ROLLBACK TO unit');
  }

  /**
   * Queues `work` for the next batch. Resolves with its result once the batch has committed; rejects with its own
   * error (only this unit rolled back), or with a TransientError when the batch as a whole could not be committed.
   */
  run<T>(work: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new TransientError('storage-unavailable', 'the ledger is closed', 1));
    if (this.broken) return Promise.reject(this.broken);
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      this.schedule();
    });
  }

  stats(): GroupCommitStats {
    return { ...this.counters };
  }

  /** Units waiting for their batch. */
  get pending(): number {
    return this.queue.length;
  }

  /** The error every call gets once a sync failed; undefined while the ledger is sound. */
  get failure(): TransientError | undefined {
    return this.broken;
  }

  /**
   * Resolves when everything written to the database so far is on disk: a sync of its own (at once when COMMIT is
   * durable itself). Rejects once a sync failed, this one or an earlier one.
   */
  async durable(): Promise<void> {
    if (this.broken) throw this.broken;
    if (this.sync) await this.syncAfterPrevious(this.sync);
  }

  /** Runs `sync` once the sync before it ended, and not at all if that one failed; rejects with the fail-stop error. */
  private async syncAfterPrevious(sync: () => Promise<void>): Promise<void> {
    // The fail-stop is set inside the chain, before the next sync in it can start.
    const mine = this.lastSync.then(async () => {
      if (this.broken) throw this.broken;
      try {
        await sync();
      } catch (e) {
        throw this.syncFailed(e);
      }
    });
    this.lastSync = mine.catch(() => undefined);
    await mine;
  }

  /** Fail-stop after a failed sync: every caller waiting in the queue, and every later one, gets the same error. */
  private syncFailed(cause: unknown): TransientError {
    this.broken ??= new TransientError('storage-unavailable', `database: the WAL could not be synced (${sqliteCode(cause)}); restart the server`, 1);
    for (const unit of this.queue.splice(0)) unit.reject(this.broken);
    return this.broken;
  }

  /** Resolves when no batch is open (a read on the write connection then sees committed data only). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Commits everything still queued, then refuses new work. Call before closing the connection. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    await this.idle();
    while (this.queue.length > 0) await this.commitBatch(this.queue.splice(0, this.maxBatch));
    // A read's sync may still be in flight: the connection (and the WAL's descriptor) must outlive it.
    await this.lastSync;
  }

  private schedule(): void {
    if (this.scheduled || this.running || this.closed) return;
    this.scheduled = setImmediate(() => {
      this.scheduled = undefined;
      const batch = this.commitBatch(this.queue.splice(0, this.maxBatch));
      this.running = batch;
      void batch.finally(() => {
        this.running = undefined;
        // Leftovers (more than maxBatch, or arrivals during the batch) go in the next turn, so I/O keeps flowing.
        if (this.queue.length > 0) this.schedule();
      });
    });
  }

  private async commitBatch(units: Unit[]): Promise<void> {
    if (units.length === 0) return;
    this.counters.units += units.length;
    this.counters.largestBatch = Math.max(this.counters.largestBatch, units.length);
    const fail = (cause: unknown): void => {
      // Nothing of the batch is recorded: BEGIN or COMMIT failed, or SQLite rolled the transaction back midway.
      if (this.db.open && this.db.inTransaction) {
        try {
          this.db.exec('ROLLBACK');
        } catch {
          // already rolled back
        }
      }
      this.counters.failedBatches++;
      const error = new TransientError('storage-unavailable', `database: batch not committed (${sqliteCode(cause)})`, 1);
      for (const unit of units) unit.reject(error);
    };
    try {
      this.db.exec('BEGIN IMMEDIATE');
    } catch (e) {
      fail(e);
      return;
    }
    const outcomes: UnitOutcome[] = [];
    for (const unit of units) {
      let outcome: UnitOutcome;
      try {
        this.savepoint.run();
        outcome = { ok: true, value: await unit.work() };
      } catch (error) {
        outcome = { ok: false, error };
      }
      // SQLite rolls the whole transaction back on some errors (SQLITE_FULL, SQLITE_IOERR, …): the units before this
      // one are gone too, and the next ones would run in autocommit mode. Abandon the batch.
      if (!this.db.inTransaction) {
        fail(outcome.ok ? new Error('transaction lost') : outcome.error);
        return;
      }
      try {
        if (!outcome.ok) this.rollbackTo.run();
        this.release.run();
      } catch (e) {
        fail(e);
        return;
      }
      outcomes.push(outcome);
    }
    try {
      this.db.exec('COMMIT');
    } catch (e) {
      fail(e);
      return;
    }
    this.counters.commits++;
    this.afterCommit?.();
    if (this.sync) {
      try {
        await this.syncAfterPrevious(this.sync);
      } catch (e) {
        for (const unit of units) unit.reject(e);
        return;
      }
    }
    units.forEach((unit, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) unit.resolve(outcome.value);
      else unit.reject(outcome.error);
    });
  }
}
