// Subscriptions on the server: the shared vectors over real HTTP and SQLite, grants per period, replays, accounts,
// notifications v3 in any order, the entitlement read, and server-side confirm through the subscription endpoint.
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { CONFIRM_SUBSCRIPTION_PATH, HuaweiIapClient, type ShipmentConfirmer } from '../src/confirm/ConfirmClient';
import * as crypto from 'node:crypto';
import { PostgresLedger } from '../src/ledger/PostgresLedger';
import { SqliteLedger } from '../src/ledger/SqliteLedger';
import { SqlSubscriptionStore } from '../src/subscriptions/SqlSubscriptionStore';
import type { StatusObservation, SubscriptionEvent } from '../src/subscriptions/SubscriptionStore';
import { addIsoPeriod } from '../src/subscriptions/SubscriptionService';
import {
  autoRenewablePurchaseData,
  nonRenewableOrder,
  nonRenewablePurchaseData,
  subGroupStatusPayload,
  subscriptionNotification,
  subscriptionOrder,
  subscriptionStatus,
  subscriptionVectors,
} from '../../tools/testing/SubscriptionVectors';
import { startTestPostgres, type TestPostgres } from '../../tools/testing/EmbeddedPostgres';
import type { TestPki } from '../../tools/testing/TestPki';
import {
  DEFAULT_ACCOUNT,
  genuinePki,
  orderPayload,
  post,
  purchaseData,
  sessionFor,
  startTestServer,
  tmpDb,
  verifyReq,
  type HttpResult,
  type TestServer,
} from './helpers';

const DAY = 86_400_000;
const HOUR = 3_600_000;
type Json = Record<string, unknown>;

let pki: TestPki;
let server: TestServer;
const NOW = Date.now();

before(async () => {
  pki = await genuinePki();
  server = await startTestServer(pki, { now: () => NOW });
});
after(async () => {
  await server.close();
});

async function getEntitlements(s: { url: string }, auth: string | null = `Bearer ${sessionFor(DEFAULT_ACCOUNT)}`): Promise<HttpResult> {
  const res = await fetch(`${s.url}/v1/entitlements`, { headers: auth === null ? {} : { authorization: auth } });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined, text };
}

function notify(s: { url: string }, jwsNotification: string): Promise<HttpResult> {
  return post(`${s.url}/v1/notifications`, { jwsNotification }, { authorization: '' });
}

/** A generation with `count` periods a month apart, the last purchased `lastAgo` ms before NOW. */
function generation(count: number, over: Json = {}, lastAgo = HOUR): Json[] {
  const first = subscriptionOrder({ purchaseTime: NOW - lastAgo - (count - 1) * 30 * DAY, ...over }, { now: NOW });
  const out = [first];
  for (let i = 1; i < count; i++) {
    out.push(
      subscriptionOrder(
        {
          subGroupGenerationId: first['subGroupGenerationId'],
          subscriptionId: first['subscriptionId'],
          purchaseToken: first['purchaseToken'],
          purchaseTime: NOW - lastAgo - (count - 1 - i) * 30 * DAY,
          ...over,
        },
        { now: NOW },
      ),
    );
  }
  return out;
}

function statusPd(orders: Json[], over: Json = {}, payloadOver: Json = {}): string {
  return autoRenewablePurchaseData(pki, subGroupStatusPayload(subscriptionStatus(orders, over, { now: NOW }), payloadOver, { now: NOW }));
}

/** The shared vectors over HTTP against `s`: each verdict, the answer's payload, and no token or JWS in the log. */
async function vectorsOver(s: TestServer): Promise<void> {
  const vectors = await subscriptionVectors(pki, { now: NOW });
  assert.ok(vectors.length >= 30);
  const failures: string[] = [];
  for (const v of vectors) {
    const r = await verifyReq(s, v.purchaseData);
    const e = v.expected;
    let got: string;
    if (e.verdict !== 'valid') {
      got = r.status === 422 ? r.body.reason : `HTTP ${r.status} ${r.text.slice(0, 120)}`;
      if (got !== e.verdict) failures.push(`${v.name}: expected ${e.verdict}, got ${got}`);
      continue;
    }
    if (r.status !== 200) {
      failures.push(`${v.name}: expected valid, got HTTP ${r.status} ${r.text.slice(0, 160)}`);
      continue;
    }
    if (e.state === undefined) {
      // A non-renewable: answered like an order.
      assert.equal(r.body.payload.purchaseOrderId, e.grantedOrderIds![0], v.name);
      continue;
    }
    const ent = r.body.entitlement;
    const actual = { state: ent.state, entitled: ent.entitled, expiresTime: ent.expiresTime, granted: ent.grantedOrderIds, revoked: ent.revokedOrderIds };
    const want = { state: e.state, entitled: e.entitled, expiresTime: e.expiresTime, granted: e.grantedOrderIds, revoked: e.revokedOrderIds };
    try {
      assert.deepEqual(actual, want);
    } catch {
      failures.push(`${v.name}: expected ${JSON.stringify(want)}, got ${JSON.stringify(actual)}`);
    }
    // The answer carries the verified SubGroupStatusPayload as sent.
    const sent = JSON.parse(Buffer.from((JSON.parse(v.purchaseData).jwsSubscriptionStatus as string).split('.')[1]!, 'base64url').toString());
    assert.deepEqual(r.body.subscription, sent, v.name);
  }
  assert.deepEqual(failures, []);
  // Log hygiene: no purchase token and no JWS of any vector reached the log.
  let tokens = 0;
  for (const v of vectors) {
    const pd = (() => { try { return JSON.parse(v.purchaseData) as Json; } catch { return {}; } })();
    const jws = pd['jwsSubscriptionStatus'] ?? pd['jwsPurchaseOrder'];
    if (typeof jws !== 'string' || jws.split('.').length < 2) continue;
    assert.ok(!s.logs.text.includes(jws.slice(0, 40)), `${v.name}: JWS logged`);
    const decoded = Buffer.from(jws.split('.')[1]!, 'base64url').toString('utf8');
    for (const m of decoded.matchAll(/(?:sub|nr)-token-[0-9a-z]+/g)) {
      tokens++;
      assert.ok(!s.logs.text.includes(m[0]), `${v.name}: token logged`);
    }
  }
  assert.ok(tokens > 30);
}

