// Group commit in the ledger: writes that arrive together share one transaction (one fsync), each in its own
// SAVEPOINT, and every caller is answered only after the COMMIT. The semantics of one-transaction-per-request must
// hold inside a batch: one grant per order, account binding, revocation, a failing item fails alone, a failing
// COMMIT fails the whole batch and records nothing.
//
// Units started in the same event-loop turn (same tick) always land in the same batch: the batch runs on the next
// turn (setImmediate). The ledger- and service-level tests use that to build batches deterministically.
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import type { TestPki } from '../../tools/testing/TestPki';
import { ConfigError, loadConfigFromEnv } from '../src/Config';
import { TransientError } from '../src/jws/Errors';
import type { LedgerHooks, OrderPayload } from '../src/ledger/Ledger';
import { SqliteLedger as Ledger } from '../src/ledger/SqliteLedger';
import { DEFAULT_ACCOUNT, genuinePki, orderPayload, sessionFor, purchaseData, startTestServer, tmpDb, verifyReq, type TestServer } from './helpers';

const NOW = 1_700_000_000_000;

function order(over: Record<string, unknown> = {}): OrderPayload {
  return orderPayload(over) as OrderPayload;
}

/** Number of committed batches and units since `before` (a GroupCommitStats snapshot). */
function delta(ledger: Pick<Ledger, 'stats'>, before: ReturnType<Ledger['stats']>): { commits: number; failedBatches: number; units: number } {
  const now = ledger.stats();
  return { commits: now.commits - before.commits, failedBatches: now.failedBatches - before.failedBatches, units: now.units - before.units };
}

