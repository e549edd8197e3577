// SubscriptionStore over the ledger's own SQLite handle: its own tables and its own schema version (table
// subscription_schema, version 1), so the order ledger's PRAGMA user_version stays the ledger's.
//
// Writes run through `run` (App passes the ledger's group commit, so a subscription write shares a batch and its
// fsync with the order writes); standalone it is one BEGIN IMMEDIATE transaction per write. Every merge is a join
// (see SubscriptionState.ts): each column pair is only ever replaced by an element that outranks it.
import type Database from 'better-sqlite3';
import { TransientError } from '../jws/Errors';
import { deriveState, expireOutranks, outranks, type SignedStatus, type StatusElement } from './SubscriptionState';
import type {
  ObserveOutcome,
  OneTimeEntitlement,
  PeriodOrder,
  StatusObservation,
  SubscriptionEvent,
  SubscriptionStore,
  SubscriptionView,
} from './SubscriptionStore';

export const SUBSCRIPTION_SCHEMA_VERSION = 1;

export type WriteExecutor = <T>(work: () => T) => Promise<T>;

interface GenerationRow {
  sub_group_generation_id: string;
  sub_group_id: string | null;
  subscription_id: string | null;
  product_id: string | null;
  purchase_token: string | null;
  account_id: string | null;
  status: SignedStatus | null;
  expires_time: number | null;
  observed_at: number | null;
  expire_signed_time: number | null;
  expire_billing_retry: number | null;
  revoked_at: number | null;
  revocation_reason: string | null;
  auto_renew: string | null;
  auto_renew_at: number | null;
  created_at: number;
  updated_at: number;
}

function wrapDbError(e: unknown): never {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN)/.test(code)) {
    throw new TransientError('storage-unavailable', `database: ${code}`, 1);
  }
  throw e;
}

function view(r: GenerationRow, now: number): SubscriptionView {
  const element: StatusElement | undefined =
    r.status !== null && r.expires_time !== null && r.observed_at !== null
      ? { status: r.status, expiresTime: r.expires_time, observedAt: r.observed_at }
      : undefined;
  const expire =
    r.expire_signed_time !== null ? { signedTime: r.expire_signed_time, billingRetry: r.expire_billing_retry === 1 } : undefined;
  const revoked = r.revoked_at !== null;
  // Known from notifications only: nothing verified says it is live.
  const derived = element
    ? deriveState(element, expire, revoked, now)
    : { state: revoked ? ('revoked' as const) : ('expired' as const), entitled: false };
  return {
    subGroupGenerationId: r.sub_group_generation_id,
    subGroupId: r.sub_group_id ?? undefined,
    subscriptionId: r.subscription_id ?? undefined,
    productId: r.product_id ?? undefined,
    accountId: r.account_id ?? undefined,
    status: r.status ?? undefined,
    expiresTime: r.expires_time ?? undefined,
    state: derived.state,
    entitled: derived.entitled,
    autoRenewStatusCode: r.auto_renew ?? undefined,
    revokedAt: r.revoked_at ?? undefined,
    updatedAt: r.updated_at,
  };
}

export class SqliteSubscriptionStore implements SubscriptionStore {
  private readonly run: WriteExecutor;
  private readonly st: ReturnType<SqliteSubscriptionStore['prepare']>;
  private readonly hasOrdersTable: boolean;

  constructor(
    private readonly db: Database.Database,
    run?: WriteExecutor,
  ) {
    this.migrate();
    this.hasOrdersTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'orders'").get() !== undefined;
    this.st = this.prepare();
    this.run =
      run ??
      (<T>(work: () => T): Promise<T> =>
        new Promise<T>((resolve) => resolve(this.db.transaction(work).immediate())).catch((e: unknown) => wrapDbError(e)));
  }

