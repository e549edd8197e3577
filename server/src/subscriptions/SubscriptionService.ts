// Auto-renewable subscriptions on the server: verify a jwsSubscriptionStatus, grant each paid period once through
// the order ledger, merge the generation's state, apply notifications v3, and answer "what does this account have".
import type { FastifyBaseLogger } from 'fastify';
import { isWellFormed, type AuthenticatedAccount } from '../auth/Authenticator';
import type { IapEnvironment } from '../Config';
import { RejectError } from '../jws/Errors';
import type { VerifiedJws } from '../jws/JwsVerifier';
import type { Ledger, OrderPayload } from '../ledger/Ledger';
import { STATUS_CODES, type SignedStatus, type SubscriptionStateName } from './SubscriptionState';
import { periodOf, type OneTimeEntitlement, type SubscriptionStore, type SubscriptionView } from './SubscriptionStore';

const MAX_FIELD = 1024;

export interface SubscriptionServiceDeps {
  store: SubscriptionStore;
  ledger: Ledger;
  appId: string;
  environment: IapEnvironment;
  /** Verifies a JWS (chain, signature, optional CRL policy) judging validity at `timeOf(payload)`. */
  verifyJws: <T>(jws: string, timeOf: (payload: Record<string, unknown>) => number) => Promise<VerifiedJws<T>>;
  /** The order checks of /verify (fields, app, environment, catalog, type). */
  checkOrder: (p: Record<string, unknown>, purchaseDataType: number) => OrderPayload;
  /** Server-side confirm is on: new period rows are marked pending and confirmed after their COMMIT. */
  confirmPending: boolean;
  scheduleConfirm: (order: OrderPayload) => void;
  /** productId → ISO 8601 period of a non-renewable (P30D, P1M, …), for the entitlement read. */
  nonRenewablePeriods: ReadonlyMap<string, string>;
  log: FastifyBaseLogger;
  now: () => number;
}

/** The server's view of one generation in a /verify answer (`entitlement`) and in GET /v1/entitlements. */
export interface SubscriptionEntitlement {
  subGroupGenerationId: string;
  subGroupId: string | undefined;
  productId: string | undefined;
  state: SubscriptionStateName;
  entitled: boolean;
  expiresTime: number | undefined;
  autoRenewStatusCode: string | undefined;
}

export interface VerifiedSubscriptionAnswer extends SubscriptionEntitlement {
  grantedOrderIds: string[];
  revokedOrderIds: string[];
  /** Periods listed without purchaseTime (payment not complete): not granted yet. */
  awaitingPaymentOrderIds: string[];
}

export type SubscriptionVerifyResult =
  | { kind: 'subscription'; subscription: Record<string, unknown>; entitlement: VerifiedSubscriptionAnswer; fresh: boolean }
  | { kind: 'account-conflict' }
  | { kind: 'account-mismatch' };

export interface AccountEntitlements {
  subscriptions: SubscriptionEntitlement[];
  nonRenewables: Array<{ productId: string; purchaseOrderId: string; purchaseTime: number | undefined; expiresTime: number | undefined; entitled: boolean }>;
  nonConsumables: Array<{ productId: string; purchaseOrderId: string; purchaseTime: number | undefined }>;
}

function str(p: Record<string, unknown>, name: string, what: string): string {
  const v = p[name];
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_FIELD || !isWellFormed(v)) {
    throw new RejectError('invalid-payload', `${what}.${name} must be a non-empty string of at most ${MAX_FIELD} characters`);
  }
  return v;
}

function obj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isRevoked(p: Record<string, unknown>): boolean {
  const code = p['purchaseOrderRevocationReasonCode'];
  const time = p['revocationTime'];
  return (code !== undefined && code !== null && code !== '') || (time !== undefined && time !== null && time !== '');
}

interface ReadStatus {
  subGroupGenerationId: string;
  subscriptionId: string;
  purchaseToken: string;
  status: SignedStatus;
  expiresTime: number;
}

