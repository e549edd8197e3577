// POST /v1/purchases/verify over real HTTP on loopback: the valid path, every forged variant with its reason code,
// payload checks, replay, concurrency, account binding, body limits and log hygiene.
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestPki, signCompactJws, subjectName, type TestPki } from '../../tools/testing/TestPki';
import {
  b64url,
  genuinePki,
  orderPayload,
  post,
  purchaseData,
  startTestServer,
  verifyReq,
  withPart,
  type TestServer,
} from './helpers';
import type { SqliteLedger } from '../src/ledger/SqliteLedger';

let pki: TestPki;
let foreign: TestPki;
let server: TestServer;
const HOUR = 3_600_000;

before(async () => {
  pki = await genuinePki();
  foreign = await createTestPki({ subjectPrefix: 'Attacker' });
  server = await startTestServer(pki);
});
after(async () => {
  await server.close();
});

async function expectReject(pd: string, reason: string, status = 422): Promise<void> {
  const r = await verifyReq(server, pd);
  assert.equal(r.status, status, `expected ${status} ${reason}, got ${r.status} ${r.text}`);
  assert.equal(r.body.status, 'rejected');
  assert.equal(r.body.reason, reason, r.text);
  assert.equal(typeof r.body.detail, 'string');
}

describe('valid order', () => {
  it('answers 200 {status: valid, payload} and grants once', async () => {
    const p = orderPayload();
    const r = await verifyReq(server, purchaseData(pki.signJws(p)));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(Object.keys(r.body).sort(), ['payload', 'status']);
    assert.equal(r.body.status, 'valid');
    assert.deepEqual(r.body.payload, p);
    assert.equal(r.headers.get('x-delivery'), 'new');
    assert.equal(server.grants.filter((g) => g.purchaseOrderId === p['purchaseOrderId']).length, 1);
    assert.equal((await server.ledger.get(p['purchaseOrderId'] as string))?.state, 'granted');
  });

  it('accepts every catalog product with its type', async () => {
    for (const [productId, type] of [['gems_550', 0], ['remove_ads', 1], ['premium_themes', 1], ['season_pass', 3]] as const) {
      const r = await verifyReq(server, purchaseData(pki.signJws(orderPayload({ productId, productType: String(type) })), type));
      assert.equal(r.status, 200, `${productId}: ${r.text}`);
    }
  });
});

