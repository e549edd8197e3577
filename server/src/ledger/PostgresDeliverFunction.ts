// A delivery in ONE round trip to PostgreSQL: the steps of PostgresLedger's deliver (token lock, the first
// presentation's INSERT, else the row FOR UPDATE, the refunded-token check, the account binding) as a PL/pgSQL
// function, called as one autocommit statement. Four round trips (BEGIN, lock, INSERT, COMMIT) become one, and the
// backend parses and plans one call instead of four statements: on the benchmark's machine that is what lets two
// instances on PostgreSQL keep up with SQLite.
//
// The same semantics, statement by statement: at READ COMMITTED each statement of a VOLATILE function takes a new
// snapshot, so the INSERT after the token lock sees a refund committed before the lock was granted, exactly like the
// separate statements of the in-JS path. Only used when no grant hook is configured (a hook runs in JS inside the
// transaction). The answer arrives after the implicit COMMIT (node-postgres resolves on ReadyForQuery).
//
// Deliveries are also grouped (DeliverBatcher): the orders that arrive while a call is at the database go together
// in the next one, ONE call of gemstore_deliver_many: one transaction, one round trip, one INSERT for the first
// presentations and one WAL flush for the lot. Every order's answer still comes after that COMMIT. A batch only
// tries its token locks, so it never waits on one and batches cannot deadlock on them; an order whose token is held
// elsewhere is delivered alone by gemstore_deliver, which waits for the lock (a deadlock there, e.g. on a row lock of
// a revoke, is rolled back and run again).
import type pg from 'pg';
import type { ConfirmState, DeliverOutcome, OrderPayload } from './Ledger';

export const DELIVER_FUNCTION = 'gemstore_deliver';
/**
 * The grouped delivery. A new name, not a new body under the old one: schema v5's gemstore_deliver_batch waited on
 * token locks and matched copies by (order, token) only, and an instance of that version still running during an
 * upgrade keeps calling it, so it is left in place (it would misread this function's 'busy' answers).
 */
export const DELIVER_BATCH_FUNCTION = 'gemstore_deliver_many';

/** Created by the ledger's migration (under its advisory lock, so that instances starting together do not race). */
export const DELIVER_FUNCTION_SQL = `
CREATE OR REPLACE FUNCTION ${DELIVER_FUNCTION}(
  p_id text, p_token text, p_product text, p_type text, p_quantity integer, p_account text, p_payload text,
  p_now bigint, p_confirm text, p_lock_namespace integer)
RETURNS TABLE (o_kind text, o_replay boolean, o_payload text, o_account text, o_granted_at bigint, o_confirm text, o_revoked_at bigint)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  r orders%ROWTYPE;
  t revoked_tokens%ROWTYPE;
  n integer;
BEGIN
  PERFORM pg_advisory_xact_lock(p_lock_namespace, hashtext(p_token));
  INSERT INTO orders (purchase_order_id, purchase_token, product_id, product_type, quantity, account_id, state,
      payload, granted_at, confirm_state, created_at, updated_at)
    SELECT p_id, p_token, p_product, p_type, p_quantity, p_account, 'granted', p_payload, p_now, p_confirm, p_now, p_now
    WHERE NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE purchase_token = p_token)
    ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n = 1 THEN
    RETURN QUERY SELECT 'granted'::text, false, NULL::text, p_account, p_now, p_confirm, NULL::bigint;
    RETURN;
  END IF;
  SELECT * INTO r FROM orders WHERE purchase_order_id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    SELECT * INTO t FROM revoked_tokens WHERE purchase_token = p_token;
    IF FOUND THEN
      -- A refund that named only this token came first: remember the order as revoked, grant nothing.
      INSERT INTO orders (purchase_order_id, purchase_token, product_id, product_type, quantity, account_id, state,
          payload, revoked_at, revocation_reason, created_at, updated_at)
        VALUES (p_id, p_token, p_product, p_type, 1, NULL, 'revoked', p_payload, p_now, t.reason, p_now, p_now)
        ON CONFLICT (purchase_order_id) DO NOTHING;
      RETURN QUERY SELECT 'revoked'::text, NULL::boolean, NULL::text, NULL::text, NULL::bigint, NULL::text, t.revoked_at;
      RETURN;
    END IF;
    RETURN QUERY SELECT 'token-conflict'::text, NULL::boolean, NULL::text, NULL::text, NULL::bigint, NULL::text, NULL::bigint;
    RETURN;
  END IF;
  IF r.state = 'revoked' THEN
    RETURN QUERY SELECT 'revoked'::text, NULL::boolean, NULL::text, NULL::text, NULL::bigint, NULL::text, COALESCE(r.revoked_at, p_now);
    RETURN;
  END IF;
  IF p_account IS NOT NULL AND r.account_id IS NOT NULL AND r.account_id <> p_account THEN
    RETURN QUERY SELECT 'account-conflict'::text, NULL::boolean, NULL::text, NULL::text, NULL::bigint, NULL::text, NULL::bigint;
    RETURN;
  END IF;
  IF p_account IS NOT NULL AND r.account_id IS NULL THEN
    -- The row is locked (FOR UPDATE): no other transaction binds it between that read and this write.
    UPDATE orders SET account_id = p_account, updated_at = p_now WHERE purchase_order_id = p_id AND account_id IS NULL;
    r.account_id := p_account;
  END IF;
  RETURN QUERY SELECT 'granted'::text, true, r.payload, r.account_id, COALESCE(r.granted_at, p_now), r.confirm_state, NULL::bigint;
END
$fn$`;