describe('subscription vectors (the verdicts the device verifier gives too)', () => {
  it('every vector gets its expected verdict over HTTP', () => vectorsOver(server));
});

describe('periods are orders: granted once each, replays, accounts', () => {
  it('a renewal grants only the new period; a replay grants nothing', async () => {
    const orders = generation(2);
    const before = server.grants.length;
    const first = await verifyReq(server, statusPd([orders[0]!], { expiresTime: NOW - HOUR + 30 * DAY }));
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('x-delivery'), 'new');
    const second = await verifyReq(server, statusPd(orders));
    assert.equal(second.status, 200);
    assert.equal(second.headers.get('x-delivery'), 'new');
    assert.deepEqual(second.body.entitlement.grantedOrderIds, [orders[0]!['purchaseOrderId'], orders[1]!['purchaseOrderId']]);
    const again = await verifyReq(server, statusPd(orders));
    assert.equal(again.headers.get('x-delivery'), 'replay');
    const granted = server.grants.slice(before).map((g) => g.purchaseOrderId);
    assert.deepEqual(granted, [orders[0]!['purchaseOrderId'], orders[1]!['purchaseOrderId']]);
    // Both periods are rows of the order ledger under the one subscription token.
    assert.equal((await server.ledger.ordersByToken(orders[0]!['purchaseToken'] as string)).length, 2);
  });

  it('concurrent presentations of the same status grant each period once', async () => {
    const orders = generation(3);
    const pd = statusPd(orders);
    const before = server.grants.length;
    const rs = await Promise.all(Array.from({ length: 6 }, () => verifyReq(server, pd)));
    assert.ok(rs.every((r) => r.status === 200));
    assert.equal(server.grants.length - before, 3);
    assert.equal(rs.filter((r) => r.headers.get('x-delivery') === 'new').length, 1);
  });

  it('another account presenting a bound subscription gets 409; a developerPayload for another account 403', async () => {
    const orders = generation(1);
    const pd = statusPd(orders);
    assert.equal((await verifyReq(server, pd, 'alice')).status, 200);
    const other = await verifyReq(server, pd, 'mallory');
    assert.equal(other.status, 409);
    assert.equal(other.body.reason, 'account-conflict');
    const made = generation(1, { developerPayload: 'alice' });
    const mismatch = await verifyReq(server, statusPd(made), 'mallory');
    assert.equal(mismatch.status, 403);
    assert.equal(await server.ledger.get(made[0]!['purchaseOrderId'] as string), undefined, 'nothing recorded');
  });

  it('a renewal presented first by another account is not captured: nothing is granted to it, the owner gets it', async () => {
    const orders = generation(2);
    assert.equal((await verifyReq(server, statusPd([orders[0]!], { expiresTime: NOW - HOUR + 30 * DAY }), 'alice')).status, 200);
    const before = server.grants.length;
    const mallory = await verifyReq(server, statusPd(orders), 'mallory');
    assert.equal(mallory.status, 409);
    assert.equal(server.grants.length, before, 'nothing granted to the other account');
    assert.equal(await server.ledger.get(orders[1]!['purchaseOrderId'] as string), undefined, 'the renewal is not recorded');
    const alice = await verifyReq(server, statusPd(orders), 'alice');
    assert.equal(alice.status, 200);
    assert.deepEqual(server.grants.slice(before).map((g) => g.purchaseOrderId), [orders[1]!['purchaseOrderId']]);
    assert.equal((await server.ledger.get(orders[1]!['purchaseOrderId'] as string))?.accountId, 'alice');
  });

  it('two accounts presenting a new subscription at once: one wins every period, the other gets 409', async () => {
    for (let round = 0; round < 5; round++) {
      const orders = generation(3);
      const pd = statusPd(orders);
      const rs = await Promise.all(['ann', 'bob', 'ann', 'bob'].map((a) => verifyReq(server, pd, a)));
      const rows = await Promise.all(orders.map((o) => server.ledger.get(o['purchaseOrderId'] as string)));
      const owners = new Set(rows.map((r) => r?.accountId));
      assert.equal(owners.size, 1, `round ${round}: periods split across accounts ${[...owners].join(', ')}`);
      const owner = [...owners][0];
      rs.forEach((r, i) => assert.equal(r.status, ['ann', 'bob', 'ann', 'bob'][i] === owner ? 200 : 409, `round ${round}, request ${i}`));
    }
  });

  it('a status whose current period was refunded takes the entitlement away, as its 422 revoked says', async () => {
    const acct = 'refunded-reader';
    const orders = generation(2);
    assert.equal((await verifyReq(server, statusPd(orders), acct)).status, 200);
    const refunded = { ...orders[1]!, purchaseOrderRevocationReasonCode: '0', revocationTime: NOW - 60_000 };
    const r = await verifyReq(server, statusPd([orders[0]!, refunded]), acct);
    assert.equal(r.status, 422);
    assert.equal(r.body.reason, 'revoked');
    const e = await getEntitlements(server, `Bearer ${sessionFor(acct)}`);
    assert.deepEqual(e.body.subscriptions.map((x: Json) => [x['state'], x['entitled']]), [['revoked', false]]);
  });

  it('a one-time order whose token a subscription uses is still refused (one delivery per token outside subscriptions)', async () => {
    const o = orderPayload();
    assert.equal((await verifyReq(server, purchaseData(pki.signJws(o)))).status, 200);
    const again = orderPayload({ purchaseToken: o['purchaseToken'] });
    const r = await verifyReq(server, purchaseData(pki.signJws(again)));
    assert.equal(r.status, 422);
    assert.equal(r.body.reason, 'invalid-payload');
  });
});

