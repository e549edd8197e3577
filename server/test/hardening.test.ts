// Adversarial review of the server, over real HTTP on loopback: odd chains and signatures, non-canonical encodings,
// header and payload types, signedTime edges, request smuggling, concurrent replays by several accounts, notifications
// from a foreign root or for unknown orders, idempotency across a restart on the same SQLite file, and log redaction.
// The reason codes are those the on-device verifier gives for the same input (common/iap JwsHardening.test.ets).
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  caLeaf,
  hasHighS,
  leafIssuedByRoot,
  oddCertificateVectors,
  P256_ORDER_HEX,
  pinnedRootAsLeaf,
  signRaw,
  v1Leaf,
  withFlippedS,
  withForeignX5cRoot,
} from '../../tools/testing/OddChains';
import { createTestPki, type TestPki } from '../../tools/testing/TestPki';
import {
  APP_ID,
  b64url,
  DEFAULT_ACCOUNT,
  sessionFor,
  genuinePki,
  LogCapture,
  orderPayload,
  post,
  purchaseData,
  startTestServer,
  tmpDb,
  verifyReq,
  withPart,
  type TestServer,
} from './helpers';

const HOUR = 3_600_000;

let pki: TestPki;
let foreign: TestPki;
let server: TestServer;

before(async () => {
  pki = await genuinePki();
  foreign = await createTestPki({ subjectPrefix: 'Attacker' });
  server = await startTestServer(pki);
});
after(async () => {
  await server.close();
});

async function verdict(jws: string): Promise<string> {
  const r = await verifyReq(server, purchaseData(jws));
  if (r.status === 200) return 'valid';
  return r.status === 422 ? String(r.body.reason) : `HTTP ${r.status} ${r.text}`;
}

function headerJson(extra = ''): string {
  return `{"alg":"ES256","typ":"JWT","x5c":${JSON.stringify(pki.x5c())}${extra ? `,${extra}` : ''}}`;
}

function withScalars(jws: string, rHex: string, sHex: string): string {
  return withPart(jws, 2, Buffer.from(rHex.padStart(64, '0') + sHex.padStart(64, '0'), 'hex').toString('base64url'));
}

describe('chains the functional tests do not build', () => {
  it('a leaf issued directly by the pinned root, as [leaf, root, root] → untrusted-chain', async () => {
    assert.equal(await verdict(await leafIssuedByRoot(pki, orderPayload())), 'untrusted-chain');
  });
  it('the pinned root presented as leaf and intermediate → untrusted-chain', async () => {
    assert.equal(await verdict(pinnedRootAsLeaf(pki, orderPayload())), 'untrusted-chain');
  });
  it('a leaf that is a CA, under an intermediate with pathLen 0 → bad-certificate', async () => {
    assert.equal(await verdict(await caLeaf(pki, orderPayload())), 'bad-certificate');
  });
  it('an X.509 v1 leaf → bad-certificate', async () => {
    assert.equal(await verdict(v1Leaf(pki, orderPayload())), 'bad-certificate');
  });
  it('certificates with trailing bytes → bad-certificate', async () => {
    const x = pki.x5c();
    const padded = (b64: string): string => Buffer.concat([Buffer.from(b64, 'base64'), Buffer.alloc(2)]).toString('base64');
    assert.equal(await verdict(pki.signJws(orderPayload(), { x5c: [padded(x[0]!), x[1]!, x[2]!] })), 'bad-certificate');
    assert.equal(await verdict(pki.signJws(orderPayload(), { x5c: [x[0]!, padded(x[1]!), x[2]!] })), 'bad-certificate');
  });
  it('the shared odd-certificate vectors get the verdicts the device gives them (JwsHardening.test.ets)', async () => {
    const wrong: string[] = [];
    for (const v of await oddCertificateVectors(pki, orderPayload())) {
      const got = await verdict(v.jws);
      if (got !== v.expected) wrong.push(`${v.name}: ${got}, expected ${v.expected}`);
    }
    assert.deepEqual(wrong, []);
  });
  it('x5c[2] that is another root does not matter: leaf and intermediate chain to the pinned root → valid', async () => {
    assert.equal(await verdict(withForeignX5cRoot(pki, foreign, orderPayload())), 'valid');
  });
});

