// The SQLite adapter of the ledger port (Ledger.ts): better-sqlite3, WAL, the embedded default.
//
// One row per purchaseOrderId (PRIMARY KEY): the first verified payload, the account it is bound to, its state
// (granted | revoked) and the server-side confirm-delivery state. A grant happens once: the INSERT of the row and the
// app's grant hook commit in the same transaction, and every later presentation of the same order is a replay that
// returns the first stored payload.
//
// Writes are GROUP COMMITTED (GroupCommit.ts): the writes that arrive while a batch is pending share one
// BEGIN IMMEDIATE … COMMIT (one fsync), each in its own SAVEPOINT, and every caller's promise settles only after that
// COMMIT is durable. The units of a batch run one after the other on the write connection; across processes on one
// file, BEGIN IMMEDIATE (one writer at a time) + the PRIMARY KEY + the UNIQUE index over the token (one delivery per
// token) keep every rule of the port. Reads outside a transaction use a second, read-only connection, so they see
// committed data only (WAL readers never see an open batch); with walSync 'pool' each read is followed by a sync of
// the WAL before it is answered, so what it saw, even another process's commit on the same file, is on disk.
//
// Durability (walSync): 'pool' (opt-in) runs the connection with synchronous=NORMAL (COMMIT writes the WAL and
// does not fsync it) and fdatasyncs the WAL file on libuv's thread pool before the batch settles: FULL's guarantee,
// every answer after its fsync, without the event loop blocked in the fsync. 'commit' is synchronous=FULL (SQLite
// fsyncs inside COMMIT, on the event loop), the default. Checkpoints are the same in both: SQLite syncs the WAL before one and
// the database file after it (https://www.sqlite.org/pragma.html#pragma_synchronous).
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TransientError } from '../jws/Errors';
import { FALLBACK_AUTOCHECKPOINT_PAGES, WalCheckpointer, type CheckpointerStats } from './WalCheckpointer';
import { GroupCommit } from './GroupCommit';
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

export interface SqliteLedgerOptions {
  /** Most units of work committed in one transaction (default 256). 1 = one transaction per write. */
  maxBatch?: number;
  /**
   * WAL checkpoints in a thread of their own (WalCheckpointer), off the thread that commits. Default true for a
   * file; ':memory:' has no WAL.
   */
  checkpointThread?: boolean;
  /**
   * How a COMMIT is made durable before its batch settles (SQLITE_WAL_SYNC): 'pool' fdatasyncs the WAL on
   * libuv's thread pool, 'commit' (default) lets SQLite fsync inside COMMIT (synchronous=FULL) on the calling thread.
   */
  walSync?: WalSync;
  /** Test seam: how the WAL's descriptor is synced in 'pool' mode (default: fs.fdatasync). */
  syncWal?: (fd: number) => Promise<void>;
}

export type WalSync = 'pool' | 'commit';

export const WAL_SYNC_MODES: readonly WalSync[] = ['pool', 'commit'];

const fdatasync = (fd: number): Promise<void> => new Promise((resolve, reject) => fs.fdatasync(fd, (e) => (e ? reject(e) : resolve())));

const fsyncDirectory = (dir: string): Promise<void> =>
  new Promise((resolve, reject) =>
    fs.open(dir, 'r', (e, fd) => {
      if (e) return reject(e);
      fs.fsync(fd, (syncError) => fs.close(fd, () => (syncError ? reject(syncError) : resolve())));
    }),
  );

/** SQLite's own default for wal_autocheckpoint, given back to the write connection when the checkpoint thread stops. */
const SQLITE_DEFAULT_AUTOCHECKPOINT_PAGES = 1000;

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

// v4: the two indexes over purchase_token (one for lookups, one partial UNIQUE for one delivery per token) became one
// UNIQUE index that does both (see migrateInTransaction). Every new order inserts a random token into each index on the
// token, and each of those lands on its own B-tree page: one index fewer is about a third fewer pages written to the
// WAL per order, the largest single cost of a COMMIT (measured in server/README.md, *What the benchmark measured*).
const SCHEMA_VERSION = 4;
/**
 * orders_token's second column: 1 for a row that is a delivery of its token (granted, not an auto-renewable period),
 * NULL otherwise. Queries that mean "a delivery of this token" use this exact text, so that SQLite matches it to the
 * index.
 */
