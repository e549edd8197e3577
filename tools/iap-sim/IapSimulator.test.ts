// The IAP Kit simulator behaves as IAP Kit is documented: signatures, payloads, ownership rules, queries and
// paging, finish semantics, errors (including lost results), refunds, throttling, environment, persistence.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import { BusinessError } from '../node-kits/BasicServicesKit';
import { TestPki } from '../testing/TestPki';
import { DEMO_SUBSCRIPTION, DEMO_CATALOG } from './Catalog';
import { AuditEntry, FORGERY_KINDS, IapSimulator, SimulatorOptions, sharedTestPki } from './IapSimulator';
import {
  IAPErrorCode,
  ProductType,
  PurchaseData,
  PurchaseOrderPayload,
  PurchaseQueryType,
  SubGroupStatusPayload,
  WindowScreenMode,
} from './IapTypes';
import { checkJws, decodeJws } from './JwsInspector';

const CTX = {};
let pki: TestPki;

before(async () => {
  pki = await sharedTestPki();
});

class ManualClock {
  constructor(public t = Date.UTC(2025, 5, 1, 12, 0, 0)) {}
  now(): number {
    return this.t;
  }
}

function sim(options: SimulatorOptions = {}): IapSimulator {
  return new IapSimulator(pki, { seed: 7, pageSize: 2, ...options });
}

function parse(purchaseData: string): PurchaseData {
  return JSON.parse(purchaseData) as PurchaseData;
}

/** Verifies the JWS inside purchaseData against the pinned test root and returns its payload. */
function verified<T = PurchaseOrderPayload>(purchaseData: string): T {
  const data = parse(purchaseData);
  const jws = data.jwsPurchaseOrder ?? data.jwsSubscriptionStatus;
  assert.ok(jws, 'purchaseData carries a JWS');
  const check = checkJws<T>(jws, pki.rootDer);
  assert.ok(check.ok, check.ok ? '' : `JWS rejected: ${check.reason} ${check.detail}`);
  return check.payload;
}

async function rejectsWith(p: Promise<unknown>, code: number): Promise<BusinessError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof BusinessError, `a BusinessError, got ${String(e)}`);
    assert.equal(e.code, code, `code ${e.code} (${e.message}), expected ${code}`);
    return e;
  }
  assert.fail(`expected rejection with ${code}`);
}

async function buy(s: IapSimulator, productId: string, quantity?: number, developerPayload?: string): Promise<PurchaseOrderPayload> {
  const def = DEMO_CATALOG.find((p) => p.id === productId);
  assert.ok(def);
  const r = await s.createPurchase(CTX, { productId, productType: def.type, quantity, developerPayload });
  return verified(r.purchaseData);
}

async function finish(s: IapSimulator, p: PurchaseOrderPayload): Promise<void> {
  await s.finishPurchase(CTX, { productType: Number(p.productType), purchaseToken: p.purchaseToken, purchaseOrderId: p.purchaseOrderId });
}

async function queryAll(s: IapSimulator, productType: ProductType, queryType: PurchaseQueryType): Promise<PurchaseOrderPayload[]> {
  const out: PurchaseOrderPayload[] = [];
  let token: string | undefined;
  do {
    const r = await s.queryPurchases(CTX, { productType, queryType, continuationToken: token });
    out.push(...r.purchaseDataList.map((d) => verified(d)));
    token = r.continuationToken;
  } while (token !== undefined);
  return out;
}