describe('notifications v3 drive the state, idempotent and order-independent', () => {
  it('a late EXPIRE (even re-signed after the renewal) never undoes the renewal', async () => {
    const orders = generation(2, {}, HOUR);
    const gen = orders[0]!['subGroupGenerationId'] as string;
    const firstExpiry = NOW - HOUR;
    assert.equal((await verifyReq(server, statusPd([orders[0]!], { expiresTime: firstExpiry }, { signedTime: NOW - 2 * HOUR }))).status, 200);
    assert.equal((await verifyReq(server, statusPd(orders, { expiresTime: NOW + 29 * DAY }))).status, 200);
    const late = await notify(server, subscriptionNotification(pki, {
      notificationType: 'EXPIRE',
      notificationSubtype: 'VOLUNTARY',
      signedTime: NOW + 60_000, // re-signed on a retry: later than the renewal's status (within the clock skew)
      meta: { subGroupGenerationId: gen, purchaseOrderId: orders[0]!['purchaseOrderId'], purchaseToken: orders[0]!['purchaseToken'] },
    }));
    assert.equal(late.status, 200);
    assert.equal(late.headers.get('x-notification'), 'subscription-expire');
    const e = await getEntitlements(server);
    const sub = e.body.subscriptions.find((s: Json) => s['subGroupGenerationId'] === gen);
    assert.equal(sub.state, 'active');
    assert.equal(sub.entitled, true);
  });

  it('an EXPIRE after the period ended takes access away; BILLING_RETRY labels it billing-retry', async () => {
    const orders = generation(1, {}, 31 * DAY);
    const gen = orders[0]!['subGroupGenerationId'] as string;
    // A status verified while still active (signed 20 h ago, expiring 10 h ago; the test leaf is valid from now - 1 day).
    assert.equal((await verifyReq(server, statusPd(orders, { expiresTime: NOW - 10 * HOUR }, { signedTime: NOW - 20 * HOUR }))).status, 200);
    const meta = { subGroupGenerationId: gen, purchaseOrderId: orders[0]!['purchaseOrderId'], purchaseToken: orders[0]!['purchaseToken'] };
    await notify(server, subscriptionNotification(pki, { notificationType: 'EXPIRE', notificationSubtype: 'BILLING_RETRY', signedTime: NOW - 10 * HOUR, meta }));
    let sub = (await getEntitlements(server)).body.subscriptions.find((s: Json) => s['subGroupGenerationId'] === gen);
    assert.equal(sub.state, 'billing-retry');
    assert.equal(sub.entitled, false);
    await notify(server, subscriptionNotification(pki, { notificationType: 'EXPIRE', notificationSubtype: 'VOLUNTARY', signedTime: NOW - HOUR, meta }));
    sub = (await getEntitlements(server)).body.subscriptions.find((s: Json) => s['subGroupGenerationId'] === gen);
    assert.equal(sub.state, 'expired');
  });

  it('DID_CHANGE_RENEWAL_STATUS sets auto-renew by signing time; a duplicate is answered duplicate', async () => {
    const orders = generation(1);
    const gen = orders[0]!['subGroupGenerationId'] as string;
    assert.equal((await verifyReq(server, statusPd(orders, {}, { signedTime: NOW - 3 * HOUR }))).status, 200);
    const meta = { subGroupGenerationId: gen, purchaseToken: orders[0]!['purchaseToken'] };
    const off = subscriptionNotification(pki, { notificationType: 'DID_CHANGE_RENEWAL_STATUS', notificationSubtype: 'AUTO_RENEW_DISABLED', signedTime: NOW - HOUR, meta });
    const onOlder = subscriptionNotification(pki, { notificationType: 'DID_CHANGE_RENEWAL_STATUS', notificationSubtype: 'AUTO_RENEW_ENABLED', signedTime: NOW - 2 * HOUR, meta });
    assert.equal((await notify(server, off)).headers.get('x-notification'), 'subscription-auto-renew-off');
    assert.equal((await notify(server, off)).headers.get('x-notification'), 'duplicate');
    await notify(server, onOlder);
    const sub = (await getEntitlements(server)).body.subscriptions.find((s: Json) => s['subGroupGenerationId'] === gen);
    assert.equal(sub.autoRenewStatusCode, '0');
    assert.equal(sub.state, 'active', 'auto-renew off keeps the paid period');
  });

  it('REVOKE takes the subscription away, and a later presentation of the status is 422 revoked', async () => {
    const orders = generation(1);
    const gen = orders[0]!['subGroupGenerationId'] as string;
    assert.equal((await verifyReq(server, statusPd(orders))).status, 200);
    const r = await notify(server, subscriptionNotification(pki, {
      notificationType: 'REVOKE',
      notificationSubtype: 'REFUND_TRANSACTION',
      signedTime: NOW - 60_000,
      meta: { subGroupGenerationId: gen, purchaseOrderId: orders[0]!['purchaseOrderId'], purchaseToken: orders[0]!['purchaseToken'] },
    }));
    assert.equal(r.headers.get('x-notification'), 'revoked-grant');
    assert.ok(server.revokes.includes(orders[0]!['purchaseOrderId'] as string));
    const sub = (await getEntitlements(server)).body.subscriptions.find((s: Json) => s['subGroupGenerationId'] === gen);
    assert.equal(sub.state, 'revoked');
    assert.equal(sub.entitled, false);
    const again = await verifyReq(server, statusPd(orders));
    assert.equal(again.status, 422);
    assert.equal(again.body.reason, 'revoked');
  });

  it('a REVOKE of an earlier period takes only that period; of the newest, the subscription; in any arrival order', async () => {
    const permutations = <T>(xs: T[]): T[][] => (xs.length <= 1 ? [xs] : xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((r) => [x, ...r])));
    for (const refundNewest of [false, true]) {
      for (const order of permutations([0, 1, 2])) {
        const acct = `revoker-${refundNewest ? 'newest' : 'earlier'}-${order.join('')}`;
        const orders = generation(2);
        const gen = orders[0]!['subGroupGenerationId'] as string;
        const refunded = orders[refundNewest ? 1 : 0]!;
        const events = [
          () => verifyReq(server, statusPd([orders[0]!], { expiresTime: NOW - HOUR }), acct),
          () => verifyReq(server, statusPd(orders), acct),
          () => notify(server, subscriptionNotification(pki, {
            notificationType: 'REVOKE',
            notificationSubtype: 'REFUND_TRANSACTION',
            signedTime: NOW - 60_000,
            meta: { subGroupGenerationId: gen, purchaseOrderId: refunded['purchaseOrderId'], purchaseToken: refunded['purchaseToken'] },
          })),
        ];
        for (const i of order) await events[i]!();
        const sub = (await getEntitlements(server, `Bearer ${sessionFor(acct)}`)).body.subscriptions.find((x: Json) => x['subGroupGenerationId'] === gen);
        const want = refundNewest ? ['revoked', false] : ['active', true];
        assert.deepEqual([sub?.state, sub?.entitled], want, `refund of the ${refundNewest ? 'newest' : 'earlier'} period, arrival order ${order.join(', ')}`);
        assert.equal((await server.ledger.get(refunded['purchaseOrderId'] as string))?.state, 'revoked');
      }
    }
  });

  it('REVOKE that names only the order (no subGroupGenerationId) finds the generation through the order', async () => {
    const orders = generation(1);
    const gen = orders[0]!['subGroupGenerationId'] as string;
    assert.equal((await verifyReq(server, statusPd(orders))).status, 200);
    await notify(server, subscriptionNotification(pki, {
      notificationType: 'REVOKE',
      notificationSubtype: 'REFUND_TRANSACTION',
      signedTime: NOW - 1000,
      meta: { purchaseOrderId: orders[0]!['purchaseOrderId'], purchaseToken: orders[0]!['purchaseToken'] },
    }));
    const sub = (await getEntitlements(server)).body.subscriptions.find((s: Json) => s['subGroupGenerationId'] === gen);
    assert.equal(sub.state, 'revoked');
  });

  it('property: any order of statuses and notifications, with duplicates, gives the same final state', async () => {
    // One generation over four periods; the events each side (verified status, EXPIRE, auto-renew) may say.
    const P = 30 * DAY;
    const T0 = NOW - 3 * P - HOUR;
    const gen = 'gen-property';
    const statusObs = (k: number, status: '1' | '2' | '3', observedAt: number): StatusObservation => ({
      subGroupGenerationId: gen,
      subGroupId: 'gem_club',
      subscriptionId: 'sub-property',
      productId: 'gem_club_monthly',
      purchaseToken: 'tok-property',
      status,
      expiresTime: T0 + (k + 1) * P,
      observedAt,
      autoRenewStatusCode: status === '1' ? '1' : undefined,
      grantedOrders: [{ purchaseOrderId: `po-${k}`, productId: 'gem_club_monthly', purchaseTime: T0 + k * P }],
      revokedOrders: [],
    });
    type Ev = { kind: 'status'; s: StatusObservation } | { kind: 'event'; e: SubscriptionEvent };
    const events: Ev[] = [
      { kind: 'status', s: statusObs(0, '1', T0 + 1000) },
      { kind: 'event', e: { kind: 'expire', subGroupGenerationId: gen, signedTime: T0 + P + 5, billingRetry: true } },
      { kind: 'status', s: statusObs(1, '1', T0 + P + 10_000) }, // billing recovered: the next period
      { kind: 'event', e: { kind: 'auto-renew', subGroupGenerationId: gen, signedTime: T0 + P + 20_000, autoRenewStatusCode: '0' } },
      { kind: 'event', e: { kind: 'auto-renew', subGroupGenerationId: gen, signedTime: T0 + P + 30_000, autoRenewStatusCode: '1' } },
      { kind: 'status', s: statusObs(2, '1', T0 + 2 * P + 1000) },
      { kind: 'event', e: { kind: 'expire', subGroupGenerationId: gen, signedTime: T0 + 2 * P + 99, billingRetry: false } }, // late
      { kind: 'status', s: statusObs(3, '1', T0 + 3 * P + 1000) },
      { kind: 'event', e: { kind: 'expire', subGroupGenerationId: gen, signedTime: NOW, billingRetry: false } }, // re-signed late retry
    ];
    const finalOf = async (order: Ev[]): Promise<unknown> => {
      const ledger = new SqliteLedger(':memory:');
      try {
        const store = new SqlSubscriptionStore(ledger);
        for (const ev of order) {
          if (ev.kind === 'status') await store.observe(ev.s, 'acct', NOW);
          else await store.applyEvent(ev.e, NOW);
        }
        const v = (await store.get(gen, NOW))!;
        return { state: v.state, entitled: v.entitled, expiresTime: v.expiresTime, status: v.status, autoRenew: v.autoRenewStatusCode, revoked: v.revokedAt };
      } finally {
        await ledger.close();
      }
    };
    const canonical = await finalOf(events);
    assert.deepEqual(canonical, { state: 'active', entitled: true, expiresTime: T0 + 4 * P, status: '1', autoRenew: '1', revoked: undefined });
    await fc.assert(
      fc.asyncProperty(
        fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }),
        fc.array(fc.nat(events.length - 1), { maxLength: 4 }),
        async (perm, dupIdx) => {
          const withDups = [...perm];
          for (const i of dupIdx) withDups.splice(i % (withDups.length + 1), 0, perm[i]!);
          assert.deepEqual(await finalOf(withDups), canonical);
        },
      ),
      { numRuns: 150, seed: 14 },
    );
  });

  it('property over HTTP: verifies and notifications in any order, repeated, end in the same entitlement', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(5), { minLength: 6, maxLength: 6 }), fc.nat(5), async (keys, dup) => {
        const acct = `perm-${++run}`;
        const orders = generation(2, {}, HOUR);
        const gen = orders[0]!['subGroupGenerationId'] as string;
        const meta0 = { subGroupGenerationId: gen, purchaseOrderId: orders[0]!['purchaseOrderId'], purchaseToken: orders[0]!['purchaseToken'] };
        const steps: Array<() => Promise<HttpResult>> = [
          // period 1, verified while active; period 2 (the renewal), verified later
          () => verifyReq(server, statusPd([orders[0]!], { expiresTime: NOW - HOUR }, { signedTime: NOW - 2 * HOUR }), acct),
          () => verifyReq(server, statusPd(orders, { expiresTime: NOW + 29 * DAY }, { signedTime: NOW - 30 * 60_000 }), acct),
          // the EXPIRE of period 1 (also in a re-signed late copy), the renewal's trigger, auto-renew off then on
          () => notify(server, subscriptionNotification(pki, { notificationType: 'EXPIRE', notificationSubtype: 'VOLUNTARY', notificationRequestId: `${acct}-x`, signedTime: NOW - HOUR + 1, meta: meta0 })),
          () => notify(server, subscriptionNotification(pki, { notificationType: 'EXPIRE', notificationSubtype: 'VOLUNTARY', notificationRequestId: `${acct}-x`, signedTime: NOW + 60_000, meta: meta0 })),
          () => notify(server, subscriptionNotification(pki, { notificationType: 'DID_NEW_TRANSACTION', notificationSubtype: 'DID_RENEW', signedTime: NOW - 40 * 60_000, meta: { ...meta0, purchaseOrderId: orders[1]!['purchaseOrderId'] } })),
          () => notify(server, subscriptionNotification(pki, { notificationType: 'DID_CHANGE_RENEWAL_STATUS', notificationSubtype: 'AUTO_RENEW_DISABLED', signedTime: NOW - 20 * 60_000, meta: { subGroupGenerationId: gen, purchaseToken: orders[0]!['purchaseToken'] } })),
        ];
        // A permutation from the random keys (stable sort), plus one step repeated at the end.
        const order = steps.map((f, i) => ({ f, k: keys[i]! })).sort((a, b) => a.k - b.k).map((x) => x.f);
        order.push(steps[dup]!);
        for (const step of order) assert.ok([200].includes((await step()).status));
        const sub = (await getEntitlements(server, `Bearer ${sessionFor(acct)}`)).body.subscriptions;
        assert.deepEqual(
          sub.map((x: Json) => [x['subGroupGenerationId'], x['state'], x['entitled'], x['expiresTime'], x['autoRenewStatusCode']]),
          [[gen, 'active', true, NOW + 29 * DAY, '0']],
        );
        assert.equal((await server.ledger.ordersByToken(orders[0]!['purchaseToken'] as string)).filter((r) => r.state === 'granted').length, 2);
      }),
      { numRuns: 15, seed: 1414 },
    );
  });

  it('property: a REVOKE anywhere in the sequence leaves the generation revoked', async () => {
    const gen = 'gen-revoke-property';
    const base: StatusObservation = {
      subGroupGenerationId: gen, subGroupId: 'gem_club', subscriptionId: 's', productId: 'gem_club_monthly', purchaseToken: 't',
      status: '1', expiresTime: NOW + DAY, observedAt: NOW - HOUR, autoRenewStatusCode: '1', grantedOrders: [], revokedOrders: [],
    };
    await fc.assert(
      fc.asyncProperty(fc.nat(3), fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }), async (at, renewals) => {
        const ledger = new SqliteLedger(':memory:');
        try {
          const store = new SqlSubscriptionStore(ledger);
          const steps: Array<() => Promise<unknown>> = renewals.map((k) => () =>
            store.observe({ ...base, expiresTime: NOW + k * DAY, observedAt: NOW - HOUR + k }, undefined, NOW));
          steps.splice(at % (steps.length + 1), 0, () => store.applyEvent({ kind: 'revoke', subGroupGenerationId: gen, signedTime: NOW - 10, reason: 'REFUND_TRANSACTION' }, NOW));
          for (const s of steps) await s();
          const v = (await store.get(gen, NOW))!;
          assert.equal(v.state, 'revoked');
          assert.equal(v.entitled, false);
        } finally {
          await ledger.close();
        }
      }),
      { numRuns: 60, seed: 7 },
    );
  });
});

