// The Node relationalStore models the device's connection pool (see ArkData.ts): writes and beginTransaction on
// the writer, querySql/query on a reader that sees committed data only. Code that reads its own uncommitted
// writes works on a one-connection fake and fails on a device; these tests pin the device's behaviour.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, test } from 'node:test';
import { BusinessError } from './BasicServicesKit';
import { relationalStore, simulateProcessDeath } from './ArkData';

let dir = '';
let store: relationalStore.RdbStore;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arkdata-'));
  store = await relationalStore.getRdbStore({ databaseDir: dir }, { name: 'pool.db', securityLevel: relationalStore.SecurityLevel.S1 });
});

afterEach(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function count(sql: string, args: Array<string | number> = []): Promise<number> {
  const rs = await store.querySql(sql, args);
  try {
    return rs.goToFirstRow() ? rs.getLong(0) : -1;
  } finally {
    rs.close();
  }
}

test('outside a transaction a write is committed at once and every read sees it', async () => {
  await store.executeSql('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)');
  await store.insert('t', { k: 'a', v: 1 });
  assert.equal(await count('SELECT COUNT(*) FROM t'), 1);
  const rs = await store.query(new relationalStore.RdbPredicates('t').equalTo('k', 'a'));
  assert.equal(rs.rowCount, 1);
  rs.close();
});

test('inside beginTransaction, querySql and query do not see the transaction\'s own writes until commit', async () => {
  await store.executeSql('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)');
  await store.insert('t', { k: 'old', v: 1 });
  store.beginTransaction();
  await store.insert('t', { k: 'new', v: 2 });
  await store.executeSql('UPDATE t SET v = 10 WHERE k = ?', ['old']);
  assert.equal(await count('SELECT COUNT(*) FROM t'), 1, 'the insert is not visible to the reader');
  assert.equal(await count('SELECT v FROM t WHERE k = ?', ['old']), 1, 'the update is not visible to the reader');
  const rs = await store.query(new relationalStore.RdbPredicates('t').equalTo('k', 'new'));
  assert.equal(rs.rowCount, 0);
  rs.close();
  store.commit();
  assert.equal(await count('SELECT COUNT(*) FROM t'), 2);
  assert.equal(await count('SELECT v FROM t WHERE k = ?', ['old']), 10);
});

test('writes inside the transaction do see earlier writes of the same transaction (they share the writer)', async () => {
  await store.executeSql('CREATE TABLE bal (c TEXT PRIMARY KEY, amount INTEGER NOT NULL)');
  store.beginTransaction();
  await store.executeSql("INSERT OR IGNORE INTO bal (c, amount) VALUES ('gems', 0)");
  await store.executeSql("UPDATE bal SET amount = amount + 5 WHERE c = 'gems'");
  await store.executeSql("UPDATE bal SET amount = amount + 7 WHERE c = 'gems'");
  store.commit();
  assert.equal(await count("SELECT amount FROM bal WHERE c = 'gems'"), 12);
});

test('a table created inside a transaction cannot be queried before commit: SQLite generic error 14800021', async () => {
  store.beginTransaction();
  await store.executeSql('CREATE TABLE IF NOT EXISTS fresh (x INTEGER)');
  await store.executeSql('INSERT INTO fresh (x) VALUES (1)');
  await assert.rejects(store.querySql('SELECT x FROM fresh'), (e: unknown) => {
    assert.ok(e instanceof BusinessError);
    assert.equal(e.code, 14800021);
    assert.match(e.message, /no such table: fresh/);
    return true;
  });
  store.commit();
  assert.equal(await count('SELECT x FROM fresh'), 1);
});

test('a rolled-back transaction was never visible to a reader', async () => {
  await store.executeSql('CREATE TABLE t (k TEXT PRIMARY KEY)');
  store.beginTransaction();
  await store.insert('t', { k: 'x' });
  assert.equal(await count('SELECT COUNT(*) FROM t'), 0);
  store.rollBack();
  assert.equal(await count('SELECT COUNT(*) FROM t'), 0);
});

test('the reader is read-only: a write sent through querySql fails instead of escaping the transaction', async () => {
  await store.executeSql('CREATE TABLE t (k TEXT PRIMARY KEY)');
  await assert.rejects(store.querySql("INSERT INTO t (k) VALUES ('x') RETURNING k"), (e: unknown) => {
    assert.ok(e instanceof BusinessError);
    assert.equal(e.code, 14800027);
    return true;
  });
  assert.equal(await count('SELECT COUNT(*) FROM t'), 0);
});

test('a find-then-write decision is sound with one writer: the write lock is held before the read', async () => {
  // The ledger's pattern: begin, read the committed row, decide, write. A second store on the same file (another
  // process) cannot commit in between, because beginTransaction() took the write lock first.
  await store.executeSql('CREATE TABLE t (k TEXT PRIMARY KEY, state TEXT)');
  await store.insert('t', { k: 'o1', state: 'pending' });
  const other = await relationalStore.getRdbStore({ databaseDir: dir }, { name: 'pool.db', securityLevel: relationalStore.SecurityLevel.S1 });
  try {
    store.beginTransaction();
    const rs = await store.querySql('SELECT state FROM t WHERE k = ?', ['o1']);
    assert.ok(rs.goToFirstRow());
    assert.equal(rs.getString(0), 'pending');
    rs.close();
    // A raw connection without busy timeout shows the lock at once (a store would wait its busy timeout, then 14800024).
    const probe = new Database(path.join(dir, 'rdb', 'pool.db'), { timeout: 0 });
    try {
      assert.throws(() => probe.exec('BEGIN IMMEDIATE'), (e: unknown) => (e as { code?: string }).code === 'SQLITE_BUSY');
    } finally {
      probe.close();
    }
    await store.executeSql("UPDATE t SET state = 'granted' WHERE k = 'o1'");
    store.commit();
    const after = await other.querySql('SELECT state FROM t WHERE k = ?', ['o1']);
    assert.ok(after.goToFirstRow());
    assert.equal(after.getString(0), 'granted');
    after.close();
  } finally {
    await other.close();
  }
});

test('process death drops the uncommitted transaction and closes the reader too', async () => {
  await store.executeSql('CREATE TABLE t (k TEXT PRIMARY KEY)');
  await count('SELECT COUNT(*) FROM t');
  store.beginTransaction();
  await store.insert('t', { k: 'lost' });
  simulateProcessDeath();
  await assert.rejects(store.querySql('SELECT COUNT(*) FROM t'), (e: unknown) => e instanceof BusinessError && e.code === 14800000);
  store = await relationalStore.getRdbStore({ databaseDir: dir }, { name: 'pool.db', securityLevel: relationalStore.SecurityLevel.S1 });
  assert.equal(await count('SELECT COUNT(*) FROM t'), 0);
});