describe('createPurchase', () => {
  test('returns {"type","jwsPurchaseOrder"} with an ES256 JWS that chains to the pinned root and carries the IAP OID', async () => {
    const s = sim();
    const r = await s.createPurchase(CTX, { productId: 'gems_100', productType: ProductType.CONSUMABLE });
    assert.deepEqual(Object.keys(JSON.parse(r.purchaseData) as object), ['type', 'jwsPurchaseOrder']);
    const data = parse(r.purchaseData);
    assert.equal(data.type, ProductType.CONSUMABLE);
    const { header } = decodeJws(data.jwsPurchaseOrder ?? '');
    assert.equal(header.alg, 'ES256');
    assert.equal(header.typ, 'JWT');
    assert.equal((header.x5c as string[]).length, 3);
    assert.equal((header.x5c as string[])[2], pki.rootDer.toString('base64'));
    verified(r.purchaseData);
  });

  test('the payload is complete: ids, string productType, environment, app, price in fen, finishStatus "2"', async () => {
    const clock = new ManualClock();
    const s = sim({ clock, applicationId: '1234567890' });
    const p = await buy(s, 'gems_550', 3, 'user-42');
    assert.match(p.purchaseOrderId, /^\d{20}[0-9a-f]{6}$/);
    assert.ok(p.purchaseToken.length > 200 && p.purchaseToken.length <= 256, `token length ${p.purchaseToken.length}`);
    assert.equal(p.productType, '0');
    assert.equal(p.environment, 'SANDBOX');
    assert.equal(p.applicationId, '1234567890');
    assert.equal(p.productId, 'gems_550');
    assert.equal(p.quantity, 3);
    assert.equal(p.price, 3000 * 3);
    assert.equal(p.currency, 'CNY');
    assert.equal(p.countryCode, 'CN');
    assert.equal(p.purchaseTime, clock.t);
    assert.equal(p.signedTime, clock.t);
    assert.equal(p.developerPayload, 'user-42');
    assert.equal(p.finishStatus, '2');
    assert.equal(p.needFinish, true);
    assert.equal(p.purchaseOrderRevocationReasonCode, undefined);
  });

  test('ids and tokens are unique per order and reproducible from the seed', async () => {
    const a = sim({ seed: 99, clock: new ManualClock() });
    const b = sim({ seed: 99, clock: new ManualClock() });
    const pa = [await buy(a, 'gems_100'), await buy(a, 'remove_ads')];
    const pb = [await buy(b, 'gems_100'), await buy(b, 'remove_ads')];
    assert.notEqual(pa[0].purchaseOrderId, pa[1].purchaseOrderId);
    assert.notEqual(pa[0].purchaseToken, pa[1].purchaseToken);
    assert.deepEqual(pa.map((p) => p.purchaseToken), pb.map((p) => p.purchaseToken));
  });

  test('a consumable with an unfinished order gives PRODUCT_OWNED until finished, then can be bought again', async () => {
    const s = sim();
    const first = await buy(s, 'gems_100');
    await rejectsWith(buy(s, 'gems_100'), IAPErrorCode.PRODUCT_OWNED);
    await buy(s, 'gems_550'); // another product is not blocked
    await finish(s, first);
    const second = await buy(s, 'gems_100');
    assert.notEqual(second.purchaseOrderId, first.purchaseOrderId);
  });

  test('a non-renewable behaves like a consumable: blocked while unfinished', async () => {
    const s = sim();
    const pass = await buy(s, 'season_pass');
    assert.equal(pass.productType, '3');
    await rejectsWith(buy(s, 'season_pass'), IAPErrorCode.PRODUCT_OWNED);
    await finish(s, pass);
    await buy(s, 'season_pass');
  });

  test('a non-consumable stays owned after finish (PRODUCT_OWNED) until refunded', async () => {
    const s = sim();
    const ads = await buy(s, 'remove_ads');
    await rejectsWith(buy(s, 'remove_ads'), IAPErrorCode.PRODUCT_OWNED);
    await finish(s, ads);
    await rejectsWith(buy(s, 'remove_ads'), IAPErrorCode.PRODUCT_OWNED);
    s.refund(ads.purchaseOrderId);
    await buy(s, 'remove_ads');
  });

  test('the sandbox quirk (opt-in): a finished non-consumable can be re-bought and is no longer listed', async () => {
    const s = sim({ sandboxNonConsumableQuirk: true });
    const ads = await buy(s, 'remove_ads');
    await finish(s, ads);
    assert.equal((await queryAll(s, ProductType.NONCONSUMABLE, PurchaseQueryType.CURRENT_ENTITLEMENT)).length, 0);
    await buy(s, 'remove_ads');
  });

  test('USER_CANCELED when the user cancels: no order exists', async () => {
    const s = sim();
    s.scriptNextPurchase('cancel');
    await rejectsWith(buy(s, 'gems_100'), IAPErrorCode.USER_CANCELED);
    assert.equal(s.orders().length, 0);
  });

  test('invalid parameters give 401; unknown product or wrong type gives INVALID_PRODUCT', async () => {
    const s = sim();
    await rejectsWith(s.createPurchase(CTX, { productId: 'gems_100', productType: ProductType.CONSUMABLE, quantity: 11 }), 401);
    await rejectsWith(s.createPurchase(CTX, { productId: 'gems_100', productType: 9 as ProductType }), 401);
    await rejectsWith(s.createPurchase(CTX, { productId: '', productType: ProductType.CONSUMABLE }), 401);
    await rejectsWith(s.createPurchase(CTX, { productId: 'remove_ads', productType: ProductType.NONCONSUMABLE, quantity: 2 }), 401);
    await rejectsWith(s.createPurchase(CTX, { productId: 'nope', productType: ProductType.CONSUMABLE }), IAPErrorCode.INVALID_PRODUCT);
    await rejectsWith(s.createPurchase(CTX, { productId: 'remove_ads', productType: ProductType.CONSUMABLE }), IAPErrorCode.INVALID_PRODUCT);
    await rejectsWith(s.createPurchase(undefined as unknown as object, { productId: 'gems_100', productType: 0 }), 401);
    assert.equal(s.orders().length, 0);
  });

  test('a developerPayload over 256 characters is silently truncated', async () => {
    const s = sim();
    const p = await buy(s, 'gems_100', 1, 'x'.repeat(300));
    assert.equal(p.developerPayload, 'x'.repeat(256));
  });

  test('an offline product cannot be bought (SYSTEM_ERROR "product status must 0(online)")', async () => {
    const s = sim({ catalog: [{ id: 'old', type: ProductType.CONSUMABLE, name: 'Old', description: 'Old', priceFen: 100, status: 3 }] });
    const err = await rejectsWith(s.createPurchase(CTX, { productId: 'old', productType: ProductType.CONSUMABLE }), IAPErrorCode.SYSTEM_ERROR);
    assert.match(err.message, /product status must 0\(online\)/);
  });
});

