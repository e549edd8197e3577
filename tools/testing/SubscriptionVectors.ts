/**
 * SubscriptionVectors — signed subscription purchaseData, genuine and adversarial, each with the verdict BOTH
 * verifiers give it (the app server's /v1/purchases/verify and the on-device verifier) (TEST / DEV ONLY).
 *
 *   const pki = await createTestPki();
 *   const vectors = await subscriptionVectors(pki, { now: Date.now() });
 *   for (const v of vectors) check(verify(v.purchaseData, v.now), v.expected);
 *
 * Shapes and names are those of the IAP Kit fact sheet (§3): PurchaseData `{type, jwsPurchaseOrder?,
 * jwsSubscriptionStatus?}`; SubGroupStatusPayload `{environment, applicationId, packageName, subGroupId,
 * lastSubscriptionStatus?, historySubscriptionStatusList?}`; SubscriptionStatus `{subGroupGenerationId, subscriptionId,
 * purchaseToken, status, expiresTime, lastPurchaseOrder?, recentPurchaseOrderList?, renewalInfo?}`; SubRenewalInfo;
 * PurchaseOrderPayload with the auto-renewable fields (subGroupGenerationId, subscriptionId, subGroupId, duration,
 * durationTypeCode). Order payloads carry `signedTime` (UTC ms); the status payloads here carry one too, except the
 * vector that shows a status without it.
 *
 * The verdict rules the vectors encode (agreed in SUBS-COORD.md):
 *   - the status JWS is verified with exactly the order rules and codes (chain, alg, OID, signature, signedTime);
 *   - certificate validity is judged at the status payload's own signedTime when present (a positive number, else
 *     invalid-payload), else at the verification time;
 *   - SubGroupStatusPayload: environment, applicationId, packageName, subGroupId non-empty strings;
 *     lastSubscriptionStatus required (invalid-payload without it); environment / applicationId checked like an
 *     order's (wrong-environment / wrong-app);
 *   - lastSubscriptionStatus: subGroupGenerationId, subscriptionId, purchaseToken non-empty strings; status one of
 *     "1" "2" "3" "5"; expiresTime a positive number (else invalid-payload);
 *   - the period orders are recentPurchaseOrderList + lastPurchaseOrder (de-duplicated by purchaseOrderId); at least
 *     one (else invalid-payload). EACH is checked like an order of type 2: required fields, applicationId (wrong-app),
 *     environment (wrong-environment), productId in the catalog (unknown-product), productType "2"
 *     (wrong-product-type); its signedTime a positive number, its subGroupGenerationId (required) and purchaseToken
 *     the status's (invalid-payload);
 *   - every historySubscriptionStatusList entry passes the status rules above; renewalInfo / lastPurchaseOrder are
 *     objects, recentPurchaseOrderList an array; every string at most 1024 characters of well-formed text;
 *   - status "5", or a lastPurchaseOrder carrying purchaseOrderRevocationReasonCode / revocationTime → revoked;
 *     an OLDER period carrying a revocation is not granted (revokedOrderIds) and does not change the verdict;
 *   - state: "5" revoked; "2" expired; "3" billing-retry; "1" active while expiresTime > now, else expired (a stale
 *     active status is expired). entitled = (state active or billing-retry) and expiresTime > now;
 *   - purchaseData type 2 needs jwsSubscriptionStatus, type 3 needs jwsPurchaseOrder (malformed-purchase-data).
 *
 * API (stable; shared by the server tests and the device verifier suites):
 *   SUBSCRIPTION_PRODUCTS                          the demo ids: gem_club_monthly / gem_club_yearly (2), season_pass (3)
 *   subscriptionOrder(over?, opts?)                PurchaseOrderPayload of one auto-renewable period (productType "2")
 *   nonRenewableOrder(over?, opts?)                PurchaseOrderPayload of a non-renewable (productType "3")
 *   subscriptionStatus(orders, over?, opts?)       SubscriptionStatus; lastPurchaseOrder = the last of `orders`
 *   subGroupStatusPayload(status, over?, opts?)    SubGroupStatusPayload with signedTime
 *   autoRenewablePurchaseData(pki, statusPayload)  '{"type":2,"jwsSubscriptionStatus":"…"}'
 *   nonRenewablePurchaseData(pki, orderPayload)    '{"type":3,"jwsPurchaseOrder":"…"}'
 *   subscriptionNotification(pki, n)               a signed v3 jwsNotification about a subscription
 *   subscriptionVectors(pki, opts?)                Promise<SubscriptionVector[]>
 */
