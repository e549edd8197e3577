// Server-side delivery ledger (SQLite via better-sqlite3, WAL, synchronous=FULL).
//
// One row per purchaseOrderId (PRIMARY KEY): the first verified payload, the account it is bound to, its state
// (granted | revoked) and the server-side confirm-delivery state. A grant happens once: the INSERT of the row and the
// app's grant hook commit in the same transaction, and every later presentation of the same order is a replay that
// returns the first stored payload.
//
// Writes are GROUP COMMITTED (GroupCommit.ts): the writes that arrive while a batch is pending share one
// BEGIN IMMEDIATE … COMMIT (one fsync), each in its own SAVEPOINT, and every caller's promise settles only after that
// COMMIT returned. better-sqlite3 is synchronous, so the units of a batch run one after the other on one connection;
// across processes, BEGIN IMMEDIATE + the PRIMARY KEY keep the grant unique.
import Database from 'better-sqlite3';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TransientError } from '../jws/Errors';
import { GroupCommit, type GroupCommitStats } from './GroupCommit';

export interface OrderPayload {
  purchaseOrderId: string;
  purchaseToken: string;
  productId: string;
  productType: string;
  quantity?: number;
  [k: string]: unknown;
}

export interface LedgerHooks {
  /** Grant the entitlement. Runs INSIDE the ledger transaction (use `db` for server-side entitlements). */
  grant?(order: OrderPayload, accountId: string | undefined, db: Database.Database): void;
  /** Take back an entitlement granted earlier (refund / revoke). Runs inside the transaction. */
  revoke?(order: { purchaseOrderId: string; productId: string; accountId: string | undefined }, db: Database.Database): void;
}

export interface LedgerOptions {
  /** Most units of work committed in one transaction (default 256). 1 = one transaction per write. */
  maxBatch?: number;
}

export type DeliverOutcome =
  | {
      kind: 'granted';
      replay: boolean;
      payload: OrderPayload;
      accountId: string | undefined;
      grantedAt: number;
      confirmState: OrderRow['confirmState'];
    }
  | { kind: 'revoked'; revokedAt: number }
  | { kind: 'account-conflict' }
  /** The purchaseToken is already delivered under another purchaseOrderId: one token is delivered once. */
  | { kind: 'token-conflict' };

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
  confirmState: 'none' | 'pending' | 'confirmed' | 'failed';
  confirmAttempts: number;
}

export interface RevokeOutcome {
  /** An earlier grant was taken back (the revoke hook ran). */
  revokedGrant: boolean;
  alreadyRevoked: boolean;
}

export interface RevokeRef {
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

/**
 * The ledger's operations inside an open transaction: the argument of `Ledger.transaction(fn)`. Synchronous; `fn`
 * runs in its own SAVEPOINT of a group-committed batch, so what it writes commits (or rolls back) as one.
 */
export interface LedgerTransaction {
  get(purchaseOrderId: string): OrderRow | undefined;
  ordersByToken(purchaseToken: string): OrderRow[];
  deliver(order: OrderPayload, accountId: string | undefined, now: number, confirmPending: boolean): DeliverOutcome;
  revoke(ref: RevokeRef, reason: string, now: number): RevokeOutcome;
  /**
   * Revokes every order recorded under a purchaseToken AND remembers the token as refunded, so an order presented
   * later with it is refused (a refund notification may name only the token and arrive before the delivery).
   * Returns how many orders are recorded under the token (all of them now revoked).
   */
  revokeToken(purchaseToken: string, reason: string, now: number): number;
  /**
   * Records a notification once; returns false when the same notification was already seen. "The same" is the
   * notificationRequestId together with what the notification says (type, subtype, purchaseOrderId, purchaseToken):
   * a retry repeats all of these, while signedTime may change when it is signed again, so it is left out.
   */
  recordNotification(n: NotificationRecord): boolean;
  setNotificationOutcome(n: NotificationRecord, outcome: string): void;
}

interface RawRow {
  purchase_order_id: string;
  purchase_token: string;
  product_id: string;
  product_type: string;
  account_id: string | null;
  state: 'granted' | 'revoked';
  payload: string | null;
  granted_at: number | null;
  revoked_at: number | null;
  confirm_state: 'none' | 'pending' | 'confirmed' | 'failed';
  confirm_attempts: number;
}

const SCHEMA_VERSION = 2;

function toRow(r: RawRow): OrderRow {
  return {
    purchaseOrderId: r.purchase_order_id,
    purchaseToken: r.purchase_token,
    productId: r.product_id,
    productType: r.product_type,
    accountId: r.account_id ?? undefined,
    state: r.state,
    payload: r.payload ? (JSON.parse(r.payload) as OrderPayload) : undefined,
    grantedAt: r.granted_at ?? undefined,
    revokedAt: r.revoked_at ?? undefined,
    confirmState: r.confirm_state,
    confirmAttempts: r.confirm_attempts,
  };
}

/** SQLITE_BUSY / SQLITE_LOCKED and I/O errors are transient (503); everything else is a bug. */
function wrapDbError(e: unknown): never {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN)/.test(code)) {
    throw new TransientError('storage-unavailable', `database: ${code}`, 1);
  }
  throw e;
}

