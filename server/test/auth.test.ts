// Accounts come from an authenticated session, never from the body: forged, expired and missing sessions get 401;
// the signed developerPayload decides whose an order is (403); a bound order is only ever answered to its account
// (409), on any device, after a restart too. Real HTTP on loopback, real SQLite.
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { AuthError, checkAccount } from '../src/auth/Authenticator';
import { mintSessionToken, SessionTokenAuthenticator } from '../src/auth/SessionTokenAuthenticator';
import type { TestPki } from '../../tools/testing/TestPki';
import {
  b64url,
  genuinePki,
  orderPayload,
  post,
  purchaseData,
  SESSION,
  sessionFor,
  startTestServer,
  tmpDb,
  verifyReq,
  type TestServer,
} from './helpers';

let pki: TestPki;
let server: TestServer;

before(async () => {
  pki = await genuinePki();
  server = await startTestServer(pki);
});
after(async () => {
  await server.close();
});

function withSession(pd: string, authorization: string | undefined): ReturnType<typeof post> {
  return post(`${server.url}/v1/purchases/verify`, { purchaseData: pd }, { authorization: authorization ?? '' });
}

function hs256(header: unknown, claims: unknown, secret: string = SESSION.secret): string {
  const input = `${b64url(header)}.${b64url(claims)}`;
  return `${input}.${crypto.createHmac('sha256', secret).update(input).digest('base64url')}`;
}

const now = (): number => Math.floor(Date.now() / 1000);
const claims = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  iss: SESSION.issuer,
  aud: SESSION.audience,
  sub: 'alice',
  iat: now(),
  exp: now() + 600,
  ...over,
});