describe('GET /v1/entitlements', () => {
  it('needs a session: none → 401, forged → 401', async () => {
    const none = await getEntitlements(server, null);
    assert.equal(none.status, 401);
    assert.equal(none.body.reason, 'session-required');
    const forged = await getEntitlements(server, `Bearer ${sessionFor('eve', { secret: 'another secret that is at least 32 bytes long' })}`);
    assert.equal(forged.status, 401);
    assert.equal(forged.body.reason, 'session-invalid');
  });

  it('answers what the session account has now: subscriptions, non-renewables with expiry, non-consumables', async () => {
    const acct = 'collector';
    const orders = generation(2);
    assert.equal((await verifyReq(server, statusPd(orders), acct)).status, 200);
    const pass = nonRenewableOrder({ purchaseTime: NOW - 10 * DAY }, { now: NOW });
    assert.equal((await verifyReq(server, nonRenewablePurchaseData(pki, pass), acct)).status, 200);
    const oldPass = nonRenewableOrder({ purchaseTime: NOW - 40 * DAY }, { now: NOW });
    assert.equal((await verifyReq(server, nonRenewablePurchaseData(pki, oldPass), acct)).status, 200);
    const ads = orderPayload({ productId: 'remove_ads', productType: '1' });
    assert.equal((await verifyReq(server, purchaseData(pki.signJws(ads), 1), acct)).status, 200);
    const gems = orderPayload();
    assert.equal((await verifyReq(server, purchaseData(pki.signJws(gems)), acct)).status, 200);

    const r = await getEntitlements(server, `Bearer ${sessionFor(acct)}`);
    assert.equal(r.status, 200);
    assert.equal(r.body.accountId, acct);
    assert.deepEqual(r.body.subscriptions.map((s: Json) => [s['subGroupGenerationId'], s['state'], s['entitled'], s['productId']]), [
      [orders[0]!['subGroupGenerationId'], 'active', true, 'gem_club_monthly'],
    ]);
    const byId = (a: unknown[], b: unknown[]): number => (String(a[0]) < String(b[0]) ? -1 : 1);
    const passes = r.body.nonRenewables.map((n: Json) => [n['purchaseOrderId'], n['expiresTime'], n['entitled']]).sort(byId);
    assert.deepEqual(passes, [
      [oldPass['purchaseOrderId'], addIsoPeriod(NOW - 40 * DAY, 'P30D'), false],
      [pass['purchaseOrderId'], addIsoPeriod(NOW - 10 * DAY, 'P30D'), true],
    ].sort(byId));
    assert.deepEqual(r.body.nonConsumables.map((n: Json) => n['productId']), ['remove_ads']);
    // Consumables are not entitlements; another account sees none of this.
    const other = await getEntitlements(server, `Bearer ${sessionFor('stranger')}`);
    assert.deepEqual([other.body.subscriptions, other.body.nonRenewables, other.body.nonConsumables], [[], [], []]);
  });

  it('a server without accounts answers 404 no-accounts', async () => {
    const open = await startTestServer(pki, { authenticator: undefined });
    try {
      const r = await getEntitlements(open, null);
      assert.equal(r.status, 404);
      assert.equal(r.body.reason, 'no-accounts');
    } finally {
      await open.close();
    }
  });
});

