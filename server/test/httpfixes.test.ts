// HTTP-level hardening: slow clients are cut off, tokens never reach the log through the URL or a parse error,
// strings are well-formed and bounded, every media type but JSON gets 415, errors name the field, a wrong method
// gets 405. Real sockets on loopback.
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { TestPki } from '../../tools/testing/TestPki';
import { redactedPath } from '../src/App';
import {
  APP_ID,
  DEFAULT_ACCOUNT,
  genuinePki,
  orderPayload,
  post,
  purchaseData,
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

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves with what the server wrote before it closed the socket, and when. */
function closed(socket: net.Socket): Promise<{ text: string; at: number }> {
  return new Promise((resolve) => {
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ text, at: Date.now() }));
  });
}

describe('slow clients', () => {
  it('bodies and headers that trickle in are cut off at the request / headers timeout set here, and the server keeps serving', async () => {
    const s = await startTestServer(pki, { timeouts: { requestMs: 600, headersMs: 400 } });
    const SOCKETS = 24;
    const timers: NodeJS.Timeout[] = [];
    try {
      const sockets = await Promise.all(Array.from({ length: SOCKETS }, () => connect(s.port)));
      const started = Date.now();
      const ends = sockets.map((socket, i) => {
        const end = closed(socket);
        if (i % 2 === 0) {
          // Slow body: complete headers, then one byte every 100 ms of a 1000-byte body.
          socket.write(
            `POST /v1/purchases/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
              `Authorization: Bearer ${sessionFor(DEFAULT_ACCOUNT)}\r\nContent-Length: 1000\r\n\r\n{`,
          );
        } else {
          // Slow headers.
          socket.write('POST /v1/purchases/verify HTTP/1.1\r\nHost: x\r\n');
        }
        timers.push(setInterval(() => socket.writable && socket.write(i % 2 === 0 ? ' ' : 'X-Slow: 1\r\n'), 100));
        return end;
      });
      const results = await Promise.all(ends);
      for (const t of timers) clearInterval(t);
      const last = Math.max(...results.map((r) => r.at)) - started;
      assert.ok(last < 3000, `every slow socket closed within 3 s (last after ${last} ms)`);
      assert.ok(results.filter((r) => / 408 /.test(r.text.split('\r\n')[0] ?? '')).length >= SOCKETS / 2, results.map((r) => r.text.slice(0, 20)).join('|'));
      assert.ok(results.every((r) => r.text === '' || /^HTTP\/1\.1 408 /.test(r.text)), 'only 408 answers');
      // A well-behaved client is still served.
      const ok = await verifyReq(s, purchaseData(pki.signJws(orderPayload())));
      assert.equal(ok.status, 200, ok.text);
    } finally {
      for (const t of timers) clearInterval(t);
      await s.close();
    }
  });

  it('a slow client does not hold a shutdown: its socket is closed after shutdownMs, the ledger closes cleanly', async () => {
    const s = await startTestServer(pki, { timeouts: { shutdownMs: 300 } });
    const timers: NodeJS.Timeout[] = [];
    try {
      const sockets = await Promise.all(Array.from({ length: 4 }, () => connect(s.port)));
      const ends = sockets.map((socket) => {
        const end = closed(socket);
        socket.write(
          `POST /v1/purchases/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
            `Authorization: Bearer ${sessionFor(DEFAULT_ACCOUNT)}\r\nContent-Length: 1000\r\n\r\n{`,
        );
        timers.push(setInterval(() => socket.writable && socket.write(' '), 100));
        return end;
      });
      await new Promise((r) => setTimeout(r, 200));
      const started = Date.now();
      await s.close();
      const took = Date.now() - started;
      // The default request timeout (20 s) would have held it until then.
      assert.ok(took < 3000, `close took ${took} ms`);
      await Promise.all(ends);
      await assert.rejects(s.ledger.get('anything'), /storage-unavailable|closed/i);
    } finally {
      for (const t of timers) clearInterval(t);
      await s.close();
    }
  });

  it('headersMs above requestMs is a configuration error', async () => {
    await assert.rejects(startTestServer(pki, { timeouts: { requestMs: 100, headersMs: 200 } }), /headersMs/);
    await assert.rejects(startTestServer(pki, { timeouts: { requestMs: 0 } }), /requestMs/);
  });
});

describe('tokens never reach the log', () => {
  it('a token in a query string or a JWS in an unknown path is logged as a redacted path', async () => {
    const p = orderPayload();
    const jws = pki.signJws(p);
    const token = String(p['purchaseToken']);
    await fetch(`${server.url}/v1/purchases/verify?purchaseToken=${token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${sessionFor(DEFAULT_ACCOUNT)}` },
      body: JSON.stringify({ purchaseData: purchaseData(jws) }),
    });
    await fetch(`${server.url}/v1/${jws}`);
    await fetch(`${server.url}/healthz?t=${token}`);
    const logs = server.logs.text;
    assert.equal(logs.includes(token), false, 'purchaseToken leaked through the URL');
    for (const part of jws.split('.')) assert.equal(logs.includes(part.slice(0, 40)), false, 'JWS leaked through the URL');
    assert.ok(logs.includes('"url":"/v1/purchases/verify?[redacted]"'));
    assert.ok(logs.includes('"url":"[unrouted]"'));
    assert.equal(redactedPath('/healthz'), '/healthz');
    assert.equal(redactedPath('/healthz?x=1'), '/healthz?[redacted]');
    assert.equal(redactedPath('/v1/purchases/verifyX'), '[unrouted]');
  });

  it('at trace level, an HTTP parse error logs its code, never the raw packet', async () => {
    const s = await startTestServer(pki, { logger: { level: 'trace', stream: server.logs } });
    try {
      const secret = `tok-${crypto.randomBytes(16).toString('hex')}`;
      const socket = await connect(s.port);
      const end = closed(socket);
      socket.write(`POST /v1/purchases/verify HTTP/1.1\r\nHost: x\r\nX-Token: ${secret}\r\nBad Header\u0001: ${secret}\r\n\r\n`);
      const r = await end;
      assert.match(r.text, /^HTTP\/1\.1 400 /);
      assert.equal(server.logs.text.includes(secret), false, 'raw packet logged');
      assert.equal(server.logs.text.includes('rawPacket'), false);
      assert.match(server.logs.text, /"code":"HPE_[A-Z_]+"/);
    } finally {
      await s.close();
    }
  });
});

