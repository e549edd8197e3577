// The delivery ledger PORT: what PurchaseService and App need from the database, and nothing of any driver.
//
// Its adapters keep the same semantics (one contract test suite runs against all of them,
// server/test/ledger.contract.test.ts):
//   SqliteLedger       (SqliteLedger.ts)       — better-sqlite3, the embedded default that needs no set-up;
//   SqliteWorkerLedger (SqliteWorkerLedger.ts) — the same SQLite ledger in a worker thread (no hooks);
//   PostgresLedger     (PostgresLedger.ts)     — `pg`, selected by DATABASE_URL=postgres://…; any number of server
//                                                instances on one database behave as one.
// openLedger() (OpenLedger.ts) picks one from a location.
//
// The rules every adapter keeps, whatever the concurrency (requests of one process, or several processes):
// - one row per purchaseOrderId; the first verified presentation GRANTS (the row and the grant hook commit together),
//   every later one is a REPLAY answered with the first stored payload;
// - one delivery per purchaseToken: another purchaseOrderId carrying a delivered token is a `token-conflict`; except
//   auto-renewable subscriptions (productType "2"), whose every period is a new order under the subscription's one
//   token (the UNIQUE index over granted tokens leaves them out);
// - a refund is remembered before the delivery: revoking an order never presented stores it revoked, and a refund
//   naming only the token (revokeToken / a REVOKE notification without purchaseOrderId) is remembered for the token;
// - account binding is first-wins: the first presentation with an account binds the order; an order first presented
//   without one is bound by the first account that names it; another account gets `account-conflict`;
// - a notification is processed once per de-duplication key (notificationKey below);
// - every promise resolves only after its writes are COMMITTED (durable): nobody answers before that.
//
// All methods are async and take and return plain data (no closures, no driver handles), so an adapter may run in
// another thread or process.
import * as crypto from 'node:crypto';

/** A verified PurchaseOrderPayload, as the ledger stores it (the first presentation's payload is the one kept). */
export interface OrderPayload {
  purchaseOrderId: string;
  purchaseToken: string;
  productId: string;
  productType: string;
  quantity?: number;
  [k: string]: unknown;
}

export type ConfirmState = 'none' | 'pending' | 'confirmed' | 'failed';

export interface OrderRow {
  purchaseOrderId: string;
  purchaseToken: string;
  productId: string;
  productType: string;
  accountId: string | undefined;
  state: 'granted' | 'revoked';
  payload: OrderPayload | undefined;
  grantedAt: number | undefined;
  revokedAt: number | undefined;
  confirmState: ConfirmState;
  confirmAttempts: number;
}

export type DeliverOutcome =
  | {
      kind: 'granted';
      replay: boolean;
      payload: OrderPayload;
      accountId: string | undefined;
      grantedAt: number;
      confirmState: ConfirmState;
    }
  | { kind: 'revoked'; revokedAt: number }
  | { kind: 'account-conflict' }
  /** The purchaseToken is already delivered under another purchaseOrderId: one token is delivered once. */
  | { kind: 'token-conflict' };

export interface RevokeOutcome {
  /** An earlier grant was taken back (the revoke hook ran). */
  revokedGrant: boolean;
  alreadyRevoked: boolean;
}

export interface RevokeRef {
  /** '' = unknown: the revoke then goes by purchaseToken (never a row under an empty key). */
  purchaseOrderId: string;
  purchaseToken: string;
  productId?: string;
  productType?: string;
  payload?: OrderPayload;
}

export interface NotificationRecord {
  requestId: string;
  type: string;
  subtype: string | undefined;
  orderId: string | undefined;
  token: string | undefined;
  now: number;
}

/** What a REVOKE notification asks for (applyNotification). */
export interface NotificationRevoke {
  orderId: string | undefined;
  token: string | undefined;
  productId: string | undefined;
  productType: string | undefined;
  reason: string;
}

export type NotificationOutcome = { kind: 'processed'; action: string } | { kind: 'duplicate' };