describe('forged JWS variants', () => {
  it('bad signature → bad-signature', async () => {
    const jws = pki.signJws(orderPayload());
    const sig = Buffer.from(jws.split('.')[2]!, 'base64url');
    sig[10] = sig[10]! ^ 0xff;
    await expectReject(purchaseData(withPart(jws, 2, sig.toString('base64url'))), 'bad-signature');
  });

  it('DER-encoded ECDSA signature (not raw r||s) → bad-signature', async () => {
    const p = orderPayload();
    const signingInput = `${b64url({ alg: 'ES256', typ: 'JWT', x5c: pki.x5c() })}.${b64url(p)}`;
    const der = crypto.sign('sha256', Buffer.from(signingInput), { key: pki.leafPrivateKey, dsaEncoding: 'der' });
    await expectReject(purchaseData(`${signingInput}.${der.toString('base64url')}`), 'bad-signature');
  });

  it('tampered payload → bad-signature', async () => {
    const p = orderPayload();
    const jws = pki.signJws(p);
    await expectReject(purchaseData(withPart(jws, 1, b64url({ ...p, price: 1 }))), 'bad-signature');
  });

  it('foreign root (whole chain from another PKI) → untrusted-chain', async () => {
    await expectReject(purchaseData(foreign.signJws(orderPayload())), 'untrusted-chain');
  });

  it('root taken from x5c: foreign leaf+intermediate with the genuine root appended → untrusted-chain', async () => {
    const x5c = [foreign.x5c()[0]!, foreign.x5c()[1]!, pki.x5c()[2]!];
    await expectReject(purchaseData(foreign.signJws(orderPayload(), { x5c })), 'untrusted-chain');
  });

  it('chain to a different root: genuine-looking x5c[2] is ignored, a self-made root in x5c is not trusted', async () => {
    // Attacker's chain with its own root placed in x5c: the verifier must not use x5c[2] as anchor.
    const x5c = [foreign.x5c()[0]!, foreign.x5c()[1]!, foreign.x5c()[2]!];
    await expectReject(purchaseData(foreign.signJws(orderPayload(), { x5c })), 'untrusted-chain');
  });

  it('foreign leaf under the genuine intermediate → untrusted-chain', async () => {
    const x5c = [foreign.x5c()[0]!, pki.x5c()[1]!, pki.x5c()[2]!];
    await expectReject(purchaseData(foreign.signJws(orderPayload(), { x5c })), 'untrusted-chain');
  });

  it('leaf naming the genuine intermediate as issuer but signed by another key → untrusted-chain', async () => {
    const forged = await createTestPki({ leafIssuerName: subjectName(pki.intermediateDer) });
    const x5c = [forged.x5c()[0]!, pki.x5c()[1]!, pki.x5c()[2]!];
    await expectReject(purchaseData(forged.signJws(orderPayload(), { x5c })), 'untrusted-chain');
  });

  it('intermediate naming the pinned root as issuer but signed by another key → untrusted-chain', async () => {
    const forged = await createTestPki({ intermediateIssuerName: subjectName(pki.rootDer) });
    const x5c = [forged.x5c()[0]!, forged.x5c()[1]!, pki.x5c()[2]!];
    await expectReject(purchaseData(forged.signJws(orderPayload(), { x5c })), 'untrusted-chain');
  });

  it('intermediate that is not a CA → untrusted-chain', async () => {
    const notCa = await createTestPki({ parent: pki, intermediateCa: false });
    await expectReject(purchaseData(notCa.signJws(orderPayload())), 'untrusted-chain');
  });

  it('2 or 4 certificates, or no x5c → bad-chain-length', async () => {
    const x = pki.x5c();
    await expectReject(purchaseData(pki.signJws(orderPayload(), { x5c: [x[0]!, x[1]!] })), 'bad-chain-length');
    await expectReject(purchaseData(pki.signJws(orderPayload(), { x5c: [...x, x[2]!] })), 'bad-chain-length');
    const noX5c = signCompactJws(pki.leafPrivateKey, { alg: 'ES256', typ: 'JWT' }, orderPayload());
    await expectReject(purchaseData(noX5c), 'bad-chain-length');
  });

  it('x5c entry that is not a certificate → bad-certificate', async () => {
    const x = pki.x5c();
    await expectReject(purchaseData(pki.signJws(orderPayload(), { x5c: ['AAAA', x[1]!, x[2]!] })), 'bad-certificate');
    await expectReject(purchaseData(pki.signJws(orderPayload(), { x5c: ['not base64!', x[1]!, x[2]!] })), 'bad-certificate');
  });

  it('alg none / HS256 / RS256 / ES384 → unsupported-alg', async () => {
    const p = orderPayload();
    const none = `${b64url({ alg: 'none', typ: 'JWT', x5c: pki.x5c() })}.${b64url(p)}.`;
    await expectReject(purchaseData(none), 'unsupported-alg');
    const hsInput = `${b64url({ alg: 'HS256', typ: 'JWT', x5c: pki.x5c() })}.${b64url(p)}`;
    const hs = crypto.createHmac('sha256', pki.rootPem).update(hsInput).digest('base64url');
    await expectReject(purchaseData(`${hsInput}.${hs}`), 'unsupported-alg');
    const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rsInput = `${b64url({ alg: 'RS256', typ: 'JWT', x5c: pki.x5c() })}.${b64url(p)}`;
    const rs = crypto.sign('sha256', Buffer.from(rsInput), rsa.privateKey).toString('base64url');
    await expectReject(purchaseData(`${rsInput}.${rs}`), 'unsupported-alg');
    await expectReject(purchaseData(pki.signJws(p, { alg: 'ES384' })), 'unsupported-alg');
    await expectReject(purchaseData(pki.signJws(p, { alg: 'es256' })), 'unsupported-alg');
  });

  it('expired leaf → cert-expired; not-yet-valid leaf → cert-not-yet-valid', async () => {
    const now = Date.now();
    const expired = await createTestPki({ parent: pki, leafNotBefore: new Date(now - 48 * HOUR), leafNotAfter: new Date(now - HOUR) });
    await expectReject(purchaseData(expired.signJws(orderPayload({ signedTime: now }))), 'cert-expired');
    const future = await createTestPki({ parent: pki, leafNotBefore: new Date(now + HOUR), leafNotAfter: new Date(now + 48 * HOUR) });
    await expectReject(purchaseData(future.signJws(orderPayload({ signedTime: now }))), 'cert-not-yet-valid');
  });

  it('validity is judged at signedTime: an expired leaf is fine for an order signed while it was valid', async () => {
    const now = Date.now();
    const old = await createTestPki({ parent: pki, leafNotBefore: new Date(now - 48 * HOUR), leafNotAfter: new Date(now - HOUR) });
    const r = await verifyReq(server, purchaseData(old.signJws(orderPayload({ signedTime: now - 2 * HOUR }))));
    assert.equal(r.status, 200, r.text);
  });

  it('expired intermediate → cert-expired', async () => {
    const now = Date.now();
    const c = await createTestPki({ parent: pki, intermediateNotBefore: new Date(now - 48 * HOUR), intermediateNotAfter: new Date(now - HOUR) });
    await expectReject(purchaseData(c.signJws(orderPayload({ signedTime: now }))), 'cert-expired');
  });

  it('leaf without the IAP OID → missing-oid', async () => {
    const noOid = await createTestPki({ parent: pki, leafOid: false });
    await expectReject(purchaseData(noOid.signJws(orderPayload())), 'missing-oid');
  });

  it('truncated or non-base64url parts → malformed / bad-signature', async () => {
    const jws = pki.signJws(orderPayload());
    const [h, p, s] = jws.split('.') as [string, string, string];
    await expectReject(purchaseData(`${h}.${p}`), 'malformed');
    await expectReject(purchaseData(jws.slice(0, h.length - 10)), 'malformed');
    await expectReject(purchaseData(`${h}.${p}.${s}.${s}`), 'malformed');
    await expectReject(purchaseData(`${h}.${p.slice(0, -5)}.${s}`), 'malformed');
    // A signature of 63 bytes is bad-signature; a text cut at an arbitrary character is usually not even canonical
    // base64url (stray trailing bits), which is malformed, as on the device.
    await expectReject(purchaseData(`${h}.${p}.${Buffer.from(s, 'base64url').subarray(0, 63).toString('base64url')}`), 'bad-signature');
    await expectReject(purchaseData(`${h}.${p}+/.${s}`), 'malformed');
    await expectReject(purchaseData(`${h}.${p}.${s}==`), 'malformed');
    await expectReject(purchaseData(`${h}==.${p}.${s}`), 'malformed');
    await expectReject(purchaseData(`${b64url('not json')}.${p}.${s}`), 'malformed');
  });

  it('payload that is not JSON (validly signed) → malformed', async () => {
    const jws = signCompactJws(pki.leafPrivateKey, { alg: 'ES256', typ: 'JWT', x5c: pki.x5c() }, 'not json at all');
    await expectReject(purchaseData(jws), 'malformed');
  });

  it('crit header → malformed', async () => {
    const jws = signCompactJws(pki.leafPrivateKey, { alg: 'ES256', typ: 'JWT', x5c: pki.x5c(), crit: ['exp'] }, orderPayload());
    await expectReject(purchaseData(jws), 'malformed');
  });
});

