// The SQLite ledger's WAL checkpoints, in a worker thread on a connection of its own: off the event loop.
//
// In WAL mode SQLite copies the WAL back into the database file (a checkpoint) inside the COMMIT that takes the WAL
// past `wal_autocheckpoint` pages: that COMMIT writes ~1,000 pages into the database file and fsyncs it, on the thread
// that committed, which for the default ledger is the event loop. Measured on the development machine, batches of 17
// orders: those checkpoints were 1 COMMIT in 17 but 35-47 % of all the time the event loop spent in COMMIT. Without
// checkpoints the WAL only grows, and appending to a growing file made every COMMIT about twice as slow.
//
// So the write connection's own threshold is raised (FALLBACK_AUTOCHECKPOINT_PAGES) and this thread runs
// `PRAGMA wal_checkpoint(PASSIVE)` every few commits. PASSIVE never waits for the writer or the readers and never
// blocks them (https://www.sqlite.org/c3ref/wal_checkpoint_v2.html); it copies what was committed when it began.
// The WAL starts again from its beginning only when a write finds it copied in full: with writes pausing, after one
// of this thread's checkpoints; under sustained writes a COMMIT always lands during the thread's checkpoint, so it
// is the write connection's own checkpoint at the raised threshold that restarts it, and by then the thread has
// copied nearly every frame, so that checkpoint has little left to do. The WAL file therefore grows to about that
// threshold (4,000 pages, 16 MiB at 4 KiB pages) and stays that size. Durability does not depend on any of it: every
// COMMIT is fsynced in the WAL before it is answered (SqliteLedger walSync), and a checkpoint only moves committed pages into
// the database file.
import { Worker } from 'node:worker_threads';

/**
 * The write connection's own checkpoint threshold while this thread does the work (SQLite's default is 1,000): the
 * WAL's size under sustained writes, and its bound should the thread fall behind.
 */
export const FALLBACK_AUTOCHECKPOINT_PAGES = 4_000;
/** COMMITs between two checkpoint requests (about 1,000 WAL pages at the batch sizes measured under load). */
const COMMITS_PER_CHECKPOINT = 16;
/** How long close() waits for the thread to close its connection before it is terminated. */
const CLOSE_TIMEOUT_MS = 5_000;

// Plain CommonJS evaluated in the thread (no TypeScript loader needed there); the driver's path comes in workerData.
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
parentPort.on('message', (m) => {
  if (m === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const r = db.pragma('wal_checkpoint(PASSIVE)')[0];
    parentPort.postMessage({ ok: true, busy: r.busy, log: r.log, checkpointed: r.checkpointed });
  } catch (e) {
    parentPort.postMessage({ ok: false, error: String((e && e.code) || (e && e.message) || e) });
  }
});
`;

/** The counters of a checkpointer (tests, metrics). */
export interface CheckpointerStats {
  /** Checkpoints the thread ran. */
  checkpoints: number;
  /** Checkpoints that failed (the write connection's own threshold then bounds the WAL). */
  failures: number;
  /** False once the thread could not start, died or was closed: the write connection checkpoints by itself again. */
  running: boolean;
}

export class WalCheckpointer {
  private worker: Worker | undefined;
  private inFlight = false;
  private commitsSince = 0;
  private dead = false;
  private closing: Promise<void> | undefined;
  private readonly counters = { checkpoints: 0, failures: 0 };

  /**
   * `file`: the database file; `onDead`: called once if the thread cannot run, so that the write connection takes its
   * checkpoints back (SqliteLedger restores SQLite's default threshold).
   */
  constructor(
    private readonly file: string,
    private readonly onDead: () => void,
  ) {}

  /** Called after every COMMIT of the write connection; asks the thread for a checkpoint every few commits. */
  committed(): void {
    if (this.dead || this.closing) return;
    if (++this.commitsSince < COMMITS_PER_CHECKPOINT || this.inFlight) return;
    this.commitsSince = 0;
    this.inFlight = true;
    this.thread()?.postMessage('checkpoint');
  }

  stats(): CheckpointerStats {
    return { ...this.counters, running: !this.dead && this.closing === undefined };
  }

  /** Closes the thread's connection (before the write connection closes, which then checkpoints as the last one). */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      const w = this.worker;
      if (!w || this.dead) return resolve();
      const timer = setTimeout(() => void w.terminate(), CLOSE_TIMEOUT_MS);
      w.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      w.postMessage('close');
    });
    return this.closing;
  }

  private thread(): Worker | undefined {
    if (this.worker) return this.worker;
    try {
      const w = new Worker(THREAD_SOURCE, { eval: true, workerData: { driver: require.resolve('better-sqlite3'), file: this.file } });
      w.on('message', (m: { ok: boolean }) => {
        this.inFlight = false;
        if (m.ok) this.counters.checkpoints++;
        else this.counters.failures++;
      });
      w.on('error', () => this.die());
      w.on('exit', () => {
        if (!this.closing) this.die();
      });
      // The thread must not keep a server process alive on its own.
      w.unref();
      this.worker = w;
      return w;
    } catch {
      this.die();
      return undefined;
    }
  }

  private die(): void {
    if (this.dead) return;
    this.dead = true;
    this.inFlight = false;
    this.onDead();
  }
}
