// kill -9 of the server process on SQLite, under load: every order it acknowledged is in the file, and a new process
// on the same file serves again (the acknowledged orders as replays). The server is a real
// `node --import tsx server/src/Main.ts` (tools/testing/ServerProcess.ts), once with the SQLite connections in their
// worker thread (the default of `npm start`) and once on the event loop.
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serverEnv, startServerProcess, type ServerProcess } from '../../tools/testing/ServerProcess';
import { APP_ID, SESSION, genuinePki, orderPayload, post, purchaseData, sessionFor, tmpDb, type HttpResult } from './helpers';
import { sendBounded, type LoadOrder } from './processLoad';

/** SESSION_SECRET takes a comma-separated rotation: this login's secret has no comma. */
const LOGIN = { ...SESSION, secret: 'crash test session secret 0123456789abcdef' };

function verifyAt(server: ServerProcess, pd: string): Promise<HttpResult> {
  return post(`${server.url}/v1/purchases/verify`, { purchaseData: pd }, { authorization: `Bearer ${sessionFor('alice', { secret: LOGIN.secret })}` });
}

describe('kill -9 on SQLite under load', () => {
  for (const thread of ['on', 'off']) {
    it(`every acknowledged order survives (SQLITE_THREAD=${thread}), and a new process serves the same file`, async () => {
      const pki = await genuinePki();
      const file = tmpDb('crash');
      const env = { ...serverEnv(pki, { appId: APP_ID, databaseUrl: file, session: LOGIN }), SQLITE_THREAD: thread };
      const orders: LoadOrder[] = Array.from({ length: 160 }, () => {
        const p = orderPayload();
        return { id: p['purchaseOrderId'] as string, pd: purchaseData(pki.signJws(p)) };
      });
      const victim = await startServerProcess({ env });
      let acks = 0;
      let crashed: Promise<void> | undefined;
      const outcome = await sendBounded(orders, 12, (o) => verifyAt(victim, o.pd), () => {
        // The barrier: the kill comes after 40 acknowledgements, with up to 12 requests in flight (batches open).
        if (++acks === 40) crashed = victim.crash();
      });
      await crashed;
      assert.equal(victim.child.signalCode, 'SIGKILL');
      assert.ok(outcome.acknowledged.length >= 40 && outcome.unanswered.length > 0, `${outcome.acknowledged.length} acknowledged`);

      // Opened read-write, as the next server would: SQLite replays the WAL of the killed process.
      const db = new Database(file);
      const present = new Set(
        (db.prepare('SELECT purchase_order_id FROM orders').all() as Array<{ purchase_order_id: string }>).map((r) => r.purchase_order_id),
      );
      db.close();
      const lost = outcome.acknowledged.filter((o) => !present.has(o.id));
      assert.deepEqual(lost, [], 'acknowledged orders missing after kill -9');

      const next = await startServerProcess({ env });
      try {
        for (const o of outcome.acknowledged.slice(0, 10)) {
          const r = await verifyAt(next, o.pd);
          assert.equal(r.status, 200, r.text);
          assert.equal(r.headers.get('x-delivery'), 'replay');
        }
        // The orders never answered are delivered now (new, or a replay of a grant whose answer was lost).
        const retried = await sendBounded(outcome.unanswered, 8, (o) => verifyAt(next, o.pd));
        assert.equal(retried.unanswered.length, 0);
      } finally {
        await next.stop();
      }
    });
  }
});
