// SqliteWorkerLedger: the SQLite ledger whose connections live in a worker thread. What it answers must be durable
// (read back through a connection of our own), its semantics those of SqliteLedger, and its errors the same types.
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import * as os from 'node:os';
import { ConfigError, loadConfigFromEnv } from '../src/Config';
import { TransientError } from '../src/jws/Errors';
import type { OrderPayload } from '../src/ledger/Ledger';
import { openLedger } from '../src/ledger/OpenLedger';
import { SqliteLedger } from '../src/ledger/SqliteLedger';
import { SqliteWorkerLedger } from '../src/ledger/SqliteWorkerLedger';
import { genuinePki, orderPayload, purchaseData, startTestServer, tmpDb, verifyReq } from './helpers';

const NOW = 1_760_000_000_000;
let seq = 0;
function order(over: Partial<OrderPayload> = {}): OrderPayload {
  const n = ++seq;
  return { purchaseOrderId: `w-order-${n}`, purchaseToken: `w-token-${n}`, productId: 'gems_100', productType: '0', ...over };
}

/** Rows of the file as another connection sees them (what survives this process). */
function committedOrders(file: string): Array<{ purchase_order_id: string; account_id: string | null; state: string }> {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT purchase_order_id, account_id, state FROM orders ORDER BY purchase_order_id').all() as never;
  } finally {
    db.close();
  }
}

