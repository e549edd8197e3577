// The invariants of issue 4, checked after a schedule reached quiescence, from two independent sources of truth:
// the simulated store (which orders exist, are paid, refunded, finished — and when) and what each install's
// ledger file durably recorded (the chaos granter's log rows, wallet and owned set).
//
//   lost             a paid, non-refunded order never granted; a non-consumable not owned at the end (also after
//                    a reinstall); an entitlement taken back without a refund; an order left unfinished
//   duplicated       an order granted more than once in one install (or again after it was finished)
//   premature-finish finishPurchase recorded by the store before the grant was committed (checked live)
//   wrongly-granted  a grant for a forged, foreign-app, other-environment, unpaid or refunded order, a grant of a
//                    different quantity than paid, or an entitlement kept after a refund the app could see
//   late             (checked by ChaosWorld.liveness, before the final relaunch) a paid order not granted and
//                    finished within the liveness bound after the last fault cleared, with the app left running;
//                    pendingCount not equal to the paid, undelivered orders; a ledger row waiting for an order
//                    the store has settled
//   stuck            the engine never settled: a call without a timeout, a deadlock, an endless loop
//
// Refunds of orders that were already finished are invisible to a device-only app (they reach the app server
// as notifications), so those orders may keep their entitlement; every other refund must be honoured.
// A consumable granted in an install that was later wiped counts as granted: its gems went with the app data,
// as they would on a device; the store lists it again only if it was never finished, and then it is granted again.
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import { IapSimulator, OrderView } from '../iap-sim/IapSimulator';
import { ProductType } from '../iap-sim/IapTypes';

export type ViolationKind = 'lost' | 'duplicated' | 'premature-finish' | 'wrongly-granted' | 'late' | 'stuck';

/** Every counter, in the order of the final line; the exit code counts all of them. */
export const VIOLATION_KINDS: readonly ViolationKind[] = ['lost', 'duplicated', 'premature-finish', 'wrongly-granted', 'late', 'stuck'];

export interface Violation {
  kind: ViolationKind;
  orderId: string;
  detail: string;
}

export interface LogRow {
  kind: 'grant' | 'revoke';
  order_id: string;
  product_id: string;
  product_type: number;
  quantity: number;
  gems: number;
  application_id: string;
  environment: string;
  payload_revoked: number;
  paid: number;
  store_seq: number;
  /** The app's player at grant time, and the developerPayload binding of the order ('' = none). */
  account: string;
  payload_account: string;
}

/** What one install's ledger file durably holds. */
export interface InstallSnapshot {
  rows: LogRow[];
  gems: number;
  passes: number;
  owned: Map<string, string>;
  /** Store sequence number when this install was wiped (reinstall); undefined for the final install. */
  wipedAtSeq: number | undefined;
}

/** Reads the granter's tables with a separate connection: only committed data is visible. */
export function readLedgerFile(file: string): Omit<InstallSnapshot, 'wipedAtSeq'> {
  const empty = { rows: [], gems: 0, passes: 0, owned: new Map<string, string>() };
  if (!fs.existsSync(file)) return empty;
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const hasLog = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'chaos_log'").get() as { n: number };
    if (hasLog.n === 0) return empty;
    const rows = db.prepare('SELECT * FROM chaos_log ORDER BY seq').all() as LogRow[];
    const wallet = db.prepare('SELECT gems, passes FROM chaos_wallet WHERE id = 1').get() as { gems: number; passes: number } | undefined;
    const owned = db.prepare('SELECT product_id, order_id FROM chaos_owned').all() as Array<{ product_id: string; order_id: string }>;
    return { rows, gems: wallet?.gems ?? 0, passes: wallet?.passes ?? 0, owned: new Map(owned.map((o) => [o.product_id, o.order_id])) };
  } finally {
    db.close();
  }
}