import * as crypto from 'node:crypto';
import { createTestPki, type TestPki } from './TestPki';

const DAY = 86_400_000;
const HOUR = 3_600_000;

export const SUBSCRIPTION_PRODUCTS = {
  subGroupId: 'gem_club',
  monthly: 'gem_club_monthly',
  yearly: 'gem_club_yearly',
  seasonPass: 'season_pass',
} as const;

export interface SubscriptionVectorOptions {
  /** default '110000000' */
  appId?: string;
  /** default 'SANDBOX' */
  environment?: string;
  /** the verification time the expected verdicts hold at; default Date.now() */
  now?: number;
  /** default 'com.example.gemstore' */
  packageName?: string;
}

export type SubscriptionState = 'active' | 'billing-retry' | 'expired' | 'revoked';

/** What a verifier answers for a vector. `verdict` is 'valid' or a rejection reason code (RejectionReason). */
export interface SubscriptionVerdict {
  verdict: string;
  /** auto-renewables, when valid */
  state?: SubscriptionState;
  entitled?: boolean;
  expiresTime?: number;
  /** valid: the period orders to grant (and then finish), by purchaseOrderId, ascending purchaseTime */
  grantedOrderIds?: string[];
  /** valid: older periods carrying a revocation: recorded revoked, never granted */
  revokedOrderIds?: string[];
}

export interface SubscriptionVector {
  name: string;
  description: string;
  purchaseData: string;
  /** verify at this time (ms) */
  now: number;
  expected: SubscriptionVerdict;
}

export interface SubscriptionNotificationInput {
  notificationType: string;
  notificationSubtype?: string;
  /** default: a fresh random id */
  notificationRequestId?: string;
  /** default Date.now() */
  signedTime?: number;
  /** notificationMetaData fields (environment / applicationId default to SANDBOX / 110000000, type to 2) */
  meta: Record<string, unknown>;
}

type Json = Record<string, unknown>;

let seq = 0;
function uid(prefix: string): string {
  return `${prefix}-${(++seq).toString(36)}${crypto.randomBytes(5).toString('hex')}`;
}

function defaults(opts: SubscriptionVectorOptions = {}): Required<SubscriptionVectorOptions> {
  return {
    appId: opts.appId ?? '110000000',
    environment: opts.environment ?? 'SANDBOX',
    now: opts.now ?? Date.now(),
    packageName: opts.packageName ?? 'com.example.gemstore',
  };
}

/** One auto-renewable period. Pass the same subGroupGenerationId / subscriptionId / purchaseToken for renewals. */
export function subscriptionOrder(over: Json = {}, opts: SubscriptionVectorOptions = {}): Json {
  const o = defaults(opts);
  return {
    environment: o.environment,
    purchaseOrderId: uid('sub-order'),
    purchaseToken: uid('sub-token'),
    applicationId: o.appId,
    productId: SUBSCRIPTION_PRODUCTS.monthly,
    productType: '2',
    purchaseTime: o.now - HOUR,
    finishStatus: '2',
    needFinish: true,
    price: 1800,
    currency: 'CNY',
    countryCode: 'CN',
    signedTime: o.now - HOUR,
    subGroupGenerationId: uid('gen'),
    subscriptionId: uid('subid'),
    subGroupId: SUBSCRIPTION_PRODUCTS.subGroupId,
    duration: 'P1M',
    durationTypeCode: '0',
    ...over,
  };
}

/** A non-renewable (season pass) order: productType "3", no subscription fields. */
export function nonRenewableOrder(over: Json = {}, opts: SubscriptionVectorOptions = {}): Json {
  const o = defaults(opts);
  return {
    environment: o.environment,
    purchaseOrderId: uid('nr-order'),
    purchaseToken: uid('nr-token'),
    applicationId: o.appId,
    productId: SUBSCRIPTION_PRODUCTS.seasonPass,
    productType: '3',
    purchaseTime: o.now - HOUR,
    finishStatus: '2',
    needFinish: true,
    price: 3000,
    currency: 'CNY',
    countryCode: 'CN',
    signedTime: o.now - HOUR,
    ...over,
  };
}

