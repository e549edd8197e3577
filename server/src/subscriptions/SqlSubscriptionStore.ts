// SubscriptionStore over the ledger's own transactions (TransactionalLedger.transaction + tx.sql), ONE SQL
// implementation for SQLite and PostgreSQL: `$n` placeholders, portable statements (INSERT … ON CONFLICT, BIGINT
// columns, which SQLite reads as INTEGER), and the dialect consulted only for the row lock PostgreSQL needs.
//
// Its own tables and its own schema version (table subscription_schema, version 1), so the order ledger's version
// stays the ledger's; created on first use in one ledger transaction, on PostgreSQL under the ledger's migration
// advisory lock (two instances starting together take turns), on SQLite under BEGIN IMMEDIATE (one writer).
// Every write is one ledger transaction: on SQLite it joins the ledger's group commit (one fsync with the order
// writes of its batch). Every merge is a join (see SubscriptionState.ts): each column pair is only ever replaced by
// an element that outranks it. Concurrent writes to one generation (several PostgreSQL instances) read it FOR
// UPDATE after the skeleton INSERT, so the read-compare-write of a merge sees the other's commit.
import { LOCK_MIGRATE, LOCK_NAMESPACE } from '../ledger/PostgresLedger';
import type { DeliverOutcome, SqlTransaction, SqlValue, TransactionalLedger } from '../ledger/Ledger';
import { deriveState, expireOutranks, outranks, type SignedStatus, type StatusElement } from './SubscriptionState';
import { periodOf } from './SubscriptionStore';
import type {
  DeliverPeriodsOutcome,
  ObserveOutcome,
  OneTimeEntitlement,
  PeriodOrder,
  StatusObservation,
  StatusToDeliver,
  SubscriptionEvent,
  SubscriptionStore,
  SubscriptionView,
} from './SubscriptionStore';

export const SUBSCRIPTION_SCHEMA_VERSION = 1;

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
  /** Read-only: 1 when the newest recorded period (by purchaseTime) is revoked; absent on a locked read. */
  latest_revoked?: number | null;
}

// A refund revokes the subscription only when it refunds its newest period (StoreKit's rule, and the simulator's):
// derived at read time from the recorded periods, so a REVOKE of an earlier period, or a renewal that arrives after
// it, gives the same state in any arrival order.
const VIEW_COLUMNS = `g.*, (SELECT CASE WHEN o.state = 'revoked' THEN 1 ELSE 0 END FROM subscription_orders o
   WHERE o.sub_group_generation_id = g.sub_group_generation_id AND o.purchase_time IS NOT NULL
   ORDER BY o.purchase_time DESC, o.purchase_order_id DESC LIMIT 1) AS latest_revoked`;

const SCHEMA_V1 = [
  `CREATE TABLE IF NOT EXISTS subscription_generations (
     sub_group_generation_id TEXT PRIMARY KEY CHECK (sub_group_generation_id <> ''),
     sub_group_id            TEXT,
     subscription_id         TEXT,
     product_id              TEXT,
     purchase_token          TEXT,
     account_id              TEXT,
     status                  TEXT CHECK (status IN ('1', '2', '3', '5')),
     expires_time            BIGINT,
     observed_at             BIGINT,
     expire_signed_time      BIGINT,
     expire_billing_retry    INTEGER,
     revoked_at              BIGINT,
     revocation_reason       TEXT,
     auto_renew              TEXT,
     auto_renew_at           BIGINT,
     created_at              BIGINT NOT NULL,
     updated_at              BIGINT NOT NULL
   )`,
  'CREATE INDEX IF NOT EXISTS subscription_generations_by_account ON subscription_generations (account_id)',
  `CREATE TABLE IF NOT EXISTS subscription_orders (
     purchase_order_id       TEXT PRIMARY KEY,
     sub_group_generation_id TEXT NOT NULL,
     product_id              TEXT NOT NULL,
     purchase_time           BIGINT,
     state                   TEXT NOT NULL CHECK (state IN ('granted', 'revoked')),
     recorded_at             BIGINT NOT NULL
   )`,
  'CREATE INDEX IF NOT EXISTS subscription_orders_by_generation ON subscription_orders (sub_group_generation_id)',
];