describe('encodings', () => {
  it('x5c entries in non-canonical Base64 (missing or extra padding) → bad-certificate', async () => {
    const x = pki.x5c();
    const leaf = x[0]!;
    const variant = leaf.endsWith('=') ? leaf.replace(/=+$/, '') : `${leaf}==`;
    assert.equal(await verdict(pki.signJws(orderPayload(), { x5c: [variant, x[1]!, x[2]!] })), 'bad-certificate');
    assert.equal(await verdict(pki.signJws(orderPayload(), { x5c: [leaf, `${x[1]!} `, x[2]!] })), 'bad-certificate');
  });
  it('a signature text with non-zero trailing bits (same bytes, another text) → malformed', async () => {
    const jws = pki.signJws(orderPayload());
    const s = jws.split('.')[2]!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sibling = alphabet[alphabet.indexOf(s[85]!) + 1]!;
    const variant = withPart(jws, 2, s.slice(0, 85) + sibling);
    assert.deepEqual(Buffer.from(variant.split('.')[2]!, 'base64url'), Buffer.from(s, 'base64url'));
    assert.equal(await verdict(variant), 'malformed');
  });
  it('a payload text with non-zero trailing bits → malformed', async () => {
    // Find a payload whose base64url length leaves padding bits, then set one of them.
    let jws = '';
    for (let pad = 0; pad < 3 && !jws; pad++) {
      const candidate = pki.signJws(orderPayload({ offerId: 'x'.repeat(pad) }));
      if (candidate.split('.')[1]!.length % 4 !== 0) jws = candidate;
    }
    const p = jws.split('.')[1]!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(p[p.length - 1]!);
    const variant = withPart(jws, 1, p.slice(0, -1) + alphabet[last + 1]!);
    assert.equal(await verdict(variant), 'malformed');
  });
});

describe('header types', () => {
  const payload = (): string => JSON.stringify(orderPayload());
  it('alg in another case, with spaces, or not a string → unsupported-alg', async () => {
    for (const alg of ['"es256"', '"ES256 "', '"ES256\\u0000"', '["ES256"]', '256', 'null']) {
      assert.equal(await verdict(signRaw(pki, `{"alg":${alg},"x5c":${JSON.stringify(pki.x5c())}}`, payload())), 'unsupported-alg', alg);
    }
  });
  it('crit → malformed whatever the alg (crit is judged first, as on the device)', async () => {
    assert.equal(await verdict(signRaw(pki, headerJson('"crit":["exp"]'), payload())), 'malformed');
    assert.equal(await verdict(signRaw(pki, `{"alg":"HS256","crit":["b64"],"x5c":${JSON.stringify(pki.x5c())}}`, payload())), 'malformed');
  });
  it('x5c not an array → malformed; entries that are not strings → bad-certificate; the count first', async () => {
    assert.equal(await verdict(signRaw(pki, `{"alg":"ES256","x5c":"${pki.x5c()[0]!}"}`, payload())), 'malformed');
    assert.equal(await verdict(signRaw(pki, '{"alg":"ES256","x5c":[1,2,3]}', payload())), 'bad-certificate');
    assert.equal(await verdict(signRaw(pki, '{"alg":"ES256","x5c":[1,2]}', payload())), 'bad-chain-length');
  });
  it('duplicate keys: the last one wins, as on the device', async () => {
    const x5c = JSON.stringify(pki.x5c());
    assert.equal(await verdict(signRaw(pki, `{"alg":"none","x5c":${x5c},"alg":"ES256"}`, payload())), 'valid');
    assert.equal(await verdict(signRaw(pki, `{"alg":"ES256","x5c":${x5c},"alg":"none"}`, payload())), 'unsupported-alg');
  });
  it('kid, jku, x5u, x5t#S256 and jwk are ignored', async () => {
    const extra = '"kid":"k","jku":"https://attacker.example/jwks","x5u":"https://attacker.example/x5u","x5t#S256":"AAAA","jwk":{"kty":"EC"}';
    assert.equal(await verdict(signRaw(pki, headerJson(extra), payload())), 'valid');
  });
});