function countRows(db: Database.Database, table: string): number {
  return (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
}

/** A ledger whose grant hook records entitlements in its own database (so they commit or roll back with the row). */
function ledgerWithEntitlements(file: string, extra: Partial<LedgerHooks> = {}, maxBatch?: number): Ledger {
  const ledger = new Ledger(
    file,
    {
      grant: async (o, accountId, tx) => {
        await tx.query('INSERT INTO entitlements (order_id, account_id) VALUES ($1, $2)', [o.purchaseOrderId, accountId ?? null]);
        await extra.grant?.(o, accountId, tx);
      },
      revoke: async (o, tx) => {
        await tx.query('DELETE FROM entitlements WHERE order_id = $1', [o.purchaseOrderId]);
        await extra.revoke?.(o, tx);
      },
    },
    { maxBatch },
  );
  ledger.db.exec('CREATE TABLE IF NOT EXISTS entitlements (order_id TEXT PRIMARY KEY, account_id TEXT)');
  return ledger;
}

describe('group commit: batching', () => {
  it('deliveries started together commit in ONE transaction, and each is durable when its promise resolves', async () => {
    const file = tmpDb('batch');
    const ledger = ledgerWithEntitlements(file);
    const reader = new Database(file, { readonly: true });
    try {
      const orders = Array.from({ length: 20 }, () => order());
      const s0 = ledger.stats();
      const pending = orders.map((o) => ledger.deliver(o, undefined, NOW, false));
      // Nothing is written before the batch runs on the next turn.
      assert.equal(countRows(reader, 'orders'), 0);
      const outcomes = await Promise.all(pending);
      assert.deepEqual(delta(ledger, s0), { commits: 1, failedBatches: 0, units: 20 });
      assert.ok(outcomes.every((o) => o.kind === 'granted' && !o.replay));
      // Another connection (another process would see the same) reads every row and entitlement: committed.
      assert.equal(countRows(reader, 'orders'), 20);
      assert.equal(countRows(reader, 'entitlements'), 20);
    } finally {
      reader.close();
      await ledger.close();
    }
  });

  it('caps a batch at maxBatch and commits the rest in the next batches', async () => {
    const ledger = ledgerWithEntitlements(tmpDb('cap'), {}, 4);
    try {
      const s0 = ledger.stats();
      const outcomes = await Promise.all(Array.from({ length: 10 }, () => ledger.deliver(order(), undefined, NOW, false)));
      assert.equal(outcomes.filter((o) => o.kind === 'granted').length, 10);
      assert.deepEqual(delta(ledger, s0), { commits: 3, failedBatches: 0, units: 10 });
      assert.equal(ledger.stats().largestBatch, 4);
      assert.equal(await ledger.grantedCount(), 10);
    } finally {
      await ledger.close();
    }
  });

  it('rejects a maxBatch that is not a positive integer', () => {
    assert.throws(() => new Ledger(':memory:', {}, { maxBatch: 0 }), RangeError);
    assert.throws(() => new Ledger(':memory:', {}, { maxBatch: 2.5 }), RangeError);
  });

  it('close() commits what is still queued; later writes get a TransientError', async () => {
    const file = tmpDb('close');
    const ledger = ledgerWithEntitlements(file);
    const o = order();
    const pending = ledger.deliver(o, 'acct-1', NOW, false);
    const closing = ledger.close();
    const out = await pending;
    await closing;
    assert.equal(out.kind, 'granted');
    await assert.rejects(ledger.deliver(order(), undefined, NOW, false), (e: unknown) => e instanceof TransientError && e.reason === 'storage-unavailable');
    const reopened = new Ledger(file);
    try {
      assert.equal((await reopened.get(o.purchaseOrderId))?.accountId, 'acct-1');
    } finally {
      await reopened.close();
    }
  });
});

describe('group commit: semantics inside one batch', () => {
  it('the same order twice in one batch: one grant; the second is a replay with the first result', async () => {
    const grants: string[] = [];
    const ledger = ledgerWithEntitlements(tmpDb('dup'), { grant: (o) => void grants.push(o.purchaseOrderId) });
    try {
      const first = order();
      const second = { ...first, developerPayload: 'second presentation' } as OrderPayload;
      const s0 = ledger.stats();
      const [a, b] = await Promise.all([ledger.deliver(first, undefined, NOW, false), ledger.deliver(second, undefined, NOW + 5, false)]);
      assert.equal(delta(ledger, s0).commits, 1);
      assert.deepEqual(grants, [first.purchaseOrderId]);
      assert.ok(a.kind === 'granted' && !a.replay);
      assert.ok(b.kind === 'granted' && b.replay);
      assert.deepEqual(b.payload, first);
      assert.equal(b.grantedAt, NOW);
      assert.equal(countRows(ledger.db, 'entitlements'), 1);
    } finally {
      await ledger.close();
    }
  });

  it('two accounts in one batch: the first binds the order, the second gets account-conflict', async () => {
    const ledger = ledgerWithEntitlements(tmpDb('accounts'));
    try {
      const o = order();
      const s0 = ledger.stats();
      const [a, b, c] = await Promise.all([
        ledger.deliver(o, 'alice', NOW, false),
        ledger.deliver(o, 'bob', NOW, false),
        ledger.deliver(o, 'alice', NOW, false),
      ]);
      assert.equal(delta(ledger, s0).commits, 1);
      assert.ok(a.kind === 'granted' && !a.replay && a.accountId === 'alice');
      assert.equal(b.kind, 'account-conflict');
      assert.ok(c.kind === 'granted' && c.replay && c.accountId === 'alice');
      assert.equal((await ledger.get(o.purchaseOrderId))?.accountId, 'alice');
    } finally {
      await ledger.close();
    }
  });

  it('an order first seen without an account is bound by the first account that names one in the same batch', async () => {
    const ledger = ledgerWithEntitlements(tmpDb('bind'));
    try {
      const o = order();
      const [, b, c] = await Promise.all([
        ledger.deliver(o, undefined, NOW, false),
        ledger.deliver(o, 'carol', NOW, false),
        ledger.deliver(o, 'dave', NOW, false),
      ]);
      assert.ok(b.kind === 'granted' && b.replay && b.accountId === 'carol');
      assert.equal(c.kind, 'account-conflict');
      assert.equal((await ledger.get(o.purchaseOrderId))?.accountId, 'carol');
    } finally {
      await ledger.close();
    }
  });

  it('revocation in the same batch follows arrival order: grant then refund takes it back; refund first prevents it', async () => {
    const revoked: string[] = [];
    const ledger = ledgerWithEntitlements(tmpDb('revoke'), { revoke: (o) => void revoked.push(o.purchaseOrderId) });
    try {
      const granted = order();
      const refundedFirst = order();
      const s0 = ledger.stats();
      const [g, r1, r2, d] = await Promise.all([
        ledger.deliver(granted, undefined, NOW, false),
        ledger.revoke(granted, 'REFUND_TRANSACTION', NOW + 1),
        ledger.revoke(refundedFirst, 'REFUND_TRANSACTION', NOW + 1),
        ledger.deliver(refundedFirst, undefined, NOW + 2, false),
      ]);
      assert.equal(delta(ledger, s0).commits, 1);
      assert.equal(g.kind, 'granted');
      assert.deepEqual(r1, { revokedGrant: true, alreadyRevoked: false });
      assert.deepEqual(r2, { revokedGrant: false, alreadyRevoked: false });
      assert.equal(d.kind, 'revoked');
      assert.deepEqual(revoked, [granted.purchaseOrderId]);
      assert.equal((await ledger.get(granted.purchaseOrderId))?.state, 'revoked');
      assert.equal((await ledger.get(refundedFirst.purchaseOrderId))?.state, 'revoked');
      assert.equal(countRows(ledger.db, 'entitlements'), 0);
    } finally {
      await ledger.close();
    }
  });
});

describe('group commit: failures', () => {
  it('a grant hook that throws fails only its own item; the rest of the batch commits', async () => {
    const poison = order();
    const ledger = ledgerWithEntitlements(tmpDb('hook'), {
      grant: (o) => {
        if (o.purchaseOrderId === poison.purchaseOrderId) throw new Error('entitlement service refused');
      },
    });
    try {
      const before1 = order();
      const after1 = order();
      const s0 = ledger.stats();
      const results = await Promise.allSettled([
        ledger.deliver(before1, undefined, NOW, false),
        ledger.deliver(poison, undefined, NOW, false),
        ledger.deliver(after1, undefined, NOW, false),
      ]);
      assert.deepEqual(delta(ledger, s0), { commits: 1, failedBatches: 0, units: 3 });
      assert.equal(results[0]!.status, 'fulfilled');
      assert.equal(results[2]!.status, 'fulfilled');
      assert.ok(results[1]!.status === 'rejected' && (results[1].reason as Error).message === 'entitlement service refused');
      // The poisoned item's row and entitlement were rolled back with its savepoint; the others are there.
      assert.equal(await ledger.get(poison.purchaseOrderId), undefined);
      assert.equal((await ledger.get(before1.purchaseOrderId))?.state, 'granted');
      assert.equal((await ledger.get(after1.purchaseOrderId))?.state, 'granted');
      const ids = (ledger.db.prepare('SELECT order_id FROM entitlements ORDER BY order_id').all() as { order_id: string }[]).map((r) => r.order_id);
      assert.deepEqual(ids, [before1.purchaseOrderId, after1.purchaseOrderId].sort());
    } finally {
      await ledger.close();
    }
  });

  it('a failing COMMIT fails every item of the batch with storage-unavailable, and nothing is recorded', async () => {
    // A genuine COMMIT failure: the poisoned grant writes a row that breaks a DEFERRED foreign key, which SQLite
    // checks only at COMMIT (releasing the item's savepoint does not check it).
    const poison = order();
    const ledger = ledgerWithEntitlements(tmpDb('commit'), {
      grant: async (o, _accountId, tx) => {
        await tx.query('INSERT INTO grants_audit (order_id, parent) VALUES ($1, $2)', [
          o.purchaseOrderId,
          o.purchaseOrderId === poison.purchaseOrderId ? 'no-such-parent' : 'root',
        ]);
      },
    });
    ledger.db.exec(`
      CREATE TABLE parents (id TEXT PRIMARY KEY);
      INSERT INTO parents VALUES ('root');
      CREATE TABLE grants_audit (order_id TEXT, parent TEXT REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED);
    `);
    try {
      const innocent = [order(), order()];
      const s0 = ledger.stats();
      const results = await Promise.allSettled([
        ledger.deliver(innocent[0]!, 'alice', NOW, false),
        ledger.deliver(poison, undefined, NOW, false),
        ledger.deliver(innocent[1]!, undefined, NOW, false),
      ]);
      assert.deepEqual(delta(ledger, s0), { commits: 0, failedBatches: 1, units: 3 });
      for (const r of results) {
        assert.ok(r.status === 'rejected', 'no item may succeed when its COMMIT failed');
        assert.ok(r.reason instanceof TransientError && r.reason.reason === 'storage-unavailable', String(r.reason));
      }
      for (const table of ['orders', 'entitlements', 'grants_audit']) assert.equal(countRows(ledger.db, table), 0, table);
      assert.equal(ledger.db.inTransaction, false);
      // Retried in a batch of their own, the innocent items are granted, once.
      const retried = await Promise.all(innocent.map((o) => ledger.deliver(o, undefined, NOW, false)));
      assert.ok(retried.every((o) => o.kind === 'granted' && !o.replay));
      assert.equal(countRows(ledger.db, 'orders'), 2);
    } finally {
      await ledger.close();
    }
  });

  it('when SQLite drops the batch transaction midway, every item fails and none runs in autocommit', async () => {
    const poison = order();
    const ledger = ledgerWithEntitlements(tmpDb('lost'), {
      grant: async (o, _accountId, tx) => {
        // What SQLITE_FULL / SQLITE_IOERR may do: roll back the whole transaction under the current statement.
        if (o.purchaseOrderId === poison.purchaseOrderId) await tx.query('ROLLBACK');
      },
    });
    try {
      const s0 = ledger.stats();
      const results = await Promise.allSettled([
        ledger.deliver(order(), undefined, NOW, false),
        ledger.deliver(poison, undefined, NOW, false),
        ledger.deliver(order(), undefined, NOW, false),
      ]);
      assert.equal(delta(ledger, s0).failedBatches, 1);
      for (const r of results) assert.ok(r.status === 'rejected' && r.reason instanceof TransientError, String(r.status));
      assert.equal(countRows(ledger.db, 'orders'), 0);
      assert.equal(countRows(ledger.db, 'entitlements'), 0);
      assert.equal(ledger.db.inTransaction, false);
    } finally {
      await ledger.close();
    }
  });
});

interface RawResponse {
  status: number;
  delivery: string | undefined;
}

/** Reads one HTTP/1.1 response (with a Content-Length) from a socket. */
function readResponse(socket: net.Socket): Promise<RawResponse> {
  return new Promise<RawResponse>((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffer = Buffer.concat([buffer, chunk]);
      const headEnd = buffer.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const head = buffer.subarray(0, headEnd).toString('latin1');
      const length = Number(/^content-length: *(\d+)/im.exec(head)?.[1] ?? 0);
      if (buffer.length < headEnd + 4 + length) return;
      socket.off('data', onData);
      socket.off('error', reject);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), delivery: /^x-delivery: *(\S+)/im.exec(head)?.[1] });
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

/**
 * POSTs each body on its own keep-alive connection, as a load generator does, writing all the requests in the same
 * tick: they reach the server together, whatever a client's pooling would do. The connections are opened and used
 * once (GET /healthz) first, so that the server has accepted every one of them (it accepts one per loop turn).
 */
async function postAllAtOnce(port: number, path: string, bodies: readonly string[]): Promise<RawResponse[]> {
  const sockets = await Promise.all(
    bodies.map(
      () =>
        new Promise<net.Socket>((resolve, reject) => {
          const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
          socket.once('error', reject);
        }),
    ),
  );
  try {
    const warm = await Promise.all(
      sockets.map((socket) => {
        const response = readResponse(socket);
        socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
        return response;
      }),
    );
    assert.ok(warm.every((r) => r.status === 200));
    const responses = sockets.map((socket) => readResponse(socket));
    sockets.forEach((socket, i) => {
      const body = Buffer.from(bodies[i]!, 'utf8');
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n` +
          `Authorization: Bearer ${sessionFor(DEFAULT_ACCOUNT)}\r\n` +
          `Content-Length: ${body.length}\r\n\r\n`,
      );
      socket.write(body);
    });
    return await Promise.all(responses);
  } finally {
    for (const socket of sockets) socket.destroy();
  }
}

describe('group commit over HTTP', () => {
  let pki: TestPki;
  before(async () => {
    pki = await genuinePki();
  });

  it('concurrent requests for distinct orders are committed in fewer transactions than requests', async () => {
    const server = await startTestServer(pki);
    try {
      const n = 40;
      const bodies = Array.from({ length: n }, () => JSON.stringify({ purchaseData: purchaseData(pki.signJws(orderPayload())) }));
      const s0 = server.ledger.stats();
      const responses = await postAllAtOnce(server.port, '/v1/purchases/verify', bodies);
      assert.deepEqual(responses.map((r) => r.status), Array<number>(n).fill(200));
      assert.ok(responses.every((r) => r.delivery === 'new'));
      assert.equal(server.grants.length, n);
      const d = delta(server.ledger, s0);
      assert.equal(d.units, n);
      assert.ok(d.commits < n / 2, `${d.commits} commits for ${n} requests`);
    } finally {
      await server.close();
    }
  });

  it('the same order and two accounts at once through the service: one grant, one valid, one conflict', async () => {
    // The JWS signature is checked on libuv's thread pool: the two deliveries may reach the ledger in one batch or in
    // two, in either order. The ledger-level cases above pin the one-batch case; here the outcome must not depend on it.
    const server = await startTestServer(pki);
    try {
      const p = orderPayload();
      const pd = purchaseData(pki.signJws(p));
      const s0 = server.ledger.stats();
      const [a, b] = await Promise.all([server.service.verifyPurchase(pd, 'alice'), server.service.verifyPurchase(pd, 'bob')]);
      assert.ok(delta(server.ledger, s0).commits <= 2);
      const winner = a.kind === 'valid' ? 'alice' : 'bob';
      const [won, lost] = winner === 'alice' ? [a, b] : [b, a];
      assert.ok(won.kind === 'valid' && !won.replay);
      assert.equal(lost.kind, 'account-conflict');
      assert.deepEqual(server.grants, [{ purchaseOrderId: p['purchaseOrderId'], accountId: winner }]);
      // A later presentation by the other account is answered 409 over HTTP.
      assert.equal((await verifyReq(server, pd, winner === 'alice' ? 'bob' : 'alice')).status, 409);
    } finally {
      await server.close();
    }
  });

  it('a COMMIT failure is answered 503 storage-unavailable with Retry-After, and a retry succeeds', async () => {
    let failCommits = true;
    const server = await startTestServer(pki, {
      hooks: {
        grant: async (o, _accountId, tx) => {
          await tx.query('INSERT INTO grants_audit (order_id, parent) VALUES ($1, $2)', [o.purchaseOrderId, failCommits ? 'missing' : 'root']);
        },
      },
    });
    (server.ledger as Ledger).db.exec(`
      CREATE TABLE parents (id TEXT PRIMARY KEY);
      INSERT INTO parents VALUES ('root');
      CREATE TABLE grants_audit (order_id TEXT, parent TEXT REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED);
    `);
    try {
      const p = orderPayload();
      const pd = purchaseData(pki.signJws(p));
      const r = await verifyReq(server, pd);
      assert.equal(r.status, 503, r.text);
      assert.equal(r.body.reason, 'storage-unavailable');
      assert.equal(r.headers.get('retry-after'), '1');
      assert.equal(await server.ledger.get(p['purchaseOrderId'] as string), undefined);
      failCommits = false;
      const again = await verifyReq(server, pd);
      assert.equal(again.status, 200, again.text);
      assert.equal(again.headers.get('x-delivery'), 'new');
    } finally {
      await server.close();
    }
  });
});


/** A promise and the function that settles it, for holding a sync open. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** Lets every ready callback run (the batch's setImmediate, its microtasks, the sync's start). */
async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Waits (on the event loop, up to 5 s) until `condition` holds: the first sync also fsyncs the directory first. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Records whether a promise has settled, without changing its outcome. */
function watch<T>(p: Promise<T>): { settled: () => boolean } {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  return { settled: () => done };
}

const fdatasync = (fd: number): Promise<void> => new Promise((resolve, reject) => fs.fdatasync(fd, (e) => (e ? reject(e) : resolve())));

/** A 'pool' ledger whose every WAL sync waits for `hold` before it really syncs; `syncs()` counts the calls. */
function heldLedger(file: string): { ledger: Ledger; hold: ReturnType<typeof gate>; syncs: () => number } {
  const hold = gate();
  let calls = 0;
  const ledger = new Ledger(file, {}, {
    walSync: 'pool',
    syncWal: async (fd) => {
      calls++;
      await hold.opened;
      await fdatasync(fd);
    },
  });
  return { ledger, hold, syncs: () => calls };
}

describe("group commit: the WAL's fsync on the thread pool (walSync 'pool', opt-in)", () => {
  it('runs the write connection with synchronous=NORMAL and syncs itself; walSync commit is FULL; anything else is refused', async () => {
    const pool = new Ledger(tmpDb('sync-pool'), {}, { walSync: 'pool' });
    const commit = new Ledger(tmpDb('sync-default'));
    try {
      assert.equal(pool.db.pragma('synchronous', { simple: true }), 1);
      assert.equal(commit.db.pragma('synchronous', { simple: true }), 2);
      assert.equal((await commit.deliver(order(), undefined, NOW, false)).kind, 'granted');
    } finally {
      await Promise.all([pool.close(), commit.close()]);
    }
    assert.throws(() => new Ledger(tmpDb('sync-bad'), {}, { walSync: 'never' as never }), RangeError);
  });

  it("a read of another process's commit is answered only after a sync of the WAL that follows it", async () => {
    const file = tmpDb('sync-other');
    const { ledger, hold, syncs } = heldLedger(file);
    // Another instance on the same file (with its own sync, not this ledger's).
    const other = new Ledger(file);
    try {
      const o = order();
      await other.deliver(o, 'acct-2', NOW, false);
      const reading = ledger.get(o.purchaseOrderId);
      const read = watch(reading);
      await until(() => syncs() === 1, 'the read synced');
      await turns();
      assert.equal(read.settled(), false);
      hold.open();
      assert.equal((await reading)?.accountId, 'acct-2');
    } finally {
      hold.open();
      await Promise.all([ledger.close(), other.close()]);
    }
  });

  it('syncs the WAL beside the real file when the database path is a symlink', async () => {
    const real = tmpDb('sync-real');
    new Database(real).close();
    const link = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'iap-link-')), 'ledger.sqlite');
    fs.symlinkSync(real, link);
    const synced: boolean[] = [];
    const ledger = new Ledger(link, {}, {
      walSync: 'pool',
      syncWal: async (fd) => {
        synced.push(fs.fstatSync(fd).ino === fs.statSync(`${real}-wal`).ino);
        await fdatasync(fd);
      },
    });
    try {
      assert.equal(fs.existsSync(`${link}-wal`), false, 'SQLite keeps the WAL beside the real file');
      assert.equal((await ledger.deliver(order(), undefined, NOW, false)).kind, 'granted');
      assert.deepEqual(synced, [true]);
    } finally {
      await ledger.close();
    }
  });

  it("one sync at a time: a read's sync that fails stops the batch whose sync was queued behind it", async () => {
    const file = tmpDb('sync-serial');
    const hold = gate();
    let calls = 0;
    let running = 0;
    let mostAtOnce = 0;
    const ledger = new Ledger(file, {}, {
      walSync: 'pool',
      syncWal: async (fd) => {
        calls++;
        running++;
        mostAtOnce = Math.max(mostAtOnce, running);
        try {
          if (calls === 1) return await fdatasync(fd);
          await hold.opened;
          if (calls === 2) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
          await fdatasync(fd);
        } finally {
          running--;
        }
      },
    });
    const first = order();
    try {
      await ledger.deliver(first, undefined, NOW, false);
      // The read's sync (the 2nd) is held and will fail; the next batch commits and queues its sync (the 3rd).
      const reading = ledger.get(first.purchaseOrderId);
      await until(() => calls === 2, "the read's sync started");
      const granting = ledger.deliver(order(), undefined, NOW, false);
      await until(() => ledger.stats().commits === 2, 'the second batch committed');
      await turns();
      assert.equal(calls, 2, "the batch's sync waits for the read's");
      hold.open();
      const isUnavailable = (e: unknown): boolean => e instanceof TransientError && e.reason === 'storage-unavailable';
      await assert.rejects(reading, isUnavailable);
      await assert.rejects(granting, isUnavailable, 'a batch whose durability a failed sync left unknown is never acknowledged');
      assert.equal(calls, 2, 'no sync after a failed one');
      assert.equal(mostAtOnce, 1);
    } finally {
      hold.open();
      await ledger.close();
    }
  });

  it('syncs the WAL file itself, after the COMMIT that wrote it', async () => {
    const file = tmpDb('sync-fd');
    const synced: Array<{ sameFile: boolean; committedRows: number }> = [];
    const ledger = new Ledger(file, {}, {
      walSync: 'pool',
      syncWal: async (fd) => {
        const reader = new Database(file, { readonly: true });
        try {
          synced.push({ sameFile: fs.fstatSync(fd).ino === fs.statSync(`${file}-wal`).ino, committedRows: countRows(reader, 'orders') });
        } finally {
          reader.close();
        }
        await fdatasync(fd);
      },
    });
    try {
      await Promise.all([ledger.deliver(order(), undefined, NOW, false), ledger.deliver(order(), undefined, NOW, false)]);
      await ledger.deliver(order(), undefined, NOW, false);
      assert.deepEqual(synced, [
        { sameFile: true, committedRows: 2 },
        { sameFile: true, committedRows: 3 },
      ]);
    } finally {
      await ledger.close();
    }
  });

  it('answers nothing before the sync: the grant, a read of it, and the writes that arrive meanwhile wait; they then go in one batch', async () => {
    const file = tmpDb('sync-wait');
    const { ledger, hold, syncs } = heldLedger(file);
    const raw = new Database(file, { readonly: true });
    try {
      const first = order();
      const granting = ledger.deliver(first, 'acct-1', NOW, false);
      const grant = watch(granting);
      await until(() => syncs() === 1, 'the batch committed and its sync started');
      // Committed (another connection sees it), not yet durable: nobody is answered.
      assert.equal(countRows(raw, 'orders'), 1);
      const reading = ledger.get(first.purchaseOrderId);
      const read = watch(reading);
      const later = Array.from({ length: 10 }, () => order());
      const before = ledger.stats();
      const laterWrites = later.map((o) => ledger.deliver(o, undefined, NOW, false));
      await turns(20);
      assert.equal(grant.settled(), false, 'the grant waits for its sync');
      assert.equal(read.settled(), false, 'a read that can see the batch waits for a sync after it');
      assert.equal(syncs(), 1, "one sync at a time: the read's own sync waits behind the batch's");
      assert.equal(ledger.stats().commits, before.commits, 'no batch commits while a sync is in flight');
      hold.open();
      const granted = await granting;
      assert.ok(granted.kind === 'granted' && !granted.replay);
      assert.equal((await reading)?.accountId, 'acct-1');
      for (const out of await Promise.all(laterWrites)) assert.equal(out.kind, 'granted');
      assert.deepEqual(delta(ledger, before), { commits: 1, failedBatches: 0, units: 10 });
      assert.equal(syncs(), 3, "the first batch's, the read's, the second batch's");
    } finally {
      hold.open();
      raw.close();
      await ledger.close();
    }
  });

  it('a sync that fails: its batch, the queued writes, later writes, reads and ready() get storage-unavailable; a restart finds the batch', async () => {
    const file = tmpDb('sync-fail');
    const hold = gate();
    let syncs = 0;
    const ledger = new Ledger(file, {}, {
      walSync: 'pool',
      syncWal: async () => {
        syncs++;
        await hold.opened;
        throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
      },
    });
    const isUnavailable = (e: unknown): boolean => e instanceof TransientError && e.reason === 'storage-unavailable' && /could not be synced \(EIO\)/.test(e.message);
    const lost = order();
    const failing = ledger.deliver(lost, 'acct-1', NOW, false);
    await until(() => syncs === 1, 'the batch committed and its sync started');
    const queued = ledger.deliver(order(), undefined, NOW, false);
    const reading = ledger.get(lost.purchaseOrderId);
    hold.open();
    await assert.rejects(failing, isUnavailable);
    await assert.rejects(queued, isUnavailable);
    await assert.rejects(reading, isUnavailable);
    await assert.rejects(ledger.deliver(order(), undefined, NOW, false), isUnavailable);
    await assert.rejects(ledger.ready(), isUnavailable);
    assert.equal(ledger.stats().commits, 1, 'nothing is committed after a failed sync');
    await ledger.close();
    // The batch was committed; whether it reached the disk was unknown. After a restart it is a replay, never a
    // second grant, and the queued write (never committed) is simply not there: its caller was told to retry.
    const reopened = new Ledger(file);
    try {
      assert.equal((await reopened.get(lost.purchaseOrderId))?.accountId, 'acct-1');
      const again = await reopened.deliver(lost, 'acct-1', NOW, false);
      assert.ok(again.kind === 'granted' && again.replay, 'a replay of the first grant');
      assert.equal(await reopened.grantedCount(), 1);
    } finally {
      await reopened.close();
    }
  });

  it('SQLITE_WAL_SYNC=pool|commit (default pool) reaches the ledger; anything else is a ConfigError', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iap-cfg-'));
    const pem = path.join(dir, 'root.pem');
    fs.writeFileSync(pem, (await genuinePki()).rootPem);
    const base = { IAP_TRUSTED_ROOT: pem, IAP_APP_ID: '42', IAP_ENVIRONMENT: 'NORMAL', SESSION_SECRET: 'a production secret of 32 bytes or more' };
    assert.equal(loadConfigFromEnv(base, { databasePath: 'd' }).sqliteWalSync, 'commit');
    assert.equal(loadConfigFromEnv({ ...base, SQLITE_WAL_SYNC: 'pool' }, { databasePath: 'd' }).sqliteWalSync, 'pool');
    assert.equal(loadConfigFromEnv({ ...base, SQLITE_WAL_SYNC: 'COMMIT' }, { databasePath: 'd' }).sqliteWalSync, 'commit');
    assert.throws(() => loadConfigFromEnv({ ...base, SQLITE_WAL_SYNC: 'off' }, { databasePath: 'd' }), ConfigError);
    const server = await startTestServer(await genuinePki(), { databasePath: tmpDb('sync-server'), sqliteWalSync: 'commit' });
    try {
      assert.equal((server.ledger as Ledger).db.pragma('synchronous', { simple: true }), 2);
    } finally {
      await server.close();
    }
  });
});
