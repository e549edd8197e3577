// The PostgreSQL adapter of the ledger port (Ledger.ts), through `pg` (node-postgres): selected by
// DATABASE_URL=postgres://…. Any number of server processes on one database behave as one ledger.
//
// Every operation is ONE PostgreSQL transaction at READ COMMITTED on a pooled connection, and resolves after its
// COMMIT. Why it is race-free across instances (each rule of the port, and what enforces it in the database itself,
// never in a process's memory):
// - one grant per purchaseOrderId: the PRIMARY KEY. Two instances inserting the same order: the second INSERT … ON
//   CONFLICT DO NOTHING waits for the first transaction and then inserts nothing; it reads the committed row and
//   answers a replay. Only the transaction whose INSERT returned the row runs the grant hook;
// - one delivery per purchaseToken: the partial UNIQUE index over granted rows (orders_granted_token), which leaves
//   out auto-renewables (productType "2": their periods share one token);
// - a refund remembered before delivery: a refund by token writes `revoked_tokens` and revokes the orders under the
//   token, a delivery reads `revoked_tokens` and inserts an order. Those touch DIFFERENT rows, so at READ COMMITTED
//   each could miss the other's uncommitted write (write skew: both commit, and a refunded token is granted).
//   Both therefore first take a transaction-scoped advisory lock on the token (pg_advisory_xact_lock(namespace,
//   hashtext(token))): they run one after the other, and the later one's next statement (a new snapshot at READ
//   COMMITTED) sees the earlier one's commit. SERIALIZABLE would also catch it, but it aborts unrelated deliveries
//   whose index entries share a page (false positives under load); the lock serialises only the same token (and a
//   32-bit hash collision, which costs a wait, never a wrong answer). It is released by COMMIT/ROLLBACK, and by the
//   server when a client's connection dies (kill -9 of an instance);
// - refund by order vs delivery of that order: both write the order's PRIMARY KEY row (insert-or-lock), so the
//   second waits for the first and sees its outcome;
// - account binding first-wins: the binding UPDATE has `WHERE account_id IS NULL`; at READ COMMITTED a concurrent
//   UPDATE waits and re-checks that condition on the committed row, so exactly one account binds;
// - notifications once: INSERT … ON CONFLICT (dedup_key) DO NOTHING; the second instance waits for the first's
//   commit (or its rollback, and then records it itself).
// Without a grant hook, deliver() runs the same statements as ONE call of a PL/pgSQL function (PostgresDeliverFunction.ts):
// each statement of a VOLATILE function takes a new snapshot at READ COMMITTED, so the argument above holds unchanged.
// A deadlock or serialization failure (possible only with app SQL in hooks / transaction()) rolls the transaction
// back and it is run again (up to 4 attempts); connection failures are TransientError(storage-unavailable) → 503.
import pg from 'pg';
import { TransientError } from '../jws/Errors';
import { DELIVER_BATCH_FUNCTION_SQL, DELIVER_FUNCTION_SQL, DeliverBatcher } from './PostgresDeliverFunction';
import {
  applyNotificationIn,
  notificationKey,
  type ConfirmState,
  type DeliverOutcome,
  type LedgerHooks,
  type LedgerStats,
  type LedgerTransaction,
  type NotificationOutcome,
  type NotificationRecord,
  type NotificationRevoke,
  type OrderPayload,
  type OrderRow,
  type RevokeOutcome,
  type RevokeRef,
  type SqlResult,
  type SqlTransaction,
  type SqlValue,
  type TransactionalLedger,
} from './Ledger';

export interface PostgresLedgerOptions {
  /** Connections in this instance's pool (default 10). Across instances: keep the sum under max_connections. */
  poolSize?: number;
  /** Server-side statement timeout in ms (default 10 000): a stuck statement fails (503) instead of hanging. */
  statementTimeoutMs?: number;
  /** Wait for a free pooled connection (default 5 000 ms), then 503. */
  connectTimeoutMs?: number;
  /**
   * Delivery calls at the database at once (default 1); the deliveries that arrive meanwhile go together in the next
   * call (one transaction). More calls: lower latency when idle, fewer orders per COMMIT under load.
   */
  deliverCallsInFlight?: number;
}