/** Counters since the ledger opened (metrics, tests, the benchmark). */
export interface LedgerStats {
  /** Transactions committed (SQLite: group-committed batches; PostgreSQL: one per operation). */
  commits: number;
  /** Transactions that failed as a whole (nothing of them recorded). */
  failedBatches: number;
  /** Operations run. */
  units: number;
  /** Most operations in one transaction. */
  largestBatch: number;
}

/** The ledger port. Every write resolves after its COMMIT; reads see committed data only. */
export interface Ledger {
  /** 'sqlite' | 'postgres' (logs, /healthz, the benchmark). */
  readonly backend: string;
  /** Resolves when the schema is in place (migrated); rejects when the database cannot be reached. */
  ready(): Promise<void>;
  /** A round trip to the database (GET /healthz); rejects with TransientError when it is unavailable. */
  ping(): Promise<void>;
  get(purchaseOrderId: string): Promise<OrderRow | undefined>;
  /** Orders recorded under a purchaseToken, oldest first. */
  ordersByToken(purchaseToken: string): Promise<OrderRow[]>;
  /** Orders ever granted (revoked later or not). */
  grantedCount(): Promise<number>;
  /**
   * Delivers a verified, non-revoked order: grants it once (first presentation, running the grant hook in the same
   * transaction), or replays the first result. `confirmPending`: the new row awaits server-side confirm delivery.
   * Throws TypeError for an empty purchaseOrderId or purchaseToken.
   */
  deliver(order: OrderPayload, accountId: string | undefined, now: number, confirmPending: boolean): Promise<DeliverOutcome>;
  /**
   * Marks an order revoked (refund); stores it revoked when it was never presented, so a later presentation is
   * refused. An empty purchaseOrderId revokes by token (revokeToken). Tells whether an earlier grant was taken back.
   */
  revoke(ref: RevokeRef, reason: string, now: number): Promise<RevokeOutcome>;
  /**
   * Revokes every order under a purchaseToken AND remembers the token as refunded, so an order presented later with
   * it is refused. Returns how many orders are recorded under the token (all now revoked).
   */
  revokeToken(purchaseToken: string, reason: string, now: number): Promise<number>;
  /**
   * Records a notification once and applies what it asks, in ONE transaction: `duplicate` when its key was seen
   * (nothing done); else the revoke (by order, else by token) runs and the outcome is stored with the notification.
   */
  applyNotification(n: NotificationRecord, revoke: NotificationRevoke | undefined): Promise<NotificationOutcome>;
  setConfirmState(purchaseOrderId: string, state: ConfirmState, error: string | undefined, now: number): Promise<void>;
  stats(): LedgerStats;
  /** Finishes the writes in flight, then closes. Later calls reject with TransientError(storage-unavailable). */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------------------
// In-process ledgers (SqliteLedger, PostgresLedger) also run app code INSIDE their transaction: the grant hook
// contract, and transaction(fn) for stores that must commit together with the ledger (e.g. server-side entitlements).

export type SqlValue = string | number | null;

export interface SqlResult<R> {
  rows: R[];
  /** Rows returned (a query) or changed (INSERT / UPDATE / DELETE). */
  rowCount: number;
}

/**
 * SQL inside the ledger's OPEN transaction, driver-neutral: placeholders are `$1`, `$2`, … on both databases, values
 * are strings, numbers or null. Write portable SQL (or branch on `dialect`). What it writes commits or rolls back with
 * the ledger's own writes. Never keep it beyond the call it was given to.
 */
export interface SqlTransaction {
  readonly dialect: 'sqlite' | 'postgres';
  query<R = Record<string, unknown>>(text: string, params?: readonly SqlValue[]): Promise<SqlResult<R>>;
}

/**
 * THE GRANT HOOK CONTRACT. Server-side entitlements are recorded by these hooks, which run INSIDE the ledger
 * transaction that records the order, through a SqlTransaction:
 * - `grant` runs exactly once per order, when its row is first inserted as granted; `revoke` when a granted order is
 *   revoked. Write your entitlement tables in the same database through `tx` (they commit with the order, or not at
 *   all), or keep the hook free of effects;
 * - throwing (or rejecting) rolls back that order's writes and the caller gets the error (HTTP 500; the device
 *   retries, and the retry is again a first presentation);
 * - await only `tx` (no network, no timers): the transaction stays open while the hook runs — on SQLite it holds the
 *   database's write lock, on PostgreSQL row locks;
 * - on PostgreSQL the whole transaction may be retried after a serialization failure or deadlock, so a hook may run
 *   more than once for an order whose earlier attempts were rolled back: keep it free of outside effects.
 * The server confirms an order to Huawei (server-side confirm) only after this transaction COMMITTED.
 */
export interface LedgerHooks {
  grant?(order: OrderPayload, accountId: string | undefined, tx: SqlTransaction): void | Promise<void>;
  revoke?(order: { purchaseOrderId: string; productId: string; accountId: string | undefined }, tx: SqlTransaction): void | Promise<void>;
}

/** The ledger's operations inside one open transaction (the argument of TransactionalLedger.transaction). */
export interface LedgerTransaction {
  readonly sql: SqlTransaction;
  get(purchaseOrderId: string): Promise<OrderRow | undefined>;
  ordersByToken(purchaseToken: string): Promise<OrderRow[]>;
  deliver(order: OrderPayload, accountId: string | undefined, now: number, confirmPending: boolean): Promise<DeliverOutcome>;
  revoke(ref: RevokeRef, reason: string, now: number): Promise<RevokeOutcome>;
  revokeToken(purchaseToken: string, reason: string, now: number): Promise<number>;
  /** Records a notification once; false when its de-duplication key was already recorded. */
  recordNotification(n: NotificationRecord): Promise<boolean>;
  setNotificationOutcome(n: NotificationRecord, outcome: string): Promise<void>;
}

export interface TransactionalLedger extends Ledger {
  /**
   * Runs `fn` in one transaction with the ledger's operations and SQL; resolves with its result after COMMIT. If it
   * throws, its writes are rolled back and the promise rejects with its error; a database failure rejects with
   * TransientError (`storage-unavailable`). `fn` awaits only `tx` (see LedgerHooks), and may be run again on
   * PostgreSQL after a serialization failure.
   */
  transaction<T>(fn: (tx: LedgerTransaction) => Promise<T>): Promise<T>;
}

/** True for a ledger that runs app code inside its transactions (SqliteLedger, PostgresLedger; not the worker). */
export function isTransactional(ledger: Ledger): ledger is TransactionalLedger {
  return typeof (ledger as Partial<TransactionalLedger>).transaction === 'function';
}

/** The de-duplication key of a notification: a retry repeats all of these; signedTime may change, so it is left out. */
export function notificationKey(n: NotificationRecord): string {
  return crypto
    .createHash('sha256')
    .update(JSON.stringify([n.requestId, n.type, n.subtype ?? null, n.orderId ?? null, n.token ?? null]))
    .digest('hex');
}

/**
 * The notification's part of applyNotification, shared by the in-process adapters. `noted`: the outcome stored when
 * nothing is revoked (subscriptions store what the notification changed in a subscription).
 */
export async function applyNotificationIn(
  tx: LedgerTransaction,
  n: NotificationRecord,
  revoke: NotificationRevoke | undefined,
  noted = 'noted',
): Promise<NotificationOutcome> {
  if (!(await tx.recordNotification(n))) return { kind: 'duplicate' };
  let action = noted;
  if (revoke !== undefined) {
    if (revoke.orderId !== undefined) {
      const r = await tx.revoke(
        { purchaseOrderId: revoke.orderId, purchaseToken: revoke.token ?? '', productId: revoke.productId, productType: revoke.productType },
        revoke.reason,
        n.now,
      );
      action = r.alreadyRevoked ? 'already-revoked' : r.revokedGrant ? 'revoked-grant' : 'revoked-before-grant';
    } else if (revoke.token !== undefined) {
      // Remembered even when no order carries the token yet: the later delivery is refused.
      const count = await tx.revokeToken(revoke.token, revoke.reason, n.now);
      action = count > 0 ? 'revoked-by-token' : 'unknown-token';
    } else {
      action = 'revoke-without-reference';
    }
  }
  await tx.setNotificationOutcome(n, action);
  return { kind: 'processed', action };
}