interface Statements {
  get: Database.Statement;
  getByToken: Database.Statement;
  insertGranted: Database.Statement;
  insertRevoked: Database.Statement;
  bindAccount: Database.Statement;
  markRevoked: Database.Statement;
  setConfirm: Database.Statement;
  insertNotification: Database.Statement;
  setNotificationOutcome: Database.Statement;
  countGranted: Database.Statement;
  grantedByToken: Database.Statement;
  getRevokedToken: Database.Statement;
  insertRevokedToken: Database.Statement;
}

/** The de-duplication key of a notification (see LedgerTransaction.recordNotification). */
export function notificationKey(n: NotificationRecord): string {
  return crypto
    .createHash('sha256')
    .update(JSON.stringify([n.requestId, n.type, n.subtype ?? null, n.orderId ?? null, n.token ?? null]))
    .digest('hex');
}

function prepareStatements(db: Database.Database): Statements {
  return {
    get: db.prepare('SELECT * FROM orders WHERE purchase_order_id = ?'),
    getByToken: db.prepare('SELECT * FROM orders WHERE purchase_token = ? ORDER BY created_at'),
    insertGranted: db.prepare(
      `INSERT INTO orders (purchase_order_id, purchase_token, product_id, product_type, quantity, account_id, state,
         payload, granted_at, confirm_state, created_at, updated_at)
       VALUES (@id, @token, @productId, @productType, @quantity, @accountId, 'granted', @payload, @now, @confirmState, @now, @now)`,
    ),
    insertRevoked: db.prepare(
      `INSERT INTO orders (purchase_order_id, purchase_token, product_id, product_type, quantity, account_id, state,
         payload, revoked_at, revocation_reason, created_at, updated_at)
       VALUES (@id, @token, @productId, @productType, @quantity, NULL, 'revoked', @payload, @now, @reason, @now, @now)`,
    ),
    bindAccount: db.prepare('UPDATE orders SET account_id = ?, updated_at = ? WHERE purchase_order_id = ? AND account_id IS NULL'),
    markRevoked: db.prepare(
      `UPDATE orders SET state = 'revoked', revoked_at = @now, revocation_reason = @reason, updated_at = @now
       WHERE purchase_order_id = @id AND state <> 'revoked'`,
    ),
    setConfirm: db.prepare(
      `UPDATE orders SET confirm_state = @state, confirm_attempts = confirm_attempts + @inc, confirm_error = @error,
         confirmed_at = CASE WHEN @state = 'confirmed' THEN @now ELSE confirmed_at END, updated_at = @now
       WHERE purchase_order_id = @id`,
    ),
    insertNotification: db.prepare(
      `INSERT OR IGNORE INTO notifications (dedup_key, request_id, type, subtype, purchase_order_id, purchase_token, received_at)
       VALUES (@key, @requestId, @type, @subtype, @orderId, @token, @now)`,
    ),
    setNotificationOutcome: db.prepare('UPDATE notifications SET outcome = ? WHERE dedup_key = ?'),
    countGranted: db.prepare('SELECT COUNT(*) AS n FROM orders WHERE granted_at IS NOT NULL'),
    grantedByToken: db.prepare('SELECT purchase_order_id FROM orders WHERE purchase_token = ? AND granted_at IS NOT NULL'),
    getRevokedToken: db.prepare('SELECT revoked_at, reason FROM revoked_tokens WHERE purchase_token = ?'),
    insertRevokedToken: db.prepare(
      'INSERT OR IGNORE INTO revoked_tokens (purchase_token, reason, revoked_at) VALUES (?, ?, ?)',
    ),
  };
}

