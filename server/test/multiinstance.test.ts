// Several server PROCESSES on one PostgreSQL database behave as one server. Each instance is a real
// `node --import tsx server/src/Main.ts` on loopback (tools/testing/ServerProcess.ts), configured by its environment
// like a deployment; the database is a real PostgreSQL (tools/testing/EmbeddedPostgres.ts, or TEST_DATABASE_URL).
// The two long-lived instances start at the same moment on a fresh database, so they also race to create the schema.
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { startTestPostgres, type TestPostgres } from '../../tools/testing/EmbeddedPostgres';
import { serverEnv, startServerProcess, type ServerProcess } from '../../tools/testing/ServerProcess';
import type { TestPki } from '../../tools/testing/TestPki';
import { sendBounded } from './processLoad';
import { APP_ID, SESSION, genuinePki, orderPayload, post, purchaseData, sessionFor, type HttpResult } from './helpers';

/** The test login, with a secret that fits SESSION_SECRET (a comma there separates secrets of a rotation). */
const LOGIN = { ...SESSION, secret: 'multi-instance test session secret 0123456789' };
let pki: TestPki;
let database: TestPostgres;
let env: Record<string, string>;
let a: ServerProcess;
let b: ServerProcess;
let db: pg.Pool;

before(async () => {
  pki = await genuinePki();
  database = await startTestPostgres();
  env = serverEnv(pki, { appId: APP_ID, databaseUrl: database.url, session: LOGIN });
  [a, b] = await Promise.all([startServerProcess({ env }), startServerProcess({ env })]);
  db = new pg.Pool({ connectionString: database.url, max: 2 });
});

after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await db?.end();
  await database?.stop();
});

function verifyAt(server: ServerProcess, pd: string, accountId: string): Promise<HttpResult> {
  return post(`${server.url}/v1/purchases/verify`, { purchaseData: pd }, { authorization: `Bearer ${sessionFor(accountId, { secret: LOGIN.secret })}` });
}

function notify(server: ServerProcess, payload: Record<string, unknown>): Promise<HttpResult> {
  return post(`${server.url}/v1/notifications`, { jwsNotification: pki.signJws(payload) }, { authorization: '' });
}

function refund(meta: { purchaseOrderId?: string; purchaseToken: string }): Record<string, unknown> {
  return {
    notificationType: 'REVOKE',
    notificationSubtype: 'REFUND_TRANSACTION',
    notificationRequestId: crypto.randomUUID(),
    notificationMetaData: { environment: 'SANDBOX', applicationId: APP_ID, type: 0, currentProductId: 'gems_100', ...meta },
    notificationVersion: 'v3',
    signedTime: Date.now(),
  };
}

async function rowOf(purchaseOrderId: string): Promise<{ account_id: string | null; state: string } | undefined> {
  const r = await db.query<{ account_id: string | null; state: string }>(
    'SELECT account_id, state FROM orders WHERE purchase_order_id = $1',
    [purchaseOrderId],
  );
  return r.rows[0];
}

/** A fresh signed order: its id, token and purchaseData. */
function newOrder(): { id: string; token: string; pd: string } {
  const p = orderPayload();
  return { id: p['purchaseOrderId'] as string, token: p['purchaseToken'] as string, pd: purchaseData(pki.signJws(p)) };
}