function readStatus(s: unknown, what: string): ReadStatus {
  if (!obj(s)) throw new RejectError('invalid-payload', `${what} must be an object`);
  const status = s['status'];
  if (typeof status !== 'string' || !(STATUS_CODES as readonly string[]).includes(status)) {
    throw new RejectError('invalid-payload', `${what}.status must be "1", "2", "3" or "5"`);
  }
  const expiresTime = s['expiresTime'];
  if (typeof expiresTime !== 'number' || !Number.isFinite(expiresTime) || expiresTime <= 0) {
    throw new RejectError('invalid-payload', `${what}.expiresTime must be a positive number of UTC ms`);
  }
  // The same shape rules as the device's SubscriptionPayloadReader, for the last status and every earlier one.
  const list = s['recentPurchaseOrderList'];
  if (list !== undefined && list !== null && !Array.isArray(list)) {
    throw new RejectError('invalid-payload', `${what}.recentPurchaseOrderList must be an array`);
  }
  for (const name of ['lastPurchaseOrder', 'renewalInfo']) {
    if (s[name] !== undefined && s[name] !== null && !obj(s[name])) {
      throw new RejectError('invalid-payload', `${what}.${name} must be an object`);
    }
  }
  return {
    subGroupGenerationId: str(s, 'subGroupGenerationId', what),
    subscriptionId: str(s, 'subscriptionId', what),
    purchaseToken: str(s, 'purchaseToken', what),
    status: status as SignedStatus,
    expiresTime,
  };
}

/**
 * Certificate validity of a status JWS is judged at its own signedTime when it carries one (a positive number),
 * else at the verification time: not at an embedded order's signedTime, which may be a year old and predate a
 * rotated leaf.
 */
export function statusTimeOf(now: number): (payload: Record<string, unknown>) => number {
  return (payload) => {
    if (!('signedTime' in payload)) return now;
    const st = payload['signedTime'];
    if (typeof st === 'number' && Number.isFinite(st) && st > 0) return st;
    throw new RejectError('invalid-payload', 'signedTime must be a positive number of UTC ms');
  };
}

/** Adds an ISO 8601 period (PnYnMnWnD, calendar arithmetic in UTC) to a time; undefined if it cannot be read. */
export function addIsoPeriod(from: number, period: string): number | undefined {
  const m = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$/.exec(period);
  if (!m || period === 'P') return undefined;
  const d = new Date(from);
  d.setUTCFullYear(d.getUTCFullYear() + Number(m[1] ?? 0));
  d.setUTCMonth(d.getUTCMonth() + Number(m[2] ?? 0));
  d.setUTCDate(d.getUTCDate() + 7 * Number(m[3] ?? 0) + Number(m[4] ?? 0));
  return d.getTime();
}

function byPurchaseTime(a: OrderPayload, b: OrderPayload): number {
  const ta = typeof a['purchaseTime'] === 'number' ? (a['purchaseTime'] as number) : 0;
  const tb = typeof b['purchaseTime'] === 'number' ? (b['purchaseTime'] as number) : 0;
  return ta - tb || (a.purchaseOrderId < b.purchaseOrderId ? -1 : a.purchaseOrderId > b.purchaseOrderId ? 1 : 0);
}

function entitlementOf(v: SubscriptionView): SubscriptionEntitlement {
  return {
    subGroupGenerationId: v.subGroupGenerationId,
    subGroupId: v.subGroupId,
    productId: v.productId,
    state: v.state,
    entitled: v.entitled,
    expiresTime: v.expiresTime,
    autoRenewStatusCode: v.autoRenewStatusCode,
  };
}

export class SubscriptionService {
  constructor(private readonly d: SubscriptionServiceDeps) {}

