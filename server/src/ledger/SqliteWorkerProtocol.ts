// The messages between SqliteWorkerLedger (the server's thread) and SqliteWorkerThread (the thread that owns the
// SQLite connections), and how errors cross: the ledger's error types are rebuilt on the other side, so callers see
// the same TypeError / TransientError as from an in-thread SqliteLedger.
import { TransientError } from '../jws/Errors';
import type { LedgerStats } from './Ledger';
import type { WalSync } from './SqliteLedger';

export interface WorkerData {
  databasePath: string;
  maxBatch: number | undefined;
  walSync: WalSync | undefined;
}

export interface WorkerRequest {
  id: number;
  op: string;
  args: unknown[];
}

export interface SerializedError {
  kind: 'transient' | 'type' | 'range' | 'other';
  name: string;
  message: string;
  /** TransientError */
  reason?: string;
  detail?: string;
  retryAfterSeconds?: number;
  /** SQLite error code, when there is one. */
  code?: string;
}

/** The answer to one request. */
export type WorkerAnswer = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: SerializedError };

/**
 * From the thread. Requests travel in arrays and answers in `answers` batches (the ones ready in the same turn of
 * the thread's event loop, typically all the requests of one COMMIT): one message each way per batch, not per request.
 */
export type WorkerReply = { ready: true } | { failed: SerializedError } | { answers: WorkerAnswer[]; stats: LedgerStats };

export function serializeError(e: unknown): SerializedError {
  const code = (e as { code?: unknown } | null)?.code;
  const base = {
    name: e instanceof Error ? e.name : 'Error',
    message: e instanceof Error ? e.message : String(e),
    ...(typeof code === 'string' ? { code } : {}),
  };
  if (e instanceof TransientError) {
    return { ...base, kind: 'transient', reason: e.reason, detail: e.detail, retryAfterSeconds: e.retryAfterSeconds };
  }
  if (e instanceof TypeError) return { ...base, kind: 'type' };
  if (e instanceof RangeError) return { ...base, kind: 'range' };
  return { ...base, kind: 'other' };
}

export function deserializeError(s: SerializedError): Error {
  let e: Error;
  switch (s.kind) {
    case 'transient':
      e = new TransientError(s.reason ?? 'storage-unavailable', s.detail ?? s.message, s.retryAfterSeconds ?? 1);
      break;
    case 'type':
      e = new TypeError(s.message);
      break;
    case 'range':
      e = new RangeError(s.message);
      break;
    default:
      e = new Error(s.message);
      e.name = s.name;
  }
  if (s.code !== undefined) (e as Error & { code?: string }).code = s.code;
  return e;
}