const DELIVERY_OF_TOKEN = "CASE WHEN granted_at IS NOT NULL AND product_type <> '2' THEN 1 END";

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
  insertFirstPresentation: Database.Statement;
  insertRevoked: Database.Statement;
  bindAccount: Database.Statement;
  markRevoked: Database.Statement;
  setConfirm: Database.Statement;
  insertNotification: Database.Statement;
  setNotificationOutcome: Database.Statement;
  countGranted: Database.Statement;
  getRevokedToken: Database.Statement;
  insertRevokedToken: Database.Statement;
}

function prepareStatements(db: Database.Database): Statements {
  return {
    get: db.prepare('SELECT * FROM orders WHERE purchase_order_id = ?'),
    getByToken: db.prepare('SELECT * FROM orders WHERE purchase_token = ? ORDER BY created_at'),
    // A first presentation in one statement: the order is new, its token is not refunded, and no other order holds
    // it (every period of an auto-renewable, productType "2", is an order under the subscription's one token; the
    // UNIQUE index over the token leaves those out too). When it inserts nothing, deliver() reads which of the three
    // it was. The "another delivery of this token" test is written exactly as orders_token's second column, so that
    // SQLite seeks on both columns: on the token alone it would read every period of a long subscription.
    insertFirstPresentation: db.prepare(
      `INSERT INTO orders (purchase_order_id, purchase_token, product_id, product_type, quantity, account_id, state,
         payload, granted_at, confirm_state, created_at, updated_at)
       SELECT @id, @token, @productId, @productType, @quantity, @accountId, 'granted', @payload, @now, @confirmState, @now, @now
       WHERE NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE purchase_token = @token)
         AND (@productType = '2' OR NOT EXISTS (SELECT 1 FROM orders WHERE purchase_token = @token
           AND (${DELIVERY_OF_TOKEN}) = 1))
       ON CONFLICT DO NOTHING`,
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
    getRevokedToken: db.prepare('SELECT revoked_at, reason FROM revoked_tokens WHERE purchase_token = ?'),
    insertRevokedToken: db.prepare(
      'INSERT OR IGNORE INTO revoked_tokens (purchase_token, reason, revoked_at) VALUES (?, ?, ?)',
    ),
  };
}

/**
 * The operations on one connection; every write method must run inside a transaction (a GroupCommit unit). The
 * statements are synchronous (better-sqlite3); only the hooks may await, and only `sql`.
 */
class SqliteOps implements LedgerTransaction {
  constructor(
    private readonly st: Statements,
    private readonly hooks: LedgerHooks,
    readonly sql: SqlTransaction,
  ) {}

  async get(purchaseOrderId: string): Promise<OrderRow | undefined> {
    return this.getNow(purchaseOrderId);
  }

  getNow(purchaseOrderId: string): OrderRow | undefined {
    const r = this.st.get.get(purchaseOrderId) as RawRow | undefined;
    return r && toRow(r);
  }

  async ordersByToken(purchaseToken: string): Promise<OrderRow[]> {
    return this.ordersByTokenNow(purchaseToken);
  }

  ordersByTokenNow(purchaseToken: string): OrderRow[] {
    return (this.st.getByToken.all(purchaseToken) as RawRow[]).map(toRow);
  }

  async deliver(order: OrderPayload, accountId: string | undefined, now: number, confirmPending: boolean): Promise<DeliverOutcome> {
    if (order.purchaseOrderId === '' || order.purchaseToken === '') {
      throw new TypeError('deliver: purchaseOrderId and purchaseToken must not be empty');
    }
    const confirmState: ConfirmState = confirmPending ? 'pending' : 'none';
    const first = this.st.insertFirstPresentation.run({
      id: order.purchaseOrderId,
      token: order.purchaseToken,
      productId: order.productId,
      productType: order.productType,
      quantity: typeof order.quantity === 'number' ? order.quantity : 1,
      accountId: accountId ?? null,
      payload: JSON.stringify(order),
      now,
      confirmState,
    });
    if (first.changes === 1) {
      await this.hooks.grant?.(order, accountId, this.sql);
      return { kind: 'granted', replay: false, payload: order, accountId, grantedAt: now, confirmState };
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
      // Not new, not refunded: another order holds the token (insertFirstPresentation's only other condition).
      return { kind: 'token-conflict' };
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

  async revoke(ref: RevokeRef, reason: string, now: number): Promise<RevokeOutcome> {
    // An empty key is no key: never a row under "" (a REVOKE with purchaseOrderId "" is a revoke by token).
    if (ref.purchaseOrderId === '') {
      if (ref.purchaseToken === '') throw new TypeError('revoke: neither purchaseOrderId nor purchaseToken given');
      const n = await this.revokeToken(ref.purchaseToken, reason, now);
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
      await this.hooks.revoke?.(
        { purchaseOrderId: raw.purchase_order_id, productId: raw.product_id, accountId: raw.account_id ?? undefined },
        this.sql,
      );
    }
    return { revokedGrant: granted, alreadyRevoked: false };
  }

  async revokeToken(purchaseToken: string, reason: string, now: number): Promise<number> {
    if (purchaseToken === '') throw new TypeError('revokeToken: empty purchaseToken');
    this.st.insertRevokedToken.run(purchaseToken, reason, now);
    const rows = this.ordersByTokenNow(purchaseToken);
    for (const row of rows) await this.revoke(row, reason, now);
    return rows.length;
  }

  async recordNotification(n: NotificationRecord): Promise<boolean> {
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

  async setNotificationOutcome(n: NotificationRecord, outcome: string): Promise<void> {
    this.st.setNotificationOutcome.run(outcome, notificationKey(n));
  }

  setConfirmState(purchaseOrderId: string, state: ConfirmState, error: string | undefined, now: number): void {
    this.st.setConfirm.run({ id: purchaseOrderId, state, inc: state === 'pending' ? 0 : 1, error: error ?? null, now });
  }
}

/** SqlTransaction over a better-sqlite3 connection: `$1`, `$2`, … are SQLite named parameters "1", "2", …. */
class SqliteSql implements SqlTransaction {
  readonly dialect = 'sqlite' as const;
  private readonly cache = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  async query<R = Record<string, unknown>>(text: string, params: readonly SqlValue[] = []): Promise<SqlResult<R>> {
    return this.queryNow<R>(text, params);
  }

  queryNow<R>(text: string, params: readonly SqlValue[]): SqlResult<R> {
    let st = this.cache.get(text);
    if (!st) {
      st = this.db.prepare(text);
      if (this.cache.size >= 256) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(text, st);
    }
    const args = params.length > 0 ? [Object.fromEntries(params.map((v, i) => [String(i + 1), v]))] : [];
    if (st.reader) {
      const rows = st.all(...args) as R[];
      return { rows, rowCount: rows.length };
    }
    return { rows: [], rowCount: st.run(...args).changes };
  }
}

export class SqliteLedger implements TransactionalLedger {
  readonly backend = 'sqlite';
  /** The write connection. SQLite-specific (tests, tools): not part of the port; never write outside transaction(). */
  readonly db: Database.Database;
  /** Committed reads: a read-only connection on a file, the write connection (between batches) for ':memory:'. */
  private readonly reader: Database.Database;
  private readonly ops: SqliteOps;
  private readonly readOps: SqliteOps;
  private readonly countGranted: Database.Statement;
  private readonly commits: GroupCommit;
  private readonly checkpointer: WalCheckpointer | undefined;
  /** The WAL file, opened at the first sync ('pool' mode). */
  private walFd: number | undefined;

  constructor(databasePath: string, hooks: LedgerHooks = {}, options: SqliteLedgerOptions = {}) {
    const memory = databasePath === ':memory:';
    if (!memory) fs.mkdirSync(path.dirname(path.resolve(databasePath)), { recursive: true });
    this.db = new Database(databasePath);
    this.db.pragma('journal_mode = WAL');
    // 'commit' by default: with 'pool', a failed fsync inside a checkpoint does not stop the ledger yet, and the
    // fail-stop covers one process (server/README.md, *Group commit*).
    const walSync = options.walSync ?? 'commit';
    if (!WAL_SYNC_MODES.includes(walSync)) throw new RangeError(`walSync must be pool or commit, got ${String(walSync)}`);
    // ':memory:' has no file to sync: FULL is then a no-op, as it always was.
    const poolSync = walSync === 'pool' && !memory;
    this.db.pragma(poolSync ? 'synchronous = NORMAL' : 'synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.migrate();
    this.ops = new SqliteOps(prepareStatements(this.db), hooks, new SqliteSql(this.db));
    if (memory) {
      this.reader = this.db;
      this.readOps = this.ops;
    } else {
      this.reader = new Database(databasePath, { readonly: true });
      this.reader.pragma('busy_timeout = 5000');
      this.readOps = new SqliteOps(prepareStatements(this.reader), {}, new SqliteSql(this.reader));
    }
    this.countGranted = this.reader.prepare('SELECT COUNT(*) AS n FROM orders WHERE granted_at IS NOT NULL');
    if (!memory && options.checkpointThread !== false) {
      // Absolute now: the thread starts at the 16th commit, and the process may have changed directory by then.
      const checkpointer = new WalCheckpointer(path.resolve(databasePath), () => {
        if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${SQLITE_DEFAULT_AUTOCHECKPOINT_PAGES}`);
      });
      this.db.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
      this.checkpointer = checkpointer;
    }
    this.commits = new GroupCommit(this.db, {
      maxBatch: options.maxBatch,
      afterCommit: () => this.checkpointer?.committed(),
      ...(poolSync ? { sync: this.walSyncer(this.mainFile(), options.syncWal ?? fdatasync) } : {}),
    });
  }

  /**
   * The database file as SQLite opened it (PRAGMA database_list): with a symlinked path SQLite keeps its WAL beside
   * the file the link points to, not beside the link.
   */
  private mainFile(): string {
    const main = (this.db.pragma('database_list') as Array<{ name: string; file: string }>).find((d) => d.name === 'main');
    if (!main?.file) throw new Error('SQLite reports no file for the main database');
    return main.file;
  }

  /**
   * The sync of 'pool' mode (GroupCommit runs one at a time). The WAL is opened at the first sync, and its directory
   * is fsynced before that sync ends (a new file's name must be durable; SQLite does the same for a WAL it creates,
   * but under NORMAL only at the first checkpoint). SQLite keeps the file (it restarts it in place) while a
   * connection is open, and this ledger's connections are open until close().
   */
  private walSyncer(databaseFile: string, syncFd: (fd: number) => Promise<void>): () => Promise<void> {
    const walPath = `${databaseFile}-wal`;
    return async () => {
      if (this.walFd === undefined) {
        if (!this.db.open) throw new TransientError('storage-unavailable', 'the ledger is closed', 1);
        // WAL mode: the write connection created the file when it opened the database, so ENOENT is an error here.
        const fd = fs.openSync(walPath, 'r+');
        this.walFd = fd;
        await fsyncDirectory(path.dirname(walPath));
      }
      await syncFd(this.walFd);
    };
  }

  /**
   * Creates or migrates the schema in ONE write transaction (BEGIN IMMEDIATE), reading the version inside it: two
   * processes opening a new file together take turns, and the second finds the schema done.
   */
  private migrate(): void {
    this.db.transaction(() => this.migrateInTransaction()).immediate();
  }

  private migrateInTransaction(): void {
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
    if (v < 3) {
      // v3: auto-renewable subscriptions (productType "2") renew as new orders under the subscription's one token, so
      // the one-delivery-per-token index leaves them out; the entitlement read looks orders up by account.
      this.db.exec(`
        DROP INDEX IF EXISTS orders_granted_token;
        CREATE UNIQUE INDEX orders_granted_token ON orders (purchase_token) WHERE granted_at IS NOT NULL AND product_type <> '2';
        DROP INDEX IF EXISTS subscriptions_orders_by_account;
        CREATE INDEX IF NOT EXISTS orders_by_account ON orders (account_id);
        PRAGMA user_version = 3;
      `);
    }
    if (v < 4) {
      // v4: ONE index over the token serves both the lookups by token and the one-delivery-per-token rule. Its second
      // column is 1 for a row that counts as a delivery (granted, not an auto-renewable period) and NULL for any other;
      // a UNIQUE index never finds two NULLs equal, so only two deliveries of one token collide, exactly as under the
      // partial index it replaces (whatever satisfied that one satisfies this one: the migration cannot fail on data).
      // The expression is written once, here: SQLite evaluates it on every write of the row.
      this.db.exec(`
        DROP INDEX IF EXISTS orders_granted_token;
        DROP INDEX IF EXISTS orders_by_token;
        CREATE UNIQUE INDEX orders_token ON orders (purchase_token, (${DELIVERY_OF_TOKEN}));
        PRAGMA user_version = 4;
      `);
    }
  }

  async ready(): Promise<void> {
    if (!this.db.open) throw new TransientError('storage-unavailable', 'the ledger is closed', 1);
    if (this.commits.failure) throw this.commits.failure;
  }

  /** A read that reaches the file, on the read connection. */
  async ping(): Promise<void> {
    await this.read(() => this.reader.prepare('SELECT COUNT(*) FROM sqlite_master').get());
  }

  /** Reads committed data; for ':memory:' (one connection) after the open batch, if any. */
  private async read<T>(fn: () => T): Promise<T> {
    if (this.reader === this.db) await this.commits.idle();
    if (!this.reader.open) throw new TransientError('storage-unavailable', 'the ledger is closed', 1);
    let value: T;
    try {
      value = fn();
    } catch (e) {
      return wrapDbError(e);
    }
    // NORMAL makes a COMMIT visible before it is durable: sync after the read, so that what it saw is on disk.
    await this.commits.durable();
    return value;
  }

  get(purchaseOrderId: string): Promise<OrderRow | undefined> {
    return this.read(() => this.readOps.getNow(purchaseOrderId));
  }

  grantedCount(): Promise<number> {
    return this.read(() => (this.countGranted.get() as { n: number }).n);
  }

  ordersByToken(purchaseToken: string): Promise<OrderRow[]> {
    return this.read(() => this.readOps.ordersByTokenNow(purchaseToken));
  }

  deliver(order: OrderPayload, accountId: string | undefined, now: number, confirmPending: boolean): Promise<DeliverOutcome> {
    return this.transaction((tx) => tx.deliver(order, accountId, now, confirmPending));
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
    return this.transaction(async () => this.ops.setConfirmState(purchaseOrderId, state, error, now));
  }

  /**
   * Runs `fn` as one unit of the next group-committed batch, in its own SAVEPOINT: if it throws, only its own writes
   * are rolled back. Resolves with its result after the batch's COMMIT. Rejects with fn's error, or with a
   * TransientError (`storage-unavailable`) for busy/I-O errors and when the batch could not be committed.
   */
  async transaction<T>(fn: (tx: LedgerTransaction) => Promise<T>): Promise<T> {
    try {
      return await this.commits.run(() => fn(this.ops));
    } catch (e) {
      return wrapDbError(e);
    }
  }

  /** The checkpoint thread's counters; undefined without one (':memory:', or checkpointThread false). */
  checkpointStats(): CheckpointerStats | undefined {
    return this.checkpointer?.stats();
  }

  /** Group-commit counters: batches committed and failed, units, largest batch. */
  stats(): LedgerStats {
    return this.commits.stats();
  }

  /** Commits the writes still queued, then closes the database. Later writes get a TransientError. */
  async close(): Promise<void> {
    if (!this.db.open) return;
    // The thread is told first (the last batches' commits must not start it), and is gone before the write
    // connection closes, which then checkpoints as the last connection.
    const checkpointerClosed = this.checkpointer?.close();
    await this.commits.close();
    await checkpointerClosed;
    if (this.reader !== this.db && this.reader.open) this.reader.close();
    if (this.db.open) this.db.close();
    if (this.walFd !== undefined) fs.closeSync(this.walFd);
    this.walFd = undefined;
  }
}