describe('request validation', () => {
  const notify = (meta: Record<string, unknown>, over: Record<string, unknown> = {}): ReturnType<typeof post> =>
    post(`${server.url}/v1/notifications`, {
      jwsNotification: pki.signJws({
        notificationType: 'REVOKE',
        notificationSubtype: 'REFUND_TRANSACTION',
        notificationRequestId: crypto.randomUUID(),
        notificationMetaData: { environment: 'SANDBOX', applicationId: APP_ID, ...meta },
        notificationVersion: 'v3',
        signedTime: Date.now(),
        ...over,
      }),
    });

  it('unpaired surrogates in any payload string → invalid-payload, nothing stored', async () => {
    for (const over of [{ developerPayload: 'p\uD800' }, { purchaseOrderId: 'o-\uDC00' }, { currency: '\uDBFF' }]) {
      const p = orderPayload(over);
      const r = await verifyReq(server, purchaseData(pki.signJws(p)));
      assert.equal(r.status, 422, `${JSON.stringify(over)}: ${r.text}`);
      assert.equal(r.body.reason, 'invalid-payload');
    }
    const n = await notify({ purchaseOrderId: 'x' }, { notificationRequestId: 'req-\uD83D' });
    assert.equal(n.status, 422);
    assert.equal(n.body.reason, 'invalid-payload');
  });

  it('optional fields over 1024 characters are rejected like required ones', async () => {
    for (const name of ['developerPayload', 'currency', 'countryCode', 'offerId', 'finishStatus']) {
      const r = await verifyReq(server, purchaseData(pki.signJws(orderPayload({ [name]: 'x'.repeat(1025) }))));
      assert.equal(r.status, 422, name);
      assert.equal(r.body.reason, 'invalid-payload', name);
    }
    const fits = await verifyReq(server, purchaseData(pki.signJws(orderPayload({ offerId: 'x'.repeat(1024) }))));
    assert.equal(fits.status, 200, fits.text);
  });

  it('text/plain gets 415 like every other media type', async () => {
    for (const type of ['text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', 'application/xml']) {
      const r = await post(`${server.url}/v1/purchases/verify`, JSON.stringify({ purchaseData: 'x' }), { 'content-type': type });
      assert.equal(r.status, 415, type);
      assert.equal(r.body.reason, 'unsupported-media-type', type);
    }
  });

  it('a JSON body in another charset or with a Content-Encoding gets 415; UTF-8 and identity are read', async () => {
    const body = JSON.stringify({ purchaseData: 'x', extra: 1 });
    for (const type of ['application/json; charset=utf-16', 'application/json;charset="UTF-16LE"', 'application/json; charset=latin1', 'application/json; charset=']) {
      const r = await post(`${server.url}/v1/purchases/verify`, body, { 'content-type': type });
      assert.equal(r.status, 415, type);
      assert.equal(r.body.reason, 'unsupported-media-type', type);
    }
    for (const coding of ['gzip', 'br', 'deflate, gzip', 'GZIP']) {
      const r = await post(`${server.url}/v1/purchases/verify`, body, { 'content-encoding': coding });
      assert.equal(r.status, 415, coding);
      assert.match(r.body.detail, /Content-Encoding/, coding);
    }
    // Readable ones reach the schema (which names the unknown field).
    const readable: Record<string, string>[] = [{ 'content-type': 'application/json; charset="utf-8"' }, { 'content-type': 'application/json; charset=UTF8' }, { 'content-encoding': 'identity' }];
    for (const headers of readable) {
      const r = await post(`${server.url}/v1/purchases/verify`, body, headers);
      assert.equal(r.status, 400, JSON.stringify(headers));
      assert.equal(r.body.field, 'extra', JSON.stringify(headers));
    }
  });

  it('validation errors name the field', async () => {
    const cases: [unknown, string][] = [
      [{}, 'purchaseData'],
      [{ purchaseData: 5 }, 'purchaseData'],
      [{ purchaseData: '' }, 'purchaseData'],
      [{ purchaseData: 'x', extra: 1 }, 'extra'],
      [{ purchaseData: 'x', accountId: 'mallory' }, 'accountId'],
    ];
    for (const [body, field] of cases) {
      const r = await post(`${server.url}/v1/purchases/verify`, body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.field, field, JSON.stringify(body));
      assert.ok(String(r.body.detail).includes(field), r.body.detail);
    }
    const n = await post(`${server.url}/v1/notifications`, { jwsNotification: 7 });
    assert.equal(n.body.field, 'jwsNotification');
  });

  it('a wrong method on a known route gets 405 with Allow; an unknown route 404, neither "rejected"', async () => {
    for (const [method, path, allow] of [
      ['GET', '/v1/purchases/verify', 'POST'],
      ['PUT', '/v1/notifications', 'POST'],
      ['DELETE', '/healthz', 'GET, HEAD'],
      ['GET', '/v1/purchases/verify?purchaseToken=x', 'POST'],
    ] as const) {
      const r = await fetch(`${server.url}${path}`, { method });
      assert.equal(r.status, 405, `${method} ${path}`);
      assert.equal(r.headers.get('allow'), allow);
      const body = (await r.json()) as Record<string, unknown>;
      assert.equal(body['reason'], 'method-not-allowed');
      assert.notEqual(body['status'], 'rejected');
    }
    const missing = await fetch(`${server.url}/v1/nothing`);
    assert.equal(missing.status, 404);
    assert.deepEqual(((await missing.json()) as Record<string, unknown>)['reason'], 'not-found');
  });

  it('a REVOKE with purchaseOrderId "" falls back to the token and never stores an empty key', async () => {
    const p = orderPayload();
    assert.equal((await verifyReq(server, purchaseData(pki.signJws(p)))).status, 200);
    const r = await notify({ purchaseOrderId: '', purchaseToken: p['purchaseToken'] });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-notification'), 'revoked-by-token');
    assert.equal((await server.ledger.get(p['purchaseOrderId'] as string))?.state, 'revoked');
    assert.equal(await server.ledger.get(''), undefined);
  });
});