/** The synchronous operations; every write method must be called inside a transaction (a GroupCommit unit). */
class TransactionOps implements LedgerTransaction {
  constructor(
    private readonly db: Database.Database,
    private readonly st: Statements,
    private readonly hooks: LedgerHooks,
  ) {}

  get(purchaseOrderId: string): OrderRow | undefined {
    const r = this.st.get.get(purchaseOrderId) as RawRow | undefined;
    return r && toRow(r);
  }

  ordersByToken(purchaseToken: string): OrderRow[] {
    return (this.st.getByToken.all(purchaseToken) as RawRow[]).map(toRow);
  }

  deliver(order: OrderPayload, accountId: string | undefined, now: number, confirmPending: boolean): DeliverOutcome {
    if (order.purchaseOrderId === '' || order.purchaseToken === '') {
      throw new TypeError('deliver: purchaseOrderId and purchaseToken must not be empty');
    }
    const raw = this.st.get.get(order.purchaseOrderId) as RawRow | undefined;
    if (!raw) {
      // A refund that named only this token came first: remember the order as revoked, grant nothing.
      const refunded = this.st.getRevokedToken.get(order.purchaseToken) as { revoked_at: number; reason: string } | undefined;
      if (refunded) {
        this.insertRevokedRow(
          { purchaseOrderId: order.purchaseOrderId, purchaseToken: order.purchaseToken, productId: order.productId, productType: order.productType, payload: order },
          refunded.reason,
          now,
        );
        return { kind: 'revoked', revokedAt: refunded.revoked_at };
      }
      // --- subscriptions: every period of an auto-renewable is an order under the subscription's one token ---
      const other =
        order.productType === '2' ? undefined : (this.st.grantedByToken.get(order.purchaseToken) as { purchase_order_id: string } | undefined);
      // --- end subscriptions ---
      if (other) return { kind: 'token-conflict' };
      this.st.insertGranted.run({
        id: order.purchaseOrderId,
        token: order.purchaseToken,
        productId: order.productId,
        productType: order.productType,
        quantity: typeof order.quantity === 'number' ? order.quantity : 1,
        accountId: accountId ?? null,
        payload: JSON.stringify(order),
        now,
        confirmState: confirmPending ? 'pending' : 'none',
      });
      this.hooks.grant?.(order, accountId, this.db);
      return { kind: 'granted', replay: false, payload: order, accountId, grantedAt: now, confirmState: confirmPending ? 'pending' : 'none' };
    }
    const row = toRow(raw);
    if (row.state === 'revoked') return { kind: 'revoked', revokedAt: row.revokedAt ?? now };
    if (accountId !== undefined && row.accountId !== undefined && row.accountId !== accountId) {
      return { kind: 'account-conflict' };
    }
    let bound = row.accountId;
    if (accountId !== undefined && row.accountId === undefined) {
      this.st.bindAccount.run(accountId, now, order.purchaseOrderId);
      bound = accountId;
    }
    return {
      kind: 'granted',
      replay: true,
      payload: row.payload ?? order,
      accountId: bound,
      grantedAt: row.grantedAt ?? now,
      confirmState: row.confirmState,
    };
  }

  private insertRevokedRow(ref: RevokeRef, reason: string, now: number): void {
    this.st.insertRevoked.run({
      id: ref.purchaseOrderId,
      token: ref.purchaseToken,
      productId: ref.productId ?? '',
      productType: ref.productType ?? '',
      quantity: 1,
      payload: ref.payload ? JSON.stringify(ref.payload) : null,
      now,
      reason,
    });
  }