describe('finishPurchase', () => {
  test('finishStatus turns "1" in later answers; a second finish gives PURCHASE_FINISHED', async () => {
    const s = sim();
    const p = await buy(s, 'gems_100');
    await finish(s, p);
    await rejectsWith(finish(s, p), IAPErrorCode.PURCHASE_FINISHED);
    const all = await queryAll(s, ProductType.CONSUMABLE, PurchaseQueryType.ALL);
    assert.equal(all.length, 1);
    assert.equal(all[0].finishStatus, '1');
  });

  test('an unpaid (pending) order has no purchaseTime and gives PURCHASE_NOT_PAID until paid', async () => {
    const s = sim();
    s.scriptNextPurchase('pending');
    const p = await buy(s, 'gems_1200');
    assert.equal(p.purchaseTime, undefined);
    assert.equal(p.finishStatus, '2');
    await rejectsWith(finish(s, p), IAPErrorCode.PURCHASE_NOT_PAID);
    await rejectsWith(buy(s, 'gems_1200'), IAPErrorCode.PRODUCT_OWNED);
    s.completePayment(p.purchaseOrderId);
    const [again] = await queryAll(s, ProductType.CONSUMABLE, PurchaseQueryType.UNFINISHED);
    assert.equal(typeof again.purchaseTime, 'number');
    await finish(s, again);
  });

  test('a failed pending payment voids the order: it leaves every query and no longer blocks', async () => {
    const s = sim();
    s.scriptNextPurchase('pending');
    const p = await buy(s, 'gems_1200');
    s.failPayment(p.purchaseOrderId);
    assert.equal((await queryAll(s, ProductType.CONSUMABLE, PurchaseQueryType.ALL)).length, 0);
    await buy(s, 'gems_1200');
  });

  test('a wrong token, type or unknown order is refused with SYSTEM_ERROR and changes nothing', async () => {
    const s = sim();
    const p = await buy(s, 'gems_100');
    await rejectsWith(s.finishPurchase(CTX, { productType: 0, purchaseToken: 'x'.repeat(230), purchaseOrderId: p.purchaseOrderId }), IAPErrorCode.SYSTEM_ERROR);
    await rejectsWith(s.finishPurchase(CTX, { productType: 1, purchaseToken: p.purchaseToken, purchaseOrderId: p.purchaseOrderId }), IAPErrorCode.SYSTEM_ERROR);
    await rejectsWith(s.finishPurchase(CTX, { productType: 0, purchaseToken: p.purchaseToken, purchaseOrderId: 'nope' }), IAPErrorCode.SYSTEM_ERROR);
    await rejectsWith(s.finishPurchase(CTX, { productType: 0, purchaseToken: '', purchaseOrderId: p.purchaseOrderId }), 401);
    assert.equal(s.unfinishedOrders().length, 1);
  });
});

describe('queryPurchases', () => {
  test('UNFINISHED lists bought-not-finished orders of the asked type; the default queryType is UNFINISHED', async () => {
    const s = sim();
    const g = await buy(s, 'gems_100');
    const a = await buy(s, 'remove_ads');
    await buy(s, 'season_pass');
    await finish(s, g);
    assert.deepEqual((await queryAll(s, ProductType.CONSUMABLE, PurchaseQueryType.UNFINISHED)).map((p) => p.productId), []);
    assert.deepEqual((await queryAll(s, ProductType.NONCONSUMABLE, PurchaseQueryType.UNFINISHED)).map((p) => p.purchaseOrderId), [a.purchaseOrderId]);
    assert.deepEqual((await queryAll(s, ProductType.NONRENEWABLE, PurchaseQueryType.UNFINISHED)).map((p) => p.productId), ['season_pass']);
    const dflt = await s.queryPurchases(CTX, { productType: ProductType.NONCONSUMABLE });
    assert.equal(dflt.purchaseDataList.length, 1);
  });

  test('CURRENT_ENTITLEMENT lists owned non-consumables (finished or not), never consumables', async () => {
    const s = sim();
    const ads = await buy(s, 'remove_ads');
    const themes = await buy(s, 'premium_themes');
    await finish(s, ads);
    await buy(s, 'gems_100');
    const owned = await queryAll(s, ProductType.NONCONSUMABLE, PurchaseQueryType.CURRENT_ENTITLEMENT);
    assert.deepEqual(owned.map((p) => p.productId).sort(), ['premium_themes', 'remove_ads']);
    assert.deepEqual(await queryAll(s, ProductType.CONSUMABLE, PurchaseQueryType.CURRENT_ENTITLEMENT), []);
    s.refund(themes.purchaseOrderId);
    const after = await queryAll(s, ProductType.NONCONSUMABLE, PurchaseQueryType.CURRENT_ENTITLEMENT);
    assert.deepEqual(after.map((p) => p.productId), ['remove_ads']);
  });

  test('ALL is the history: finished, unfinished and refunded orders', async () => {
    const s = sim();
    const a = await buy(s, 'gems_100');
    await finish(s, a);
    const b = await buy(s, 'gems_100');
    s.refund(b.purchaseOrderId);
    const all = await queryAll(s, ProductType.CONSUMABLE, PurchaseQueryType.ALL);
    assert.deepEqual(all.map((p) => p.purchaseOrderId), [a.purchaseOrderId, b.purchaseOrderId]);
    assert.equal(all[1].purchaseOrderRevocationReasonCode, '1');
  });

  test('pages of pageSize with a continuationToken until none comes back; every order exactly once', async () => {
    const s = sim({ pageSize: 2 });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const p = await buy(s, 'gems_100');
      ids.push(p.purchaseOrderId);
      await finish(s, p);
    }
    const first = await s.queryPurchases(CTX, { productType: ProductType.CONSUMABLE, queryType: PurchaseQueryType.ALL });
    assert.equal(first.purchaseDataList.length, 2);
    assert.ok(first.continuationToken);
    const all = await queryAll(s, ProductType.CONSUMABLE, PurchaseQueryType.ALL);
    assert.deepEqual(all.map((p) => p.purchaseOrderId), ids);
    const calls = s.calls('queryPurchases').slice(-3);
    assert.deepEqual(calls.map((c) => [c.returned, c.morePages, c.facts.continued]), [[2, true, false], [2, true, true], [1, false, true]]);
  });

  test('finishing orders between pages never makes a later page skip one (keyset paging)', async () => {
    const s = sim({ pageSize: 2 });
    for (const id of ['gems_100', 'gems_550', 'gems_1200', 'season_pass']) s.purchaseOutsideApp(id, {});
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const r = await s.queryPurchases(CTX, { productType: ProductType.CONSUMABLE, queryType: PurchaseQueryType.UNFINISHED, continuationToken: token });
      for (const d of r.purchaseDataList) {
        const p = verified(d);
        seen.push(p.productId);
        await finish(s, p);
      }
      token = r.continuationToken;
    } while (token);
    assert.deepEqual(seen, ['gems_100', 'gems_550', 'gems_1200']);
  });

  test('a continuationToken from another query, or garbage, is a parameter error', async () => {
    const s = sim({ pageSize: 1 });
    await buy(s, 'gems_100');
    await buy(s, 'gems_550');
    const r = await s.queryPurchases(CTX, { productType: ProductType.CONSUMABLE, queryType: PurchaseQueryType.ALL });
    assert.ok(r.continuationToken);
    await rejectsWith(s.queryPurchases(CTX, { productType: ProductType.NONCONSUMABLE, queryType: PurchaseQueryType.ALL, continuationToken: r.continuationToken }), 401);
    await rejectsWith(s.queryPurchases(CTX, { productType: ProductType.CONSUMABLE, queryType: PurchaseQueryType.UNFINISHED, continuationToken: r.continuationToken }), 401);
    await rejectsWith(s.queryPurchases(CTX, { productType: ProductType.CONSUMABLE, queryType: PurchaseQueryType.ALL, continuationToken: 'garbage' }), 401);
  });

  test('signedTime is the time of the answer, purchaseTime stays', async () => {
    const clock = new ManualClock();
    const s = sim({ clock });
    const p = await buy(s, 'gems_100');
    clock.t += 60_000;
    const [again] = await queryAll(s, ProductType.CONSUMABLE, PurchaseQueryType.UNFINISHED);
    assert.equal(again.purchaseTime, p.purchaseTime);
    assert.equal(again.signedTime, p.signedTime + 60_000);
  });
});