describe('sessions', () => {
  it('no session, another scheme, or a malformed header → 401 with a Bearer challenge; nothing recorded', async () => {
    const p = orderPayload();
    const pd = purchaseData(pki.signJws(p));
    for (const [auth, reason] of [
      [undefined, 'session-required'],
      ['Basic YWxpY2U6eA==', 'session-invalid'],
      ['Bearer', 'session-invalid'],
      ['Bearer a.b', 'session-invalid'],
      ['Bearer not a token', 'session-invalid'],
    ] as const) {
      const r = await withSession(pd, auth);
      assert.equal(r.status, 401, `${auth}: ${r.text}`);
      assert.equal(r.body.status, 'unauthenticated');
      assert.equal(r.body.reason, reason, String(auth));
      assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer realm="iap"/);
    }
    assert.equal(await server.ledger.get(p['purchaseOrderId'] as string), undefined);
    assert.equal(server.grants.length, 0);
  });

  it('forged sessions → 401 session-invalid: another secret, alg none / HS512 / RS256, a tampered claim, crit', async () => {
    const pd = purchaseData(pki.signJws(orderPayload()));
    const good = sessionFor('alice');
    const [h, , s] = good.split('.') as [string, string, string];
    const forged = [
      sessionFor('alice', { secret: 'another secret of at least thirty-two bytes' }),
      `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims())}.`,
      `${b64url({ alg: 'none' })}.${b64url(claims())}.${s}`,
      hs256({ alg: 'HS512', typ: 'JWT' }, claims()),
      hs256({ alg: 'RS256', typ: 'JWT' }, claims()),
      hs256({ alg: 'hs256' }, claims()),
      `${h}.${b64url(claims({ sub: 'mallory' }))}.${s}`,
      hs256({ alg: 'HS256', crit: ['exp'] }, claims()),
      `${good}x`,
      `${good.slice(0, -1)}${good.endsWith('A') ? 'B' : 'A'}`,
    ];
    for (const token of forged) {
      const r = await withSession(pd, `Bearer ${token}`);
      assert.equal(r.status, 401, `${token.slice(0, 40)}: ${r.text}`);
      assert.equal(r.body.reason, 'session-invalid', token.slice(0, 40));
    }
    assert.equal(server.grants.length, 0);
  });

  it('expired → session-expired; wrong issuer or audience, missing exp, iat or nbf in the future, too long → session-invalid', async () => {
    const pd = purchaseData(pki.signJws(orderPayload()));
    const expired = await withSession(pd, `Bearer ${hs256({ alg: 'HS256' }, claims({ iat: now() - 7200, exp: now() - 3600 }))}`);
    assert.equal(expired.status, 401);
    assert.equal(expired.body.reason, 'session-expired');
    for (const over of [
      { iss: 'https://evil.example' },
      { aud: 'another-service' },
      { aud: ['another-service'] },
      { exp: undefined },
      { exp: '9999999999' },
      { iat: now() + 3600 },
      { nbf: now() + 3600 },
      { iat: now(), exp: now() + 30 * 24 * 3600 },
      { sub: '' },
      { sub: 42 },
      { sub: 'x'.repeat(129) },
      { sub: 'alice\uD800' },
      { sub: '\uDC00bob' },
      { bnd: 'b\uDFFF' },
    ]) {
      const r = await withSession(pd, `Bearer ${hs256({ alg: 'HS256' }, claims(over))}`);
      assert.equal(r.status, 401, `${JSON.stringify(over)}: ${r.text}`);
      assert.equal(r.body.reason, 'session-invalid', JSON.stringify(over));
    }
    assert.equal(server.grants.length, 0);
  });

  it('clock skew: a session that expired 30 s ago or was issued 30 s ahead is still accepted (60 s default)', async () => {
    const a = await withSession(purchaseData(pki.signJws(orderPayload())), `Bearer ${hs256({ alg: 'HS256' }, claims({ exp: now() - 30 }))}`);
    assert.equal(a.status, 200, a.text);
    const b = await withSession(purchaseData(pki.signJws(orderPayload())), `Bearer ${hs256({ alg: 'HS256' }, claims({ iat: now() + 30 }))}`);
    assert.equal(b.status, 200, b.text);
  });

  it('without a session, any body gets 401 before it is parsed (not 400/413/415)', async () => {
    for (const [body, type] of [
      ['{not json', 'application/json'],
      [JSON.stringify({ purchaseData: 'x', accountId: 'mallory' }), 'application/json'],
      ['x'.repeat(70 * 1024), 'application/json'],
      ['purchaseData=x', 'text/plain'],
    ] as const) {
      const r = await post(`${server.url}/v1/purchases/verify`, body, { authorization: '', 'content-type': type });
      assert.equal(r.status, 401, `${type} ${body.slice(0, 20)}: ${r.text}`);
      assert.equal(r.body.reason, 'session-required');
    }
  });

  it('an accountId in the body is refused (400, naming the field): the account comes from the session', async () => {
    const r = await post(
      `${server.url}/v1/purchases/verify`,
      { purchaseData: purchaseData(pki.signJws(orderPayload())), accountId: 'mallory' },
      { authorization: `Bearer ${sessionFor('alice')}` },
    );
    assert.equal(r.status, 400, r.text);
    assert.equal(r.body.field, 'accountId');
    assert.match(r.body.detail, /session/);
  });

  it('secret rotation: tokens of the old secret still verify while it is listed; a short secret is refused', () => {
    const old = 'the previous session secret, 32+ bytes';
    const auth = new SessionTokenAuthenticator({ secrets: [SESSION.secret, old], issuer: SESSION.issuer, audience: SESSION.audience });
    assert.equal(auth.verify(mintSessionToken({ ...SESSION, secret: old, accountId: 'alice' })).accountId, 'alice');
    assert.equal(auth.verify(mintSessionToken({ ...SESSION, accountId: 'bob', binding: 'h(bob)' })).binding, 'h(bob)');
    assert.throws(() => new SessionTokenAuthenticator({ secrets: ['short'], issuer: 'i', audience: 'a' }));
  });

  it('checkAccount refuses what a custom authenticator should never return', () => {
    for (const bad of [{ accountId: '' }, { accountId: 'a\uD83D' }, { accountId: 'x'.repeat(129) }, { accountId: 'a', binding: '' }]) {
      assert.throws(() => checkAccount(bad), AuthError, JSON.stringify(bad));
    }
    assert.deepEqual(checkAccount({ accountId: 'a\uD83D\uDE00' }), { accountId: 'a\uD83D\uDE00' });
  });

  it('an account id with U+0000 is a bad session: PostgreSQL text cannot hold it, so neither ledger may', () => {
    assert.throws(() => checkAccount({ accountId: 'ali\u0000ce' }), AuthError);
    assert.throws(() => checkAccount({ accountId: 'alice', binding: 'h\u0000' }), AuthError);
  });

  it('the Authorization header never reaches the log', async () => {
    const token = sessionFor('alice');
    await withSession(purchaseData(pki.signJws(orderPayload())), `Bearer ${token}`);
    await withSession(purchaseData(pki.signJws(orderPayload())), `Bearer ${token}x`);
    for (const part of token.split('.')) assert.equal(server.logs.text.includes(part), false);
  });
});