/**
 * Created after DELIVER_FUNCTION_SQL. Every token's advisory lock is TRIED first (pg_try_advisory_xact_lock never
 * waits): an order whose token another transaction holds (a refund in progress, the same order on another instance)
 * is answered 'busy' and the caller delivers it alone, so one held lock never stalls the rest of the batch, and a
 * batch never waits on an advisory lock at all. Then the first presentations of the batch go in ONE INSERT (its
 * snapshot is taken after the locks, so a refund committed before is seen, as in gemstore_deliver); every other
 * order (a replay, a refunded token, another order's token, a second copy in the same batch) goes through
 * gemstore_deliver in the same transaction, which then sees the rows this batch inserted. A row inserted is matched
 * back to the first copy of its (order, token, productType): the three decide whether an INSERT conflicts.
 */
export const DELIVER_BATCH_FUNCTION_SQL = `
CREATE OR REPLACE FUNCTION ${DELIVER_BATCH_FUNCTION}(
  p_ids text[], p_tokens text[], p_products text[], p_types text[], p_quantities integer[], p_accounts text[],
  p_payloads text[], p_nows bigint[], p_confirms text[], p_lock_namespace integer)
RETURNS TABLE (o_index integer, o_kind text, o_replay boolean, o_payload text, o_account text, o_granted_at bigint,
  o_confirm text, o_revoked_at bigint)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  h integer;
  i integer;
  busy integer[] := '{}';
  new_ords integer[];
BEGIN
  FOR h IN SELECT DISTINCT hashtext(t) FROM unnest(p_tokens) AS t ORDER BY 1 LOOP
    IF NOT pg_try_advisory_xact_lock(p_lock_namespace, h) THEN
      busy := busy || h;
    END IF;
  END LOOP;
  WITH input AS (
    SELECT * FROM unnest(p_ids, p_tokens, p_products, p_types, p_quantities, p_accounts, p_payloads, p_nows, p_confirms)
      WITH ORDINALITY AS u(id, tok, product, type, quantity, account, payload, at, confirm, ord)
    WHERE NOT hashtext(u.tok) = ANY (busy)
  ), ins AS (
    INSERT INTO orders (purchase_order_id, purchase_token, product_id, product_type, quantity, account_id, state,
        payload, granted_at, confirm_state, created_at, updated_at)
      SELECT id, tok, product, type, quantity, account, 'granted', payload, at, confirm, at, at FROM input
      WHERE NOT EXISTS (SELECT 1 FROM revoked_tokens r WHERE r.purchase_token = input.tok)
      ORDER BY ord
      ON CONFLICT DO NOTHING
      RETURNING purchase_order_id, purchase_token, product_type
  )
  SELECT coalesce(array_agg(f.ord::integer), '{}') INTO new_ords
    FROM (SELECT DISTINCT ON (id, tok, type) id, tok, type, ord FROM input ORDER BY id, tok, type, ord) f
    JOIN ins ON ins.purchase_order_id = f.id AND ins.purchase_token = f.tok AND ins.product_type = f.type;
  FOR i IN 1 .. coalesce(array_length(p_ids, 1), 0) LOOP
    IF hashtext(p_tokens[i]) = ANY (busy) THEN
      RETURN QUERY SELECT i, 'busy'::text, NULL::boolean, NULL::text, NULL::text, NULL::bigint, NULL::text, NULL::bigint;
    ELSIF i = ANY (new_ords) THEN
      RETURN QUERY SELECT i, 'granted'::text, false, NULL::text, p_accounts[i], p_nows[i], p_confirms[i], NULL::bigint;
    ELSE
      RETURN QUERY SELECT i, d.* FROM ${DELIVER_FUNCTION}(p_ids[i], p_tokens[i], p_products[i], p_types[i], p_quantities[i],
        p_accounts[i], p_payloads[i], p_nows[i], p_confirms[i], p_lock_namespace) AS d;
    END IF;
  END LOOP;
END
$fn$`;

