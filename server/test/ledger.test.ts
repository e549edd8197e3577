// Ledger rules about keys, on the real SQLite ledger: one delivery per purchaseToken, a refund that names only the
// token is remembered before the order is ever presented, an empty key never becomes a row, notifications are
// de-duplicated on their content (request id + type + subtype + order + token), and a v1 database migrates.
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { describe, it } from 'node:test';
import { Ledger, type OrderPayload } from '../src/ledger/Ledger';
import { orderPayload, tmpDb } from './helpers';

const NOW = 1_700_000_000_000;

function order(over: Record<string, unknown> = {}): OrderPayload {
  return orderPayload(over) as OrderPayload;
}

function withLedger(fn: (ledger: Ledger, grants: string[]) => Promise<void>): () => Promise<void> {
  return async () => {
    const grants: string[] = [];
    const ledger = new Ledger(tmpDb(), { grant: (o) => void grants.push(o.purchaseOrderId) });
    try {
      await fn(ledger, grants);
    } finally {
      ledger.close();
    }
  };
}

describe('ledger keys', () => {
  it('a purchaseToken is delivered once: another purchaseOrderId with it is a token-conflict', withLedger(async (ledger, grants) => {
    const a = order();
    assert.equal((await ledger.deliver(a, 'p1', NOW, false)).kind, 'granted');
    const twin = order({ purchaseToken: a.purchaseToken });
    assert.deepEqual(await ledger.deliver(twin, 'p1', NOW, false), { kind: 'token-conflict' });
    assert.deepEqual(grants, [a.purchaseOrderId]);
    assert.equal(ledger.get(twin.purchaseOrderId), undefined);
    // The index holds even if a caller bypasses the check.
    assert.throws(() =>
      ledger.db
        .prepare(
          `INSERT INTO orders (purchase_order_id, purchase_token, product_id, product_type, state, granted_at, created_at, updated_at)
           VALUES ('x', ?, 'p', '0', 'granted', 1, 1, 1)`,
        )
        .run(a.purchaseToken),
    /UNIQUE/);
  }));

  it('a refund naming only the token, before delivery, is remembered: the later delivery is revoked', withLedger(async (ledger, grants) => {
    const a = order();
    const n = await ledger.transaction((tx) => tx.revokeToken(a.purchaseToken, 'REFUND_TRANSACTION', NOW));
    assert.equal(n, 0);
    const out = await ledger.deliver(a, 'p1', NOW + 1, false);
    assert.equal(out.kind, 'revoked');
    assert.deepEqual(grants, []);
    assert.equal(ledger.get(a.purchaseOrderId)?.state, 'revoked');
    // And it stays revoked on the next presentation.
    assert.equal((await ledger.deliver(a, 'p1', NOW + 2, false)).kind, 'revoked');
  }));

  it('two ledgers on one file agree: a token refunded through one is refused by the other, one grant per token', async () => {
    const file = tmpDb();
    const one = new Ledger(file);
    const two = new Ledger(file);
    try {
      const a = order();
      await one.transaction((tx) => tx.revokeToken(a.purchaseToken, 'REFUND_TRANSACTION', NOW));
      assert.equal((await two.deliver(a, 'p1', NOW, false)).kind, 'revoked');
      const b = order();
      const twin = order({ purchaseToken: b.purchaseToken });
      const outs = await Promise.all([one.deliver(b, 'p1', NOW, false), two.deliver(twin, 'p1', NOW, false)]);
      assert.deepEqual(outs.map((o) => o.kind).sort(), ['granted', 'token-conflict']);
    } finally {
      one.close();
      two.close();
    }
  });

  it('a revoke with an empty purchaseOrderId revokes by token and never stores an empty key', withLedger(async (ledger) => {
    const a = order();
    await ledger.deliver(a, 'p1', NOW, false);
    const r = await ledger.revoke({ purchaseOrderId: '', purchaseToken: a.purchaseToken }, 'REFUND', NOW);
    assert.equal(r.revokedGrant, true);
    assert.equal(ledger.get(a.purchaseOrderId)?.state, 'revoked');
    assert.equal(ledger.get(''), undefined);
    await assert.rejects(ledger.revoke({ purchaseOrderId: '', purchaseToken: '' }, 'REFUND', NOW), TypeError);
    await assert.rejects(ledger.deliver(order({ purchaseOrderId: '' }), 'p1', NOW, false), TypeError);
    const rows = ledger.db.prepare("SELECT COUNT(*) AS n FROM orders WHERE purchase_order_id = ''").get() as { n: number };
    assert.equal(rows.n, 0);
  }));

  it('notifications: a retry is a duplicate, another event under the same request id is not', withLedger(async (ledger) => {
    const base = { requestId: 'req-1', type: 'DID_NEW_TRANSACTION', subtype: 'INITIAL_BUY', orderId: 'o1', token: 't1', now: NOW };
    assert.equal(await ledger.transaction((tx) => tx.recordNotification(base)), true);
    // A retry repeats the content (its arrival time differs): a duplicate.
    assert.equal(await ledger.transaction((tx) => tx.recordNotification({ ...base, now: NOW + 60_000 })), false);
    // A REVOKE that happens to reuse the request id must still be processed.
    assert.equal(await ledger.transaction((tx) => tx.recordNotification({ ...base, type: 'REVOKE', subtype: 'REFUND_TRANSACTION' })), true);
    await ledger.transaction((tx) => tx.setNotificationOutcome(base, 'noted'));
    const rows = ledger.db.prepare('SELECT type, outcome FROM notifications WHERE request_id = ? ORDER BY type').all('req-1');
    assert.deepEqual(rows, [
      { type: 'DID_NEW_TRANSACTION', outcome: 'noted' },
      { type: 'REVOKE', outcome: null },
    ]);
  }));

  it('a v1 database migrates: its notifications stay de-duplicated, its orders stay', async () => {
    const file = tmpDb();
    const v1 = new Database(file);
    v1.exec(`
      CREATE TABLE orders (
        purchase_order_id TEXT PRIMARY KEY, purchase_token TEXT NOT NULL, product_id TEXT NOT NULL, product_type TEXT NOT NULL,
        quantity INTEGER NOT NULL DEFAULT 1, account_id TEXT, state TEXT NOT NULL, payload TEXT, granted_at INTEGER,
        revoked_at INTEGER, revocation_reason TEXT, confirm_state TEXT NOT NULL DEFAULT 'none', confirm_attempts INTEGER NOT NULL DEFAULT 0,
        confirm_error TEXT, confirmed_at INTEGER, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
      CREATE INDEX orders_by_token ON orders (purchase_token);
      CREATE TABLE notifications (request_id TEXT PRIMARY KEY, type TEXT NOT NULL, subtype TEXT, purchase_order_id TEXT,
        purchase_token TEXT, received_at INTEGER NOT NULL, outcome TEXT);
      INSERT INTO orders (purchase_order_id, purchase_token, product_id, product_type, state, granted_at, created_at, updated_at)
        VALUES ('old-1', 'tok-1', 'gems', '0', 'granted', 1, 1, 1);
      INSERT INTO notifications VALUES ('req-old', 'TEST', NULL, NULL, NULL, 1, 'noted');
      PRAGMA user_version = 1;
    `);
    v1.close();
    const ledger = new Ledger(file);
    try {
      assert.equal(ledger.db.pragma('user_version', { simple: true }), 2);
      assert.equal(ledger.get('old-1')?.state, 'granted');
      const fresh = await ledger.transaction((tx) =>
        tx.recordNotification({ requestId: 'req-old', type: 'TEST', subtype: undefined, orderId: undefined, token: undefined, now: 2 }),
      );
      assert.equal(fresh, false);
    } finally {
      ledger.close();
    }
  });
});