describe('whose order it is', () => {
  it('replay across accounts: another account presenting a bound order gets 409 and no grant', async () => {
    const p = orderPayload();
    const pd = purchaseData(pki.signJws(p));
    assert.equal((await verifyReq(server, pd, 'alice')).status, 200);
    const bob = await verifyReq(server, pd, 'bob');
    assert.equal(bob.status, 409, bob.text);
    assert.equal(bob.body.reason, 'account-conflict');
    assert.equal((await verifyReq(server, pd, null)).status, 401);
    assert.deepEqual(
      server.grants.filter((g) => g.purchaseOrderId === p['purchaseOrderId']),
      [{ purchaseOrderId: p['purchaseOrderId'], accountId: 'alice' }],
    );
  });

  it('developerPayload names the account: another session gets 403 account-mismatch before anything is recorded', async () => {
    const p = orderPayload({ developerPayload: 'alice' });
    const pd = purchaseData(pki.signJws(p));
    const bob = await verifyReq(server, pd, 'bob');
    assert.equal(bob.status, 403, bob.text);
    assert.equal(bob.body.reason, 'account-mismatch');
    assert.equal(await server.ledger.get(p['purchaseOrderId'] as string), undefined);
    // The first presenter cannot capture it either: the owner still gets it.
    const alice = await verifyReq(server, pd, 'alice');
    assert.equal(alice.status, 200, alice.text);
    assert.equal((await server.ledger.get(p['purchaseOrderId'] as string))?.accountId, 'alice');
  });

  it('developerPayload is compared with the session binding when the login sets one (bnd claim)', async () => {
    const p = orderPayload({ developerPayload: 'salted-hash-of-carol' });
    const pd = purchaseData(pki.signJws(p));
    const asId = await withSession(pd, `Bearer ${sessionFor('carol')}`);
    assert.equal(asId.status, 403);
    const asBinding = await withSession(pd, `Bearer ${sessionFor('carol', { binding: 'salted-hash-of-carol' })}`);
    assert.equal(asBinding.status, 200, asBinding.text);
    assert.equal((await server.ledger.get(p['purchaseOrderId'] as string))?.accountId, 'carol');
  });

  it('restore: the same account gets its order back on another device and after a restart; others never do', async () => {
    const file = tmpDb('restore');
    const p = orderPayload({ productId: 'remove_ads', productType: '1' });
    const pd = purchaseData(pki.signJws(p), 1);
    const first = await startTestServer(pki, { databasePath: file });
    assert.equal((await verifyReq(first, pd, 'dora')).headers.get('x-delivery'), 'new');
    await first.close();
    const second = await startTestServer(pki, { databasePath: file });
    try {
      // A reinstall, a new device: the store lists the non-consumable again with a fresh signature.
      const again = await verifyReq(second, purchaseData(pki.signJws({ ...p, signedTime: Date.now() + 1 }), 1), 'dora');
      assert.equal(again.status, 200, again.text);
      assert.equal(again.headers.get('x-delivery'), 'replay');
      // No transfer: another account signed in on that device does not get it.
      assert.equal((await verifyReq(second, pd, 'eve')).status, 409);
      assert.equal((await second.ledger.get(p['purchaseOrderId'] as string))?.accountId, 'dora');
    } finally {
      await second.close();
    }
  });

  it('a server run without an authenticator does not hand a bound order to a caller without an account', async () => {
    const file = tmpDb('no-auth');
    const p = orderPayload();
    const pd = purchaseData(pki.signJws(p));
    const withAuth = await startTestServer(pki, { databasePath: file });
    assert.equal((await verifyReq(withAuth, pd, 'frank')).status, 200);
    await withAuth.close();
    const open = await startTestServer(pki, { databasePath: file, authenticator: undefined });
    try {
      assert.equal((await verifyReq(open, pd, null)).status, 409);
      const fresh = await verifyReq(open, purchaseData(pki.signJws(orderPayload())), null);
      assert.equal(fresh.status, 200, fresh.text);
    } finally {
      await open.close();
    }
  });
});