  revoke(ref: RevokeRef, reason: string, now: number): RevokeOutcome {
    // An empty key is no key: never a row under "" (a REVOKE with purchaseOrderId "" is a revoke by token).
    if (ref.purchaseOrderId === '') {
      if (ref.purchaseToken === '') throw new TypeError('revoke: neither purchaseOrderId nor purchaseToken given');
      const n = this.revokeToken(ref.purchaseToken, reason, now);
      return { revokedGrant: n > 0, alreadyRevoked: false };
    }
    const raw = this.st.get.get(ref.purchaseOrderId) as RawRow | undefined;
    if (!raw) {
      this.insertRevokedRow(ref, reason, now);
      return { revokedGrant: false, alreadyRevoked: false };
    }
    if (raw.state === 'revoked') return { revokedGrant: false, alreadyRevoked: true };
    this.st.markRevoked.run({ id: ref.purchaseOrderId, now, reason });
    const granted = raw.granted_at !== null;
    if (granted) {
      this.hooks.revoke?.(
        { purchaseOrderId: raw.purchase_order_id, productId: raw.product_id, accountId: raw.account_id ?? undefined },
        this.db,
      );
    }
    return { revokedGrant: granted, alreadyRevoked: false };
  }

  revokeToken(purchaseToken: string, reason: string, now: number): number {
    if (purchaseToken === '') throw new TypeError('revokeToken: empty purchaseToken');
    this.st.insertRevokedToken.run(purchaseToken, reason, now);
    const rows = this.ordersByToken(purchaseToken);
    for (const row of rows) this.revoke(row, reason, now);
    return rows.length;
  }

  recordNotification(n: NotificationRecord): boolean {
    const r = this.st.insertNotification.run({
      key: notificationKey(n),
      requestId: n.requestId,
      type: n.type,
      subtype: n.subtype ?? null,
      orderId: n.orderId ?? null,
      token: n.token ?? null,
      now: n.now,
    });
    return r.changes === 1;
  }

  setNotificationOutcome(n: NotificationRecord, outcome: string): void {
    this.st.setNotificationOutcome.run(outcome, notificationKey(n));
  }

  setConfirmState(purchaseOrderId: string, state: OrderRow['confirmState'], error: string | undefined, now: number): void {
    this.st.setConfirm.run({ id: purchaseOrderId, state, inc: state === 'pending' ? 0 : 1, error: error ?? null, now });
  }
}

export class Ledger {
  readonly db: Database.Database;
  private readonly st: Statements;
  private readonly ops: TransactionOps;
  private readonly commits: GroupCommit;