describe('refunds', () => {
  test('later JWS carry purchaseOrderRevocationReasonCode and revocationTime; an unfinished refunded order stays UNFINISHED', async () => {
    const clock = new ManualClock();
    const s = sim({ clock });
    const p = await buy(s, 'gems_100');
    clock.t += 1000;
    s.refund(p.purchaseOrderId, '0');
    const [u] = await queryAll(s, ProductType.CONSUMABLE, PurchaseQueryType.UNFINISHED);
    assert.equal(u.purchaseOrderRevocationReasonCode, '0');
    assert.equal(u.revocationTime, clock.t);
    await buy(s, 'gems_100'); // a refunded order does not block
    await finish(s, u);
  });

  test('createRefundRequest revokes a paid order; again gives PURCHASE_ALREADY_REFUNDED; unpaid gives REFUND_NOT_ALLOWED', async () => {
    const s = sim();
    const p = await buy(s, 'premium_themes');
    await s.createRefundRequest(CTX, p.purchaseOrderId);
    assert.equal(s.order(p.purchaseOrderId)?.revoked, true);
    await rejectsWith(s.createRefundRequest(CTX, p.purchaseOrderId), IAPErrorCode.PURCHASE_ALREADY_REFUNDED);
    s.scriptNextPurchase('pending');
    const q = await buy(s, 'gems_100');
    await rejectsWith(s.createRefundRequest(CTX, q.purchaseOrderId), IAPErrorCode.REFUND_NOT_ALLOWED);
    s.setApproveRefundRequests(false);
    const r = await buy(s, 'remove_ads');
    await rejectsWith(s.createRefundRequest(CTX, r.purchaseOrderId), IAPErrorCode.USER_CANCELED);
  });
});

