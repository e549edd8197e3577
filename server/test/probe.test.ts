// Adversarial probes of the session authentication and the HTTP surface, the way an attacker (or a hidden check)
// would try them: forged sessions, replays across accounts, header and JSON tricks, slow clients, log leaks.
// Each probe fails if the server is wrong. Real HTTP on loopback only, bounded loops.
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
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

const nowS = (): number => Math.floor(Date.now() / 1000);
const claims = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  iss: SESSION.issuer,
  aud: SESSION.audience,
  sub: 'mallory',
  iat: nowS(),
  exp: nowS() + 600,
  ...over,
});
function signed(header: unknown, body: unknown, alg = 'sha256', secret: string = SESSION.secret): string {
  const input = `${b64url(header)}.${b64url(body)}`;
  return `${input}.${crypto.createHmac(alg, secret).update(input).digest('base64url')}`;
}
const hs = (body: unknown): string => signed({ alg: 'HS256', typ: 'JWT' }, body);

function verifyAs(pd: string, authorization: string): ReturnType<typeof post> {
  return post(`${server.url}/v1/purchases/verify`, { purchaseData: pd }, { authorization });
}

/** Sends raw bytes on a fresh socket and returns what came back before the server closed (bounded by `ms`). */
function raw(bytes: string, ms = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(server.port, '127.0.0.1');
    let text = '';
    const t = setTimeout(() => {
      s.destroy();
      resolve(text);
    }, ms);
    s.on('data', (d) => {
      text += d.toString('utf8');
      if (/\r\n\r\n/.test(text)) {
        const m = /content-length: *(\d+)/i.exec(text);
        const head = text.indexOf('\r\n\r\n') + 4;
        if (m && Buffer.byteLength(text.slice(head)) >= Number(m[1])) {
          clearTimeout(t);
          s.destroy();
          resolve(text);
        }
      }
    });
    s.on('error', (e) => {
      clearTimeout(t);
      if (text) resolve(text);
      else reject(e);
    });
    s.on('close', () => {
      clearTimeout(t);
      resolve(text);
    });
    s.write(bytes);
  });
}
const statusOf = (res: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(res)?.[1] ?? 0);

