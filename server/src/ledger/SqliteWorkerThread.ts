// The worker thread of SqliteWorkerLedger: it owns the better-sqlite3 connections (an SqliteLedger, group commit
// included), so the COMMITs and their fsyncs block this thread, never the server's event loop.
//
// Protocol (structured-clone messages on parentPort):
//   in:  { id, op, args }            op is a method of the Ledger port (deliver, revoke, get, …, close)
//   out: { ready: true } | { failed: SerializedError }                     once, after the database is open
//        { id, ok: true, value, stats } | { id, ok: false, error, stats }  once per request, after its COMMIT
// Requests that arrive while a batch commits are queued by the thread's own event loop and form the next batch.
import { parentPort, workerData } from 'node:worker_threads';
import type { Ledger } from './Ledger';
import { SqliteLedger } from './SqliteLedger';
import { serializeError, type WorkerData, type WorkerReply, type WorkerRequest } from './SqliteWorkerProtocol';

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
  ledger = new SqliteLedger(data.databasePath, {}, { maxBatch: data.maxBatch });
  port.postMessage({ ready: true } satisfies WorkerReply);
} catch (e) {
  port.postMessage({ failed: serializeError(e) } satisfies WorkerReply);
  process.exit(0);
}

function reply(message: WorkerReply): void {
  port.postMessage(message);
}

let closing: Promise<void> | undefined;

port.on('message', (m: WorkerRequest) => {
  if (m.op === 'close') {
    // Every request received before 'close' is already queued in the group commit, which close() commits first.
    closing ??= ledger.close();
    closing.then(
      () => reply({ id: m.id, ok: true, value: undefined, stats: ledger.stats() }),
      (e: unknown) => reply({ id: m.id, ok: false, error: serializeError(e), stats: ledger.stats() }),
    );
    return;
  }
  if (!OPS.has(m.op)) {
    reply({ id: m.id, ok: false, error: serializeError(new TypeError(`unknown ledger operation ${m.op}`)), stats: ledger.stats() });
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
    (value) => reply({ id: m.id, ok: true, value, stats: ledger.stats() }),
    (e: unknown) => reply({ id: m.id, ok: false, error: serializeError(e), stats: ledger.stats() }),
  );
});