describe('ledger rules seen over HTTP (the ledger implements them)', () => {
  it('a refund naming only the purchaseToken, before delivery, is remembered: the later delivery is revoked', async () => {
    const p = orderPayload();
    const n = await post(`${server.url}/v1/notifications`, {
      jwsNotification: pki.signJws({
        notificationType: 'REVOKE',
        notificationSubtype: 'REFUND_TRANSACTION',
        notificationRequestId: crypto.randomUUID(),
        notificationMetaData: { environment: 'SANDBOX', applicationId: APP_ID, purchaseToken: p['purchaseToken'] },
        notificationVersion: 'v3',
        signedTime: Date.now(),
      }),
    });
    assert.equal(n.status, 200);
    const r = await verifyReq(server, purchaseData(pki.signJws(p)));
    assert.equal(r.status, 422, r.text);
    assert.equal(r.body.reason, 'revoked');
    assert.equal(server.grants.some((g) => g.purchaseOrderId === p['purchaseOrderId']), false);
  });

  it('a purchaseToken already delivered under another purchaseOrderId is not delivered again', async () => {
    const p = orderPayload();
    assert.equal((await verifyReq(server, purchaseData(pki.signJws(p)))).status, 200);
    const twin = orderPayload({ purchaseToken: p['purchaseToken'] });
    const r = await verifyReq(server, purchaseData(pki.signJws(twin)));
    assert.equal(r.status, 422, r.text);
    assert.equal(r.body.reason, 'invalid-payload');
    assert.equal(server.grants.some((g) => g.purchaseOrderId === twin['purchaseOrderId']), false);
  });
});