describe('payload checks', () => {
  it('wrong app id → wrong-app', async () => {
    await expectReject(purchaseData(pki.signJws(orderPayload({ applicationId: '999' }))), 'wrong-app');
  });
  it('wrong environment → wrong-environment', async () => {
    await expectReject(purchaseData(pki.signJws(orderPayload({ environment: 'NORMAL' }))), 'wrong-environment');
  });
  it('unknown product → unknown-product', async () => {
    await expectReject(purchaseData(pki.signJws(orderPayload({ productId: 'gems_999999' }))), 'unknown-product');
  });
  it('product type differing from the catalog or from PurchaseData.type → wrong-product-type', async () => {
    await expectReject(purchaseData(pki.signJws(orderPayload({ productType: '1' })), 1), 'wrong-product-type');
    await expectReject(purchaseData(pki.signJws(orderPayload()), 3), 'wrong-product-type');
  });
  it('revoked order (revocation code in the payload) → revoked, never granted', async () => {
    const p = orderPayload({ purchaseOrderRevocationReasonCode: '0', revocationTime: Date.now() });
    await expectReject(purchaseData(pki.signJws(p)), 'revoked');
    assert.equal(server.grants.some((g) => g.purchaseOrderId === p['purchaseOrderId']), false);
    // The refund is remembered: a clean (older) JWS of the same order is refused too.
    const clean = { ...p };
    delete clean['purchaseOrderRevocationReasonCode'];
    delete clean['revocationTime'];
    await expectReject(purchaseData(pki.signJws(clean)), 'revoked');
  });
  it('a granted order later seen with a revocation code is revoked in the ledger', async () => {
    const p = orderPayload();
    assert.equal((await verifyReq(server, purchaseData(pki.signJws(p)))).status, 200);
    await expectReject(purchaseData(pki.signJws({ ...p, purchaseOrderRevocationReasonCode: '1' })), 'revoked');
    assert.equal((await server.ledger.get(p['purchaseOrderId'] as string))?.state, 'revoked');
    assert.ok(server.revokes.includes(p['purchaseOrderId'] as string));
    await expectReject(purchaseData(pki.signJws(p)), 'revoked');
  });
  it('missing required field or bad quantity → invalid-payload', async () => {
    const p = orderPayload();
    delete p['purchaseToken'];
    await expectReject(purchaseData(pki.signJws(p)), 'invalid-payload');
    await expectReject(purchaseData(pki.signJws(orderPayload({ productType: 0 as unknown as string, quantity: 11 }))), 'invalid-payload');
    const noTime = orderPayload();
    delete noTime['signedTime'];
    await expectReject(purchaseData(pki.signJws(noTime)), 'invalid-payload');
  });
  it('signedTime far in the future → signed-in-future', async () => {
    await expectReject(purchaseData(pki.signJws(orderPayload({ signedTime: Date.now() + 24 * HOUR }))), 'signed-in-future');
  });
  it('purchase not paid yet (no purchaseTime) → 202 not-paid with the verified payload; nothing recorded', async () => {
    const p = orderPayload();
    delete p['purchaseTime'];
    const r = await verifyReq(server, purchaseData(pki.signJws(p)));
    assert.equal(r.status, 202, r.text);
    assert.equal(r.body.status, 'not-paid');
    assert.equal(r.body.reason, 'purchase-incomplete');
    assert.equal(typeof r.body.detail, 'string');
    // A definite verdict about a genuine order, not an outage: no Retry-After, and the payload says which order.
    assert.equal(r.headers.get('retry-after'), null);
    const payload = r.body.payload as Record<string, unknown>;
    assert.equal(payload['purchaseOrderId'], p['purchaseOrderId']);
    assert.equal(payload['purchaseToken'], p['purchaseToken']);
    assert.equal(payload['purchaseTime'], undefined);
    assert.equal(r.headers.get('x-delivery'), null);
    assert.equal(await server.ledger.get(p['purchaseOrderId'] as string), undefined);
    // Once paid, the same order is delivered as usual.
    const paid = await verifyReq(server, purchaseData(pki.signJws({ ...p, purchaseTime: Date.now() - 1000 })));
    assert.equal(paid.status, 200, paid.text);
    assert.equal(paid.body.status, 'valid');
    assert.equal(paid.headers.get('x-delivery'), 'new');
  });
  it('auto-renewable purchaseData is verified as a subscription (an empty status payload → invalid-payload)', async () => {
    const pd = JSON.stringify({ type: 2, jwsSubscriptionStatus: pki.signJws({ signedTime: Date.now() }) });
    await expectReject(pd, 'invalid-payload');
    await expectReject(JSON.stringify({ type: 2, jwsPurchaseOrder: pki.signJws(orderPayload({ productType: '2' })) }), 'malformed-purchase-data');
  });
});