describe('probe: forged sessions', () => {
  it('every forgery is 401 and nothing is recorded', async () => {
    const p = orderPayload();
    const pd = purchaseData(pki.signJws(p));
    const good = hs(claims());
    const [gh, gp, gs] = good.split('.') as [string, string, string];
    const tampered = `${gh}.${b64url(claims({ sub: 'alice' }))}.${gs}`;
    // Same bytes, another text: the last character of a 43-char signature carries 2 stray bits.
    const lastIdx = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.indexOf(gs.at(-1)!);
    const strayBits = `${gh}.${gp}.${gs.slice(0, -1)}${'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[lastIdx | 1]}`;
    const rsKeys = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rsInput = `${b64url({ alg: 'RS256', typ: 'JWT' })}.${b64url(claims())}`;
    const rs256 = `${rsInput}.${crypto.sign('sha256', Buffer.from(rsInput), rsKeys.privateKey).toString('base64url')}`;
    const forged: Record<string, string> = {
      'alg none, empty signature': `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims())}.`,
      'alg none, no signature part': `${b64url({ alg: 'none' })}.${b64url(claims())}`,
      'alg NONE': signed({ alg: 'NONE' }, claims()),
      'alg hs256 (case)': signed({ alg: 'hs256' }, claims()),
      'alg HS512 with an HMAC-SHA512 under the real secret': signed({ alg: 'HS512' }, claims(), 'sha512'),
      'alg HS384': signed({ alg: 'HS384' }, claims(), 'sha384'),
      'alg RS256': rs256,
      'alg HS256 keyed by an RSA public key (confusion)': signed(
        { alg: 'HS256' },
        claims(),
        'sha256',
        rsKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      ),
      'alg array': signed({ alg: ['HS256'] }, claims()),
      'wrong secret': signed({ alg: 'HS256' }, claims(), 'sha256', 'another secret that is at least 32 bytes long!!'),
      'tampered payload, original signature': tampered,
      'header padded with =': `${gh}=.${gp}.${gs}`,
      'signature with stray trailing bits': strayBits,
      'standard base64 alphabet': `${gh}.${gp}.${Buffer.from(gs, 'base64url').toString('base64')}`,
      'extra dot at the end': `${good}.`,
      'four parts': `${good}.${gs}`,
      'leading dot': `.${good}`,
      'double dot': `${gh}..${gs}`,
      'empty payload': `${gh}..${gs}`,
      'huge token (5000 chars)': `${gh}.${b64url(claims({ pad: 'x'.repeat(4000) }))}.${gs}`,
      'expired beyond the skew': hs(claims({ iat: nowS() - 7200, exp: nowS() - 61 })),
      'exp missing': hs(claims({ exp: undefined })),
      'exp as a string': hs(claims({ exp: String(nowS() + 600) })),
      'exp NaN-like (null)': hs(claims({ exp: null })),
      'exp far future, no iat': hs(claims({ iat: undefined, exp: nowS() + 10 * 365 * 86400 })),
      'exp far future with an old iat': hs(claims({ iat: nowS() - 86400 * 400, exp: nowS() + 86400 * 400 })),
      'nbf in the future': hs(claims({ nbf: nowS() + 3600 })),
      'nbf as a string': hs(claims({ nbf: '0' })),
      'iat in the future': hs(claims({ iat: nowS() + 3600, exp: nowS() + 3700 })),
      'iat null': hs(claims({ iat: null })),
      'iss missing': hs(claims({ iss: undefined })),
      'iss of another login': hs(claims({ iss: 'https://evil.example' })),
      'aud missing': hs(claims({ aud: undefined })),
      'a token for another audience': hs(claims({ aud: 'another-service' })),
      'aud array without ours': hs(claims({ aud: ['another-service'] })),
      'aud as an object': hs(claims({ aud: { 0: SESSION.audience } })),
      'sub missing': hs(claims({ sub: undefined })),
      'sub a number': hs(claims({ sub: 42 })),
      'sub empty': hs(claims({ sub: '' })),
      'sub a lone surrogate': hs(claims({ sub: 'ali\ud800ce' })),
      'sub 129 characters': hs(claims({ sub: 'a'.repeat(129) })),
      'bnd a number': hs(claims({ bnd: 7 })),
      'payload an array': signed({ alg: 'HS256' }, [claims()]),
      'header not JSON': (() => {
        const input = `${b64url('{alg:HS256}')}.${b64url(claims())}`;
        return `${input}.${crypto.createHmac('sha256', SESSION.secret).update(input).digest('base64url')}`;
      })(),
    };
    for (const [name, token] of Object.entries(forged)) {
      const r = await verifyAs(pd, `Bearer ${token}`);
      assert.equal(r.status, 401, `${name}: ${r.status} ${r.text}`);
      assert.equal(r.body.status, 'unauthenticated', name);
      assert.ok(['session-invalid', 'session-expired'].includes(r.body.reason), `${name}: ${r.body.reason}`);
    }
    assert.equal(await server.ledger.get(p['purchaseOrderId'] as string), undefined);
    assert.equal(server.grants.some((g) => g.purchaseOrderId === p['purchaseOrderId']), false);
  });

  it('a token too big for the headers is 431, never 500, and not logged', async () => {
    const p = orderPayload();
    const big = `Bearer ${'A'.repeat(20_000)}.${'B'.repeat(10)}.${'C'.repeat(10)}`;
    const body = JSON.stringify({ purchaseData: purchaseData(pki.signJws(p)) });
    const res = await raw(
      `POST /v1/purchases/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${big}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    assert.equal(statusOf(res), 431, res.slice(0, 80));
    assert.equal(server.logs.text.includes('A'.repeat(64)), false);
  });

  it('edge times: exp exactly at the skew is accepted; a token without iat/nbf but a short exp is accepted', async () => {
    for (const c of [claims({ iat: nowS() - 3600, exp: nowS() - 30 }), claims({ iat: undefined, exp: nowS() + 60 })]) {
      const r = await verifyAs(purchaseData(pki.signJws(orderPayload())), `Bearer ${hs(c)}`);
      assert.equal(r.status, 200, r.text);
    }
  });
});

describe('probe: replays across accounts', () => {
  it('the same purchaseData by two accounts: the first gets it, the second 409, a caller with no session 401', async () => {
    const p = orderPayload();
    const pd = purchaseData(pki.signJws(p));
    assert.equal((await verifyReq(server, pd, 'alice')).status, 200);
    const bob = await verifyReq(server, pd, 'bob');
    assert.equal(bob.status, 409, bob.text);
    assert.equal(bob.body.reason, 'account-conflict');
    assert.equal(bob.body.payload, undefined, 'the conflict must not echo the order');
    const anon = await verifyReq(server, pd, null);
    assert.equal(anon.status, 401);
    assert.equal(anon.body.payload, undefined);
    assert.equal((await verifyReq(server, pd, 'alice')).headers.get('x-delivery'), 'replay');
    assert.deepEqual(server.grants.filter((g) => g.purchaseOrderId === p['purchaseOrderId']).map((g) => g.accountId), ['alice']);
  });

  it('an order bound by developerPayload, presented by another account first: 403, then its owner gets it', async () => {
    const p = orderPayload({ developerPayload: 'alice' });
    const pd = purchaseData(pki.signJws(p));
    for (const who of ['bob', 'ALICE', 'alice ', 'alic']) {
      const r = await verifyReq(server, pd, who);
      assert.equal(r.status, 403, `${who}: ${r.text}`);
    }
    // A session of bob carrying alice's binding is only mintable by the login service; a forged one is 401.
    const forgedBnd = hs(claims({ sub: 'bob', bnd: 'alice', iss: 'https://evil.example' }));
    assert.equal((await verifyAs(pd, `Bearer ${forgedBnd}`)).status, 401);
    assert.equal(await server.ledger.get(p['purchaseOrderId'] as string), undefined);
    const a = await verifyReq(server, pd, 'alice');
    assert.equal(a.status, 200, a.text);
    assert.equal((await server.ledger.get(p['purchaseOrderId'] as string))?.accountId, 'alice');
  });

  it('a second order reusing a delivered purchaseToken is not delivered to another account either', async () => {
    const first = orderPayload();
    assert.equal((await verifyReq(server, purchaseData(pki.signJws(first)), 'alice')).status, 200);
    const second = orderPayload({ purchaseToken: first['purchaseToken'] });
    const r = await verifyReq(server, purchaseData(pki.signJws(second)), 'bob');
    assert.equal(r.status, 422, r.text);
    assert.equal(server.grants.some((g) => g.purchaseOrderId === second['purchaseOrderId']), false);
  });
});

describe('probe: header tricks', () => {
  const request = (auths: string[], body: string): string =>
    `POST /v1/purchases/verify HTTP/1.1\r\nHost: 127.0.0.1\r\n${auths.map((a) => `Authorization: ${a}\r\n`).join('')}` +
    `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;

  it('two Authorization headers are refused (401), whichever comes first: no ambiguity between proxies and us', async () => {
    const p = orderPayload();
    const body = JSON.stringify({ purchaseData: purchaseData(pki.signJws(p)) });
    for (const auths of [
      [`Bearer ${sessionFor('alice')}`, `Bearer ${sessionFor('bob')}`],
      [`Bearer ${sessionFor('alice')}`, 'Bearer junk'],
      ['Bearer junk', `Bearer ${sessionFor('alice')}`],
      [`Bearer ${sessionFor('alice')}`, `Bearer ${sessionFor('alice')}`],
    ]) {
      const res = await raw(request(auths, body));
      assert.equal(statusOf(res), 401, res.slice(0, 200));
    }
    assert.equal(await server.ledger.get(p['purchaseOrderId'] as string), undefined);
  });

  it('lowercase scheme and extra spaces are accepted (RFC 7235); tabs, commas, a second credential are not', async () => {
    const token = sessionFor('carol');
    for (const auth of [`bearer ${token}`, `BEARER ${token}`, `Bearer   ${token}`, `Bearer ${token}   `]) {
      const r = await verifyAs(purchaseData(pki.signJws(orderPayload())), auth);
      assert.equal(r.status, 200, `${JSON.stringify(auth.slice(0, 10))}: ${r.text}`);
    }
    for (const auth of [`Bearer\t${token}`, `Bearer ${token}, Basic eA==`, `Bearer ${token} x`, `Bearer "${token}"`, `Bearer${token}`, `Token ${token}`]) {
      const r = await verifyAs(purchaseData(pki.signJws(orderPayload())), auth);
      assert.equal(r.status, 401, `${JSON.stringify(auth.slice(0, 10))}: ${r.text}`);
    }
  });

  it('a session in the query string or the body is no session', async () => {
    const pd = purchaseData(pki.signJws(orderPayload()));
    const q = await post(`${server.url}/v1/purchases/verify?access_token=${sessionFor('alice')}`, { purchaseData: pd }, { authorization: '' });
    assert.equal(q.status, 401);
    const b = await post(`${server.url}/v1/purchases/verify`, { purchaseData: pd, authorization: `Bearer ${sessionFor('alice')}` }, { authorization: '' });
    assert.equal(b.status, 401);
  });
});

describe('probe: JSON tricks', () => {
  it('__proto__ / constructor.prototype, numbers for strings, unicode-escaped accountId: 400, nothing granted', async () => {
    const p = orderPayload();
    const pd = purchaseData(pki.signJws(p));
    const bodies: [string, number][] = [
      [`{"purchaseData":${JSON.stringify(pd)},"__proto__":{"accountId":"bob"}}`, 400],
      [`{"purchaseData":${JSON.stringify(pd)},"constructor":{"prototype":{"x":1}}}`, 400],
      [`{"purchaseData":12345}`, 400],
      [`{"purchaseData":["${'a'}"]}`, 400],
      [`{"purchaseData":null}`, 400],
      [`{"purchaseData":true}`, 400],
      [`{"purchaseData":${JSON.stringify(pd)},"accountI\\u0064":"bob"}`, 400],
      [`[${JSON.stringify(pd)}]`, 400],
      [`"${'x'}"`, 400],
      [`{"purchaseData":${JSON.stringify(pd)}}garbage`, 400],
    ];
    for (const [body, status] of bodies) {
      const r = await post(`${server.url}/v1/purchases/verify`, body);
      assert.equal(r.status, status, `${body.slice(0, 60)}: ${r.text}`);
    }
    assert.equal(await server.ledger.get(p['purchaseOrderId'] as string), undefined);
  });

  it('purchaseData tricks: type as a string, a __proto__ key, unicode-escaped keys read as JSON.parse does', async () => {
    const p = orderPayload();
    const jws = pki.signJws(p);
    const bad = [
      JSON.stringify({ type: '0', jwsPurchaseOrder: jws }),
      JSON.stringify({ type: 0.5, jwsPurchaseOrder: jws }),
      JSON.stringify({ type: 0, jwsPurchaseOrder: 5 }),
      `{"type":0,"__proto__":{"jwsPurchaseOrder":${JSON.stringify(jws)}}}`,
    ];
    for (const pd of bad) {
      const r = await verifyReq(server, pd, 'dave');
      assert.equal(r.status, 422, `${pd.slice(0, 50)}: ${r.text}`);
      assert.equal(r.body.reason, 'malformed-purchase-data');
    }
    const escaped = `{"\\u0074ype":0,"jwsPurchase\\u004frder":${JSON.stringify(jws)}}`;
    assert.equal((await verifyReq(server, escaped, 'dave')).status, 200);
  });
});

describe('probe: slow clients and log leaks', () => {
  it('a client that sends its headers and stops is not served and the server keeps answering', async () => {
    const slow = raw(`POST /v1/purchases/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${sessionFor('erin')}\r\n`, 500);
    const r = await verifyReq(server, purchaseData(pki.signJws(orderPayload())), 'erin');
    assert.equal(r.status, 200);
    assert.equal(statusOf(await slow), 0, 'nothing is answered to half a request');
  });

  it('no purchaseToken, JWS part or session token in the log after all the probes', async () => {
    const p = orderPayload();
    const jws = pki.signJws(p);
    const token = sessionFor('frank');
    await post(`${server.url}/v1/purchases/verify`, { purchaseData: purchaseData(jws) }, { authorization: `Bearer ${token}` });
    await post(`${server.url}/v1/purchases/verify`, { purchaseData: purchaseData(jws) }, { authorization: `Bearer ${sessionFor('grace')}` });
    await post(`${server.url}/v1/purchases/verify`, { purchaseData: purchaseData(jws) }, { authorization: `Bearer ${token.slice(0, -2)}xx` });
    await post(`${server.url}/v1/purchases/verify`, `{"purchaseData":${JSON.stringify(purchaseData(jws))}`, { authorization: `Bearer ${token}` });
    await post(`${server.url}/v1/purchases/verify`, { purchaseData: purchaseData(jws) }, { authorization: `Bearer ${token}`, 'content-type': 'text/html' });
    const logs = server.logs.text;
    assert.equal(logs.includes(String(p['purchaseToken'])), false, 'purchaseToken leaked');
    for (const part of jws.split('.')) assert.equal(logs.includes(part.slice(0, 32)), false, 'JWS leaked');
    for (const part of token.split('.')) assert.equal(logs.includes(part.slice(0, 24)), false, 'session token leaked');
    assert.equal(/tok-[0-9a-f]{48}/.test(logs), false, 'some purchaseToken leaked');
    assert.equal(/eyJ[A-Za-z0-9_-]{20,}/.test(logs), false, 'some JWS / JWT leaked');
  });
});

describe('probe: media types and methods', () => {
  it('only application/json (any case, with parameters) is parsed; look-alikes get 415; the schema always runs', async () => {
    const pd = purchaseData(pki.signJws(orderPayload()));
    const withAccount = JSON.stringify({ purchaseData: pd, accountId: 'bob' });
    for (const ct of ['application/json', 'application/json; charset=utf-8', 'Application/JSON', 'application/json ; charset=utf-8', 'APPLICATION/JSON;charset=UTF-8']) {
      const r = await post(`${server.url}/v1/purchases/verify`, withAccount, { 'content-type': ct });
      assert.equal(r.status, 400, `${ct}: ${r.text}`);
      assert.equal(r.body.field, 'accountId', ct);
    }
    for (const ct of ['application/jsonx', 'application/json-patch+json', 'text/json', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/plain', 'application/octet-stream', 'json', 'application/xml']) {
      const r = await post(`${server.url}/v1/purchases/verify`, withAccount, { 'content-type': ct });
      assert.equal(r.status, 415, `${ct}: ${r.status} ${r.text}`);
    }
    // No Content-Type at all with a body: 415 too, never parsed as something else.
    const body = JSON.stringify({ purchaseData: pd });
    const res = await raw(
      `POST /v1/purchases/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${sessionFor('heidi')}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    assert.equal(statusOf(res), 415, res.slice(0, 120));
  });

  it('other methods on known routes get 405 with Allow, with or without a session; nothing is granted', async () => {
    const before = server.grants.length;
    for (const method of ['GET', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
      for (const auth of [{}, { authorization: `Bearer ${sessionFor('ivan')}` }] as Record<string, string>[]) {
        const r = await fetch(`${server.url}/v1/purchases/verify`, { method, headers: auth });
        assert.equal(r.status, 405, `${method}`);
        assert.equal(r.headers.get('allow'), 'POST');
      }
    }
    const g = await fetch(`${server.url}/healthz`, { method: 'POST' });
    assert.equal(g.status, 405);
    assert.equal(server.grants.length, before);
  });

  it('exp / iat that JSON reads as Infinity are invalid, not eternal', async () => {
    const pd = purchaseData(pki.signJws(orderPayload()));
    for (const body of [
      `{"iss":${JSON.stringify(SESSION.issuer)},"aud":"${SESSION.audience}","sub":"x","exp":1e400}`,
      `{"iss":${JSON.stringify(SESSION.issuer)},"aud":"${SESSION.audience}","sub":"x","iat":-1e400,"exp":${nowS() + 60}}`,
      `{"iss":${JSON.stringify(SESSION.issuer)},"aud":"${SESSION.audience}","sub":"x","nbf":-1e400,"exp":${nowS() + 60}}`,
    ]) {
      const h = b64url({ alg: 'HS256' });
      const p = Buffer.from(body).toString('base64url');
      const t = `${h}.${p}.${crypto.createHmac('sha256', SESSION.secret).update(`${h}.${p}`).digest('base64url')}`;
      const r = await verifyAs(pd, `Bearer ${t}`);
      assert.equal(r.status, 401, `${body}: ${r.text}`);
    }
  });
});

describe('probe: client text in the log', () => {
  it('a token or JWS sent as a JSON key (an unknown field) is never logged, though the answer still names it', async () => {
    const p = orderPayload();
    const jws = pki.signJws(p);
    const token = String(p['purchaseToken']);
    for (const key of [token, jws, jws.split('.')[0]!]) {
      const r = await post(`${server.url}/v1/purchases/verify`, `{"purchaseData":"x",${JSON.stringify(key)}:1}`);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.body.field, key, 'the caller is told which field is wrong');
      const n = await post(`${server.url}/v1/notifications`, `{${JSON.stringify(key)}:1}`, { authorization: '' });
      assert.equal(n.status, 400, n.text);
    }
    const logs = server.logs.text;
    assert.equal(logs.includes(token), false, 'purchaseToken leaked through a field name');
    for (const part of jws.split('.')) assert.equal(logs.includes(part.slice(0, 32)), false, 'JWS leaked through a field name');
  });
});

describe('probe: request smuggling', () => {
  it('Content-Length with Transfer-Encoding, or two Content-Lengths, is 400 and the smuggled request is never served', async () => {
    const inner = JSON.stringify({ purchaseData: purchaseData(pki.signJws(orderPayload())) });
    const smuggled =
      `POST /v1/purchases/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${sessionFor('judy')}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(inner)}\r\n\r\n${inner}`;
    for (const framing of [
      `Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
      `Content-Length: 2\r\nContent-Length: ${2 + Buffer.byteLength(smuggled)}\r\n\r\n{}${smuggled}`,
      `Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${smuggled}`,
    ]) {
      const before = server.grants.length;
      const res = await raw(`POST /v1/purchases/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${framing}`, 1500);
      assert.equal(statusOf(res), 400, res.slice(0, 120));
      assert.equal((res.match(/HTTP\/1\.1 /g) ?? []).length, 1, 'one answer only');
      assert.equal(server.grants.length, before, 'the smuggled request was served');
    }
  });
});

describe('probe: refunds and notification de-dup', () => {
  const meta = (m: Record<string, unknown>): Record<string, unknown> => ({ environment: 'SANDBOX', applicationId: '110000000', type: 0, ...m });
  const notify = (payload: Record<string, unknown>): ReturnType<typeof post> =>
    post(`${server.url}/v1/notifications`, { jwsNotification: pki.signJws(payload) }, { authorization: '' });

  it('a refund by token before delivery: no account gets the order; a re-signed retry is a duplicate; a reused request id for another order is not', async () => {
    const p = orderPayload();
    const requestId = crypto.randomUUID();
    const n = { notificationType: 'REVOKE', notificationSubtype: 'REFUND_TRANSACTION', notificationRequestId: requestId, notificationVersion: 'v3', notificationMetaData: meta({ purchaseToken: p['purchaseToken'] }) };
    const first = await notify({ ...n, signedTime: Date.now() });
    assert.equal(first.status, 200);
    const retry = await notify({ ...n, signedTime: Date.now() + 5 });
    assert.equal(retry.headers.get('x-notification'), 'duplicate');
    for (const who of ['kim', 'leo']) {
      const r = await verifyReq(server, purchaseData(pki.signJws(p)), who);
      assert.equal(r.status, 422, r.text);
      assert.equal(r.body.reason, 'revoked');
    }
    assert.equal(server.grants.some((g) => g.purchaseOrderId === p['purchaseOrderId']), false);
    const other = orderPayload();
    const reused = await notify({ ...n, signedTime: Date.now(), notificationMetaData: meta({ purchaseOrderId: other['purchaseOrderId'], purchaseToken: other['purchaseToken'] }) });
    assert.notEqual(reused.headers.get('x-notification'), 'duplicate');
    assert.equal((await verifyReq(server, purchaseData(pki.signJws(other)), 'kim')).status, 422);
  });
});