function view(r: GenerationRow, now: number): SubscriptionView {
  const element: StatusElement | undefined =
    r.status !== null && r.expires_time !== null && r.observed_at !== null
      ? { status: r.status, expiresTime: r.expires_time, observedAt: r.observed_at }
      : undefined;
  const expire =
    r.expire_signed_time !== null ? { signedTime: r.expire_signed_time, billingRetry: r.expire_billing_retry === 1 } : undefined;
  const revoked = r.revoked_at !== null || Number(r.latest_revoked ?? 0) === 1;
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

/** Thrown inside a transaction to roll back what it delivered; becomes the outcome outside. */
class Rollback extends Error {
  constructor(readonly outcome: 'account-conflict' | 'token-conflict') {
    super(outcome);
  }
}

/** The statements of the store on one open ledger transaction. */
class Ops {
  constructor(private readonly sql: SqlTransaction) {}

  async run(text: string, params: readonly SqlValue[]): Promise<number> {
    return (await this.sql.query(text, params)).rowCount;
  }

  async row(id: string, forUpdate: boolean): Promise<GenerationRow | undefined> {
    const text = forUpdate
      ? `SELECT * FROM subscription_generations WHERE sub_group_generation_id = $1${this.sql.dialect === 'postgres' ? ' FOR UPDATE' : ''}`
      : `SELECT ${VIEW_COLUMNS} FROM subscription_generations g WHERE g.sub_group_generation_id = $1`;
    return (await this.sql.query<GenerationRow>(text, [id])).rows[0];
  }

  /** A period recorded revoked stays revoked; a granted one may become revoked; a time once known is kept. */
  recordPeriod(id: string, o: PeriodOrder, state: 'granted' | 'revoked', now: number): Promise<number> {
    return this.run(
      `INSERT INTO subscription_orders (purchase_order_id, sub_group_generation_id, product_id, purchase_time, state, recorded_at)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (purchase_order_id) DO UPDATE SET
         state = CASE WHEN excluded.state = 'revoked' THEN 'revoked' ELSE subscription_orders.state END,
         purchase_time = COALESCE(subscription_orders.purchase_time, excluded.purchase_time)`,
      [o.purchaseOrderId, id, o.productId, o.purchaseTime ?? null, state, now],
    );
  }

  /** Creates the generation if unknown, then reads it locked (PostgreSQL; SQLite has one writer). */
  async lockedRow(id: string, now: number): Promise<GenerationRow> {
    await this.run(
      'INSERT INTO subscription_generations (sub_group_generation_id, created_at, updated_at) VALUES ($1, $2, $2) ON CONFLICT DO NOTHING',
      [id, now],
    );
    return (await this.row(id, true))!;
  }

  async mergeAutoRenew(cur: GenerationRow, code: string, at: number, now: number): Promise<GenerationRow> {
    // Last writer wins by signing time; equal times: "0" (off) wins, the more cautious reading.
    const newer = cur.auto_renew_at === null || at > cur.auto_renew_at || (at === cur.auto_renew_at && code < (cur.auto_renew ?? '~'));
    if (!newer) return cur;
    await this.run(
      'UPDATE subscription_generations SET auto_renew = $1, auto_renew_at = $2, updated_at = $3 WHERE sub_group_generation_id = $4',
      [code, at, now, cur.sub_group_generation_id],
    );
    return { ...cur, auto_renew: code, auto_renew_at: at, updated_at: now };
  }

  /** Merges a verified status into its (locked) generation and records its periods; binds an unbound one. */
  async merge(s: StatusObservation, accountId: string | undefined, now: number): Promise<SubscriptionView> {
    const id = s.subGroupGenerationId;
    await this.run(
      `UPDATE subscription_generations SET sub_group_id = $1, subscription_id = $2, purchase_token = $3, updated_at = $4
       WHERE sub_group_generation_id = $5`,
      [s.subGroupId, s.subscriptionId, s.purchaseToken, now, id],
    );
    if (accountId !== undefined) {
      await this.run(
        'UPDATE subscription_generations SET account_id = $1, updated_at = $2 WHERE sub_group_generation_id = $3 AND account_id IS NULL',
        [accountId, now, id],
      );
    }
    let cur = (await this.row(id, false))!;
    const stored: StatusElement | undefined =
      cur.status !== null && cur.expires_time !== null && cur.observed_at !== null
        ? { status: cur.status, expiresTime: cur.expires_time, observedAt: cur.observed_at }
        : undefined;
    const incoming: StatusElement = { status: s.status, expiresTime: s.expiresTime, observedAt: s.observedAt };
    if (outranks(incoming, stored)) {
      await this.run(
        `UPDATE subscription_generations SET status = $1, expires_time = $2, observed_at = $3, product_id = $4, updated_at = $5
         WHERE sub_group_generation_id = $6`,
        [incoming.status, incoming.expiresTime, incoming.observedAt, s.productId, now, id],
      );
    }
    if (s.autoRenewStatusCode !== undefined) cur = await this.mergeAutoRenew(cur, s.autoRenewStatusCode, s.observedAt, now);
    if (s.status === '5') await this.setRevoked(id, s.observedAt, 'status-5', now);
    for (const o of s.grantedOrders) await this.recordPeriod(id, o, 'granted', now);
    for (const o of s.revokedOrders) await this.recordPeriod(id, o, 'revoked', now);
    return view((await this.row(id, false))!, now);
  }

  /** Sticky, and the earliest revocation is kept (a join: min). */
  async setRevoked(id: string, at: number, reason: string, now: number): Promise<void> {
    await this.run(
      `UPDATE subscription_generations SET revoked_at = $1, revocation_reason = $2, updated_at = $3
       WHERE sub_group_generation_id = $4 AND (revoked_at IS NULL OR revoked_at > $1)`,
      [at, reason, now, id],
    );
  }
}

export class SqlSubscriptionStore implements SubscriptionStore {
  private schema: Promise<void> | undefined;

  constructor(private readonly ledger: TransactionalLedger) {}

  /** Creates or checks the store's tables once (first use); a failure is retried on the next call. */
  private ready(): Promise<void> {
    this.schema ??= this.ledger.transaction((tx) => this.migrate(tx.sql)).catch((e: unknown) => {
      this.schema = undefined;
      throw e;
    });
    return this.schema;
  }

  private async migrate(sql: SqlTransaction): Promise<void> {
    if (sql.dialect === 'postgres') await sql.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_NAMESPACE, LOCK_MIGRATE]);
    await sql.query('CREATE TABLE IF NOT EXISTS subscription_schema (version INTEGER NOT NULL)');
    const v = (await sql.query<{ version: number }>('SELECT version FROM subscription_schema')).rows[0]?.version ?? 0;
    if (v > SUBSCRIPTION_SCHEMA_VERSION) {
      throw new Error(`subscription schema v${v} is newer than this server (v${SUBSCRIPTION_SCHEMA_VERSION})`);
    }
    if (v < 1) {
      for (const statement of SCHEMA_V1) await sql.query(statement);
      await sql.query('DELETE FROM subscription_schema');
      await sql.query('INSERT INTO subscription_schema (version) VALUES ($1)', [SUBSCRIPTION_SCHEMA_VERSION]);
    }
  }

  private async write<T>(fn: (ops: Ops) => Promise<T>): Promise<T> {
    await this.ready();
    return this.ledger.transaction((tx) => fn(new Ops(tx.sql)));
  }

  observe(s: StatusObservation, accountId: string | undefined, now: number): Promise<ObserveOutcome> {
    return this.write(async (ops): Promise<ObserveOutcome> => {
      const before = await ops.lockedRow(s.subGroupGenerationId, now);
      if (accountId !== undefined && before.account_id !== null && before.account_id !== accountId) {
        return { kind: 'account-conflict' };
      }
      return { kind: 'recorded', subscription: await ops.merge(s, accountId, now) };
    });
  }

  async deliverPeriods(s: StatusToDeliver, accountId: string | undefined, now: number, confirmPending: boolean): Promise<DeliverPeriodsOutcome> {
    await this.ready();
    try {
      return await this.ledger.transaction(async (tx): Promise<DeliverPeriodsOutcome> => {
        const ops = new Ops(tx.sql);
        // The generation row is locked first (PostgreSQL; SQLite has one writer): a racing account waits here and
        // then sees the binding, instead of winning one period while this caller wins another.
        const before = await ops.lockedRow(s.subGroupGenerationId, now);
        if (accountId !== undefined && before.account_id !== null && before.account_id !== accountId) {
          return { kind: 'account-conflict' };
        }
        const outcomes: DeliverOutcome[] = [];
        for (const period of s.periods) {
          const out = await tx.deliver(period, accountId, now, confirmPending);
          // Both undo the periods already delivered in this transaction.
          if (out.kind === 'account-conflict' || out.kind === 'token-conflict') throw new Rollback(out.kind);
          if (out.kind === 'granted' && out.replay && out.accountId !== undefined && accountId === undefined) {
            throw new Rollback('account-conflict');
          }
          outcomes.push(out);
        }
        const granted = s.periods.filter((_, i) => outcomes[i]!.kind === 'granted').map(periodOf);
        const revokedInLedger = s.periods.filter((_, i) => outcomes[i]!.kind === 'revoked').map(periodOf);
        const latestRevoked = revokedInLedger.some((o) => o.purchaseOrderId === s.latestOrderId);
        const { periods: _p, refunded, latestOrderId: _l, ...status } = s;
        const subscription = await ops.merge(
          { ...status, grantedOrders: granted, revokedOrders: [...refunded, ...revokedInLedger] },
          latestRevoked ? undefined : accountId,
          now,
        );
        return { kind: latestRevoked ? 'revoked' : 'recorded', subscription, outcomes };
      });
    } catch (e) {
      if (e instanceof Rollback) return { kind: e.outcome };
      throw e;
    }
  }

  applyEvent(e: SubscriptionEvent, now: number): Promise<void> {
    return this.write(async (ops) => {
      const id = e.subGroupGenerationId;
      const cur = await ops.lockedRow(id, now);
      switch (e.kind) {
        case 'expire': {
          const stored = cur.expire_signed_time === null ? undefined : { signedTime: cur.expire_signed_time, billingRetry: cur.expire_billing_retry === 1 };
          const incoming = { signedTime: e.signedTime, billingRetry: e.billingRetry };
          if (expireOutranks(incoming, stored)) {
            await ops.run(
              'UPDATE subscription_generations SET expire_signed_time = $1, expire_billing_retry = $2, updated_at = $3 WHERE sub_group_generation_id = $4',
              [e.signedTime, e.billingRetry ? 1 : 0, now, id],
            );
          }
          break;
        }
        case 'auto-renew':
          await ops.mergeAutoRenew(cur, e.autoRenewStatusCode, e.signedTime, now);
          break;
        case 'revoke':
          // A refund of one period counts as the generation's revocation only while that period is its newest
          // (VIEW_COLUMNS); a REVOKE naming no period, or a hosting deletion, revokes the generation for good.
          if (e.period !== undefined) await ops.recordPeriod(id, e.period, 'revoked', now);
          else await ops.setRevoked(id, e.signedTime, e.reason, now);
          break;
      }
    });
  }

  /** Reads run in a ledger transaction too: the port offers no other SQL, and it sees committed data only. */
  private async read<T>(fn: (sql: SqlTransaction) => Promise<T>): Promise<T> {
    await this.ready();
    return this.ledger.transaction((tx) => fn(tx.sql));
  }

  async get(subGroupGenerationId: string, now: number): Promise<SubscriptionView | undefined> {
    const r = await this.read((sql) => new Ops(sql).row(subGroupGenerationId, false));
    return r && view(r, now);
  }

  generationOfOrder(purchaseOrderId: string): Promise<string | undefined> {
    return this.read(
      async (sql) =>
        (await sql.query<{ g: string }>('SELECT sub_group_generation_id AS g FROM subscription_orders WHERE purchase_order_id = $1', [purchaseOrderId]))
          .rows[0]?.g,
    );
  }

  async listForAccount(accountId: string, now: number): Promise<SubscriptionView[]> {
    // Newest expiry first, unknown expiry last on both databases (in DESC order PostgreSQL puts NULLs first).
    const rows = await this.read(
      async (sql) =>
        (
          await sql.query<GenerationRow>(
            `SELECT ${VIEW_COLUMNS} FROM subscription_generations g WHERE g.account_id = $1
             ORDER BY CASE WHEN g.expires_time IS NULL THEN 1 ELSE 0 END, g.expires_time DESC, g.sub_group_generation_id`,
            [accountId],
          )
        ).rows,
    );
    return rows.map((r) => view(r, now));
  }

  async oneTimeEntitlements(accountId: string): Promise<OneTimeEntitlement[]> {
    const rows = await this.read(
      async (sql) =>
        (
          await sql.query<{ purchase_order_id: string; product_id: string; product_type: '1' | '3'; payload: string | null; granted_at: number }>(
            `SELECT purchase_order_id, product_id, product_type, payload, granted_at FROM orders
             WHERE account_id = $1 AND state = 'granted' AND granted_at IS NOT NULL AND product_type IN ('1', '3')
             ORDER BY granted_at, purchase_order_id`,
            [accountId],
          )
        ).rows,
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
}
