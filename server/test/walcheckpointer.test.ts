// The SQLite ledger's WAL checkpoints run in a thread of their own (WalCheckpointer): under a steady stream of
// commits the thread checkpoints, the WAL stays bounded, every committed order survives a reopen, and when the thread
// cannot run the write connection takes its checkpoints back.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { OrderPayload } from '../src/ledger/Ledger';
import { SqliteLedger } from '../src/ledger/SqliteLedger';
import { FALLBACK_AUTOCHECKPOINT_PAGES, WalCheckpointer } from '../src/ledger/WalCheckpointer';
import { orderPayload, tmpDb } from './helpers';

const NOW = 1_700_000_000_000;

function order(): OrderPayload {
  return orderPayload() as OrderPayload;
}

/** `batches` group commits of `perBatch` new orders each (one batch per event-loop turn). */
async function deliverInBatches(ledger: SqliteLedger, batches: number, perBatch: number): Promise<string[]> {
  const ids: string[] = [];
  for (let b = 0; b < batches; b++) {
    const orders = Array.from({ length: perBatch }, order);
    const outs = await Promise.all(orders.map((o) => ledger.deliver(o, undefined, NOW, false)));
    assert.ok(outs.every((o) => o.kind === 'granted' && !o.replay));
    ids.push(...orders.map((o) => o.purchaseOrderId));
  }
  return ids;
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('WAL checkpoints in a thread of their own', () => {
  it('checkpoint while commits go on; the WAL stays bounded and every order is there after a reopen', async () => {
    const file = tmpDb('checkpoints');
    const ledger = new SqliteLedger(file);
    let ids: string[];
    try {
      assert.equal(ledger.db.pragma('wal_autocheckpoint', { simple: true }), FALLBACK_AUTOCHECKPOINT_PAGES);
      ids = await deliverInBatches(ledger, 200, 20);
      await until(() => (ledger.checkpointStats()?.checkpoints ?? 0) >= 5);
      const stats = ledger.checkpointStats()!;
      assert.equal(stats.running, true);
      assert.equal(stats.failures, 0);
      // The thread copies the WAL into the database file: the file holds the orders, not only the WAL.
      const pageSize = ledger.db.pragma('page_size', { simple: true }) as number;
      assert.ok(fs.statSync(file).size > 200 * pageSize, 'the database file grew: checkpoints moved pages into it');
      const walBound = (FALLBACK_AUTOCHECKPOINT_PAGES + 2_000) * (pageSize + 24);
      assert.ok(fs.statSync(`${file}-wal`).size < walBound, 'the WAL stays under the fallback threshold');
    } finally {
      await ledger.close();
    }
    const again = new SqliteLedger(file);
    try {
      assert.equal(await again.grantedCount(), ids.length);
      for (const id of [ids[0]!, ids[ids.length >> 1]!, ids[ids.length - 1]!]) assert.equal((await again.get(id))?.state, 'granted');
    } finally {
      await again.close();
    }
  });

  it('checkpoints the ledger it belongs to after the process changed directory (the path is made absolute)', async () => {
    const home = process.cwd();
    const first = path.dirname(tmpDb('cwd-a'));
    const second = path.dirname(tmpDb('cwd-b'));
    // A different database of the same relative name where the process goes next.
    const decoy = new SqliteLedger(path.join(second, 'rel.sqlite'), {}, { checkpointThread: false });
    await decoy.close();
    const decoySize = fs.statSync(path.join(second, 'rel.sqlite')).size;
    process.chdir(first);
    let ledger: SqliteLedger | undefined;
    try {
      ledger = new SqliteLedger('rel.sqlite');
      process.chdir(second);
      await deliverInBatches(ledger, 100, 20);
      await until(() => (ledger!.checkpointStats()?.checkpoints ?? 0) >= 2);
      assert.equal(ledger.checkpointStats()!.running, true);
      const pageSize = ledger.db.pragma('page_size', { simple: true }) as number;
      assert.ok(fs.statSync(path.join(first, 'rel.sqlite')).size > 100 * pageSize, 'its own database file received the pages');
      assert.equal(fs.statSync(path.join(second, 'rel.sqlite')).size, decoySize, 'the other file is untouched');
    } finally {
      process.chdir(home);
      await ledger?.close();
    }
  });

  it('when the thread cannot run it says so once, and the ledger gives the write connection its checkpoints back', async () => {
    let dead = 0;
    const broken = new WalCheckpointer(`${tmpDb('missing')}.nowhere`, () => dead++);
    for (let i = 0; i < 40; i++) broken.committed();
    await until(() => dead > 0);
    for (let i = 0; i < 40; i++) broken.committed();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(dead, 1);
    assert.equal(broken.stats().running, false);
    await broken.close();
  });

  it('can be turned off: SQLite checkpoints in the COMMIT, with its default threshold', async () => {
    const ledger = new SqliteLedger(tmpDb('no-thread'), {}, { checkpointThread: false });
    try {
      assert.equal(ledger.db.pragma('wal_autocheckpoint', { simple: true }), 1000);
      assert.equal(ledger.checkpointStats(), undefined);
      await deliverInBatches(ledger, 3, 5);
      assert.equal(await ledger.grantedCount(), 15);
    } finally {
      await ledger.close();
    }
  });
});