describe('server-side confirm of subscription periods', () => {
  let fake: http.Server;
  let rootCalls: Array<{ path: string; body: string }> = [];
  let grantCommitted: Set<string>;
  before(async () => {
    fake = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        rootCalls.push({ path: req.url ?? '', body });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ responseCode: '0' }));
      });
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
  });
  after(async () => {
    await new Promise<void>((r) => fake.close(() => r()));
  });

  it('each new period is confirmed on the subscription path, only after its grant committed', async () => {
    rootCalls = [];
    grantCommitted = new Set();
    const dbPath = tmpDb('confirm-sub');
    const port = (fake.address() as AddressInfo).port;
    const key = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const client = new HuaweiIapClient({ issuerId: 'iss', keyId: 'kid', privateKey: key, appId: '110000000', rootUrl: `http://127.0.0.1:${port}` });
    // The real client, behind a check, at call time, that the grant is durable in the database (a second connection).
    const confirmer: ShipmentConfirmer = {
      async confirm(req) {
        const probe = new Database(dbPath, { readonly: true });
        try {
          const row = probe.prepare('SELECT granted_at FROM orders WHERE purchase_order_id = ?').get(req.purchaseOrderId) as { granted_at: number } | undefined;
          assert.ok(row && row.granted_at > 0, 'confirm before the grant committed');
          grantCommitted.add(req.purchaseOrderId);
        } finally {
          probe.close();
        }
        return client.confirm(req);
      },
    };
    const s = await startTestServer(pki, { databasePath: dbPath, confirm: confirmer, now: () => NOW });
    try {
      const orders = generation(2);
      assert.equal((await verifyReq(s, statusPd(orders))).status, 200);
      assert.equal((await verifyReq(s, statusPd(orders))).status, 200);
      await s.service.idle();
      assert.deepEqual(rootCalls.map((c) => c.path), [CONFIRM_SUBSCRIPTION_PATH, CONFIRM_SUBSCRIPTION_PATH]);
      assert.deepEqual(new Set(rootCalls.map((c) => JSON.parse(c.body).purchaseOrderId)), new Set(orders.map((o) => o['purchaseOrderId'])));
      assert.equal(grantCommitted.size, 2);
      for (const o of orders) assert.equal((await s.ledger.get(o['purchaseOrderId'] as string))!.confirmState, 'confirmed');
    } finally {
      await s.close();
    }
  });
});