  private migrate(): void {
    this.db.exec('CREATE TABLE IF NOT EXISTS subscription_schema (version INTEGER NOT NULL)');
    const row = this.db.prepare('SELECT version FROM subscription_schema').get() as { version: number } | undefined;
    const v = row?.version ?? 0;
    if (v > SUBSCRIPTION_SCHEMA_VERSION) {
      throw new Error(`subscription schema v${v} is newer than this server (v${SUBSCRIPTION_SCHEMA_VERSION})`);
    }
    if (v < 1) {
      this.db.transaction(() => {
        this.db.exec(`
          CREATE TABLE IF NOT EXISTS subscription_generations (
            sub_group_generation_id TEXT PRIMARY KEY CHECK (sub_group_generation_id <> ''),
            sub_group_id            TEXT,
            subscription_id         TEXT,
            product_id              TEXT,
            purchase_token          TEXT,
            account_id              TEXT,
            status                  TEXT CHECK (status IN ('1', '2', '3', '5')),
            expires_time            INTEGER,
            observed_at             INTEGER,
            expire_signed_time      INTEGER,
            expire_billing_retry    INTEGER,
            revoked_at              INTEGER,
            revocation_reason       TEXT,
            auto_renew              TEXT,
            auto_renew_at           INTEGER,
            created_at              INTEGER NOT NULL,
            updated_at              INTEGER NOT NULL
          );
          CREATE INDEX IF NOT EXISTS subscription_generations_by_account ON subscription_generations (account_id);
          CREATE TABLE IF NOT EXISTS subscription_orders (
            purchase_order_id       TEXT PRIMARY KEY,
            sub_group_generation_id TEXT NOT NULL,
            product_id              TEXT NOT NULL,
            purchase_time           INTEGER,
            state                   TEXT NOT NULL CHECK (state IN ('granted', 'revoked')),
            recorded_at             INTEGER NOT NULL
          );
          CREATE INDEX IF NOT EXISTS subscription_orders_by_generation ON subscription_orders (sub_group_generation_id);
        `);
        const orders = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'orders'").get();
        if (orders) {
          // Two changes to the order ledger's table, owned by this feature: the entitlement read looks orders up by
          // account; and the one-delivery-per-token index leaves out auto-renewables (productType "2"), whose
          // renewals are new orders under the subscription's one purchaseToken.
          this.db.exec(`
            CREATE INDEX IF NOT EXISTS subscriptions_orders_by_account ON orders (account_id);
            DROP INDEX IF EXISTS orders_granted_token;
            CREATE UNIQUE INDEX orders_granted_token ON orders (purchase_token) WHERE granted_at IS NOT NULL AND product_type <> '2';
          `);
        }
        this.db.exec('DELETE FROM subscription_schema');
        this.db.prepare('INSERT INTO subscription_schema (version) VALUES (?)').run(SUBSCRIPTION_SCHEMA_VERSION);
      }).immediate();
    }
  }

  private prepare() {
    const db = this.db;
    return {
      get: db.prepare('SELECT * FROM subscription_generations WHERE sub_group_generation_id = ?'),
      insertSkeleton: db.prepare(
        `INSERT OR IGNORE INTO subscription_generations (sub_group_generation_id, created_at, updated_at) VALUES (?, ?, ?)`,
      ),
      setIdentity: db.prepare(
        `UPDATE subscription_generations SET sub_group_id = @subGroupId, subscription_id = @subscriptionId,
           purchase_token = @token, updated_at = @now WHERE sub_group_generation_id = @id`,
      ),
      bindAccount: db.prepare(
        'UPDATE subscription_generations SET account_id = ?, updated_at = ? WHERE sub_group_generation_id = ? AND account_id IS NULL',
      ),
      setStatus: db.prepare(
        `UPDATE subscription_generations SET status = @status, expires_time = @expiresTime, observed_at = @observedAt,
           product_id = @productId, updated_at = @now WHERE sub_group_generation_id = @id`,
      ),
      setExpire: db.prepare(
        `UPDATE subscription_generations SET expire_signed_time = @signedTime, expire_billing_retry = @billingRetry,
           updated_at = @now WHERE sub_group_generation_id = @id`,
      ),
      setAutoRenew: db.prepare(
        `UPDATE subscription_generations SET auto_renew = @code, auto_renew_at = @at, updated_at = @now
         WHERE sub_group_generation_id = @id`,
      ),
      // Sticky, and the earliest revocation is kept (a join: min).
      setRevoked: db.prepare(
        `UPDATE subscription_generations SET revoked_at = @at, revocation_reason = @reason, updated_at = @now
         WHERE sub_group_generation_id = @id AND (revoked_at IS NULL OR revoked_at > @at)`,
      ),
      // A period recorded revoked stays revoked; a granted one may become revoked.
      upsertOrder: db.prepare(
        `INSERT INTO subscription_orders (purchase_order_id, sub_group_generation_id, product_id, purchase_time, state, recorded_at)
         VALUES (@id, @generation, @productId, @purchaseTime, @state, @now)
         ON CONFLICT (purchase_order_id) DO UPDATE SET state = 'revoked' WHERE excluded.state = 'revoked'`,
      ),
      generationOfOrder: db.prepare('SELECT sub_group_generation_id AS g FROM subscription_orders WHERE purchase_order_id = ?'),
      byAccount: db.prepare('SELECT * FROM subscription_generations WHERE account_id = ? ORDER BY expires_time DESC, sub_group_generation_id'),
    };
  }

  private row(id: string): GenerationRow | undefined {
    return this.st.get.get(id) as GenerationRow | undefined;
  }