describe('request shape', () => {
  it('purchaseData that is not JSON / lacks jwsPurchaseOrder → malformed-purchase-data', async () => {
    await expectReject('{not json', 'malformed-purchase-data');
    await expectReject('[]', 'malformed-purchase-data');
    await expectReject(JSON.stringify({ type: 0 }), 'malformed-purchase-data');
    await expectReject(JSON.stringify({ type: 7, jwsPurchaseOrder: 'a.b.c' }), 'malformed-purchase-data');
  });
  it('non-JSON request body → 400 invalid-json', async () => {
    const r = await post(`${server.url}/v1/purchases/verify`, '{"purchaseData": tok-secret-123');
    assert.equal(r.status, 400);
    assert.equal(r.body.reason, 'invalid-json');
  });
  it('schema violations → 400 bad-request', async () => {
    for (const body of [{}, { purchaseData: 5 }, { purchaseData: 'x', extra: 1 }, { purchaseData: 'x', accountId: '' }]) {
      const r = await post(`${server.url}/v1/purchases/verify`, body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.reason, 'bad-request');
    }
  });
  it('oversized body → 413 body-too-large', async () => {
    const r = await post(`${server.url}/v1/purchases/verify`, { purchaseData: 'x'.repeat(70 * 1024) });
    assert.equal(r.status, 413);
    assert.equal(r.body.reason, 'body-too-large');
  });
  it('wrong content type → 415', async () => {
    const r = await post(`${server.url}/v1/purchases/verify`, 'purchaseData=x', { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(r.status, 415);
  });
  it('GET /healthz → 200 ok', async () => {
    const r = await fetch(`${server.url}/healthz`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { status: 'ok' });
  });
});

describe('idempotency and account binding', () => {
  it('replay returns the first result and never grants twice', async () => {
    const p = orderPayload();
    const first = await verifyReq(server, purchaseData(pki.signJws(p)));
    assert.equal(first.headers.get('x-delivery'), 'new');
    // A later, freshly signed JWS for the same order (e.g. from queryPurchases) replays the FIRST result.
    const again = await verifyReq(server, purchaseData(pki.signJws({ ...p, signedTime: Date.now() + 1000, finishStatus: '1' })));
    assert.equal(again.status, 200, again.text);
    assert.equal(again.headers.get('x-delivery'), 'replay');
    assert.deepEqual(again.body, first.body);
    assert.equal(server.grants.filter((g) => g.purchaseOrderId === p['purchaseOrderId']).length, 1);
  });

  it('concurrent duplicate requests grant exactly once', async () => {
    const p = orderPayload();
    const pd = purchaseData(pki.signJws(p));
    const results = await Promise.all(Array.from({ length: 25 }, () => verifyReq(server, pd, 'acct-c')));
    assert.ok(results.every((r) => r.status === 200));
    assert.equal(results.filter((r) => r.headers.get('x-delivery') === 'new').length, 1);
    assert.equal(server.grants.filter((g) => g.purchaseOrderId === p['purchaseOrderId']).length, 1);
    const n = (server.ledger as SqliteLedger).db.prepare('SELECT COUNT(*) AS n FROM orders WHERE purchase_order_id = ?').get(p['purchaseOrderId']) as { n: number };
    assert.equal(n.n, 1);
  });

  it('an order is bound to the first account; another account gets 409', async () => {
    const p = orderPayload();
    const pd = purchaseData(pki.signJws(p));
    assert.equal((await verifyReq(server, pd, 'alice')).status, 200);
    const bob = await verifyReq(server, pd, 'bob');
    assert.equal(bob.status, 409, bob.text);
    assert.equal(bob.body.reason, 'account-conflict');
    assert.equal((await verifyReq(server, pd, 'alice')).status, 200);
    assert.deepEqual(server.grants.filter((g) => g.purchaseOrderId === p['purchaseOrderId']), [
      { purchaseOrderId: p['purchaseOrderId'], accountId: 'alice' },
    ]);
  });

  it('a caller without a session gets 401 and nothing is recorded', async () => {
    const p = orderPayload();
    const r = await verifyReq(server, purchaseData(pki.signJws(p)), null);
    assert.equal(r.status, 401, r.text);
    assert.equal(r.body.reason, 'session-required');
    assert.equal(await server.ledger.get(p['purchaseOrderId'] as string), undefined);
  });
});

describe('logs', () => {
  it('never contain the purchaseToken or a JWS', async () => {
    const p = orderPayload();
    const jws = pki.signJws(p);
    await verifyReq(server, purchaseData(jws), 'acct-log');
    await verifyReq(server, purchaseData(withPart(jws, 2, 'A'.repeat(86))));
    await post(`${server.url}/v1/purchases/verify`, `{"purchaseData": "${p['purchaseToken']}`);
    await post(`${server.url}/v1/purchases/verify`, { purchaseData: String(p['purchaseToken']), junk: 1 });
    const logs = server.logs.text;
    assert.ok(logs.includes(String(p['purchaseOrderId'])), 'logs should mention the order id');
    assert.equal(logs.includes(String(p['purchaseToken'])), false, 'purchaseToken leaked into logs');
    for (const part of jws.split('.')) assert.equal(logs.includes(part.slice(0, 40)), false, 'JWS leaked into logs');
  });
});
