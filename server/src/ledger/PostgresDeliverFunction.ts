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
import type pg from 'pg';
import type { ConfirmState, DeliverOutcome, OrderPayload } from './Ledger';

export const DELIVER_FUNCTION = 'gemstore_deliver';

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

/**
 * One delivery as one autocommit statement on `pool`. Resolves after its COMMIT; rejects with the driver's error
 * (the caller maps it) after a few attempts on deadlock / serialization failure.
 */
export async function deliverInOneRoundTrip(
  pool: pg.Pool,
  lockNamespace: number,
  order: OrderPayload,
  accountId: string | undefined,
  now: number,
  confirmPending: boolean,
): Promise<DeliverOutcome> {
  const confirmState: ConfirmState = confirmPending ? 'pending' : 'none';
  const params = [
    order.purchaseOrderId,
    order.purchaseToken,
    order.productId,
    order.productType,
    typeof order.quantity === 'number' ? order.quantity : 1,
    accountId ?? null,
    JSON.stringify(order),
    now,
    confirmState,
    lockNamespace,
  ];
  for (let attempt = 1; ; attempt++) {
    let row: Row;
    try {
      row = (await pool.query<Row>(`SELECT * FROM ${DELIVER_FUNCTION}($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, params)).rows[0]!;
    } catch (e) {
      if (retryable(e) && attempt < 4) {
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * attempt));
        continue;
      }
      throw e;
    }
    switch (row.o_kind) {
      case 'granted':
        if (row.o_replay === false) return { kind: 'granted', replay: false, payload: order, accountId, grantedAt: now, confirmState };
        return {
          kind: 'granted',
          replay: true,
          payload: row.o_payload ? (JSON.parse(row.o_payload) as OrderPayload) : order,
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
}
