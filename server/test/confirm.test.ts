// The confirm-delivery client against a local fake of the Huawei IAP endpoint (127.0.0.1, never the internet).
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  CONFIRM_ORDER_PATH,
  CONFIRM_SUBSCRIPTION_PATH,
  ConfirmError,
  HuaweiIapClient,
} from '../src/confirm/ConfirmClient';
import Database from 'better-sqlite3';
import { ConfigError } from '../src/Config';
import { APP_ID, genuinePki, orderPayload, purchaseData, startTestServer, tmpDb, verifyReq } from './helpers';

interface Captured {
  path: string;
  contentType: string | undefined;
  authorization: string | undefined;
  rawBody: string;
}

const apiKey = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const calls: Captured[] = [];
let nextCodes: (string | number)[] = [];
let nextStatus = 200;
let fake: http.Server;
let rootUrl: string;

before(async () => {
  fake = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      calls.push({
        path: req.url ?? '',
        contentType: req.headers['content-type'],
        authorization: req.headers['authorization'],
        rawBody: Buffer.concat(chunks).toString('utf8'),
      });
      const code = nextCodes.length > 0 ? nextCodes.shift()! : '0';
      res.writeHead(nextStatus, { 'content-type': 'application/json' });
      nextStatus = 200;
      res.end(JSON.stringify({ responseCode: code, responseMessage: code === '0' ? 'success' : 'error' }));
    });
  });
  await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
  rootUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise<void>((r) => fake.close(() => r()));
});

function client(over: Partial<ConstructorParameters<typeof HuaweiIapClient>[0]> = {}): HuaweiIapClient {
  return new HuaweiIapClient({
    issuerId: 'issuer-123',
    keyId: 'kid-456',
    privateKey: apiKey.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    appId: APP_ID,
    rootUrl,
    ...over,
  });
}

function decodeJwt(jwt: string): { header: Record<string, unknown>; payload: Record<string, unknown>; input: string; sig: Buffer } {
  const [h, p, s] = jwt.split('.') as [string, string, string];
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>,
    input: `${h}.${p}`,
    sig: Buffer.from(s, 'base64url'),
  };
}

