// The demo's verdict, computed from the durable facts of three independent parties after the run: the store (which
// orders were paid and finished), the device (its ledger rows and the grants committed in its wallet tables) and the
// app server (the orders its ledger recorded). Pure functions, so the verdict logic is tested on its own.
import { shortOrderId } from './Timeline';

/** One order, as the three parties know it after the run. */
export interface OrderFacts {
  purchaseOrderId: string;
  productId: string;
  quantity: number;
  /** The store: paid (has a purchaseTime) and not refunded. */
  paid: boolean;
  finishedAtStore: boolean;
  /** The device ledger's state for the order (pending/verified/granted/finished/...), undefined when it has no row. */
  ledgerState: string | undefined;
  /** Grants committed on the device for this order (rows in the demo's grant log). */
  deviceGrants: number;
  /** Times the app server's ledger recorded this order as a new grant (its grant hook ran). */
  serverGrants: number;
  /** Gems the order is worth (0 for an entitlement). */
  gems: number;
  /** True for a non-consumable: it must be owned afterwards. */
  entitlement: boolean;
  /** False for an order the device verified itself (a subscription period): the server is not expected to record it. */
  serverVerified?: boolean;
}

export interface WalletFacts {
  gems: number;
  entitlements: readonly string[];
}

export interface Tally {
  paid: number;
  delivered: number;
  finished: number;
  duplicated: number;
  lost: number;
  /** Delivered but never finished with the store. */
  unfinished: number;
  expectedGems: number;
  walletGems: number;
  /** Every reason the run is not a success; empty when it is. */
  problems: string[];
}

const DELIVERED_STATES: ReadonlySet<string> = new Set(['granted', 'finished']);

export function computeTally(orders: readonly OrderFacts[], wallet: WalletFacts, leaks: readonly string[] = []): Tally {
  const problems: string[] = [];
  const paid = orders.filter((o) => o.paid);
  let delivered = 0;
  let finished = 0;
  let duplicated = 0;
  let lost = 0;
  let unfinished = 0;
  let expectedGems = 0;
  for (const o of paid) {
    const id = shortOrderId(o.purchaseOrderId);
    expectedGems += o.gems;
    if (o.deviceGrants === 0) {
      lost++;
      problems.push(`LOST: order ${id} (${o.productId}) was paid but never delivered`);
      continue;
    }
    if (o.deviceGrants > 1 || o.serverGrants > 1) {
      duplicated++;
      problems.push(`DUPLICATED: order ${id} (${o.productId}) was granted ${o.deviceGrants}× on the device, ${o.serverGrants}× by the server`);
    }
    if (o.ledgerState === undefined || !DELIVERED_STATES.has(o.ledgerState)) {
      problems.push(`order ${id}: granted, but the device ledger says ${o.ledgerState ?? 'nothing'}`);
    }
    if (o.serverGrants === 0 && o.serverVerified !== false) {
      problems.push(`order ${id}: delivered without the app server ever recording it`);
    }
    delivered++;
    if (o.finishedAtStore && o.ledgerState === 'finished') {
      finished++;
    } else {
      unfinished++;
      problems.push(`UNFINISHED: order ${id} (${o.productId}) was delivered but not finished with the store`);
    }
    if (o.entitlement && !wallet.entitlements.includes(o.productId)) {
      problems.push(`order ${id}: ${o.productId} was delivered but is not owned`);
    }
  }
  for (const o of orders) {
    if (!o.paid && o.deviceGrants > 0) problems.push(`order ${shortOrderId(o.purchaseOrderId)} was granted although it is not paid`);
  }
  if (wallet.gems !== expectedGems) {
    problems.push(`the wallet holds ${wallet.gems} gems; the paid orders are worth ${expectedGems}`);
  }
  for (const leak of leaks) problems.push(`LEAK: ${leak}`);
  return { paid: paid.length, delivered, finished, duplicated, lost, unfinished, expectedGems, walletGems: wallet.gems, problems };
}

/** The one line `npm test` and readers look for. */
export function tallyLine(t: Tally): string {
  return `Tally: paid ${t.paid}, delivered ${t.delivered}, finished ${t.finished}, duplicated ${t.duplicated}, lost ${t.lost}`;
}

/**
 * Secrets that must never appear in what the demo printed or logged: the purchase tokens the store issued, and
 * anything shaped like a compact JWS. Returns one description per finding (the secret itself is not repeated).
 */
export function findLeaks(sources: ReadonlyArray<{ name: string; lines: readonly string[] }>, tokens: readonly string[]): string[] {
  const jws = /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./;
  const out: string[] = [];
  for (const source of sources) {
    source.lines.forEach((line, i) => {
      if (tokens.some((t) => t.length > 0 && line.includes(t))) out.push(`${source.name} line ${i + 1} contains a purchase token`);
      if (jws.test(line)) out.push(`${source.name} line ${i + 1} contains a JWS`);
    });
  }
  return out;
}