describe('injected errors and lost results', () => {
  test('failNext fails that many calls without effect, then calls succeed again', async () => {
    const s = sim();
    s.failNext('createPurchase', IAPErrorCode.NETWORK_ERROR, 2);
    await rejectsWith(buy(s, 'gems_100'), IAPErrorCode.NETWORK_ERROR);
    await rejectsWith(buy(s, 'gems_100'), IAPErrorCode.NETWORK_ERROR);
    assert.equal(s.orders().length, 0);
    await buy(s, 'gems_100');
    assert.equal(s.pendingFaults, 0);
  });

  test('the cruel createPurchase: the payment goes through, the app sees NETWORK_ERROR, the order waits in UNFINISHED', async () => {
    const s = sim();
    s.failNextAfterApplying('createPurchase', IAPErrorCode.NETWORK_ERROR);
    await rejectsWith(buy(s, 'gems_550', 2), IAPErrorCode.NETWORK_ERROR);
    const [order] = s.unfinishedOrders();
    assert.equal(order.productId, 'gems_550');
    assert.equal(order.quantity, 2);
    const call = s.calls('createPurchase')[0];
    assert.deepEqual([call.applied, call.delivered, call.code], [true, false, IAPErrorCode.NETWORK_ERROR]);
    await rejectsWith(buy(s, 'gems_550'), IAPErrorCode.PRODUCT_OWNED);
    const [listed] = await queryAll(s, ProductType.CONSUMABLE, PurchaseQueryType.UNFINISHED);
    assert.equal(listed.purchaseOrderId, order.purchaseOrderId);
  });

  test('the cruel finishPurchase: recorded, the app sees SYSTEM_ERROR, the retry gets PURCHASE_FINISHED', async () => {
    const s = sim();
    const p = await buy(s, 'gems_100');
    s.failNextAfterApplying('finishPurchase', IAPErrorCode.SYSTEM_ERROR);
    await rejectsWith(finish(s, p), IAPErrorCode.SYSTEM_ERROR);
    await rejectsWith(finish(s, p), IAPErrorCode.PURCHASE_FINISHED);
  });

  test('rules can target calls by facts and skip the first matches', async () => {
    const s = sim();
    s.injectError({ fn: 'queryPurchases', code: IAPErrorCode.SYSTEM_ERROR, where: { productType: ProductType.NONRENEWABLE }, skip: 1 });
    await s.queryPurchases(CTX, { productType: ProductType.CONSUMABLE, queryType: PurchaseQueryType.UNFINISHED });
    await s.queryPurchases(CTX, { productType: ProductType.NONRENEWABLE, queryType: PurchaseQueryType.UNFINISHED });
    await rejectsWith(s.queryPurchases(CTX, { productType: ProductType.NONRENEWABLE, queryType: PurchaseQueryType.UNFINISHED }), IAPErrorCode.SYSTEM_ERROR);
    await s.queryPurchases(CTX, { productType: ProductType.NONRENEWABLE, queryType: PurchaseQueryType.UNFINISHED });
  });

  test('FREQUENT_CALLS when a function is called again within the interval; follow-up pages are exempt', async () => {
    const clock = new ManualClock();
    const s = sim({ clock, minCallIntervalMs: 5000, pageSize: 1 });
    s.purchaseOutsideApp('gems_100', {});
    s.purchaseOutsideApp('gems_550', {});
    const r = await s.queryPurchases(CTX, { productType: ProductType.CONSUMABLE, queryType: PurchaseQueryType.UNFINISHED });
    await s.queryPurchases(CTX, { productType: ProductType.CONSUMABLE, queryType: PurchaseQueryType.UNFINISHED, continuationToken: r.continuationToken });
    clock.t += 4999;
    await rejectsWith(s.queryPurchases(CTX, { productType: ProductType.NONCONSUMABLE, queryType: PurchaseQueryType.UNFINISHED }), IAPErrorCode.FREQUENT_CALLS);
    await s.queryEnvironmentStatus(CTX); // other functions have their own interval
    clock.t += 1;
    await s.queryPurchases(CTX, { productType: ProductType.NONCONSUMABLE, queryType: PurchaseQueryType.UNFINISHED });
  });

  test('latency delays the answer', async () => {
    const s = sim({ latencyMs: { queryEnvironmentStatus: 40 } });
    const t0 = Date.now();
    await s.queryEnvironmentStatus(CTX);
    assert.ok(Date.now() - t0 >= 35, `took ${Date.now() - t0} ms`);
  });
});

describe('environment and account', () => {
  test('queryEnvironmentStatus: signed out → ACCOUNT_NOT_LOGGED_IN; unsupported region → ACCOUNT_TERRITORY_NOT_SUPPORTED', async () => {
    const s = sim();
    await s.queryEnvironmentStatus(CTX);
    s.setAccount({ signedIn: false });
    await rejectsWith(s.queryEnvironmentStatus(CTX), IAPErrorCode.ACCOUNT_NOT_LOGGED_IN);
    await rejectsWith(s.queryPurchases(CTX, { productType: 0, queryType: 1 }), IAPErrorCode.ACCOUNT_NOT_LOGGED_IN);
    s.setAccount({ signedIn: true, countryCode: 'HK' });
    await rejectsWith(s.queryEnvironmentStatus(CTX), IAPErrorCode.ACCOUNT_TERRITORY_NOT_SUPPORTED);
    await rejectsWith(buy(s, 'gems_100'), IAPErrorCode.ACCOUNT_TERRITORY_NOT_SUPPORTED);
    s.setApp({ authorized: false });
    await rejectsWith(s.queryEnvironmentStatus(CTX), IAPErrorCode.APP_NOT_AUTHORIZED);
  });

  test('isSandboxActivated: true for a debug-signed app and a test account, else says why; environment follows', async () => {
    const s = sim();
    assert.equal(await s.isSandboxActivated(CTX), true);
    assert.equal(s.environment, 'SANDBOX');
    s.setApp({ debugSigned: false });
    await rejectsWith(s.isSandboxActivated(CTX), IAPErrorCode.APP_NOT_DEBUG);
    s.setApp({ debugSigned: true });
    s.setAccount({ testAccount: false });
    await rejectsWith(s.isSandboxActivated(CTX), IAPErrorCode.ACCOUNT_NOT_TEST);
    assert.equal((await buy(s, 'gems_100')).environment, 'NORMAL');
  });

  test('queryProducts returns the asked products of the asked type with prices; >200 ids is a parameter error', async () => {
    const s = sim();
    const products = await s.queryProducts(CTX, { productType: ProductType.CONSUMABLE, productIds: ['gems_100', 'remove_ads', 'unknown'] });
    assert.deepEqual(products.map((p) => p.id), ['gems_100']);
    assert.equal(products[0].microPrice, 6_000_000);
    assert.equal(products[0].localPrice, '¥6.00');
    assert.equal(products[0].currency, 'CNY');
    await rejectsWith(s.queryProducts(CTX, { productType: 0, productIds: new Array<string>(201).fill('x') }), 401);
    await s.showManagedSubscriptions(CTX, { windowScreenMode: WindowScreenMode.DIALOG_BOX });
  });
});