describe('SqliteWorkerLedger', () => {
  it('answers a delivery only once it is committed, and keeps the ledger rules within one batch', async () => {
    const file = tmpDb('worker');
    const ledger = new SqliteWorkerLedger(file);
    try {
      await ledger.ready();
      const o = order();
      // Sent together: one batch in the thread. The same order twice is one grant and a replay; another account
      // gets the conflict; another order with the same token is refused.
      const [first, again, other, sameToken] = await Promise.all([
        ledger.deliver(o, 'alice', NOW, false),
        ledger.deliver(o, 'alice', NOW + 1, false),
        ledger.deliver(o, 'mallory', NOW + 2, false),
        ledger.deliver(order({ purchaseToken: o.purchaseToken }), 'alice', NOW + 3, false),
      ]);
      assert.equal(first.kind === 'granted' && first.replay, false);
      assert.equal(again.kind === 'granted' && again.replay, true);
      assert.equal(other.kind, 'account-conflict');
      assert.equal(sameToken.kind, 'token-conflict');
      // Already on disk for a connection that is not the thread's.
      assert.deepEqual(committedOrders(file), [{ purchase_order_id: o.purchaseOrderId, account_id: 'alice', state: 'granted' }]);
      assert.equal((await ledger.get(o.purchaseOrderId))?.accountId, 'alice');
      assert.equal(await ledger.grantedCount(), 1);
      assert.ok(ledger.stats().commits >= 1);
      assert.ok(ledger.stats().largestBatch >= 2, 'the four requests shared a transaction');
    } finally {
      await ledger.close();
    }
  });

  it('a refund before the delivery (by order and by token) and a notification once', async () => {
    const ledger = new SqliteWorkerLedger(tmpDb('worker'));
    try {
      await ledger.ready();
      const byOrder = order();
      const byToken = order();
      await ledger.revoke({ purchaseOrderId: byOrder.purchaseOrderId, purchaseToken: byOrder.purchaseToken }, 'REFUND_TRANSACTION', NOW);
      assert.equal(await ledger.revokeToken(byToken.purchaseToken, 'REFUND_TRANSACTION', NOW), 0);
      assert.equal((await ledger.deliver(byOrder, 'alice', NOW, false)).kind, 'revoked');
      assert.equal((await ledger.deliver(byToken, 'alice', NOW, false)).kind, 'revoked');
      const n = { requestId: 'req-w1', type: 'REVOKE', subtype: 'REFUND_TRANSACTION', orderId: 'w-none', token: undefined, now: NOW };
      const revoke = { orderId: 'w-none', token: undefined, productId: undefined, productType: undefined, reason: 'REFUND_TRANSACTION' };
      assert.deepEqual(await ledger.applyNotification(n, revoke), { kind: 'processed', action: 'revoked-before-grant' });
      assert.deepEqual(await ledger.applyNotification(n, revoke), { kind: 'duplicate' });
    } finally {
      await ledger.close();
    }
  });

  it('errors cross the thread with their type; after close every call is a retryable error', async () => {
    const ledger = new SqliteWorkerLedger(tmpDb('worker'));
    await ledger.ready();
    await assert.rejects(ledger.deliver(order({ purchaseOrderId: '' }), undefined, NOW, false), TypeError);
    await ledger.close();
    await ledger.close(); // idempotent
    await assert.rejects(ledger.get('x'), (e: unknown) => e instanceof TransientError && e.reason === 'storage-unavailable');
    await assert.rejects(ledger.ping(), TransientError);
  });

  it('close() commits every request already sent', async () => {
    const file = tmpDb('worker');
    const ledger = new SqliteWorkerLedger(file, { maxBatch: 16 });
    await ledger.ready();
    const sent = Array.from({ length: 100 }, () => order());
    const answers = sent.map((o) => ledger.deliver(o, undefined, NOW, false));
    await ledger.close();
    const outcomes = await Promise.all(answers);
    assert.ok(outcomes.every((r) => r.kind === 'granted' && !r.replay));
    assert.equal(committedOrders(file).length, 100);
  });

  it('a database that cannot be opened fails ready(), and every call after it, with a clear error', async () => {
    const blocker = tmpDb('not-a-folder');
    fs.writeFileSync(blocker, 'a file where the folder should be');
    const ledger = new SqliteWorkerLedger(path.join(blocker, 'ledger.sqlite'));
    await assert.rejects(ledger.ready(), /EEXIST|ENOTDIR|not a directory/i);
    await assert.rejects(ledger.deliver(order(), undefined, NOW, false), TransientError);
    await ledger.close();
  });

  it('openLedger takes the thread only when asked and no hook is configured', async () => {
    const threaded = openLedger(tmpDb('worker'), {}, { sqliteThread: true });
    const hooked = openLedger(tmpDb('worker'), { grant: () => undefined }, { sqliteThread: true });
    const plain = openLedger(tmpDb('worker'));
    try {
      assert.ok(threaded instanceof SqliteWorkerLedger);
      assert.ok(hooked instanceof SqliteLedger);
      assert.ok(plain instanceof SqliteLedger);
    } finally {
      await Promise.all([threaded.close(), hooked.close(), plain.close()]);
    }
  });

  it('SQLITE_THREAD=on|off (default off) selects it for the server, which then serves from the thread', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iap-cfg-'));
    const pem = path.join(dir, 'root.pem');
    fs.writeFileSync(pem, (await genuinePki()).rootPem);
    const base = { IAP_TRUSTED_ROOT: pem, IAP_APP_ID: '42', IAP_ENVIRONMENT: 'NORMAL', SESSION_SECRET: 'a production secret of 32 bytes or more' };
    assert.equal(loadConfigFromEnv(base, { databasePath: 'd' }).sqliteThread, false);
    assert.equal(loadConfigFromEnv({ ...base, SQLITE_THREAD: 'on' }, { databasePath: 'd' }).sqliteThread, true);
    assert.equal(loadConfigFromEnv({ ...base, SQLITE_THREAD: 'OFF' }, { databasePath: 'd' }).sqliteThread, false);
    assert.throws(() => loadConfigFromEnv({ ...base, SQLITE_THREAD: 'yes' }, { databasePath: 'd' }), ConfigError);

    const file = tmpDb('worker-server');
    const server = await startTestServer(await genuinePki(), { databasePath: file, sqliteThread: true, hooks: undefined });
    try {
      assert.ok(server.ledger instanceof SqliteWorkerLedger);
      const p = orderPayload();
      const pd = purchaseData((await genuinePki()).signJws(p));
      const [first, second] = await Promise.all([verifyReq(server, pd), verifyReq(server, pd)]);
      assert.deepEqual([first.headers.get('x-delivery'), second.headers.get('x-delivery')].sort(), ['new', 'replay']);
      assert.equal(committedOrders(file).length, 1);
      assert.equal((await verifyReq(server, pd, 'someone-else')).status, 409);
    } finally {
      await server.close();
    }
  });
});