/**
 * A SubscriptionStatus over `orders` (periods, oldest first; they should share subGroupGenerationId, subscriptionId
 * and purchaseToken, which the status copies from the last one): lastPurchaseOrder = the last, recentPurchaseOrderList
 * = all. Default status "1", expiresTime now + 30 days, auto-renew on.
 */
export function subscriptionStatus(orders: Json[], over: Json = {}, opts: SubscriptionVectorOptions = {}): Json {
  const o = defaults(opts);
  const last = orders[orders.length - 1] ?? subscriptionOrder({}, opts);
  const generation = last['subGroupGenerationId'];
  return {
    subGroupGenerationId: generation,
    subscriptionId: last['subscriptionId'],
    purchaseToken: last['purchaseToken'],
    status: '1',
    expiresTime: o.now + 30 * DAY,
    lastPurchaseOrder: last,
    recentPurchaseOrderList: orders,
    renewalInfo: {
      environment: o.environment,
      subGroupGenerationId: generation,
      productId: last['productId'],
      nextRenewPeriodProductId: last['productId'],
      autoRenewStatusCode: '1',
      hasInBillingRetryPeriod: false,
      renewalPrice: last['price'],
      currency: last['currency'],
      renewalTime: o.now + 30 * DAY,
    },
    ...over,
  };
}

/** The payload of jwsSubscriptionStatus. signedTime defaults to now. */
export function subGroupStatusPayload(status: Json | undefined, over: Json = {}, opts: SubscriptionVectorOptions = {}): Json {
  const o = defaults(opts);
  return {
    environment: o.environment,
    applicationId: o.appId,
    packageName: o.packageName,
    subGroupId: SUBSCRIPTION_PRODUCTS.subGroupId,
    ...(status === undefined ? {} : { lastSubscriptionStatus: status, historySubscriptionStatusList: [status] }),
    signedTime: o.now,
    ...over,
  };
}

export function autoRenewablePurchaseData(pki: TestPki, statusPayload: Json): string {
  return JSON.stringify({ type: 2, jwsSubscriptionStatus: pki.signJws(statusPayload) });
}

export function nonRenewablePurchaseData(pki: TestPki, orderPayload: Json): string {
  return JSON.stringify({ type: 3, jwsPurchaseOrder: pki.signJws(orderPayload) });
}

/** A signed notification v3 body value (the `jwsNotification` string). */
export function subscriptionNotification(pki: TestPki, n: SubscriptionNotificationInput): string {
  return pki.signJws({
    notificationType: n.notificationType,
    ...(n.notificationSubtype === undefined ? {} : { notificationSubtype: n.notificationSubtype }),
    notificationRequestId: n.notificationRequestId ?? uid('notif'),
    notificationMetaData: { environment: 'SANDBOX', applicationId: '110000000', type: 2, ...n.meta },
    notificationVersion: 'v3',
    signedTime: n.signedTime ?? Date.now(),
  });
}

/** Periods of one generation: `count` orders a month apart, the last one `lastAgoMs` before now. */
function periods(count: number, opts: SubscriptionVectorOptions, over: Json = {}, lastAgoMs = HOUR): Json[] {
  const o = defaults(opts);
  const first = subscriptionOrder(over, opts);
  const out: Json[] = [];
  for (let i = 0; i < count; i++) {
    const t = o.now - lastAgoMs - (count - 1 - i) * 30 * DAY;
    out.push(
      i === 0
        ? { ...first, purchaseTime: t, signedTime: t }
        : subscriptionOrder(
            {
              subGroupGenerationId: first['subGroupGenerationId'],
              subscriptionId: first['subscriptionId'],
              purchaseToken: first['purchaseToken'],
              purchaseTime: t,
              signedTime: t,
              ...over,
            },
            opts,
          ),
    );
  }
  return out;
}

const ids = (orders: Json[]): string[] => orders.map((x) => x['purchaseOrderId'] as string);

/** Replaces the payload of a compact JWS, keeping header and signature (a forgery: the signature no longer matches). */
function withPayload(jws: string, payload: Json): string {
  const [h, , s] = jws.split('.');
  return `${h}.${Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url')}.${s}`;
}

/**
 * The vectors. `pki` is the genuine PKI (its root is the pinned one); the forged ones are signed by a fresh foreign
 * PKI. Every vector verifies at `now` (opts.now, default Date.now()); certificates of `pki` must be valid then.
 */