describe('several instances on one PostgreSQL database', () => {
  it('the same order sent to two instances at once: one grant, exactly one `new`', async () => {
    const orders = Array.from({ length: 20 }, newOrder);
    // Every order to both instances in the same instant (40 requests in flight), so that the pairs really overlap.
    const answers = await Promise.all(orders.map((o) => Promise.all([verifyAt(a, o.pd, 'alice'), verifyAt(b, o.pd, 'alice')])));
    for (const [i, [ra, rb]] of answers.entries()) {
      assert.equal(ra.status, 200, ra.text);
      assert.equal(rb.status, 200, rb.text);
      const deliveries = [ra.headers.get('x-delivery'), rb.headers.get('x-delivery')].sort();
      assert.deepEqual(deliveries, ['new', 'replay'], `order ${i}`);
      assert.deepEqual(ra.body.payload, rb.body.payload, 'the replay answers the first stored payload');
    }
    const rows = await db.query<{ n: string }>('SELECT COUNT(*) AS n FROM orders WHERE purchase_order_id = ANY($1)', [orders.map((o) => o.id)]);
    assert.equal(Number(rows.rows[0]!.n), orders.length);
  });

  it('two accounts racing across instances for one order: one winner, the same on both instances afterwards', async () => {
    const orders = Array.from({ length: 12 }, newOrder);
    const races = await Promise.all(orders.map((o) => Promise.all([verifyAt(a, o.pd, 'alice'), verifyAt(b, o.pd, 'bob')])));
    for (const [i, [ra, rb]] of races.entries()) {
      const statuses = [ra.status, rb.status].sort();
      assert.deepEqual(statuses, [200, 409], `order ${i}: ${ra.text} / ${rb.text}`);
      const winner = ra.status === 200 ? 'alice' : 'bob';
      const loser = winner === 'alice' ? 'bob' : 'alice';
      const o = orders[i]!;
      assert.equal((await rowOf(o.id))?.account_id, winner);
      for (const server of [a, b]) {
        const w = await verifyAt(server, o.pd, winner);
        assert.equal(w.status, 200, w.text);
        assert.equal(w.headers.get('x-delivery'), 'replay');
        const l = await verifyAt(server, o.pd, loser);
        assert.equal(l.status, 409, l.text);
        assert.equal(l.body.reason, 'account-conflict');
      }
    }
  });

  it('a refund on one instance and a delivery on another: revoked, whatever the order of arrival', async () => {
    // Refund first (by order id, then by token only), delivery on the other instance.
    const byId = newOrder();
    assert.equal((await notify(a, refund({ purchaseOrderId: byId.id, purchaseToken: byId.token }))).status, 200);
    const r1 = await verifyAt(b, byId.pd, 'alice');
    assert.equal(r1.status, 422, r1.text);
    assert.equal(r1.body.reason, 'revoked');

    const byToken = newOrder();
    const n = await notify(a, refund({ purchaseToken: byToken.token }));
    assert.equal(n.status, 200);
    assert.equal(n.headers.get('x-notification'), 'unknown-token');
    const r2 = await verifyAt(b, byToken.pd, 'alice');
    assert.equal(r2.status, 422, r2.text);
    assert.equal(r2.body.reason, 'revoked');

    // Delivery first on one instance, refund on the other: the grant is taken back, both instances refuse it after.
    const late = newOrder();
    assert.equal((await verifyAt(b, late.pd, 'alice')).status, 200);
    const n3 = await notify(a, refund({ purchaseOrderId: late.id, purchaseToken: late.token }));
    assert.equal(n3.headers.get('x-notification'), 'revoked-grant');
    for (const server of [a, b]) assert.equal((await verifyAt(server, late.pd, 'alice')).body.reason, 'revoked');

    // Both at the same instant: whichever commits first, the order ends revoked and is refused everywhere.
    const racing = Array.from({ length: 10 }, newOrder);
    const answers = await Promise.all(
      racing.map((o, i) =>
        Promise.all([
          notify(i % 2 === 0 ? a : b, refund(i % 4 < 2 ? { purchaseOrderId: o.id, purchaseToken: o.token } : { purchaseToken: o.token })),
          verifyAt(i % 2 === 0 ? b : a, o.pd, 'alice'),
        ]),
      ),
    );
    for (const [i, [note, delivery]] of answers.entries()) {
      const o = racing[i]!;
      assert.equal(note.status, 200, note.text);
      assert.ok(delivery.status === 200 || (delivery.status === 422 && delivery.body.reason === 'revoked'), delivery.text);
      assert.equal((await rowOf(o.id))?.state, 'revoked', `order ${i} (delivery answered ${delivery.status})`);
      for (const server of [a, b]) {
        const again = await verifyAt(server, o.pd, 'alice');
        assert.equal(again.status, 422, again.text);
        assert.equal(again.body.reason, 'revoked');
      }
    }
  });

  it('kill -9 of one instance under load: every acknowledged order is in the database, the other keeps serving', async () => {
    const victim = await startServerProcess({ env });
    let victimAcks = 0;
    let crashed: Promise<void> | undefined;
    const victimOrders = Array.from({ length: 150 }, newOrder);
    const survivorOrders = Array.from({ length: 100 }, newOrder);
    const [onVictim, onSurvivor] = await Promise.all([
      sendBounded(victimOrders, 8, (o) => verifyAt(victim, o.pd, 'alice'), () => {
        // The barrier: the crash comes once the victim has acknowledged 30 orders, with 8 more in flight.
        if (++victimAcks === 30) crashed = victim.crash();
      }),
      sendBounded(survivorOrders, 4, (o) => verifyAt(b, o.pd, 'alice')),
    ]);
    await crashed;
    assert.ok(victim.child.signalCode === 'SIGKILL', 'the victim was killed');
    assert.ok(victimAcks >= 30 && victimAcks < victimOrders.length, `the victim acknowledged ${victimAcks} before it died`);
    // The survivor answered every one of its orders.
    assert.equal(onSurvivor.acknowledged.length, survivorOrders.length, `${onSurvivor.unanswered.length} survivor failures`);
    // Every order acknowledged by either instance is committed.
    const ids = [...onVictim.acknowledged, ...onSurvivor.acknowledged].map((o) => o.id);
    const found = await db.query<{ purchase_order_id: string }>('SELECT purchase_order_id FROM orders WHERE purchase_order_id = ANY($1)', [ids]);
    assert.equal(found.rowCount, ids.length, 'an acknowledged order is missing from the database');
    // The orders the victim never answered are delivered by the survivor: the device retries them there.
    for (const o of onVictim.unanswered) {
      const r = await verifyAt(b, o.pd, 'alice');
      assert.equal(r.status, 200, r.text);
    }
    const fresh = await verifyAt(b, newOrder().pd, 'alice');
    assert.equal(fresh.headers.get('x-delivery'), 'new');
  });
});
