// POST /v1/notifications (IAP server notifications v3) over real HTTP on loopback.
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestPki, type TestPki } from '../../tools/testing/TestPki';
import { APP_ID, genuinePki, orderPayload, post, purchaseData, startTestServer, verifyReq, type TestServer } from './helpers';
import type { SqliteLedger } from '../src/ledger/SqliteLedger';

let pki: TestPki;
let server: TestServer;

before(async () => {
  pki = await genuinePki();
  server = await startTestServer(pki);
});
after(async () => {
  await server.close();
});

function notification(
  type: string,
  subtype: string | undefined,
  meta: Record<string, unknown>,
  over: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    notificationType: type,
    ...(subtype === undefined ? {} : { notificationSubtype: subtype }),
    notificationRequestId: crypto.randomUUID(),
    notificationMetaData: { environment: 'SANDBOX', applicationId: APP_ID, packageName: 'com.example.zerolost', type: 0, ...meta },
    notificationVersion: 'v3',
    signedTime: Date.now(),
    ...over,
  };
}

function send(payload: Record<string, unknown>, signer: TestPki = pki): ReturnType<typeof post> {
  return post(`${server.url}/v1/notifications`, { jwsNotification: signer.signJws(payload) });
}

describe('notifications', () => {
  it('REVOKE / REFUND_TRANSACTION revokes a granted order; the order is then refused', async () => {
    const p = orderPayload();
    const pd = purchaseData(pki.signJws(p));
    assert.equal((await verifyReq(server, pd)).status, 200);
    const r = await send(
      notification('REVOKE', 'REFUND_TRANSACTION', { purchaseOrderId: p['purchaseOrderId'], purchaseToken: p['purchaseToken'], currentProductId: 'gems_100' }),
    );
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, '');
    assert.equal(r.headers.get('x-notification'), 'revoked-grant');
    assert.equal((await server.ledger.get(p['purchaseOrderId'] as string))?.state, 'revoked');
    assert.deepEqual(server.revokes.filter((id) => id === p['purchaseOrderId']), [p['purchaseOrderId']]);
    const again = await verifyReq(server, pd);
    assert.equal(again.status, 422);
    assert.equal(again.body.reason, 'revoked');
  });

  it('a refund that arrives before the order is presented prevents the grant', async () => {
    const p = orderPayload();
    const r = await send(notification('REVOKE', 'REFUND_TRANSACTION', { purchaseOrderId: p['purchaseOrderId'], purchaseToken: p['purchaseToken'] }));
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-notification'), 'revoked-before-grant');
    const v = await verifyReq(server, purchaseData(pki.signJws(p)));
    assert.equal(v.status, 422);
    assert.equal(v.body.reason, 'revoked');
    assert.equal(server.grants.some((g) => g.purchaseOrderId === p['purchaseOrderId']), false);
  });

  it('REVOKE with only a purchaseToken revokes the orders under that token', async () => {
    const p = orderPayload();
    assert.equal((await verifyReq(server, purchaseData(pki.signJws(p)))).status, 200);
    const r = await send(notification('REVOKE', 'APPLICATION_DELETE_SUBSCRIPTION_HOSTING', { purchaseToken: p['purchaseToken'] }));
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-notification'), 'revoked-by-token');
    assert.equal((await server.ledger.get(p['purchaseOrderId'] as string))?.state, 'revoked');
  });

  it('is idempotent on notificationRequestId', async () => {
    const p = orderPayload();
    const n = notification('DID_NEW_TRANSACTION', 'INITIAL_BUY', { purchaseOrderId: p['purchaseOrderId'], purchaseToken: p['purchaseToken'] });
    const first = await send(n);
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('x-notification'), 'noted');
    // Same request id again (Huawei retries): 200, recorded once, nothing re-done.
    const dup = await send({ ...n, signedTime: Date.now() + 1 });
    assert.equal(dup.status, 200);
    assert.equal(dup.headers.get('x-notification'), 'duplicate');
    const rows = (server.ledger as SqliteLedger).db.prepare('SELECT COUNT(*) AS n FROM notifications WHERE request_id = ?').get(n['notificationRequestId']) as { n: number };
    assert.equal(rows.n, 1);
  });

  it('a duplicate REVOKE does not revoke twice', async () => {
    const p = orderPayload();
    assert.equal((await verifyReq(server, purchaseData(pki.signJws(p)))).status, 200);
    const n = notification('REVOKE', 'REFUND_TRANSACTION', { purchaseOrderId: p['purchaseOrderId'], purchaseToken: p['purchaseToken'] });
    const results = await Promise.all([send(n), send(n), send(n)]);
    assert.ok(results.every((r) => r.status === 200));
    assert.equal(results.filter((r) => r.headers.get('x-notification') === 'duplicate').length, 2);
    assert.equal(server.revokes.filter((id) => id === p['purchaseOrderId']).length, 1);
  });

  it('TEST with no subtype (environment NORMAL, test tokens) → 200', async () => {
    const r = await send(
      notification('TEST', undefined, {
        environment: 'NORMAL',
        packageName: 'testPackageName',
        purchaseToken: 'testPurchaseToken123',
        purchaseOrderId: 'testPurchaseOrderId123',
      }),
    );
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-notification'), 'noted');
  });

  it('unknown types and subtypes → 200', async () => {
    const r1 = await send(notification('SOMETHING_NEW', 'BRAND_NEW_SUBTYPE', { purchaseToken: 'x' }));
    assert.equal(r1.status, 200, r1.text);
    const r2 = await send(notification('EXPIRE', 'SOME_FUTURE_REASON', { purchaseToken: 'y' }));
    assert.equal(r2.status, 200, r2.text);
    const r3 = await send(notification('DID_CHANGE_RENEWAL_STATUS', 'DOWNGRADE', { purchaseToken: 'z' }, { futureField: { a: 1 } }));
    assert.equal(r3.status, 200, r3.text);
  });

  it('forged notifications are rejected with a reason', async () => {
    const foreign = await createTestPki({ subjectPrefix: 'Attacker' });
    const n = notification('REVOKE', 'REFUND_TRANSACTION', { purchaseOrderId: 'x', purchaseToken: 'y' });
    const r = await send(n, foreign);
    assert.equal(r.status, 422);
    assert.equal(r.body.reason, 'untrusted-chain');
    assert.equal(await server.ledger.get('x'), undefined);
    const wrongApp = await send(notification('REVOKE', 'REFUND_TRANSACTION', { applicationId: '42', purchaseOrderId: 'x2', purchaseToken: 'y' }));
    assert.equal(wrongApp.status, 422);
    assert.equal(wrongApp.body.reason, 'wrong-app');
    const wrongEnv = await send(notification('REVOKE', 'REFUND_TRANSACTION', { environment: 'NORMAL', purchaseOrderId: 'x3', purchaseToken: 'y' }));
    assert.equal(wrongEnv.body.reason, 'wrong-environment');
    const v2 = await send(notification('TEST', undefined, {}, { notificationVersion: 'v2' }));
    assert.equal(v2.body.reason, 'invalid-payload');
  });

  it('bad request bodies → 400', async () => {
    assert.equal((await post(`${server.url}/v1/notifications`, {})).status, 400);
    assert.equal((await post(`${server.url}/v1/notifications`, 'nope')).status, 400);
    assert.equal((await post(`${server.url}/v1/notifications`, { jwsNotification: 'x'.repeat(70_000) })).status, 413);
  });
});