describe('subscription store on the ledger database', () => {
  it('keeps its own schema version and survives a restart of the server on the same file', async () => {
    const dbPath = tmpDb('subs-restart');
    const orders = generation(1);
    const s1 = await startTestServer(pki, { databasePath: dbPath, now: () => NOW });
    assert.equal((await verifyReq(s1, statusPd(orders))).status, 200);
    await s1.close();
    const s2 = await startTestServer(pki, { databasePath: dbPath, now: () => NOW });
    try {
      const r = await verifyReq(s2, statusPd(orders));
      assert.equal(r.headers.get('x-delivery'), 'replay');
      assert.equal(s2.grants.length, 0);
      const db = (s2.ledger as SqliteLedger).db;
      const v = db.prepare('SELECT version FROM subscription_schema').get() as { version: number };
      assert.equal(v.version, 1);
      assert.equal(db.pragma('user_version', { simple: true }), 4, 'the order ledger keeps its own version');
    } finally {
      await s2.close();
    }
  });

  it('a ledger without app transactions (SQLITE_THREAD=on) has no subscriptions: 422 and 404, nothing recorded', async () => {
    const s = await startTestServer(pki, { sqliteThread: true, hooks: {}, now: () => NOW });
    try {
      assert.equal(s.ledger.backend, 'sqlite');
      assert.equal(typeof (s.ledger as Partial<SqliteLedger>).transaction, 'undefined', 'the worker-thread ledger');
      const orders = generation(1);
      const r = await verifyReq(s, statusPd(orders));
      assert.equal(r.status, 422);
      assert.equal(r.body.reason, 'unsupported-product-type');
      assert.equal(await s.ledger.get(orders[0]!['purchaseOrderId'] as string), undefined);
      const e = await getEntitlements(s);
      assert.equal(e.status, 404);
      assert.equal(e.body.reason, 'no-entitlement-store');
      // One-time orders still work.
      assert.equal((await verifyReq(s, purchaseData(pki.signJws(orderPayload())))).status, 200);
    } finally {
      await s.close();
    }
  });

  it('works standalone on a Ledger file (own transactions)', async () => {
    const ledger = new SqliteLedger(tmpDb('subs-standalone'));
    try {
      const store = new SqlSubscriptionStore(ledger);
      await store.applyEvent({ kind: 'expire', subGroupGenerationId: 'g', signedTime: 5, billingRetry: false }, 10);
      const v = await store.get('g', 10);
      assert.equal(v!.state, 'expired');
      assert.equal(v!.entitled, false);
    } finally {
      await ledger.close();
    }
  });
});