interface Row {
  o_kind: string;
  o_replay: boolean | null;
  o_payload: string | null;
  o_account: string | null;
  o_granted_at: number | string | null;
  o_confirm: string | null;
  o_revoked_at: number | string | null;
}

/** Deadlock / serialization failure: the statement was rolled back as a whole and may simply run again. */
function retryable(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

/** One order to deliver, with what its caller passed to the ledger's deliver(). */
export interface DeliverRequest {
  order: OrderPayload;
  accountId: string | undefined;
  now: number;
  confirmPending: boolean;
}

function confirmStateOf(r: DeliverRequest): ConfirmState {
  return r.confirmPending ? 'pending' : 'none';
}

function outcomeOf(row: Row, r: DeliverRequest): DeliverOutcome {
  switch (row.o_kind) {
    case 'granted':
      if (row.o_replay === false) {
        return { kind: 'granted', replay: false, payload: r.order, accountId: r.accountId, grantedAt: r.now, confirmState: confirmStateOf(r) };
      }
      return {
        kind: 'granted',
        replay: true,
        payload: row.o_payload ? (JSON.parse(row.o_payload) as OrderPayload) : r.order,
        accountId: row.o_account ?? undefined,
        grantedAt: Number(row.o_granted_at),
        confirmState: (row.o_confirm ?? 'none') as ConfirmState,
      };
    case 'revoked':
      return { kind: 'revoked', revokedAt: Number(row.o_revoked_at) };
    case 'account-conflict':
      return { kind: 'account-conflict' };
    default:
      return { kind: 'token-conflict' };
  }
}

/** Runs `call` again on deadlock / serialization failure (the statement was rolled back as a whole), up to 4 times. */
async function withRetries<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      if (retryable(e) && attempt < 4) {
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * attempt));
        continue;
      }
      throw e;
    }
  }
}

/**
 * One delivery as one autocommit statement on `pool`. Resolves after its COMMIT; rejects with the driver's error
 * (the caller maps it) after a few attempts on deadlock / serialization failure.
 */