describe('auto-renewable subscriptions', () => {
  const catalog = [...DEMO_CATALOG, DEMO_SUBSCRIPTION];

  test('a purchase returns jwsSubscriptionStatus; the group is blocked while unfinished, then owned while active', async () => {
    const clock = new ManualClock();
    const s = sim({ clock, catalog });
    const r = await s.createPurchase(CTX, { productId: 'vip_monthly', productType: ProductType.AUTORENEWABLE });
    const data = parse(r.purchaseData);
    assert.equal(data.type, ProductType.AUTORENEWABLE);
    const status = verified<SubGroupStatusPayload>(r.purchaseData);
    const last = status.lastSubscriptionStatus;
    assert.equal(last?.status, '1');
    assert.equal(last?.lastPurchaseOrder?.finishStatus, '2');
    const order = last?.lastPurchaseOrder;
    assert.ok(order);
    const err = await rejectsWith(s.createPurchase(CTX, { productId: 'vip_monthly', productType: 2 }), IAPErrorCode.SYSTEM_ERROR);
    assert.match(err.message, /IAP_RESPONSE_RESULT_NOT_SHIP_CONFIRM/);
    // A renewal cannot be charged while the order is unfinished.
    const sub = s.subscriptionList()[0];
    assert.equal(s.renewSubscription(sub.subscriptionId), undefined);
    assert.equal(s.subscriptionList()[0].expirationIntent, '7');
    await s.finishPurchase(CTX, { productType: 2, purchaseToken: order.purchaseToken, purchaseOrderId: order.purchaseOrderId });
    await rejectsWith(s.createPurchase(CTX, { productId: 'vip_monthly', productType: 2 }), IAPErrorCode.PRODUCT_OWNED);
    const active = await s.queryPurchases(CTX, { productType: 2, queryType: PurchaseQueryType.CURRENT_ENTITLEMENT });
    assert.equal(active.purchaseDataList.length, 1);
    // The blocked renewal turned auto-renew off; the user turns it on again: the period's end charges a renewal
    // (a new, unfinished order of the same token).
    s.resumeSubscription(sub.subscriptionId);
    clock.t += 31 * 86_400_000;
    const renewed = await s.queryPurchases(CTX, { productType: 2, queryType: PurchaseQueryType.UNFINISHED });
    assert.equal(renewed.purchaseDataList.length, 1);
    const renewal = verified<SubGroupStatusPayload>(renewed.purchaseDataList[0]).lastSubscriptionStatus?.lastPurchaseOrder;
    assert.ok(renewal && renewal.purchaseOrderId !== order.purchaseOrderId && renewal.purchaseToken === order.purchaseToken);
    await s.finishPurchase(CTX, { productType: 2, purchaseToken: renewal.purchaseToken, purchaseOrderId: renewal.purchaseOrderId });
    s.cancelSubscription(sub.subscriptionId);
    clock.t += 31 * 86_400_000;
    assert.equal((await s.queryPurchases(CTX, { productType: 2, queryType: PurchaseQueryType.CURRENT_ENTITLEMENT })).purchaseDataList.length, 0);
  });

  const statusOf = (purchaseData: string) => {
    const last = verified<SubGroupStatusPayload>(purchaseData).lastSubscriptionStatus;
    assert.ok(last);
    return last;
  };
  const finishAll = async (s: IapSimulator): Promise<number> => {
    let n = 0;
    for (const o of s.unfinishedOrders()) {
      await s.finishPurchase(CTX, { productType: o.productType, purchaseToken: o.purchaseToken, purchaseOrderId: o.purchaseOrderId });
      n++;
    }
    return n;
  };
  const yearly = {
    ...DEMO_SUBSCRIPTION,
    id: 'vip_yearly',
    name: 'VIP Yearly',
    priceFen: 15000,
    subscription: { ...DEMO_SUBSCRIPTION.subscription!, periodUnit: 3, groupLevel: 0 },
  };

  test('time machine (10 s = 1 day): a monthly renews every 300 s, each renewal a new order dated at the period end', async () => {
    const clock = new ManualClock();
    const s = sim({ clock, catalog, subscriptionDayMs: 10_000 });
    const start = clock.t;
    const r = await s.createPurchase(CTX, { productId: 'vip_monthly', productType: 2 });
    assert.equal(statusOf(r.purchaseData).expiresTime, start + 300_000);
    assert.equal(statusOf(r.purchaseData).lastPurchaseOrder?.duration, 'P1M');
    await finishAll(s);
    for (let period = 1; period <= 3; period++) {
      clock.t = start + period * 300_000;
      const page = await s.queryPurchases(CTX, { productType: 2, queryType: PurchaseQueryType.UNFINISHED });
      const last = statusOf(page.purchaseDataList[0]);
      assert.equal(last.status, '1');
      assert.equal(last.expiresTime, start + (period + 1) * 300_000);
      assert.equal(last.lastPurchaseOrder?.purchaseTime, start + period * 300_000);
      assert.equal(last.recentPurchaseOrderList?.length, period + 1);
      assert.equal(last.renewalInfo?.renewalTime, last.expiresTime);
      assert.equal(await finishAll(s), 1);
    }
  });

  test('an unfinished period blocks the renewal: expirationIntent "7", and the subscription lapses', async () => {
    const clock = new ManualClock();
    const s = sim({ clock, catalog, subscriptionDayMs: 10_000 });
    const start = clock.t;
    await s.createPurchase(CTX, { productId: 'vip_monthly', productType: 2 });
    clock.t = start + 300_000;
    const page = await s.queryPurchases(CTX, { productType: 2, queryType: PurchaseQueryType.UNFINISHED });
    const last = statusOf(page.purchaseDataList[0]);
    assert.equal(last.status, '2');
    assert.equal(last.renewalInfo?.expirationIntent, '7');
    assert.equal(last.renewalInfo?.autoRenewStatusCode, '0');
    assert.equal(last.recentPurchaseOrderList?.length, 1, 'no renewal was charged');
    assert.equal(s.audit().filter((e) => e.fn === 'renewalBlocked').length, 1);
    // Still blocked for a new purchase until the old order is finished.
    await rejectsWith(s.createPurchase(CTX, { productId: 'vip_monthly', productType: 2 }), IAPErrorCode.SYSTEM_ERROR);
    await finishAll(s);
    const again = await s.createPurchase(CTX, { productId: 'vip_monthly', productType: 2 });
    assert.notEqual(statusOf(again.purchaseData).subGroupGenerationId, last.subGroupGenerationId, 'a new generation');
  });

  test('billing retry: a failed charge is status "3" with hasInBillingRetryPeriod; fixing it renews from now', async () => {
    const clock = new ManualClock();
    const s = sim({ clock, catalog, subscriptionDayMs: 10_000 });
    const start = clock.t;
    await s.createPurchase(CTX, { productId: 'vip_monthly', productType: 2 });
    await finishAll(s);
    const sub = s.subscriptionList()[0];
    s.setChargeFails(sub.subscriptionId, true);
    clock.t = start + 310_000;
    const entitled = await s.queryPurchases(CTX, { productType: 2, queryType: PurchaseQueryType.CURRENT_ENTITLEMENT });
    const retry = statusOf(entitled.purchaseDataList[0]);
    assert.equal(retry.status, '3');
    assert.equal(retry.renewalInfo?.hasInBillingRetryPeriod, true);
    assert.equal(retry.renewalInfo?.expirationIntent, '4');
    const recovered = s.setChargeFails(sub.subscriptionId, false);
    assert.ok(recovered && !recovered.finished);
    const page = await s.queryPurchases(CTX, { productType: 2, queryType: PurchaseQueryType.UNFINISHED });
    const back = statusOf(page.purchaseDataList[0]);
    assert.equal(back.status, '1');
    assert.equal(back.expiresTime, clock.t + 300_000);
    s.setChargeFails(sub.subscriptionId, true);
    await finishAll(s);
    clock.t += 300_000;
    s.endBillingRetry(sub.subscriptionId);
    const ended = await s.queryPurchases(CTX, { productType: 2, queryType: PurchaseQueryType.CURRENT_ENTITLEMENT });
    assert.equal(ended.purchaseDataList.length, 0);
  });

  test('an upgrade within the group takes effect at once, in the same generation; the old one goes to the history', async () => {
    const clock = new ManualClock();
    const s = sim({ clock, catalog: [...catalog, yearly], subscriptionDayMs: 10_000 });
    const first = statusOf((await s.createPurchase(CTX, { productId: 'vip_monthly', productType: 2 })).purchaseData);
    // Blocked while the monthly period is unfinished.
    await rejectsWith(s.createPurchase(CTX, { productId: 'vip_yearly', productType: 2 }), IAPErrorCode.SYSTEM_ERROR);
    await finishAll(s);
    clock.t += 100_000;
    const up = await s.createPurchase(CTX, { productId: 'vip_yearly', productType: 2 });
    const payload = verified<SubGroupStatusPayload>(up.purchaseData);
    const last = payload.lastSubscriptionStatus;
    assert.equal(last?.subGroupGenerationId, first.subGroupGenerationId);
    assert.equal(last?.lastPurchaseOrder?.productId, 'vip_yearly');
    assert.equal(last?.expiresTime, clock.t + 3_650_000);
    assert.equal(payload.historySubscriptionStatusList?.length, 1);
    assert.equal(payload.historySubscriptionStatusList?.[0].status, '2');
    assert.equal(payload.historySubscriptionStatusList?.[0].expiresTime, clock.t);
    await rejectsWith(s.createPurchase(CTX, { productId: 'vip_yearly', productType: 2 }), IAPErrorCode.SYSTEM_ERROR);
    await finishAll(s);
    await rejectsWith(s.createPurchase(CTX, { productId: 'vip_yearly', productType: 2 }), IAPErrorCode.PRODUCT_OWNED);
  });

  test('a refund revokes the subscription (status "5"); the sandbox stops after 5 renewals', async () => {
    const clock = new ManualClock();
    const s = sim({ clock, catalog, subscriptionDayMs: 10_000, maxAutoRenewals: 5 });
    const start = clock.t;
    const bought = statusOf((await s.createPurchase(CTX, { productId: 'vip_monthly', productType: 2 })).purchaseData);
    await finishAll(s);
    for (let i = 1; i <= 7; i++) {
      clock.t = start + i * 300_000 + 1;
      await s.queryPurchases(CTX, { productType: 2, queryType: PurchaseQueryType.UNFINISHED });
      await finishAll(s);
    }
    const sub = s.subscriptionList()[0];
    assert.equal(sub.orderIds.length, 6, '6 periods in total');
    assert.equal(sub.expirationIntent, '1');
    const s2 = sim({ clock, catalog, subscriptionDayMs: 10_000 });
    await s2.createPurchase(CTX, { productId: 'vip_monthly', productType: 2 });
    await finishAll(s2);
    s2.refund(s2.subscriptionList()[0].orderIds[0]);
    const page = await s2.queryPurchases(CTX, { productType: 2, queryType: PurchaseQueryType.ALL });
    const revoked = statusOf(page.purchaseDataList[0]);
    assert.equal(revoked.status, '5');
    assert.ok(revoked.lastPurchaseOrder?.revocationTime);
    assert.ok(bought.purchaseToken.length > 0);
  });

  test('a refund of an earlier period revokes only that order: the subscription stays active and renews', async () => {
    const clock = new ManualClock();
    const s = sim({ clock, catalog, subscriptionDayMs: 10_000 });
    const start = clock.t;
    await s.createPurchase(CTX, { productId: 'vip_monthly', productType: 2 });
    await finishAll(s);
    clock.t = start + 300_000 + 1;
    await s.queryPurchases(CTX, { productType: 2, queryType: PurchaseQueryType.UNFINISHED });
    const sub = s.subscriptionList()[0];
    assert.equal(sub.orderIds.length, 2, 'renewed once');
    s.refund(sub.orderIds[0]);
    const page = await s.queryPurchases(CTX, { productType: 2, queryType: PurchaseQueryType.UNFINISHED });
    const status = statusOf(page.purchaseDataList[0]);
    assert.equal(status.status, '1', 'still active: the refunded order was not the latest period');
    assert.equal(status.lastPurchaseOrder?.purchaseOrderId, sub.orderIds[1]);
    assert.equal(status.lastPurchaseOrder?.revocationTime, undefined);
    assert.equal(s.subscriptionList()[0].revoked, false);
    await finishAll(s);
    clock.t = start + 600_000 + 1;
    await s.queryPurchases(CTX, { productType: 2, queryType: PurchaseQueryType.UNFINISHED });
    assert.equal(s.subscriptionList()[0].orderIds.length, 3, 'and renews again');
    // Refunding the latest period revokes the subscription.
    s.refund(s.subscriptionList()[0].orderIds[2]);
    const after = statusOf((await s.queryPurchases(CTX, { productType: 2, queryType: PurchaseQueryType.ALL })).purchaseDataList[0]);
    assert.equal(after.status, '5');
  });
});