describe('HuaweiIapClient.confirm', () => {
  it('POSTs {purchaseOrderId, purchaseToken} with a valid ES256 bearer JWT (aud iap-v1, digest of the body)', async () => {
    calls.length = 0;
    const before = Math.floor(Date.now() / 1000);
    const out = await client().confirm({ purchaseOrderId: 'po-1', purchaseToken: 'pt-1', productType: '0' });
    assert.equal(out, 'confirmed');
    assert.equal(calls.length, 1);
    const c = calls[0]!;
    assert.equal(c.path, CONFIRM_ORDER_PATH);
    assert.match(c.contentType ?? '', /^application\/json/i);
    assert.deepEqual(JSON.parse(c.rawBody), { purchaseOrderId: 'po-1', purchaseToken: 'pt-1' });
    assert.match(c.authorization ?? '', /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    const jwt = decodeJwt(c.authorization!.slice('Bearer '.length));
    assert.deepEqual(jwt.header, { alg: 'ES256', typ: 'JWT', kid: 'kid-456' });
    assert.equal(jwt.payload['iss'], 'issuer-123');
    assert.equal(jwt.payload['aud'], 'iap-v1');
    assert.equal(jwt.payload['aid'], APP_ID);
    const iat = jwt.payload['iat'] as number;
    const exp = jwt.payload['exp'] as number;
    assert.ok(Number.isInteger(iat) && iat >= before && iat <= Math.floor(Date.now() / 1000) + 1);
    assert.ok(exp > iat && exp - iat <= 3600);
    assert.equal(jwt.payload['digest'], crypto.createHash('sha256').update(c.rawBody, 'utf8').digest('hex'));
    assert.equal(jwt.sig.length, 64, 'ES256 signature must be raw r||s');
    assert.ok(crypto.verify('sha256', Buffer.from(jwt.input), { key: apiKey.publicKey, dsaEncoding: 'ieee-p1363' }, jwt.sig));
  });

  it('caps the JWT lifetime at one hour', async () => {
    calls.length = 0;
    await client({ jwtLifetimeSeconds: 99_999 }).confirm({ purchaseOrderId: 'po-2', purchaseToken: 'pt-2', productType: 1 });
    const jwt = decodeJwt(calls[0]!.authorization!.slice(7));
    assert.ok((jwt.payload['exp'] as number) - (jwt.payload['iat'] as number) <= 3600);
  });

  it('uses the subscription path for auto-renewables', async () => {
    calls.length = 0;
    await client().confirm({ purchaseOrderId: 'po-3', purchaseToken: 'pt-3', productType: '2' });
    assert.equal(calls[0]!.path, CONFIRM_SUBSCRIPTION_PATH);
  });

  it('treats 1001880009 and 1001880020 as already confirmed', async () => {
    nextCodes = ['1001880009', '1001880020'];
    assert.equal(await client().confirm({ purchaseOrderId: 'po-4', purchaseToken: 'pt-4', productType: '0' }), 'already-confirmed');
    assert.equal(await client().confirm({ purchaseOrderId: 'po-5', purchaseToken: 'pt-5', productType: '2' }), 'already-confirmed');
  });

  it('other response codes fail; 5xx and fatal errors are retryable', async () => {
    nextCodes = ['1001880008'];
    await assert.rejects(client().confirm({ purchaseOrderId: 'po-6', purchaseToken: 'pt-6', productType: '0' }), (e: unknown) => {
      assert.ok(e instanceof ConfirmError);
      assert.equal(e.retryable, false);
      assert.equal(e.responseCode, '1001880008');
      return true;
    });
    nextStatus = 500;
    await assert.rejects(client().confirm({ purchaseOrderId: 'po-7', purchaseToken: 'pt-7', productType: '0' }), (e: unknown) => {
      assert.ok(e instanceof ConfirmError && e.retryable);
      return true;
    });
    await assert.rejects(client({ rootUrl: 'http://127.0.0.1:1' }).confirm({ purchaseOrderId: 'po-8', purchaseToken: 'pt-8', productType: '0' }), (e: unknown) => {
      assert.ok(e instanceof ConfirmError && e.retryable);
      return true;
    });
  });
});

describe('server-side confirm after a grant', () => {
  it('confirms a new grant once and records it; a replay does not confirm again', async () => {
    const pki = await genuinePki();
    const server = await startTestServer(pki, { confirm: client() });
    try {
      calls.length = 0;
      const p = orderPayload();
      const pd = purchaseData(pki.signJws(p));
      assert.equal((await verifyReq(server, pd)).status, 200);
      await server.service.idle();
      assert.equal(calls.length, 1);
      assert.deepEqual(JSON.parse(calls[0]!.rawBody), { purchaseOrderId: p['purchaseOrderId'], purchaseToken: p['purchaseToken'] });
      assert.equal((await server.ledger.get(p['purchaseOrderId'] as string))?.confirmState, 'confirmed');
      assert.equal((await verifyReq(server, pd)).status, 200);
      await server.service.idle();
      assert.equal(calls.length, 1);
    } finally {
      await server.close();
    }
  });

  it('a failed confirm is retried on the next presentation', async () => {
    const pki = await genuinePki();
    const server = await startTestServer(pki, { confirm: client() });
    try {
      calls.length = 0;
      nextCodes = ['1001880008'];
      const p = orderPayload();
      const pd = purchaseData(pki.signJws(p));
      assert.equal((await verifyReq(server, pd)).status, 200);
      await server.service.idle();
      assert.equal((await server.ledger.get(p['purchaseOrderId'] as string))?.confirmState, 'failed');
      assert.equal((await verifyReq(server, pd)).status, 200);
      await server.service.idle();
      assert.equal(calls.length, 2);
      assert.equal((await server.ledger.get(p['purchaseOrderId'] as string))?.confirmState, 'confirmed');
      assert.equal(server.grants.filter((g) => g.purchaseOrderId === p['purchaseOrderId']).length, 1);
    } finally {
      await server.close();
    }
  });
});

describe('who confirms: only the side that grants, after its own durable grant', () => {
  it('a server without a grant hook (the device grants) refuses server-side confirm at start-up', async () => {
    const pki = await genuinePki();
    // Confirming an order the device has not durably granted yet is the premature finish: the device may die
    // right after the answer, and the store would show the order finished with nothing granted.
    await assert.rejects(startTestServer(pki, { confirm: client(), hooks: {} }), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.match(e.message, /grant hook/);
      return true;
    });
    await assert.rejects(startTestServer(pki, { confirm: client(), hooks: { revoke: () => undefined } }), ConfigError);
  });

  it('a server without a grant hook never confirms, even when presented the same order again', async () => {
    const pki = await genuinePki();
    const server = await startTestServer(pki, { hooks: {} });
    try {
      calls.length = 0;
      const p = orderPayload();
      const pd = purchaseData(pki.signJws(p));
      assert.equal((await verifyReq(server, pd)).status, 200);
      assert.equal((await verifyReq(server, pd)).status, 200);
      await server.service.idle();
      assert.equal(calls.length, 0);
      assert.equal((await server.ledger.get(p['purchaseOrderId'] as string))?.confirmState, 'none');
    } finally {
      await server.close();
    }
  });

  it('with a server-side grant hook, the confirm call starts only after the grant committed', async () => {
    const pki = await genuinePki();
    const file = tmpDb('confirm-after-commit');
    let committedAtConfirm: boolean | undefined;
    const confirmer = {
      confirm: async (order: { purchaseOrderId: string }): Promise<'confirmed'> => {
        // A second connection sees only committed data.
        const reader = new Database(file, { readonly: true });
        try {
          committedAtConfirm = reader.prepare('SELECT 1 FROM orders WHERE purchase_order_id = ?').get(order.purchaseOrderId) !== undefined;
        } finally {
          reader.close();
        }
        return 'confirmed';
      },
    };
    const server = await startTestServer(pki, { confirm: confirmer, databasePath: file });
    try {
      const p = orderPayload();
      assert.equal((await verifyReq(server, purchaseData(pki.signJws(p)))).status, 200);
      await server.service.idle();
      assert.equal(committedAtConfirm, true);
      assert.equal(server.grants.length, 1);
    } finally {
      await server.close();
    }
  });
});