  /** /v1/purchases/verify for a PurchaseData of type 2 (already parsed; `rec.type === 2`). */
  async verify(rec: Record<string, unknown>, caller: AuthenticatedAccount | undefined): Promise<SubscriptionVerifyResult> {
    const jws = rec['jwsSubscriptionStatus'];
    if (typeof jws !== 'string') {
      throw new RejectError('malformed-purchase-data', 'an auto-renewable purchaseData (type 2) must carry jwsSubscriptionStatus');
    }
    const now = this.d.now();
    const v = await this.d.verifyJws<Record<string, unknown>>(jws, statusTimeOf(now));
    const p = v.payload;
    const environment = str(p, 'environment', 'SubGroupStatusPayload');
    const applicationId = str(p, 'applicationId', 'SubGroupStatusPayload');
    str(p, 'packageName', 'SubGroupStatusPayload');
    const subGroupId = str(p, 'subGroupId', 'SubGroupStatusPayload');
    const lastRaw = p['lastSubscriptionStatus'];
    if (lastRaw === undefined || lastRaw === null) throw new RejectError('invalid-payload', 'lastSubscriptionStatus is missing');
    const last = readStatus(lastRaw, 'lastSubscriptionStatus');
    const history = p['historySubscriptionStatusList'];
    if (history !== undefined && history !== null) {
      if (!Array.isArray(history)) throw new RejectError('invalid-payload', 'historySubscriptionStatusList must be an array');
      history.forEach((h, i) => readStatus(h, `historySubscriptionStatusList[${i}]`));
    }
    if (applicationId !== this.d.appId) throw new RejectError('wrong-app', 'applicationId does not match this app');
    if (environment !== this.d.environment) {
      throw new RejectError('wrong-environment', `environment ${environment} on a ${this.d.environment} server`);
    }

    // The periods: recentPurchaseOrderList then lastPurchaseOrder, each checked like an order of type 2.
    const lastObj = lastRaw as Record<string, unknown>;
    const listRaw = lastObj['recentPurchaseOrderList'];
    const lastOrderRaw = lastObj['lastPurchaseOrder'];
    const raws: unknown[] = [...((listRaw as unknown[] | undefined) ?? [])];
    if (lastOrderRaw !== undefined && lastOrderRaw !== null) raws.push(lastOrderRaw);
    const byId = new Map<string, OrderPayload>();
    let lastOrder: OrderPayload | undefined;
    for (const raw of raws) {
      if (!obj(raw)) throw new RejectError('invalid-payload', 'a purchase order of the status is not an object');
      const order = this.d.checkOrder(raw, 2);
      if (order['subGroupGenerationId'] !== last.subGroupGenerationId || order.purchaseToken !== last.purchaseToken) {
        throw new RejectError('invalid-payload', 'a purchase order of the status belongs to another subscription (subGroupGenerationId / purchaseToken)');
      }
      if (!byId.has(order.purchaseOrderId)) byId.set(order.purchaseOrderId, order);
      if (raw === lastOrderRaw) lastOrder = byId.get(order.purchaseOrderId);
    }
    if (byId.size === 0) throw new RejectError('invalid-payload', 'the subscription status carries no purchase order');
    const orders = [...byId.values()].sort(byPurchaseTime);
    lastOrder ??= orders[orders.length - 1]!;
    const generation = last.subGroupGenerationId;
    const renewal = obj(lastObj['renewalInfo']) ? (lastObj['renewalInfo'] as Record<string, unknown>) : undefined;
    const autoRenew = typeof renewal?.['autoRenewStatusCode'] === 'string' ? (renewal['autoRenewStatusCode'] as string) : undefined;
    const observation = {
      subGroupGenerationId: generation,
      subGroupId,
      subscriptionId: last.subscriptionId,
      productId: lastOrder.productId,
      purchaseToken: last.purchaseToken,
      status: last.status,
      expiresTime: last.expiresTime,
      observedAt: v.signedTime,
      autoRenewStatusCode: autoRenew === '0' || autoRenew === '1' ? autoRenew : undefined,
    };

    // Revoked: status "5", the current period refunded, or the generation revoked by a notification before.
    const known = await this.d.store.get(generation, now);
    if (last.status === '5' || isRevoked(lastOrder) || known?.revokedAt !== undefined) {
      const revokedOrders = orders.filter((o) => isRevoked(o) || o === lastOrder);
      for (const o of revokedOrders) {
        await this.d.ledger.revoke({ ...o, payload: o }, String(o['purchaseOrderRevocationReasonCode'] ?? 'revoked'), now);
      }
      // Recorded with its purchaseTime: while it is the newest period, the entitlement read says revoked too.
      await this.d.store.observe(
        { ...observation, grantedOrders: [], revokedOrders: revokedOrders.map(periodOf) },
        undefined,
        now,
      );
      throw new RejectError('revoked', 'the subscription was revoked (refunded)');
    }

    const refunded = orders.filter(isRevoked);
    const binding = caller === undefined ? undefined : (caller.binding ?? caller.accountId);
    for (const o of orders) {
      const dp = o['developerPayload'];
      if (!isRevoked(o) && binding !== undefined && typeof dp === 'string' && dp.length > 0 && dp !== binding) {
        return { kind: 'account-mismatch' };
      }
    }
    // A period without purchaseTime is not paid yet: neither granted nor recorded, the paid ones are (the device's
    // pipeline keeps such a period awaiting payment and grants the others from the same verified status).
    const unpaid = orders.filter((o) => !isRevoked(o) && (o['purchaseTime'] === undefined || o['purchaseTime'] === null));
    const toGrant = orders.filter((o) => !isRevoked(o) && !unpaid.includes(o));
    for (const o of refunded) {
      await this.d.ledger.revoke({ ...o, payload: o }, String(o['purchaseOrderRevocationReasonCode'] ?? 'revoked'), now);
    }

    // Each period is an order of the ledger, granted once by purchaseOrderId, in ONE transaction with the account
    // check and the merge: a period is never granted to an account the subscription is not bound to.
    const accountId = caller?.accountId;
    const result = await this.d.store.deliverPeriods(
      { ...observation, periods: toGrant, refunded: refunded.map(periodOf), latestOrderId: lastOrder.purchaseOrderId },
      accountId,
      now,
      this.d.confirmPending,
    );
    if (result.kind === 'account-conflict') return { kind: 'account-conflict' };
    if (result.kind === 'token-conflict') throw new RejectError('invalid-payload', 'purchaseToken is already recorded for another order');
    const granted: OrderPayload[] = [];
    const revokedInLedger: OrderPayload[] = [];
    const toConfirm: OrderPayload[] = [];
    let fresh = false;
    toGrant.forEach((o, i) => {
      const out = result.outcomes[i]!;
      if (out.kind !== 'granted') {
        revokedInLedger.push(o);
        return;
      }
      granted.push(o);
      if (!out.replay) fresh = true;
      if (!out.replay || out.confirmState === 'pending' || out.confirmState === 'failed') toConfirm.push(o);
    });
    // The current period refunded in the ledger (a REVOKE notification came first): the subscription is revoked.
    if (result.kind === 'revoked') throw new RejectError('revoked', 'the subscription was revoked (refunded)');
    const allRevoked = [...refunded, ...revokedInLedger].sort(byPurchaseTime);
    // Confirm only what this server granted itself, after the grant's COMMIT (scheduleConfirm is a no-op otherwise).
    if (this.d.confirmPending) for (const o of toConfirm) this.d.scheduleConfirm(o);
    this.d.log.info(
      { subGroupGenerationId: generation, state: result.subscription.state, granted: granted.length, fresh },
      fresh ? 'subscription periods granted' : 'subscription replayed',
    );
    return {
      kind: 'subscription',
      subscription: p,
      fresh,
      entitlement: {
        ...entitlementOf(result.subscription),
        grantedOrderIds: granted.map((o) => o.purchaseOrderId),
        revokedOrderIds: allRevoked.map((o) => o.purchaseOrderId),
        awaitingPaymentOrderIds: unpaid.map((o) => o.purchaseOrderId),
      },
    };
  }