export async function subscriptionVectors(pki: TestPki, opts: SubscriptionVectorOptions = {}): Promise<SubscriptionVector[]> {
  const o = defaults(opts);
  const now = o.now;
  const out: SubscriptionVector[] = [];
  const add = (name: string, description: string, purchaseData: string, expected: SubscriptionVerdict): void => {
    out.push({ name, description, purchaseData, now, expected });
  };
  const ar = (statusPayload: Json): string => autoRenewablePurchaseData(pki, statusPayload);
  const valid = (state: SubscriptionState, entitled: boolean, expiresTime: number, granted: Json[], revoked: Json[] = []): SubscriptionVerdict => ({
    verdict: 'valid',
    state,
    entitled,
    expiresTime,
    grantedOrderIds: ids(granted),
    revokedOrderIds: ids(revoked),
  });

  // ---- genuine ----
  {
    const orders = periods(1, opts);
    const st = subscriptionStatus(orders, {}, opts);
    add('active-first-purchase', 'first period, status "1", expires in 30 days', ar(subGroupStatusPayload(st, {}, opts)),
      valid('active', true, st['expiresTime'] as number, orders));
  }
  {
    const orders = periods(3, opts);
    const st = subscriptionStatus(orders, {}, opts);
    add('active-with-renewals', 'three periods (purchase + 2 renewals), every one an order to grant once',
      ar(subGroupStatusPayload(st, {}, opts)), valid('active', true, st['expiresTime'] as number, orders));
  }
  {
    const orders = periods(2, opts);
    const st = subscriptionStatus([orders[1]!], { recentPurchaseOrderList: [orders[0]!, orders[1]!, orders[1]!] }, opts);
    add('duplicate-orders-in-list', 'recentPurchaseOrderList repeats lastPurchaseOrder: each period counted once',
      ar(subGroupStatusPayload(st, {}, opts)), valid('active', true, st['expiresTime'] as number, orders));
  }
  {
    const orders = periods(2, opts, {}, 31 * DAY);
    const exp = now + 2 * DAY;
    const st = subscriptionStatus(orders, { status: '3', expiresTime: exp }, opts);
    add('billing-retry-grace', 'status "3" with expiresTime still ahead (grace period): entitled',
      ar(subGroupStatusPayload(st, {}, opts)), valid('billing-retry', true, exp, orders));
  }
  {
    const orders = periods(2, opts, {}, 31 * DAY);
    const exp = now - DAY;
    const st = subscriptionStatus(orders, { status: '3', expiresTime: exp }, opts);
    add('billing-retry-lapsed', 'status "3" after expiresTime: not entitled',
      ar(subGroupStatusPayload(st, {}, opts)), valid('billing-retry', false, exp, orders));
  }
  {
    const orders = periods(1, opts, {}, 31 * DAY);
    const exp = now - DAY;
    const st = subscriptionStatus(orders, { status: '2', expiresTime: exp }, opts);
    add('expired-status', 'status "2": the paid period is still granted once, access is not',
      ar(subGroupStatusPayload(st, {}, opts)), valid('expired', false, exp, orders));
  }
  {
    const orders = periods(1, opts, { finishStatus: '1' }, 31 * DAY);
    const exp = now - HOUR;
    const st = subscriptionStatus(orders, { status: '1', expiresTime: exp }, opts);
    add('expired-presented-as-active', 'a genuine but stale status "1" (signed 2 h ago) whose expiresTime has passed: expired',
      ar(subGroupStatusPayload(st, { signedTime: now - 2 * HOUR }, opts)), valid('expired', false, exp, orders));
  }
  {
    const orders = periods(2, opts);
    const refunded = { ...orders[0]!, purchaseOrderRevocationReasonCode: '1', revocationTime: now - 2 * DAY };
    const st = subscriptionStatus([refunded, orders[1]!], {}, opts);
    add('older-period-refunded', 'an older period carries a revocation: recorded revoked, the current one granted',
      ar(subGroupStatusPayload(st, {}, opts)), valid('active', true, st['expiresTime'] as number, [orders[1]!], [refunded]));
  }
  {
    const orders = periods(1, opts, { productId: SUBSCRIPTION_PRODUCTS.yearly, duration: 'P1Y' });
    const st = subscriptionStatus(orders, { expiresTime: now + 360 * DAY }, opts);
    add('active-yearly', 'the yearly product of the same group', ar(subGroupStatusPayload(st, {}, opts)),
      valid('active', true, now + 360 * DAY, orders));
  }
  {
    const order = nonRenewableOrder({}, opts);
    add('nonrenewable-season-pass', 'type 3 with jwsPurchaseOrder: delivered like an order', nonRenewablePurchaseData(pki, order), {
      verdict: 'valid',
      grantedOrderIds: ids([order]),
    });
  }

  // ---- revoked ----
  {
    const orders = periods(1, opts);
    const st = subscriptionStatus(orders, { status: '5' }, opts);
    add('revoked-status', 'status "5" (revoked)', ar(subGroupStatusPayload(st, {}, opts)), { verdict: 'revoked' });
  }
  {
    const orders = periods(2, opts);
    const refunded = { ...orders[1]!, purchaseOrderRevocationReasonCode: '0', revocationTime: now - HOUR };
    const st = subscriptionStatus([orders[0]!, refunded], {}, opts);
    add('revoked-last-order', 'status still "1" but lastPurchaseOrder carries a revocation', ar(subGroupStatusPayload(st, {}, opts)),
      { verdict: 'revoked' });
  }
  {
    const order = nonRenewableOrder({ purchaseOrderRevocationReasonCode: '1', revocationTime: now - HOUR }, opts);
    add('nonrenewable-refunded', 'a refunded season pass', nonRenewablePurchaseData(pki, order), { verdict: 'revoked' });
  }

  // ---- forged ----
  const foreign = await createTestPki({ subjectPrefix: 'Forged IAP' });
  {
    const st = subscriptionStatus(periods(1, opts), {}, opts);
    add('forged-status-foreign-chain', 'a status JWS signed by another PKI (self-made root)',
      autoRenewablePurchaseData(foreign, subGroupStatusPayload(st, {}, opts)), { verdict: 'untrusted-chain' });
  }
  {
    const orders = periods(1, opts, {}, 31 * DAY);
    const st = subscriptionStatus(orders, { status: '2', expiresTime: now - DAY }, opts);
    const genuine = pki.signJws(subGroupStatusPayload(st, {}, opts));
    const revived = subGroupStatusPayload({ ...st, status: '1', expiresTime: now + 30 * DAY }, {}, opts);
    add('forged-status-tampered', 'a genuine expired status JWS whose payload was edited to active (signature kept)',
      JSON.stringify({ type: 2, jwsSubscriptionStatus: withPayload(genuine, revived) }), { verdict: 'bad-signature' });
  }
  {
    const st = subscriptionStatus(periods(1, opts), {}, opts);
    const jws = pki.signJws(subGroupStatusPayload(st, {}, opts), { alg: 'none' });
    add('forged-status-alg-none', 'alg "none"', JSON.stringify({ type: 2, jwsSubscriptionStatus: jws }), { verdict: 'unsupported-alg' });
  }

  // ---- another app / environment ----
  {
    const orders = periods(2, opts);
    const st = subscriptionStatus([orders[0]!, { ...orders[1]!, applicationId: '999999999' }], {}, opts);
    add('renewal-from-other-app', 'a renewal order of another app inside a genuine status of this app',
      ar(subGroupStatusPayload(st, {}, opts)), { verdict: 'wrong-app' });
  }
  {
    const orders = periods(2, opts);
    const other = o.environment === 'SANDBOX' ? 'NORMAL' : 'SANDBOX';
    const st = subscriptionStatus([orders[0]!, { ...orders[1]!, environment: other }], {}, opts);
    add('renewal-from-other-environment', 'a renewal order of the other environment inside a status of this one',
      ar(subGroupStatusPayload(st, {}, opts)), { verdict: 'wrong-environment' });
  }
  {
    const st = subscriptionStatus(periods(1, opts), {}, opts);
    add('status-from-other-app', 'SubGroupStatusPayload.applicationId of another app',
      ar(subGroupStatusPayload(st, { applicationId: '999999999' }, opts)), { verdict: 'wrong-app' });
  }
  {
    const st = subscriptionStatus(periods(1, opts), {}, opts);
    add('status-from-other-environment', 'SubGroupStatusPayload.environment of the other environment',
      ar(subGroupStatusPayload(st, { environment: o.environment === 'SANDBOX' ? 'NORMAL' : 'SANDBOX' }, opts)),
      { verdict: 'wrong-environment' });
  }
  {
    const order = nonRenewableOrder({ applicationId: '999999999' }, opts);
    add('nonrenewable-other-app', 'a season pass of another app', nonRenewablePurchaseData(pki, order), { verdict: 'wrong-app' });
  }

  // ---- inconsistent or incomplete payloads ----
  {
    const orders = periods(2, opts);
    const st = subscriptionStatus([{ ...orders[0]!, subGroupGenerationId: 'gen-of-someone-else' }, orders[1]!], {}, opts);
    add('renewal-of-other-generation', 'an order whose subGroupGenerationId is not the status\'s',
      ar(subGroupStatusPayload(st, {}, opts)), { verdict: 'invalid-payload' });
  }
  {
    const orders = periods(1, opts);
    const st = subscriptionStatus([{ ...orders[0]!, productType: '0' }], {}, opts);
    add('renewal-wrong-product-type', 'a period order with productType "0"', ar(subGroupStatusPayload(st, {}, opts)),
      { verdict: 'wrong-product-type' });
  }
  {
    const orders = periods(1, opts, { productId: 'gems_100' });
    const st = subscriptionStatus(orders, {}, opts);
    add('consumable-in-status', 'a period order naming a consumable of the catalog', ar(subGroupStatusPayload(st, {}, opts)),
      { verdict: 'wrong-product-type' });
  }
  {
    const orders = periods(1, opts, { productId: 'not_sold_here' });
    const st = subscriptionStatus(orders, {}, opts);
    add('unknown-subscription-product', 'a period of a product the app does not sell', ar(subGroupStatusPayload(st, {}, opts)),
      { verdict: 'unknown-product' });
  }
  add('missing-last-status', 'SubGroupStatusPayload without lastSubscriptionStatus', ar(subGroupStatusPayload(undefined, {}, opts)),
    { verdict: 'invalid-payload' });
  {
    const st = subscriptionStatus(periods(1, opts), { status: '4' }, opts);
    add('unknown-status-code', 'status "4" (not defined)', ar(subGroupStatusPayload(st, {}, opts)), { verdict: 'invalid-payload' });
  }
  {
    const st = subscriptionStatus(periods(1, opts), { status: 1 }, opts);
    add('status-as-number', 'status 1 as a JSON number', ar(subGroupStatusPayload(st, {}, opts)), { verdict: 'invalid-payload' });
  }
  {
    const st = subscriptionStatus(periods(1, opts), { expiresTime: String(now + DAY) }, opts);
    add('expires-as-string', 'expiresTime as a string', ar(subGroupStatusPayload(st, {}, opts)), { verdict: 'invalid-payload' });
  }
  {
    const st = subscriptionStatus(periods(1, opts), { lastPurchaseOrder: undefined, recentPurchaseOrderList: [] }, opts);
    add('no-orders', 'a status without any purchase order', ar(subGroupStatusPayload(st, {}, opts)), { verdict: 'invalid-payload' });
  }
  {
    const st = subscriptionStatus(periods(1, opts), {}, opts);
    const statusPayload = subGroupStatusPayload(st, {}, opts);
    delete statusPayload['signedTime'];
    add('status-without-signed-time', 'a status payload without signedTime: certificates judged at the verification time',
      ar(statusPayload), valid('active', true, st['expiresTime'] as number, [st['lastPurchaseOrder'] as Json]));
  }
  {
    const st = subscriptionStatus(periods(1, opts), {}, opts);
    add('status-signed-time-as-string', 'a status payload whose signedTime is a string', ar(subGroupStatusPayload(st, { signedTime: String(now) }, opts)),
      { verdict: 'invalid-payload' });
  }
  {
    const orders = periods(2, opts);
    const st = subscriptionStatus([orders[0]!, { ...orders[1]!, purchaseToken: 'token-of-another-subscription' }], {}, opts);
    add('renewal-with-other-token', 'a period whose purchaseToken is not the status\'s', ar(subGroupStatusPayload(st, {}, opts)),
      { verdict: 'invalid-payload' });
  }
  {
    const st = subscriptionStatus(periods(1, opts), {}, opts);
    const statusPayload = subGroupStatusPayload(st, {}, opts);
    delete statusPayload['packageName'];
    add('missing-package-name', 'a status payload without packageName', ar(statusPayload), { verdict: 'invalid-payload' });
  }
  {
    const orders = periods(2, opts);
    const { subGroupGenerationId: _generation, ...renewal } = orders[1]!;
    const st = subscriptionStatus([orders[0]!, renewal], {}, opts);
    add('renewal-without-generation', 'a period that names no subGroupGenerationId (an auto-renewable order always does)',
      ar(subGroupStatusPayload(st, {}, opts)), { verdict: 'invalid-payload' });
  }
  {
    const orders = periods(2, opts);
    const { signedTime: _signed, ...renewal } = orders[1]!;
    const st = subscriptionStatus([orders[0]!, renewal], {}, opts);
    add('renewal-without-signed-time', 'a period without its own signedTime', ar(subGroupStatusPayload(st, {}, opts)),
      { verdict: 'invalid-payload' });
  }
  {
    const orders = periods(1, opts);
    const st = subscriptionStatus([{ ...orders[0]!, developerPayload: 'x'.repeat(1025) }], {}, opts);
    add('period-field-too-long', 'a period whose developerPayload is 1025 characters (at most 1024)',
      ar(subGroupStatusPayload(st, {}, opts)), { verdict: 'invalid-payload' });
  }
  {
    const st = subscriptionStatus(periods(1, opts), {}, opts);
    add('sub-group-id-lone-surrogate', 'a status payload whose subGroupId holds a lone surrogate (not well-formed text)',
      ar(subGroupStatusPayload(st, { subGroupId: 'gem_club\ud800' }, opts)), { verdict: 'invalid-payload' });
  }
  {
    const st = subscriptionStatus(periods(1, opts), { renewalInfo: 'auto-renew on' }, opts);
    add('renewal-info-not-object', 'renewalInfo as a string', ar(subGroupStatusPayload(st, {}, opts)), { verdict: 'invalid-payload' });
  }
  {
    const st = subscriptionStatus(periods(1, opts), {}, opts);
    const earlier = subscriptionStatus(periods(1, opts, { productId: 'gem_club_yearly' }), { status: '2', expiresTime: 'soon' }, opts);
    add('history-entry-malformed', 'a historySubscriptionStatusList entry whose expiresTime is a string: the payload is judged whole',
      ar(subGroupStatusPayload(st, { historySubscriptionStatusList: [earlier] }, opts)), { verdict: 'invalid-payload' });
  }

  // ---- truncated / mis-shaped purchaseData ----
  {
    const st = subscriptionStatus(periods(1, opts), {}, opts);
    const jws = pki.signJws(subGroupStatusPayload(st, {}, opts));
    add('truncated-status-no-signature', 'the status JWS cut before its signature ("header.payload.")',
      JSON.stringify({ type: 2, jwsSubscriptionStatus: jws.slice(0, jws.lastIndexOf('.') + 1) }), { verdict: 'malformed' });
    add('truncated-status-two-parts', 'the status JWS cut inside its payload',
      JSON.stringify({ type: 2, jwsSubscriptionStatus: jws.slice(0, jws.indexOf('.') + 20) }), { verdict: 'malformed' });
    add('truncated-status-signature', 'the status JWS missing the last 2 characters of its signature (63 bytes)',
      JSON.stringify({ type: 2, jwsSubscriptionStatus: jws.slice(0, -2) }), { verdict: 'bad-signature' });
    const pd = JSON.stringify({ type: 2, jwsSubscriptionStatus: jws });
    add('truncated-purchase-data', 'the purchaseData JSON text cut in half', pd.slice(0, Math.floor(pd.length / 2)),
      { verdict: 'malformed-purchase-data' });
    add('auto-renewable-without-status', 'type 2 carrying only a jwsPurchaseOrder',
      JSON.stringify({ type: 2, jwsPurchaseOrder: pki.signJws(periods(1, opts)[0]!) }), { verdict: 'malformed-purchase-data' });
    add('nonrenewable-with-status', 'type 3 carrying only a jwsSubscriptionStatus', JSON.stringify({ type: 3, jwsSubscriptionStatus: jws }),
      { verdict: 'malformed-purchase-data' });
    add('status-not-a-string', 'jwsSubscriptionStatus is an object', JSON.stringify({ type: 2, jwsSubscriptionStatus: { jws } }),
      { verdict: 'malformed-purchase-data' });
  }
  return out;
}