  constructor(databasePath: string, hooks: LedgerHooks = {}, options: LedgerOptions = {}) {
    if (databasePath !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(databasePath)), { recursive: true });
    this.db = new Database(databasePath);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.migrate();
    this.st = prepareStatements(this.db);
    this.ops = new TransactionOps(this.db, this.st, hooks);
    this.commits = new GroupCommit(this.db, { maxBatch: options.maxBatch });
  }

  private migrate(): void {
    const v = this.db.pragma('user_version', { simple: true }) as number;
    if (v > SCHEMA_VERSION) throw new Error(`ledger schema v${v} is newer than this server (v${SCHEMA_VERSION})`);
    if (v < 1) {
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS orders (
          purchase_order_id TEXT PRIMARY KEY,
          purchase_token    TEXT NOT NULL,
          product_id        TEXT NOT NULL,
          product_type      TEXT NOT NULL,
          quantity          INTEGER NOT NULL DEFAULT 1,
          account_id        TEXT,
          state             TEXT NOT NULL CHECK (state IN ('granted', 'revoked')),
          payload           TEXT,
          granted_at        INTEGER,
          revoked_at        INTEGER,
          revocation_reason TEXT,
          confirm_state     TEXT NOT NULL DEFAULT 'none' CHECK (confirm_state IN ('none', 'pending', 'confirmed', 'failed')),
          confirm_attempts  INTEGER NOT NULL DEFAULT 0,
          confirm_error     TEXT,
          confirmed_at      INTEGER,
          created_at        INTEGER NOT NULL,
          updated_at        INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS orders_by_token ON orders (purchase_token);
        CREATE TABLE IF NOT EXISTS notifications (
          request_id        TEXT PRIMARY KEY,
          type              TEXT NOT NULL,
          subtype           TEXT,
          purchase_order_id TEXT,
          purchase_token    TEXT,
          received_at       INTEGER NOT NULL,
          outcome           TEXT
        );
        PRAGMA user_version = 1;
      `);
    }
    if (v < 2) {
      // v2: one delivery per purchaseToken (a UNIQUE index over granted rows: revoked-before-grant rows may share a
      // token), refunded tokens remembered, notifications de-duplicated on their content key, not the request id alone.
      this.db.transaction(() => {
        this.db.exec(`
          CREATE UNIQUE INDEX IF NOT EXISTS orders_granted_token ON orders (purchase_token) WHERE granted_at IS NOT NULL;
          CREATE TABLE IF NOT EXISTS revoked_tokens (
            purchase_token TEXT PRIMARY KEY CHECK (purchase_token <> ''),
            reason         TEXT NOT NULL,
            revoked_at     INTEGER NOT NULL
          );
          CREATE TABLE notifications_v2 (
            dedup_key         TEXT PRIMARY KEY,
            request_id        TEXT NOT NULL,
            type              TEXT NOT NULL,
            subtype           TEXT,
            purchase_order_id TEXT,
            purchase_token    TEXT,
            received_at       INTEGER NOT NULL,
            outcome           TEXT
          );
        `);
        const old = this.db.prepare('SELECT * FROM notifications').all() as Array<Record<string, unknown>>;
        const ins = this.db.prepare(
          `INSERT OR IGNORE INTO notifications_v2 (dedup_key, request_id, type, subtype, purchase_order_id, purchase_token, received_at, outcome)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        );
        for (const o of old) {
          const rec: NotificationRecord = {
            requestId: o['request_id'] as string,
            type: o['type'] as string,
            subtype: (o['subtype'] as string | null) ?? undefined,
            orderId: (o['purchase_order_id'] as string | null) ?? undefined,
            token: (o['purchase_token'] as string | null) ?? undefined,
            now: o['received_at'] as number,
          };
          ins.run(notificationKey(rec), rec.requestId, rec.type, rec.subtype ?? null, rec.orderId ?? null, rec.token ?? null, rec.now, o['outcome'] ?? null);
        }
        this.db.exec(`
          DROP TABLE notifications;
          ALTER TABLE notifications_v2 RENAME TO notifications;
          CREATE INDEX IF NOT EXISTS notifications_by_request ON notifications (request_id);
          PRAGMA user_version = 2;
        `);
      })();
    }
  }

  /** Reads the committed row (reads are not queued: between batches no transaction is open). */
  get(purchaseOrderId: string): OrderRow | undefined {
    return this.ops.get(purchaseOrderId);
  }

  grantedCount(): number {
    return (this.st.countGranted.get() as { n: number }).n;
  }

  /** Orders known under a purchaseToken (notifications without purchaseOrderId). */
  ordersByToken(purchaseToken: string): OrderRow[] {
    return this.ops.ordersByToken(purchaseToken);
  }

  /**
   * Delivers a verified, non-revoked order: grants it once (first presentation), or replays the first result.
   * `confirmPending`: mark the new row as awaiting server-side confirm delivery. Resolves once committed.
   */
  deliver(order: OrderPayload, accountId: string | undefined, now: number, confirmPending: boolean): Promise<DeliverOutcome> {
    return this.transaction((tx) => tx.deliver(order, accountId, now, confirmPending));
  }

  /**
   * Marks an order revoked (refund). Creates a revoked row when the order was never presented, so a later
   * presentation is refused. Tells whether an earlier grant was taken back. Resolves once committed.
   */
  revoke(ref: RevokeRef, reason: string, now: number): Promise<RevokeOutcome> {
    return this.transaction((tx) => tx.revoke(ref, reason, now));
  }

  setConfirmState(purchaseOrderId: string, state: OrderRow['confirmState'], error: string | undefined, now: number): Promise<void> {
    return this.transaction(() => this.ops.setConfirmState(purchaseOrderId, state, error, now));
  }

  /**
   * Runs `fn` (synchronous) as one unit of the next group-committed batch, in its own SAVEPOINT: if it throws, only
   * its own writes are rolled back. Resolves with its result after the batch's COMMIT. Rejects with fn's error, or
   * with a TransientError (`storage-unavailable`) for busy/I-O errors and when the batch could not be committed.
   */
  async transaction<T>(fn: (tx: LedgerTransaction) => T): Promise<T> {
    try {
      return await this.commits.run(() => fn(this.ops));
    } catch (e) {
      return wrapDbError(e);
    }
  }

  /** Group-commit counters: batches committed and failed, units, largest batch. */
  commitStats(): GroupCommitStats {
    return this.commits.stats();
  }

  /** Commits the writes still queued, then closes the database. Later writes get a TransientError. */
  close(): void {
    if (!this.db.open) return;
    this.commits.close();
    this.db.close();
  }
}
