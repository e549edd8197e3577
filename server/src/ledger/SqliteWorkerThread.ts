// The worker thread of SqliteWorkerLedger: it owns the better-sqlite3 connections (an SqliteLedger, group commit
// included), so the COMMITs and their fsyncs block this thread, never the server's event loop.
//
// Protocol (structured-clone messages on parentPort, SqliteWorkerProtocol.ts):
//   in:  [{ id, op, args }, …]       op is a method of the Ledger port (deliver, revoke, get, …, close)
//   out: { ready: true } | { failed: SerializedError }    once, after the database is open
//        { answers: [{ id, ok, value | error }, …], stats } the answers ready in one turn, each after its COMMIT
// Requests that arrive while a batch commits are queued by the thread's own event loop and form the next batch.
import { parentPort, workerData } from 'node:worker_threads';
import type { Ledger } from './Ledger';
import { SqliteLedger } from './SqliteLedger';
import { serializeError, type WorkerAnswer, type WorkerData, type WorkerReply, type WorkerRequest } from './SqliteWorkerProtocol';

const data = workerData as WorkerData;
const port = parentPort!;

/** The operations the main thread may ask for: the Ledger port's methods, nothing else. */
const OPS: ReadonlySet<string> = new Set([
  'ping',
  'get',
  'ordersByToken',
  'grantedCount',
  'deliver',
  'revoke',
  'revokeToken',
  'applyNotification',
  'setConfirmState',
]);

let ledger: SqliteLedger;
try {
  ledger = new SqliteLedger(data.databasePath, {}, { maxBatch: data.maxBatch, ...(data.walSync ? { walSync: data.walSync } : {}) });
  port.postMessage({ ready: true } satisfies WorkerReply);
} catch (e) {
  port.postMessage({ failed: serializeError(e) } satisfies WorkerReply);
  process.exit(0);
}

const outbox: WorkerAnswer[] = [];
let flushing = false;

/** Queues an answer; the answers of one turn go back in one message. */
function answer(a: WorkerAnswer): void {
  outbox.push(a);
  if (flushing) return;
  flushing = true;
  setImmediate(() => {
    flushing = false;
    port.postMessage({ answers: outbox.splice(0), stats: ledger.stats() } satisfies WorkerReply);
  });
}

let closing: Promise<void> | undefined;

function handle(m: WorkerRequest): void {
  if (m.op === 'close') {
    // Every request received before 'close' is already queued in the group commit, which close() commits first.
    closing ??= ledger.close();
    closing.then(
      () => answer({ id: m.id, ok: true, value: undefined }),
      (e: unknown) => answer({ id: m.id, ok: false, error: serializeError(e) }),
    );
    return;
  }
  if (!OPS.has(m.op)) {
    answer({ id: m.id, ok: false, error: serializeError(new TypeError(`unknown ledger operation ${m.op}`)) });
    return;
  }
  const method = ledger[m.op as keyof Ledger] as (...args: unknown[]) => Promise<unknown>;
  let result: Promise<unknown>;
  try {
    result = method.apply(ledger, m.args);
  } catch (e) {
    result = Promise.reject(e);
  }
  result.then(
    // A new grant's payload is the order the caller sent: not sent back (SqliteWorkerLedger puts it back).
    (value) => answer({ id: m.id, ok: true, value: m.op === 'deliver' ? withoutOwnPayload(value) : value }),
    (e: unknown) => answer({ id: m.id, ok: false, error: serializeError(e) }),
  );
}

function withoutOwnPayload(value: unknown): unknown {
  const v = value as { kind?: string; replay?: boolean; payload?: unknown };
  return v.kind === 'granted' && v.replay === false ? { ...v, payload: undefined } : value;
}

port.on('message', (batch: WorkerRequest[]) => {
  for (const m of batch) handle(m);
});