  /**
   * A verified notification about a subscription: merges its effect into the generation. Returns the action for
   * the x-notification header, or undefined when the notification is not about an auto-renewable. Idempotent.
   */
  async onNotification(type: string, subtype: string | undefined, signedTime: number, meta: Record<string, unknown>): Promise<string | undefined> {
    const orderId = typeof meta['purchaseOrderId'] === 'string' && meta['purchaseOrderId'] !== '' ? (meta['purchaseOrderId'] as string) : undefined;
    let generation =
      typeof meta['subGroupGenerationId'] === 'string' && meta['subGroupGenerationId'] !== '' ? (meta['subGroupGenerationId'] as string) : undefined;
    if (generation === undefined && orderId !== undefined) generation = await this.d.store.generationOfOrder(orderId);
    if (generation === undefined) return meta['type'] === 2 ? 'subscription-unknown' : undefined;
    const now = this.d.now();
    switch (type) {
      case 'EXPIRE':
        await this.d.store.applyEvent({ kind: 'expire', subGroupGenerationId: generation, signedTime, billingRetry: subtype === 'BILLING_RETRY' }, now);
        return subtype === 'BILLING_RETRY' ? 'subscription-billing-retry' : 'subscription-expire';
      case 'DID_CHANGE_RENEWAL_STATUS':
        if (subtype === 'AUTO_RENEW_ENABLED' || subtype === 'AUTO_RENEW_DISABLED') {
          const code = subtype === 'AUTO_RENEW_ENABLED' ? '1' : '0';
          await this.d.store.applyEvent({ kind: 'auto-renew', subGroupGenerationId: generation, signedTime, autoRenewStatusCode: code }, now);
          return code === '1' ? 'subscription-auto-renew-on' : 'subscription-auto-renew-off';
        }
        return 'subscription-noted';
      case 'REVOKE': {
        // A refund names its period; a hosting deletion (or a REVOKE naming none) takes the whole generation.
        const period = orderId !== undefined && subtype !== 'APPLICATION_DELETE_SUBSCRIPTION_HOSTING'
          ? { purchaseOrderId: orderId, productId: typeof meta['productId'] === 'string' ? (meta['productId'] as string) : '', purchaseTime: undefined }
          : undefined;
        await this.d.store.applyEvent({ kind: 'revoke', subGroupGenerationId: generation, signedTime, reason: subtype ?? 'REVOKE', period }, now);
        return 'subscription-revoked';
      }
      default:
        // DID_NEW_TRANSACTION (INITIAL_BUY, DID_RENEW, BILLING_RECOVERY, …), RENEWAL_TIME_MODIFIED and unknown types
        // carry no signed period: triggers only, the next verified status (the device's sweep) brings the period.
        return 'subscription-noted';
    }
  }

  /** What the account has now. */
  async entitlements(accountId: string): Promise<AccountEntitlements> {
    const now = this.d.now();
    const [subs, oneTime] = await Promise.all([this.d.store.listForAccount(accountId, now), this.d.store.oneTimeEntitlements(accountId)]);
    const nonRenewables = oneTime
      .filter((o): o is OneTimeEntitlement & { productType: '3' } => o.productType === '3')
      .map((o) => {
        const period = this.d.nonRenewablePeriods.get(o.productId);
        const expiresTime = period === undefined ? undefined : addIsoPeriod(o.purchaseTime ?? o.grantedAt, period);
        return { productId: o.productId, purchaseOrderId: o.purchaseOrderId, purchaseTime: o.purchaseTime, expiresTime, entitled: expiresTime === undefined || expiresTime > now };
      });
    const nonConsumables = oneTime
      .filter((o) => o.productType === '1')
      .map((o) => ({ productId: o.productId, purchaseOrderId: o.purchaseOrderId, purchaseTime: o.purchaseTime }));
    return { subscriptions: subs.map(entitlementOf), nonRenewables, nonConsumables };
  }
}