describe('signatures', () => {
  it('both ECDSA forms (low-S and high-S) are valid: Huawei does not normalise s', async () => {
    const jws = pki.signJws(orderPayload());
    const flipped = withFlippedS(jws);
    assert.notEqual(hasHighS(jws), hasHighS(flipped));
    assert.equal(await verdict(jws), 'valid');
    assert.equal(await verdict(withFlippedS(pki.signJws(orderPayload()))), 'valid');
  });
  it('r or s equal to 0, to n or above → bad-signature', async () => {
    const jws = pki.signJws(orderPayload());
    const sig = Buffer.from(jws.split('.')[2]!, 'base64url');
    const r = sig.subarray(0, 32).toString('hex');
    const s = sig.subarray(32).toString('hex');
    for (const [rr, ss] of [['0', s], [r, '0'], [P256_ORDER_HEX, s], [r, P256_ORDER_HEX], ['f'.repeat(64), s]] as const) {
      assert.equal(await verdict(withScalars(jws, rr, ss)), 'bad-signature', `${rr.slice(0, 8)} ${ss.slice(0, 8)}`);
    }
  });
});

describe('signedTime and payload types (the device reads the payload the server returns)', () => {
  it('signedTime as a string → invalid-payload', async () => {
    const now = Date.now();
    const text = JSON.stringify(orderPayload({ signedTime: now })).replace(`"signedTime":${now}`, `"signedTime":"${now}"`);
    assert.equal(await verdict(signRaw(pki, headerJson(), text)), 'invalid-payload');
  });
  it('signedTime zero, negative or not finite → invalid-payload; in seconds → cert-not-yet-valid', async () => {
    assert.equal(await verdict(pki.signJws(orderPayload({ signedTime: 0 }))), 'invalid-payload');
    assert.equal(await verdict(pki.signJws(orderPayload({ signedTime: -Date.now() }))), 'invalid-payload');
    const text = JSON.stringify(orderPayload({ signedTime: 7 })).replace('"signedTime":7', '"signedTime":1e400');
    assert.equal(await verdict(signRaw(pki, headerJson(), text)), 'invalid-payload');
    assert.equal(await verdict(pki.signJws(orderPayload({ signedTime: Math.floor(Date.now() / 1000) }))), 'cert-not-yet-valid');
  });
  it('far-future signedTime → cert-expired (certificates first, as on the device)', async () => {
    assert.equal(await verdict(pki.signJws(orderPayload({ signedTime: 1e17 }))), 'cert-expired');
  });
  it('validity bounds are inclusive to the millisecond', async () => {
    // Inside the genuine intermediate's validity (from a day before the test run).
    const notBefore = Math.floor((Date.now() - 20 * HOUR) / 1000) * 1000;
    const notAfter = Math.floor((Date.now() - HOUR) / 1000) * 1000;
    const past = await createTestPki({ parent: pki, leafNotBefore: new Date(notBefore), leafNotAfter: new Date(notAfter) });
    assert.equal(await verdict(past.signJws(orderPayload({ signedTime: notBefore }))), 'valid');
    assert.equal(await verdict(past.signJws(orderPayload({ signedTime: notAfter }))), 'valid');
    assert.equal(await verdict(past.signJws(orderPayload({ signedTime: notBefore - 1 }))), 'cert-not-yet-valid');
    assert.equal(await verdict(past.signJws(orderPayload({ signedTime: notAfter + 1 }))), 'cert-expired');
  });
  it('fields of the wrong JSON type → invalid-payload, so the device never receives a payload it cannot read', async () => {
    for (const over of [{ productType: 0 }, { price: '600' }, { needFinish: 'true' }, { purchaseTime: '1' }, { currency: 7 }, { quantity: '1' }]) {
      assert.equal(await verdict(pki.signJws(orderPayload(over))), 'invalid-payload', JSON.stringify(over));
    }
  });
  it('a payload that is not a JSON object → malformed', async () => {
    for (const text of ['[]', '42', 'null', '"x"']) {
      assert.equal(await verdict(signRaw(pki, headerJson(), text)), 'malformed', text);
    }
  });
});