export async function deliverInOneRoundTrip(pool: pg.Pool, lockNamespace: number, r: DeliverRequest): Promise<DeliverOutcome> {
  const o = r.order;
  const params = [o.purchaseOrderId, o.purchaseToken, o.productId, o.productType, quantityOf(o), r.accountId ?? null,
    JSON.stringify(o), r.now, confirmStateOf(r), lockNamespace];
  const rows = await withRetries(async () =>
    (await pool.query<Row>(`SELECT * FROM ${DELIVER_FUNCTION}($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, params)).rows);
  return outcomeOf(rows[0]!, r);
}

function quantityOf(o: OrderPayload): number {
  return typeof o.quantity === 'number' ? o.quantity : 1;
}

/**
 * Several deliveries as one autocommit call (one transaction); the outcomes in the order of `batch`, undefined for
 * an order whose token another transaction held (not delivered: the caller delivers it alone).
 */
async function deliverBatchInOneRoundTrip(pool: pg.Pool, lockNamespace: number, batch: readonly DeliverRequest[]): Promise<Array<DeliverOutcome | undefined>> {
  const params = [
    batch.map((r) => r.order.purchaseOrderId),
    batch.map((r) => r.order.purchaseToken),
    batch.map((r) => r.order.productId),
    batch.map((r) => r.order.productType),
    batch.map((r) => quantityOf(r.order)),
    batch.map((r) => r.accountId ?? null),
    batch.map((r) => JSON.stringify(r.order)),
    batch.map((r) => r.now),
    batch.map((r) => confirmStateOf(r)),
    lockNamespace,
  ];
  const rows = await withRetries(async () => (await pool.query<Row & { o_index: number }>(
    `SELECT * FROM ${DELIVER_BATCH_FUNCTION}($1::text[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::text[], ` +
      '$7::text[], $8::bigint[], $9::text[], $10)', params)).rows);
  if (rows.length !== batch.length) throw new Error(`${DELIVER_BATCH_FUNCTION} answered ${rows.length} rows for ${batch.length} orders`);
  const out: Array<DeliverOutcome | undefined> = new Array(batch.length);
  for (const row of rows) out[row.o_index - 1] = row.o_kind === 'busy' ? undefined : outcomeOf(row, batch[row.o_index - 1]!);
  return out;
}

/** Counters of a DeliverBatcher (the ledger's stats). */
export interface BatcherStats {
  commits: number;
  failedBatches: number;
  units: number;
  largestBatch: number;
}

interface Pending {
  request: DeliverRequest;
  resolve: (o: DeliverOutcome) => void;
  reject: (e: unknown) => void;
}

/**
 * Groups deliveries: at most `maxInFlight` calls are at the database at once; the orders that arrive meanwhile
 * wait and go together (up to `maxBatch`) in the next call. With no load an order is sent at once, in a batch of one.
 * An order whose token is locked by another transaction comes back 'busy' from the batch and is delivered alone,
 * beside the next batches; a batch that fails for another reason than the database being unreachable (a statement
 * error that would be one order's, a timeout) is run again order by order, so only that order's caller gets the
 * error. The callers' promises are what the ledger tracks, so close() still waits for every one of them.
 */
export class DeliverBatcher {
  private readonly queue: Pending[] = [];
  private inFlight = 0;
  /** Deliveries alone (busy tokens, failed batches) waiting for a slot, and how many run. */
  private readonly aloneQueue: Pending[] = [];
  private aloneRunning = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly lockNamespace: number,
    private readonly stats: BatcherStats,
    private readonly isTransient: (e: unknown) => boolean,
    private readonly maxInFlight = 1,
    private readonly maxBatch = 64,
    /**
     * Deliveries alone at the database at once. Each may wait on its token's lock up to the statement timeout; left
     * unbounded, retries of one locked purchase would take every pooled connection and fail unrelated orders.
     */
    private readonly maxAlone = 3,
  ) {}

  deliver(request: DeliverRequest): Promise<DeliverOutcome> {
    return new Promise<DeliverOutcome>((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.inFlight++;
      void this.run(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async run(batch: Pending[]): Promise<void> {
    this.stats.units += batch.length;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
    // A batch of one too: the batch function only tries the token lock, so an order on a locked token never holds
    // the one call in flight (it goes alone, beside it).
    let outcomes: Array<DeliverOutcome | undefined>;
    try {
      outcomes = await deliverBatchInOneRoundTrip(this.pool, this.lockNamespace, batch.map((p) => p.request));
    } catch (e) {
      if (isConnectionFailure(e)) {
        // The database is not there: the orders alone would fail the same way.
        this.stats.failedBatches++;
        for (const p of batch) p.reject(e);
        return;
      }
      // Nothing of the batch was committed (one transaction): each order alone, each caller its own answer (a
      // statement error or a timeout then reaches only the order it belongs to). Not awaited: the next batch does
      // not wait for them.
      for (const p of batch) this.deliverAlone(p);
      return;
    }
    this.stats.commits++;
    const held: Pending[] = [];
    batch.forEach((p, i) => {
      const outcome = outcomes[i];
      if (outcome === undefined) held.push(p);
      else p.resolve(outcome);
    });
    // Orders whose token another transaction held: alone, waiting for that lock like any single delivery, while
    // the next batch goes on (not awaited).
    for (const p of held) this.deliverAlone(p);
  }

  /** Queues `p` to be delivered alone, at most maxAlone at a time, beside the batches (not awaited by them). */
  private deliverAlone(p: Pending): void {
    this.aloneQueue.push(p);
    this.pumpAlone();
  }

  private pumpAlone(): void {
    while (this.aloneRunning < this.maxAlone && this.aloneQueue.length > 0) {
      const next = this.aloneQueue.shift()!;
      this.aloneRunning++;
      void this.alone(next).finally(() => {
        this.aloneRunning--;
        this.pumpAlone();
      });
    }
  }

  private async alone(p: Pending): Promise<void> {
    try {
      p.resolve(await deliverInOneRoundTrip(this.pool, this.lockNamespace, p.request));
      this.stats.commits++;
    } catch (e) {
      if (this.isTransient(e)) this.stats.failedBatches++;
      p.reject(e);
    }
  }
}

/** pg's errors for a database that cannot be reached (no SQLSTATE, or class 08: connection exception). */
function isConnectionFailure(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code.startsWith('08') || /^(ECONN|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND)/.test(code);
  const msg = e instanceof Error ? e.message : '';
  return /Connection terminated|timeout exceeded when trying to connect|connect ECONNREFUSED|not queryable/i.test(msg);
}