/** The delivery ledger's rows (state per order id), read with a separate connection. */
export function readLedgerRows(file: string): Map<string, { state: string; productId: string }> {
  const out = new Map<string, { state: string; productId: string }>();
  if (!fs.existsSync(file)) return out;
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const has = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'iap_delivery'").get() as { n: number };
    if (has.n === 0) return out;
    const rows = db.prepare('SELECT purchase_order_id AS id, state, product_id AS productId FROM iap_delivery').all() as
      Array<{ id: string; state: string; productId: string }>;
    for (const r of rows) out.set(r.id, { state: r.state, productId: r.productId });
    return out;
  } finally {
    db.close();
  }
}

function countRows(rows: LogRow[], orderId: string, kind: 'grant' | 'revoke'): number {
  return rows.filter((r) => r.order_id === orderId && r.kind === kind).length;
}

/**
 * `notSold(o)`: the final app version does not sell this order's product (or not in that quantity), or the order is
 * bound to another player than the one signed in at the end; such an order, if never granted, is not owed by this
 * app now (it stays unfinished, held for its owner or the support desk), so it is not "lost", and a non-consumable
 * of it need not be owned at the end.
 */
export function checkInvariants(sim: IapSimulator, installs: InstallSnapshot[], notSold: (o: OrderView) => boolean = () => false): Violation[] {
  const out: Violation[] = [];
  const add = (kind: ViolationKind, orderId: string, detail: string): void => {
    out.push({ kind, orderId, detail });
  };
  const audit = sim.audit();
  const finishSeq = new Map<string, number>();
  const refundSeq = new Map<string, number>();
  for (const e of audit) {
    const id = e.facts.purchaseOrderId;
    if (!id || !e.applied) continue;
    if (e.fn === 'finishPurchase' && !finishSeq.has(id)) finishSeq.set(id, e.seq);
    if ((e.fn === 'refund' || e.fn === 'createRefundRequest') && !refundSeq.has(id)) refundSeq.set(id, e.seq);
  }
  const final = installs[installs.length - 1];
  const orders = new Map<string, OrderView>(sim.orders().map((o) => [o.purchaseOrderId, o]));

  // Grants the store cannot account for.
  for (const install of installs) {
    for (const r of install.rows.filter((row) => row.kind === 'grant')) {
      const o = orders.get(r.order_id);
      if (!o) {
        add('wrongly-granted', r.order_id, `${r.product_id}: granted an order the store never sold (forged or another app's)`);
        continue;
      }
      if (r.application_id !== sim.applicationId || r.environment !== sim.environment) {
        add('wrongly-granted', r.order_id, `granted with applicationId ${r.application_id} / environment ${r.environment}`);
      }
      if (r.quantity !== o.quantity || r.product_id !== o.productId) {
        add('wrongly-granted', r.order_id, `granted ${r.product_id} x${r.quantity}, the store sold ${o.productId} x${o.quantity}`);
      }
      if (r.payload_revoked === 1) add('wrongly-granted', r.order_id, `${o.productId}: granted although its payload said it was refunded`);
      if (r.paid === 0 || !o.paid) add('wrongly-granted', r.order_id, `${o.productId}: granted before it was paid`);
      if (r.payload_account !== '' && r.payload_account !== r.account) {
        add('wrongly-granted', r.order_id, `${o.productId}: bought by ${r.payload_account}, granted while ${r.account || 'nobody'} was signed in`);
      }
    }
  }

  for (const o of orders.values()) {
    const id = o.purchaseOrderId;
    if (!o.paid) continue; // checked above: an unpaid order is never granted
    const perInstall = installs.map((i) => ({
      install: i,
      grants: countRows(i.rows, id, 'grant'),
      revokes: countRows(i.rows, id, 'revoke'),
    }));
    for (const p of perInstall) {
      if (p.grants > 1) add('duplicated', id, `${o.productId}: granted ${p.grants} times in one install`);
    }
    const consumableLike = o.productType === ProductType.CONSUMABLE || o.productType === ProductType.NONRENEWABLE;
    if (consumableLike) {
      const grantedIn = perInstall.filter((p) => p.grants > 0);
      for (let k = 1; k < grantedIn.length; k++) {
        const earlier = grantedIn[k - 1].install;
        const finished = finishSeq.get(id);
        if (finished !== undefined && earlier.wipedAtSeq !== undefined && finished < earlier.wipedAtSeq) {
          add('duplicated', id, `${o.productId}: granted again after a reinstall although it was finished before`);
        }
      }
    }
    const finalGrants = countRows(final.rows, id, 'grant');
    const finalRevokes = countRows(final.rows, id, 'revoke');
    // A refund revokes the subscription only with its latest period (IapSimulator.revoke), and a renewal is
    // charged only once the period before it was finished, so every unrefunded period of a revoked subscription
    // was paid for and is owed its grant and finish like any order.
    if (!o.revoked) {
      if (perInstall.every((p) => p.grants === 0) && notSold(o)) continue;
      if (perInstall.every((p) => p.grants === 0)) add('lost', id, `${o.productId} x${o.quantity}: paid, never granted`);
      if (perInstall.some((p) => p.revokes > 0)) add('lost', id, `${o.productId}: entitlement taken back without a refund`);
      // Restored only while the app still sells it and for the player who bought it.
      if (o.productType === ProductType.NONCONSUMABLE && !final.owned.has(o.productId) && !notSold(o)) {
        add('lost', id, `${o.productId}: paid non-consumable not owned at the end${installs.length > 1 ? ' (after a reinstall)' : ''}`);
      }
      // A grant a reinstall wiped, in a version that no longer sells the product: the new install cannot grant
      // it, so it must not finish it either (nobody finishes before a durable grant); it waits for a version that
      // sells it again, like an order never granted.
      const owedNow = finalGrants > 0 || !notSold(o);
      if (!o.finished && owedNow) add('lost', id, `${o.productId}: left unfinished in the store`);
      continue;
    }
    // Refunded. The app could see the refund unless the order was finished before it.
    // A refund that lands while the pipeline already holds the order's (unrevoked) data and finishes it is a race
    // no device can win: only a store answer given after the refund and before the finish shows it to the app.
    const refunded = refundSeq.get(id) ?? 0;
    const finished = finishSeq.get(id);
    // The order itself must be in the page: another one (a forged purchaseData, say) shows nothing about it.
    const shownAfterRefund = audit.some((e) => e.fn === 'queryPurchases' && e.delivered && e.seq > refunded &&
      (finished === undefined || e.seq < finished) && (e.returnedOrderIds ?? []).includes(id));
    const visible = finished === undefined || (refunded < finished && shownAfterRefund);
    if (finalRevokes > finalGrants) add('lost', id, `${o.productId}: taken back more often than granted`);
    if (visible && finalGrants - finalRevokes > 0) {
      add('wrongly-granted', id, `${o.productId}: refunded before it was finished, entitlement kept`);
    }
  }

  // The wallet must be exactly what the final install's log says (grant and wallet commit together).
  const sum = (kind: 'grant' | 'revoke', pick: (r: LogRow) => number): number =>
    final.rows.filter((r) => r.kind === kind).reduce((acc, r) => acc + pick(r), 0);
  const gems = sum('grant', (r) => r.gems) - sum('revoke', (r) => r.gems);
  const passes = sum('grant', (r) => (r.product_type === ProductType.NONRENEWABLE ? r.quantity : 0)) -
    sum('revoke', (r) => (r.product_type === ProductType.NONRENEWABLE ? r.quantity : 0));
  if (final.gems !== gems) {
    add(final.gems > gems ? 'duplicated' : 'lost', '', `wallet has ${final.gems} gems, the grant log says ${gems}`);
  }
  if (final.passes !== passes) {
    add(final.passes > passes ? 'duplicated' : 'lost', '', `wallet has ${final.passes} passes, the grant log says ${passes}`);
  }
  return out;
}