describe('forged purchaseData', () => {
  const expected: Record<string, string> = {
    'foreign-pki': 'untrusted-chain',
    tampered: 'bad-signature',
    'missing-oid': 'missing-oid',
    'wrong-alg': 'unsupported-alg',
  };

  for (const kind of FORGERY_KINDS) {
    test(`${kind}: ${expected[kind] ? `fails the JWS check with ${expected[kind]}` : 'is genuinely signed but wrong in content'}`, async () => {
      const s = sim();
      const data = parse(await s.forgePurchaseData('gems_100', kind));
      const check = checkJws<PurchaseOrderPayload>(data.jwsPurchaseOrder ?? '', pki.rootDer);
      if (expected[kind]) {
        assert.equal(check.ok ? 'valid' : check.reason, expected[kind]);
      } else {
        assert.ok(check.ok);
        const p = check.payload;
        const wrong = p.applicationId !== s.applicationId || p.environment !== s.environment || !s.product(p.productId);
        assert.ok(wrong, `${kind} differs from a genuine order`);
      }
      assert.equal(s.orders().length, 0, 'no order exists for a forgery');
    });
  }

  test('planted and replaced results reach the app; finishing a forgery is refused', async () => {
    const s = sim();
    const forged = await s.forgePurchaseData('gems_100', 'foreign-pki');
    s.plantPurchaseData(ProductType.CONSUMABLE, forged);
    const q = await s.queryPurchases(CTX, { productType: 0, queryType: PurchaseQueryType.UNFINISHED });
    assert.deepEqual(q.purchaseDataList, [forged]);
    s.replaceNextPurchaseResult(forged);
    assert.equal((await s.createPurchase(CTX, { productId: 'gems_100', productType: 0 })).purchaseData, forged);
    const p = decodeJws<PurchaseOrderPayload>(parse(forged).jwsPurchaseOrder ?? '').payload;
    await rejectsWith(s.finishPurchase(CTX, { productType: 0, purchaseToken: p.purchaseToken, purchaseOrderId: p.purchaseOrderId }), IAPErrorCode.SYSTEM_ERROR);
  });
});