// v2: the tables (same rules as SQLite's v2); v3: the one-round-trip delivery function (PostgresDeliverFunction.ts);
// v4 (SQLite's v3): auto-renewables (productType "2") left out of the one-delivery-per-token index, orders by account;
// v5: the grouped delivery function (gemstore_deliver_batch); v6: gemstore_deliver_many, which only tries token
// locks and matches copies by (order, token, productType) (v5's function stays for v5 instances during an upgrade).
const SCHEMA_VERSION = 6;
/** Advisory-lock namespace (the first key of the two-key form): schema migration and per-token locks. */
export const LOCK_NAMESPACE = 0x1a9_0001;
/** The second key of the schema-migration lock (the ledger and the stores that live beside it in its database). */
export const LOCK_MIGRATE = 0;
const MAX_ATTEMPTS = 4;

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
  confirm_state: ConfirmState;
  confirm_attempts: number;
}

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

/** BIGINT (int8, e.g. COUNT(*), the ms timestamps) as a JS number, as SQLite returns it: the values stay below 2^53. */
const TYPES = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS orders (
     purchase_order_id TEXT PRIMARY KEY CHECK (purchase_order_id <> ''),
     purchase_token    TEXT NOT NULL,
     product_id        TEXT NOT NULL,
     product_type      TEXT NOT NULL,
     quantity          INTEGER NOT NULL DEFAULT 1,
     account_id        TEXT,
     state             TEXT NOT NULL CHECK (state IN ('granted', 'revoked')),
     payload           TEXT,
     granted_at        BIGINT,
     revoked_at        BIGINT,
     revocation_reason TEXT,
     confirm_state     TEXT NOT NULL DEFAULT 'none' CHECK (confirm_state IN ('none', 'pending', 'confirmed', 'failed')),
     confirm_attempts  INTEGER NOT NULL DEFAULT 0,
     confirm_error     TEXT,
     confirmed_at      BIGINT,
     created_at        BIGINT NOT NULL,
     updated_at        BIGINT NOT NULL
   )`,
  'CREATE INDEX IF NOT EXISTS orders_by_token ON orders (purchase_token)',
  // One delivery per token; revoked-before-grant rows (granted_at NULL) may share a token, and so do the periods of
  // an auto-renewable subscription (productType "2": each renewal is a new order under the subscription's one token).
  // Rebuilt when its definition is older (v < 4): DROP + CREATE run under the migration lock, in its transaction.
  "DROP INDEX IF EXISTS orders_granted_token",
  "CREATE UNIQUE INDEX orders_granted_token ON orders (purchase_token) WHERE granted_at IS NOT NULL AND product_type <> '2'",
  'CREATE INDEX IF NOT EXISTS orders_by_account ON orders (account_id)',
  `CREATE TABLE IF NOT EXISTS revoked_tokens (
     purchase_token TEXT PRIMARY KEY CHECK (purchase_token <> ''),
     reason         TEXT NOT NULL,
     revoked_at     BIGINT NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS notifications (
     dedup_key         TEXT PRIMARY KEY,
     request_id        TEXT NOT NULL,
     type              TEXT NOT NULL,
     subtype           TEXT,
     purchase_order_id TEXT,
     purchase_token    TEXT,
     received_at       BIGINT NOT NULL,
     outcome           TEXT
   )`,
  'CREATE INDEX IF NOT EXISTS notifications_by_request ON notifications (request_id)',
];

/** SQLSTATE classes that mean "the database is not available right now" (retry later), not a bug. */
function isTransient(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') {
    // pg's own errors without a SQLSTATE: connection refused / reset / terminated, pool timeout.
    const msg = e instanceof Error ? e.message : '';
    return /ECONN|EPIPE|ETIMEDOUT|EHOSTUNREACH|Connection terminated|timeout exceeded|Client has encountered a connection error|not queryable/i.test(
      `${String(code ?? '')} ${msg}`,
    );
  }
  return /^(08|53|57|58|40001|40P01|55P03|ECONN|EPIPE|ETIMEDOUT)/.test(code);
}

function isRetryable(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === '40001' || code === '40P01';
}

function wrapDbError(e: unknown): never {
  if (e instanceof TransientError) throw e;
  if (isTransient(e)) {
    const code = (e as { code?: unknown } | null)?.code;
    throw new TransientError('storage-unavailable', `database: ${typeof code === 'string' ? code : 'connection'}`, 1);
  }
  throw e;
}

type Queryable = Pick<pg.PoolClient, 'query'>;

/** The ledger's statements on one connection inside an open transaction. */
class PostgresOps implements LedgerTransaction {
  readonly sql: SqlTransaction;

  constructor(
    private readonly c: Queryable,
    private readonly hooks: LedgerHooks,
  ) {
    this.sql = {
      dialect: 'postgres',
      query: async <R>(text: string, params: readonly SqlValue[] = []): Promise<SqlResult<R>> => {
        const r = await this.c.query(text, params as SqlValue[]);
        return { rows: r.rows as R[], rowCount: r.rowCount ?? r.rows.length };
      },
    };
  }

  private async one(text: string, params: SqlValue[]): Promise<RawRow | undefined> {
    return (await this.c.query<RawRow>(text, params)).rows[0];
  }

  /** Serialises, across every instance, the transactions that decide about one purchaseToken (see the header). */
  private async lockToken(purchaseToken: string): Promise<void> {
    await this.c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_NAMESPACE, purchaseToken]);
  }

  async get(purchaseOrderId: string): Promise<OrderRow | undefined> {
    const r = await this.one('SELECT * FROM orders WHERE purchase_order_id = $1', [purchaseOrderId]);
    return r && toRow(r);
  }

  async ordersByToken(purchaseToken: string): Promise<OrderRow[]> {
    const r = await this.c.query<RawRow>('SELECT * FROM orders WHERE purchase_token = $1 ORDER BY created_at, purchase_order_id', [purchaseToken]);
    return r.rows.map(toRow);
  }

  async deliver(order: OrderPayload, accountId: string | undefined, now: number, confirmPending: boolean): Promise<DeliverOutcome> {
    if (order.purchaseOrderId === '' || order.purchaseToken === '') {
      throw new TypeError('deliver: purchaseOrderId and purchaseToken must not be empty');
    }
    const confirmState: ConfirmState = confirmPending ? 'pending' : 'none';
    await this.lockToken(order.purchaseToken);
    // The first presentation, unless the token was refunded: inserted as granted in one statement (its snapshot is
    // taken after the lock, so a refund committed before sees it). Nothing inserted = a replay, a refunded token or
    // another order holding the token.
    const inserted = await this.c.query(
      `INSERT INTO orders (purchase_order_id, purchase_token, product_id, product_type, quantity, account_id, state,
         payload, granted_at, confirm_state, created_at, updated_at)
       SELECT $1::text, $2::text, $3::text, $4::text, $5::int, $6::text, 'granted', $7::text, $8::bigint, $9::text, $8::bigint, $8::bigint
       WHERE NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE purchase_token = $2::text)
       ON CONFLICT DO NOTHING
       RETURNING purchase_order_id`,
      [
        order.purchaseOrderId,
        order.purchaseToken,
        order.productId,
        order.productType,
        typeof order.quantity === 'number' ? order.quantity : 1,
        accountId ?? null,
        JSON.stringify(order),
        now,
        confirmState,
      ],
    );
    if (inserted.rowCount === 1) {
      await this.hooks.grant?.(order, accountId, this.sql);
      return { kind: 'granted', replay: false, payload: order, accountId, grantedAt: now, confirmState };
    }
    const raw = await this.one('SELECT * FROM orders WHERE purchase_order_id = $1 FOR UPDATE', [order.purchaseOrderId]);
    if (!raw) {
      const refunded = (
        await this.c.query<{ revoked_at: number; reason: string }>('SELECT revoked_at, reason FROM revoked_tokens WHERE purchase_token = $1', [
          order.purchaseToken,
        ])
      ).rows[0];
      if (refunded) {
        // A refund that named only this token came first: remember the order as revoked, grant nothing.
        await this.insertRevokedRow(
          { purchaseOrderId: order.purchaseOrderId, purchaseToken: order.purchaseToken, productId: order.productId, productType: order.productType, payload: order },
          refunded.reason,
          now,
        );
        return { kind: 'revoked', revokedAt: refunded.revoked_at };
      }
      return { kind: 'token-conflict' };
    }
    const row = toRow(raw);
    if (row.state === 'revoked') return { kind: 'revoked', revokedAt: row.revokedAt ?? now };
    if (accountId !== undefined && row.accountId !== undefined && row.accountId !== accountId) {
      return { kind: 'account-conflict' };
    }
    let bound = row.accountId;
    if (accountId !== undefined && row.accountId === undefined) {
      // The row is locked (FOR UPDATE): no other transaction binds it between that read and this write.
      await this.c.query('UPDATE orders SET account_id = $1, updated_at = $2 WHERE purchase_order_id = $3 AND account_id IS NULL', [
        accountId,
        now,
        order.purchaseOrderId,
      ]);
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

  /** Stores an order as revoked; false when a row already exists under its id (nothing changed). */
  private async insertRevokedRow(ref: RevokeRef, reason: string, now: number): Promise<boolean> {
    const r = await this.c.query(
      `INSERT INTO orders (purchase_order_id, purchase_token, product_id, product_type, quantity, account_id, state,
         payload, revoked_at, revocation_reason, created_at, updated_at)
       VALUES ($1, $2, $3, $4, 1, NULL, 'revoked', $5, $6, $7, $6, $6)
       ON CONFLICT (purchase_order_id) DO NOTHING`,
      [ref.purchaseOrderId, ref.purchaseToken, ref.productId ?? '', ref.productType ?? '', ref.payload ? JSON.stringify(ref.payload) : null, now, reason],
    );
    return r.rowCount === 1;
  }

  async revoke(ref: RevokeRef, reason: string, now: number): Promise<RevokeOutcome> {
    // An empty key is no key: never a row under "" (a REVOKE with purchaseOrderId "" is a revoke by token).
    if (ref.purchaseOrderId === '') {
      if (ref.purchaseToken === '') throw new TypeError('revoke: neither purchaseOrderId nor purchaseToken given');
      const n = await this.revokeToken(ref.purchaseToken, reason, now);
      return { revokedGrant: n > 0, alreadyRevoked: false };
    }
    // Insert-or-lock on the PRIMARY KEY: a concurrent delivery of the same order either committed before (we see and
    // revoke its grant) or waits for us (and sees the order revoked).
    if (await this.insertRevokedRow(ref, reason, now)) return { revokedGrant: false, alreadyRevoked: false };
    const raw = await this.one('SELECT * FROM orders WHERE purchase_order_id = $1 FOR UPDATE', [ref.purchaseOrderId]);
    if (!raw) {
      // Deleted between the two statements (only by hand): store the revocation now.
      await this.insertRevokedRow(ref, reason, now);
      return { revokedGrant: false, alreadyRevoked: false };
    }
    if (raw.state === 'revoked') return { revokedGrant: false, alreadyRevoked: true };
    await this.c.query(
      `UPDATE orders SET state = 'revoked', revoked_at = $2, revocation_reason = $3, updated_at = $2
       WHERE purchase_order_id = $1 AND state <> 'revoked'`,
      [ref.purchaseOrderId, now, reason],
    );
    const granted = raw.granted_at !== null;
    if (granted) {
      await this.hooks.revoke?.({ purchaseOrderId: raw.purchase_order_id, productId: raw.product_id, accountId: raw.account_id ?? undefined }, this.sql);
    }
    return { revokedGrant: granted, alreadyRevoked: false };
  }

  async revokeToken(purchaseToken: string, reason: string, now: number): Promise<number> {
    if (purchaseToken === '') throw new TypeError('revokeToken: empty purchaseToken');
    await this.lockToken(purchaseToken);
    await this.c.query('INSERT INTO revoked_tokens (purchase_token, reason, revoked_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
      purchaseToken,
      reason,
      now,
    ]);
    const rows = await this.ordersByToken(purchaseToken);
    for (const row of rows) await this.revoke(row, reason, now);
    return rows.length;
  }

  async recordNotification(n: NotificationRecord): Promise<boolean> {
    const r = await this.c.query(
      `INSERT INTO notifications (dedup_key, request_id, type, subtype, purchase_order_id, purchase_token, received_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (dedup_key) DO NOTHING`,
      [notificationKey(n), n.requestId, n.type, n.subtype ?? null, n.orderId ?? null, n.token ?? null, n.now],
    );
    return r.rowCount === 1;
  }

  async setNotificationOutcome(n: NotificationRecord, outcome: string): Promise<void> {
    await this.c.query('UPDATE notifications SET outcome = $1 WHERE dedup_key = $2', [outcome, notificationKey(n)]);
  }

  async setConfirmState(purchaseOrderId: string, state: ConfirmState, error: string | undefined, now: number): Promise<void> {
    await this.c.query(
      `UPDATE orders SET confirm_state = $2, confirm_attempts = confirm_attempts + $3, confirm_error = $4,
         confirmed_at = CASE WHEN $2 = 'confirmed' THEN $5 ELSE confirmed_at END, updated_at = $5
       WHERE purchase_order_id = $1`,
      [purchaseOrderId, state, state === 'pending' ? 0 : 1, error ?? null, now],
    );
  }
}

export class PostgresLedger implements TransactionalLedger {
  readonly backend = 'postgres';
  private readonly pool: pg.Pool;
  private readonly readOps: PostgresOps;
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly counters: LedgerStats = { commits: 0, failedBatches: 0, units: 0, largestBatch: 0 };
  private readonly batcher: DeliverBatcher;
  private migrated: Promise<void> | undefined;
  private closed = false;

  constructor(
    connectionString: string,
    private readonly hooks: LedgerHooks = {},
    options: PostgresLedgerOptions = {},
  ) {
    this.pool = new pg.Pool({
      connectionString,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      idleTimeoutMillis: 30_000,
      statement_timeout: options.statementTimeoutMs ?? 10_000,
      // A client that stops mid-transaction (frozen, partitioned) does not hold its locks for ever.
      idle_in_transaction_session_timeout: 30_000,
      application_name: 'gemstore-iap-server',
      types: TYPES,
    });
    // An idle pooled connection that dies (database restart, failover) must not crash the process: the pool drops
    // it and the next checkout opens a new one.
    this.pool.on('error', () => undefined);
    this.readOps = new PostgresOps(this.pool, {});
    this.batcher = new DeliverBatcher(this.pool, LOCK_NAMESPACE, this.counters, isTransient, options.deliverCallsInFlight ?? 1);
  }

  /** Creates or migrates the schema once per process; concurrent instances serialise on an advisory lock. */
  ready(): Promise<void> {
    this.migrated ??= this.migrate().catch((e: unknown) => {
      this.migrated = undefined;
      return wrapDbError(e);
    });
    return this.migrated;
  }

  private async migrate(): Promise<void> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      // Two instances starting together would race on CREATE … IF NOT EXISTS (a unique violation in the catalog).
      await c.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_NAMESPACE, LOCK_MIGRATE]);
      await c.query('CREATE TABLE IF NOT EXISTS ledger_schema (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)');
      const v = (await c.query<{ version: number }>('SELECT version FROM ledger_schema WHERE id = 1')).rows[0]?.version ?? 0;
      if (v > SCHEMA_VERSION) throw new Error(`ledger schema v${v} is newer than this server (v${SCHEMA_VERSION})`);
      if (v < SCHEMA_VERSION) {
        for (const statement of SCHEMA) await c.query(statement);
        await c.query(DELIVER_FUNCTION_SQL);
        await c.query(DELIVER_BATCH_FUNCTION_SQL);
        await c.query(
          'INSERT INTO ledger_schema (id, version) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version',
          [SCHEMA_VERSION],
        );
      }
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }

  private async read<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new TransientError('storage-unavailable', 'the ledger is closed', 1);
    await this.ready();
    try {
      return await fn();
    } catch (e) {
      return wrapDbError(e);
    }
  }

  ping(): Promise<void> {
    return this.read(async () => void (await this.pool.query('SELECT 1')));
  }

  get(purchaseOrderId: string): Promise<OrderRow | undefined> {
    return this.read(() => this.readOps.get(purchaseOrderId));
  }

  ordersByToken(purchaseToken: string): Promise<OrderRow[]> {
    return this.read(() => this.readOps.ordersByToken(purchaseToken));
  }

  grantedCount(): Promise<number> {
    return this.read(async () => (await this.pool.query<{ n: number }>('SELECT COUNT(*)::int AS n FROM orders WHERE granted_at IS NOT NULL')).rows[0]!.n);
  }

  /**
   * Without a grant hook (the device grants: what `npm start` runs) a delivery is ONE autocommit call of the
   * gemstore_deliver function, the same statements as PostgresOps.deliver in one round trip instead of four, and
   * under load the orders that wait for a call go together in one (DeliverBatcher: one transaction, one WAL flush);
   * with a grant hook, the hook must run inside the transaction, so the statements are sent one by one.
   */
  deliver(order: OrderPayload, accountId: string | undefined, now: number, confirmPending: boolean): Promise<DeliverOutcome> {
    if (this.hooks.grant !== undefined) return this.transaction((tx) => tx.deliver(order, accountId, now, confirmPending));
    if (order.purchaseOrderId === '' || order.purchaseToken === '') {
      return Promise.reject(new TypeError('deliver: purchaseOrderId and purchaseToken must not be empty'));
    }
    return this.track(async () => {
      try {
        return await this.batcher.deliver({ order, accountId, now, confirmPending });
      } catch (e) {
        return wrapDbError(e);
      }
    });
  }

  revoke(ref: RevokeRef, reason: string, now: number): Promise<RevokeOutcome> {
    return this.transaction((tx) => tx.revoke(ref, reason, now));
  }

  revokeToken(purchaseToken: string, reason: string, now: number): Promise<number> {
    return this.transaction((tx) => tx.revokeToken(purchaseToken, reason, now));
  }

  applyNotification(n: NotificationRecord, revoke: NotificationRevoke | undefined): Promise<NotificationOutcome> {
    return this.transaction((tx) => applyNotificationIn(tx, n, revoke));
  }

  setConfirmState(purchaseOrderId: string, state: ConfirmState, error: string | undefined, now: number): Promise<void> {
    return this.transaction((tx) => (tx as PostgresOps).setConfirmState(purchaseOrderId, state, error, now));
  }

  /**
   * Runs `fn` in one READ COMMITTED transaction on a pooled connection; resolves after COMMIT. A deadlock or
   * serialization failure rolls back and runs `fn` again (up to 4 attempts, with a short random pause).
   */
  transaction<T>(fn: (tx: LedgerTransaction) => Promise<T>): Promise<T> {
    return this.track(() => this.runTransaction(fn));
  }

  /** Runs `work` unless closed, and remembers it until it settles (close() waits for it). */
  private track<T>(work: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new TransientError('storage-unavailable', 'the ledger is closed', 1));
    const p = (async () => {
      await this.ready();
      return work();
    })();
    this.inflight.add(p);
    void p.then(
      () => this.inflight.delete(p),
      () => this.inflight.delete(p),
    );
    return p;
  }

  private async runTransaction<T>(fn: (tx: LedgerTransaction) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      this.counters.units++;
      this.counters.largestBatch = Math.max(this.counters.largestBatch, 1);
      let c: pg.PoolClient;
      try {
        c = await this.pool.connect();
      } catch (e) {
        this.counters.failedBatches++;
        return wrapDbError(e);
      }
      let broken = false;
      try {
        await c.query('BEGIN');
        const value = await fn(new PostgresOps(c, this.hooks));
        await c.query('COMMIT');
        this.counters.commits++;
        return value;
      } catch (e) {
        try {
          await c.query('ROLLBACK');
        } catch {
          broken = true; // the connection is gone: drop it from the pool
        }
        if (isRetryable(e) && attempt < MAX_ATTEMPTS) {
          await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * attempt));
          continue;
        }
        if (isTransient(e)) this.counters.failedBatches++;
        return wrapDbError(e);
      } finally {
        c.release(broken);
      }
    }
  }

  stats(): LedgerStats {
    return { ...this.counters };
  }

  /** Waits for the transactions in flight, then closes the pool. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    await this.pool.end();
  }
}