  observe(s: StatusObservation, accountId: string | undefined, now: number): Promise<ObserveOutcome> {
    return this.write(() => {
      const id = s.subGroupGenerationId;
      const before = this.row(id);
      if (before && accountId !== undefined && before.account_id !== null && before.account_id !== accountId) {
        return { kind: 'account-conflict' } as const;
      }
      this.st.insertSkeleton.run(id, now, now);
      this.st.setIdentity.run({ id, subGroupId: s.subGroupId, subscriptionId: s.subscriptionId, token: s.purchaseToken, now });
      if (accountId !== undefined) this.st.bindAccount.run(accountId, now, id);
      const cur = this.row(id)!;
      const stored: StatusElement | undefined =
        cur.status !== null && cur.expires_time !== null && cur.observed_at !== null
          ? { status: cur.status, expiresTime: cur.expires_time, observedAt: cur.observed_at }
          : undefined;
      const incoming: StatusElement = { status: s.status, expiresTime: s.expiresTime, observedAt: s.observedAt };
      if (outranks(incoming, stored)) {
        this.st.setStatus.run({ id, ...incoming, productId: s.productId, now });
      }
      if (s.autoRenewStatusCode !== undefined) this.mergeAutoRenew(id, s.autoRenewStatusCode, s.observedAt, now);
      if (s.status === '5') this.st.setRevoked.run({ id, at: s.observedAt, reason: 'status-5', now });
      const record = (o: PeriodOrder, state: 'granted' | 'revoked'): void => {
        this.st.upsertOrder.run({ id: o.purchaseOrderId, generation: id, productId: o.productId, purchaseTime: o.purchaseTime ?? null, state, now });
      };
      for (const o of s.grantedOrders) record(o, 'granted');
      for (const o of s.revokedOrders) record(o, 'revoked');
      return { kind: 'recorded', subscription: view(this.row(id)!, now) } as const;
    });
  }

  private mergeAutoRenew(id: string, code: string, at: number, now: number): void {
    const cur = this.row(id)!;
    // Last writer wins by signing time; equal times: "0" (off) wins, the more cautious reading.
    const newer = cur.auto_renew_at === null || at > cur.auto_renew_at || (at === cur.auto_renew_at && code < (cur.auto_renew ?? '~'));
    if (newer) this.st.setAutoRenew.run({ id, code, at, now });
  }

  applyEvent(e: SubscriptionEvent, now: number): Promise<void> {
    return this.write(() => {
      const id = e.subGroupGenerationId;
      this.st.insertSkeleton.run(id, now, now);
      const cur = this.row(id)!;
      switch (e.kind) {
        case 'expire': {
          const stored = cur.expire_signed_time === null ? undefined : { signedTime: cur.expire_signed_time, billingRetry: cur.expire_billing_retry === 1 };
          const incoming = { signedTime: e.signedTime, billingRetry: e.billingRetry };
          if (expireOutranks(incoming, stored)) this.st.setExpire.run({ id, signedTime: e.signedTime, billingRetry: e.billingRetry ? 1 : 0, now });
          break;
        }
        case 'auto-renew':
          this.mergeAutoRenew(id, e.autoRenewStatusCode, e.signedTime, now);
          break;
        case 'revoke':
          this.st.setRevoked.run({ id, at: e.signedTime, reason: e.reason, now });
          break;
      }
    });
  }

  async get(subGroupGenerationId: string, now: number): Promise<SubscriptionView | undefined> {
    const r = this.read(() => this.row(subGroupGenerationId));
    return r && view(r, now);
  }

  async generationOfOrder(purchaseOrderId: string): Promise<string | undefined> {
    return this.read(() => (this.st.generationOfOrder.get(purchaseOrderId) as { g: string } | undefined)?.g);
  }

  async listForAccount(accountId: string, now: number): Promise<SubscriptionView[]> {
    return this.read(() => (this.st.byAccount.all(accountId) as GenerationRow[]).map((r) => view(r, now)));
  }

  async oneTimeEntitlements(accountId: string): Promise<OneTimeEntitlement[]> {
    if (!this.hasOrdersTable) return [];
    const rows = this.read(
      () =>
        this.db
          .prepare(
            `SELECT purchase_order_id, product_id, product_type, payload, granted_at FROM orders
             WHERE account_id = ? AND state = 'granted' AND granted_at IS NOT NULL AND product_type IN ('1', '3')
             ORDER BY granted_at, purchase_order_id`,
          )
          .all(accountId) as Array<{ purchase_order_id: string; product_id: string; product_type: '1' | '3'; payload: string | null; granted_at: number }>,
    );
    return rows.map((r) => {
      let purchaseTime: number | undefined;
      try {
        const p = r.payload ? (JSON.parse(r.payload) as Record<string, unknown>) : {};
        purchaseTime = typeof p['purchaseTime'] === 'number' ? (p['purchaseTime'] as number) : undefined;
      } catch {
        purchaseTime = undefined;
      }
      return { purchaseOrderId: r.purchase_order_id, productId: r.product_id, productType: r.product_type, purchaseTime, grantedAt: r.granted_at };
    });
  }

  private write<T>(work: () => T): Promise<T> {
    return this.run(work);
  }

  private read<T>(work: () => T): T {
    try {
      return work();
    } catch (e) {
      return wrapDbError(e);
    }
  }
}