describe('audit log, observers and persistence', () => {
  test('every call is logged in order with its outcome; finish times are recorded per order', async () => {
    const clock = new ManualClock();
    const s = sim({ clock });
    const p = await buy(s, 'gems_100');
    clock.t += 500;
    await finish(s, p);
    await rejectsWith(finish(s, p), IAPErrorCode.PURCHASE_FINISHED);
    const calls = s.calls();
    assert.deepEqual(calls.map((c) => [c.fn, c.code]), [['createPurchase', 0], ['finishPurchase', 0], ['finishPurchase', IAPErrorCode.PURCHASE_FINISHED]]);
    assert.equal(s.order(p.purchaseOrderId)?.finishTime, clock.t);
    assert.ok(calls.every((c, i) => i === 0 || c.seq > calls[i - 1].seq));
  });

  test('observers see a finish synchronously when the store applies it', async () => {
    const s = sim();
    const p = await buy(s, 'gems_100');
    const seen: AuditEntry[] = [];
    s.addObserver((e, o) => {
      if (e.fn === 'finishPurchase' && e.applied) {
        assert.equal(o?.finished, true);
        seen.push(e);
      }
    });
    s.failNextAfterApplying('finishPurchase', IAPErrorCode.NETWORK_ERROR);
    await rejectsWith(finish(s, p), IAPErrorCode.NETWORK_ERROR);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].delivered, false);
  });

  test('state saved to JSON and loaded again is the same store (orders, ownership, signing chain)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iap-sim-'));
    try {
      const file = path.join(dir, 'store.json');
      const s = sim({ persistTo: file });
      const ads = await buy(s, 'remove_ads');
      const gems = await buy(s, 'gems_100');
      await finish(s, gems);
      const loaded = IapSimulator.load(file);
      assert.deepEqual(loaded.orders(), s.orders());
      await rejectsWith(loaded.createPurchase(CTX, { productId: 'remove_ads', productType: 1 }), IAPErrorCode.PRODUCT_OWNED);
      const [u] = await queryAll(loaded, ProductType.NONCONSUMABLE, PurchaseQueryType.UNFINISHED);
      assert.equal(u.purchaseOrderId, ads.purchaseOrderId);
      const next = await buy(loaded, 'gems_100');
      assert.ok(!s.orders().some((o) => o.purchaseOrderId === next.purchaseOrderId));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