// The same store on PostgreSQL: one SQL implementation, so the HTTP behaviour must not change; and instances on one
// database merging into one generation at once must give the sequential result (the merge reads FOR UPDATE).
describe('subscriptions on PostgreSQL', () => {
  let database: TestPostgres;
  let pgServer: TestServer;
  before(async () => {
    database = await startTestPostgres();
    pgServer = await startTestServer(pki, { databasePath: database.url, now: () => NOW });
  });
  after(async () => {
    await pgServer?.close();
    await database?.stop();
  });

  it('every vector gets its expected verdict over HTTP', () => vectorsOver(pgServer));

  it('a renewal grants only the new period, concurrent presentations grant each period once, entitlements read', async () => {
    const acct = 'pg-collector';
    const orders = generation(3);
    const before = pgServer.grants.length;
    const first = await verifyReq(pgServer, statusPd([orders[0]!], { expiresTime: NOW - HOUR - 30 * DAY }), acct);
    assert.equal(first.status, 200);
    const rs = await Promise.all(Array.from({ length: 6 }, () => verifyReq(pgServer, statusPd(orders), acct)));
    assert.ok(rs.every((r) => r.status === 200));
    // Each period once; two requests may each win a different period on separate connections, so ≥ 1 'new'.
    assert.ok(rs.some((r) => r.headers.get('x-delivery') === 'new'));
    assert.deepEqual(pgServer.grants.slice(before).map((g) => g.purchaseOrderId).sort(), orders.map((o) => o['purchaseOrderId'] as string).sort());
    assert.equal((await pgServer.ledger.ordersByToken(orders[0]!['purchaseToken'] as string)).length, 3);
    const ads = orderPayload({ productId: 'remove_ads', productType: '1' });
    assert.equal((await verifyReq(pgServer, purchaseData(pki.signJws(ads), 1), acct)).status, 200);
    const r = await getEntitlements(pgServer, `Bearer ${sessionFor(acct)}`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.subscriptions.map((x: Json) => [x['subGroupGenerationId'], x['state'], x['entitled']]), [
      [orders[0]!['subGroupGenerationId'], 'active', true],
    ]);
    assert.deepEqual(r.body.nonConsumables.map((n: Json) => n['productId']), ['remove_ads']);
    const stranger = await verifyReq(pgServer, statusPd(orders), 'pg-mallory');
    assert.equal(stranger.status, 409);
  });

  it('two accounts racing for a new subscription on two instances: one owns every period, the other gets 409', async () => {
    const second = await startTestServer(pki, { databasePath: database.url, now: () => NOW });
    try {
      for (let round = 0; round < 4; round++) {
        const orders = generation(3);
        const pd = statusPd(orders);
        const rs = await Promise.all([verifyReq(pgServer, pd, 'pg-ann'), verifyReq(second, pd, 'pg-bob')]);
        const rows = await Promise.all(orders.map((o) => pgServer.ledger.get(o['purchaseOrderId'] as string)));
        const owners = [...new Set(rows.map((r) => r?.accountId))];
        assert.equal(owners.length, 1, `round ${round}: periods split across ${owners.join(', ')}`);
        assert.deepEqual(rs.map((r) => r.status), owners[0] === 'pg-ann' ? [200, 409] : [409, 200], `round ${round}`);
      }
    } finally {
      await second.close();
    }
  });

  it('two instances merging into one generation at once end in the sequential result', async () => {
    const ledgers = [new PostgresLedger(database.url), new PostgresLedger(database.url)];
    try {
      const stores = ledgers.map((l) => new SqlSubscriptionStore(l));
      const gen = 'gen-pg-race';
      const obs = (k: number): StatusObservation => ({
        subGroupGenerationId: gen, subGroupId: 'gem_club', subscriptionId: 's', productId: 'gem_club_monthly', purchaseToken: 't',
        status: '1', expiresTime: NOW + k * DAY, observedAt: NOW - HOUR + k, autoRenewStatusCode: k % 2 === 0 ? '1' : '0',
        grantedOrders: [{ purchaseOrderId: `pg-po-${k}`, productId: 'gem_club_monthly', purchaseTime: NOW - HOUR + k }], revokedOrders: [],
      });
      await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          i % 3 === 2
            ? stores[i % 2]!.applyEvent({ kind: 'auto-renew', subGroupGenerationId: gen, signedTime: NOW - HOUR + 100 + i, autoRenewStatusCode: i === 11 ? '0' : '1' }, NOW)
            : stores[i % 2]!.observe(obs(i + 1), 'pg-racer', NOW),
        ),
      );
      const v = (await stores[0]!.get(gen, NOW))!;
      // The greatest expiresTime (observation 11, i = 10) and the latest auto-renew signal (i = 11, "0").
      assert.deepEqual([v.expiresTime, v.state, v.entitled, v.autoRenewStatusCode, v.accountId], [NOW + 11 * DAY, 'active', true, '0', 'pg-racer']);
      for (let i = 0; i < 12; i++) {
        if (i % 3 !== 2) assert.equal(await stores[1]!.generationOfOrder(`pg-po-${i + 1}`), gen);
      }
      // Notifications only (no status write to serialise them): 40 auto-renew signals at once, the latest says "1".
      const times = Array.from({ length: 40 }, (_, i) => NOW + ((i * 17) % 40));
      await Promise.all(
        times.map((t, i) =>
          stores[i % 2]!.applyEvent({ kind: 'auto-renew', subGroupGenerationId: gen, signedTime: t, autoRenewStatusCode: t === NOW + 39 ? '1' : '0' }, NOW),
        ),
      );
      assert.equal((await stores[1]!.get(gen, NOW))!.autoRenewStatusCode, '1', 'the latest signal wins whatever the commit order');
    } finally {
      for (const l of ledgers) await l.close();
    }
  });
});