describe('request smuggling', () => {
  it('extra fields, purchaseData as an object, __proto__ → 400 and no grant', async () => {
    const p = orderPayload();
    const pd = purchaseData(pki.signJws(p));
    const before = server.grants.length;
    for (const body of [
      { purchaseData: pd, accountId: 'a', grant: true },
      { purchaseData: JSON.parse(pd) as unknown },
      { purchaseData: [pd] },
      `{"purchaseData":${JSON.stringify(pd)},"__proto__":{"accountId":"x"}}`,
      `{"purchaseData":${JSON.stringify(pd)},"constructor":{"prototype":{"x":1}}}`,
    ]) {
      const r = await post(`${server.url}/v1/purchases/verify`, body);
      assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 60)}: ${r.text}`);
    }
    assert.equal(server.grants.length, before);
  });
  it('a duplicated purchaseData key reads as JSON.parse does (the last one)', async () => {
    const p = orderPayload();
    const pd = purchaseData(pki.signJws(p));
    const r = await post(`${server.url}/v1/purchases/verify`, `{"purchaseData":"{}","purchaseData":${JSON.stringify(pd)}}`, {
      authorization: `Bearer ${sessionFor(DEFAULT_ACCOUNT)}`,
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.payload.purchaseOrderId, p['purchaseOrderId']);
  });
});

describe('concurrency and restarts', () => {
  it('concurrent presentations by different accounts: exactly one grant, every other account gets 409', async () => {
    const p = orderPayload();
    const pd = purchaseData(pki.signJws(p));
    const results = await Promise.all(Array.from({ length: 12 }, (_v, i) => verifyReq(server, pd, `acct-${i}`)));
    const ok = results.filter((r) => r.status === 200);
    assert.equal(ok.length, 1, results.map((r) => r.status).join(','));
    assert.equal(results.filter((r) => r.status === 409).length, 11);
    const grants = server.grants.filter((g) => g.purchaseOrderId === p['purchaseOrderId']);
    assert.equal(grants.length, 1);
    assert.equal((await server.ledger.get(p['purchaseOrderId'] as string))?.accountId, grants[0]!.accountId);
  });

  it('idempotency survives a restart on the same SQLite file (orders and notifications)', async () => {
    const file = tmpDb('restart');
    const p = orderPayload();
    const pd = purchaseData(pki.signJws(p));
    const requestId = crypto.randomUUID();
    const note = pki.signJws({
      notificationType: 'DID_NEW_TRANSACTION',
      notificationRequestId: requestId,
      notificationMetaData: { environment: 'SANDBOX', applicationId: APP_ID, purchaseOrderId: 'o-restart', purchaseToken: 't' },
      notificationVersion: 'v3',
      signedTime: Date.now(),
    });
    const first = await startTestServer(pki, { databasePath: file });
    assert.equal((await verifyReq(first, pd, 'alice')).headers.get('x-delivery'), 'new');
    assert.equal((await post(`${first.url}/v1/notifications`, { jwsNotification: note })).headers.get('x-notification'), 'noted');
    await first.close();

    const second = await startTestServer(pki, { databasePath: file });
    try {
      const again = await verifyReq(second, pd, 'alice');
      assert.equal(again.status, 200, again.text);
      assert.equal(again.headers.get('x-delivery'), 'replay');
      assert.equal(second.grants.length, 0);
      assert.equal((await verifyReq(second, pd, 'bob')).status, 409);
      assert.equal((await post(`${second.url}/v1/notifications`, { jwsNotification: note })).headers.get('x-notification'), 'duplicate');
      assert.equal(await second.ledger.grantedCount(), 1);
    } finally {
      await second.close();
    }
  });
});

describe('notifications', () => {
  const notify = (signer: TestPki, type: string, meta: Record<string, unknown>): ReturnType<typeof post> =>
    post(`${server.url}/v1/notifications`, {
      jwsNotification: signer.signJws({
        notificationType: type,
        notificationSubtype: 'REFUND_TRANSACTION',
        notificationRequestId: crypto.randomUUID(),
        notificationMetaData: { environment: 'SANDBOX', applicationId: APP_ID, ...meta },
        notificationVersion: 'v3',
        signedTime: Date.now(),
      }),
    });

  it('a REVOKE signed by a foreign root changes nothing (422 untrusted-chain)', async () => {
    const p = orderPayload();
    const pd = purchaseData(pki.signJws(p));
    assert.equal((await verifyReq(server, pd)).status, 200);
    const forged = await notify(foreign, 'REVOKE', { purchaseOrderId: p['purchaseOrderId'], purchaseToken: p['purchaseToken'] });
    assert.equal(forged.status, 422);
    assert.equal(forged.body.reason, 'untrusted-chain');
    const dressed = await notify(foreign, 'REVOKE', { purchaseOrderId: p['purchaseOrderId'] });
    assert.equal(dressed.status, 422);
    assert.equal((await server.ledger.get(p['purchaseOrderId'] as string))?.state, 'granted');
    assert.equal(server.revokes.includes(p['purchaseOrderId'] as string), false);
  });

  it('a notification for an unknown order is answered 200; only a REVOKE leaves a (revoked) row', async () => {
    const noted = await notify(pki, 'DID_NEW_TRANSACTION', { purchaseOrderId: 'unknown-order-1', purchaseToken: 'unknown-token-1' });
    assert.equal(noted.status, 200);
    assert.equal(await server.ledger.get('unknown-order-1'), undefined);
    const revoked = await notify(pki, 'REVOKE', { purchaseOrderId: 'unknown-order-2', purchaseToken: 'unknown-token-2' });
    assert.equal(revoked.status, 200);
    assert.equal(revoked.headers.get('x-notification'), 'revoked-before-grant');
    assert.equal((await server.ledger.get('unknown-order-2'))?.state, 'revoked');
  });
});

describe('log redaction', () => {
  it('no purchaseToken, JWS part, purchaseData or notification token in the logs, whatever the path', async () => {
    const logs = new LogCapture();
    const s = await startTestServer(pki, { logger: { level: 'debug', stream: logs } });
    try {
      const p = orderPayload();
      const jws = pki.signJws(p);
      const pd = purchaseData(jws);
      const notificationToken = `ntok-${crypto.randomBytes(16).toString('hex')}`;
      await verifyReq(s, pd, 'acct-1');
      await verifyReq(s, pd, 'acct-2');
      await verifyReq(s, purchaseData(withPart(jws, 2, 'A'.repeat(86))));
      await verifyReq(s, purchaseData(pki.signJws({ ...p, purchaseOrderRevocationReasonCode: '1' })));
      await verifyReq(s, purchaseData(pki.signJws({ ...p, applicationId: 'other' })));
      await verifyReq(s, purchaseData(jws.replace('.', '..')));
      await post(`${s.url}/v1/purchases/verify`, { purchaseData: pd, smuggled: p['purchaseToken'] });
      await post(`${s.url}/v1/purchases/verify`, `{"purchaseData":${JSON.stringify(pd)}`);
      await post(`${s.url}/v1/purchases/verify`, { purchaseData: `${pd}${'x'.repeat(70 * 1024)}` });
      await post(`${s.url}/v1/notifications`, {
        jwsNotification: pki.signJws({
          notificationType: 'REVOKE',
          notificationRequestId: crypto.randomUUID(),
          notificationMetaData: { environment: 'SANDBOX', applicationId: APP_ID, purchaseToken: notificationToken },
          notificationVersion: 'v3',
          signedTime: Date.now(),
        }),
      });
      await post(`${s.url}/v1/notifications`, { jwsNotification: foreign.signJws({ notificationMetaData: { purchaseToken: notificationToken } }) });
      const text = logs.text;
      assert.ok(text.includes(String(p['purchaseOrderId'])), 'the order id is logged');
      for (const secret of [String(p['purchaseToken']), notificationToken, ...jws.split('.').map((x) => x.slice(0, 32)), b64url(p).slice(0, 32)]) {
        assert.equal(text.includes(secret), false, `leaked into the logs: ${secret.slice(0, 12)}…`);
      }
    } finally {
      await s.close();
    }
  });
});
