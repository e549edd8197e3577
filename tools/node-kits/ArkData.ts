// Node implementation of `relationalStore` from @kit.ArkData over better-sqlite3 (real SQLite, like the device).
// Covers the subset this project uses, with the device's semantics: one file per store under
// <context.databaseDir>/rdb/, WAL + synchronous FULL, promise APIs that resolve asynchronously, ResultSet
// cursors, RdbPredicates, `version` as PRAGMA user_version, and BusinessError codes 148000xx.
// `simulateProcessDeath()` models a killed app for the chaos harness.
//
// The connection pool. The RDB overview (OpenHarmony docs, database-relational-overview, "Default Settings" and
// "Constraints") says: the default logging mode is WAL, the default flush mode FULL, "a maximum of four connection
// pools can be connected to an RDB to manage read and write operations" and "the RDB supports only one write
// operation at a time". An RdbStore is therefore one WRITER connection plus reader connections: beginTransaction,
// commit, rollBack, executeSql, insert, update, delete, batchInsert and `version` run on the writer; querySql and
// query take a reader, also while a transaction begun with beginTransaction() is open on the writer. In WAL a
// reader sees the last COMMITTED state only, so a query inside such a transaction does not see the transaction's
// own inserts/updates, nor a table it created (CREATE TABLE ... then SELECT before commit fails with
// "no such table", SQLite generic error 14800021). The isolated Transaction object that can read its own writes
// is createTransaction(), @since 14: not usable at compatibleSdkVersion 12, so it is not modelled here.
// Readers are opened read-only; one reader is enough here because a ResultSet is read eagerly (a device reader is
// held until the ResultSet is closed, up to four at a time).
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BusinessError } from './BasicServicesKit';

type ValueType = null | number | string | boolean | Uint8Array | bigint;
export type ValuesBucket = Record<string, ValueType>;

enum SecurityLevel {
  S1 = 1,
  S2 = 2,
  S3 = 3,
  S4 = 4,
}

enum ConflictResolution {
  ON_CONFLICT_NONE = 0,
  ON_CONFLICT_ROLLBACK = 1,
  ON_CONFLICT_ABORT = 2,
  ON_CONFLICT_FAIL = 3,
  ON_CONFLICT_IGNORE = 4,
  ON_CONFLICT_REPLACE = 5,
}

interface StoreConfig {
  name: string;
  securityLevel: SecurityLevel;
  encrypt?: boolean;
}

interface ContextLike {
  databaseDir?: string;
}

// RDB error codes (errorcode-data-rdb).
const E_INNER = 14800000;
const E_CORRUPTED = 14800011;
const E_ROW_OUT_OF_RANGE = 14800012;
const E_COLUMN = 14800013;
const E_ALREADY_CLOSED = 14800014;
const E_SQLITE_ERROR = 14800021;
const E_BUSY = 14800024;
const E_READONLY = 14800027;
const E_IOERR = 14800028;
const E_FULL = 14800029;
const E_CONSTRAINT = 14800032;
const E_MISMATCH = 14800033;

function rdbError(e: unknown): BusinessError {
  if (e instanceof BusinessError) return e;
  const err = e as { code?: string; message?: string };
  const code = err.code ?? '';
  const message = err.message ?? String(e);
  if (code.startsWith('SQLITE_CONSTRAINT')) return new BusinessError(E_CONSTRAINT, `SQLite: Abort due to constraint violation. ${message}`);
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') return new BusinessError(E_CORRUPTED, `Database corrupted. ${message}`);
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') return new BusinessError(E_BUSY, `SQLite: The database file is locked. ${message}`);
  if (code.startsWith('SQLITE_IOERR')) return new BusinessError(E_IOERR, `SQLite: Some kind of disk I/O error occurred. ${message}`);
  if (code === 'SQLITE_FULL') return new BusinessError(E_FULL, `SQLite: The database is full. ${message}`);
  if (code === 'SQLITE_MISMATCH') return new BusinessError(E_MISMATCH, `SQLite: Data type mismatch. ${message}`);
  if (code.startsWith('SQLITE_READONLY')) return new BusinessError(E_READONLY, `SQLite: Attempt to write a readonly database. ${message}`);
  // Since API 12 the device passes SQLite's primary result codes through as 148000xx (errorcode-data-rdb).
  if (code === 'SQLITE_ERROR') return new BusinessError(E_SQLITE_ERROR, `SQLite: Generic error. ${message}`);
  return new BusinessError(E_INNER, `Inner error. ${message}`);
}

/**
 * Fault hook for the chaos harness: called before every write statement and every COMMIT of any store; when it
 * returns an SQLite result code the operation fails as SQLite would fail it (nothing written; a failed COMMIT of a
 * full or failing disk rolls the transaction back, a busy one leaves it open, as SQLite documents for COMMIT).
 */
export type WriteFault = 'SQLITE_FULL' | 'SQLITE_BUSY' | 'SQLITE_IOERR';
export type WriteFaultHook = (op: 'write' | 'commit', sql: string) => WriteFault | undefined;
let writeFaultHook: WriteFaultHook | undefined;

export function setWriteFaultHook(hook: WriteFaultHook | undefined): void {
  writeFaultHook = hook;
}

function writeFault(op: 'write' | 'commit', sql: string): WriteFault | undefined {
  return writeFaultHook?.(op, sql);
}

function sqliteError(code: WriteFault): Error {
  return Object.assign(new Error(`injected ${code}`), { code });
}

/** Device promise APIs complete on a later turn; so do these, so interleavings match. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function toSqlValue(v: ValueType): null | number | string | Buffer | bigint {
  if (v === undefined || v === null) return null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v instanceof Uint8Array) return Buffer.from(v);
  return v;
}

const openStores = new Set<RdbStore>();

class ResultSet {
  private rowIndexValue = -1;
  private closed = false;
  readonly columnNames: string[];

  constructor(private readonly rows: Array<Record<string, unknown>>, columns: string[]) {
    this.columnNames = columns;
  }

  get rowCount(): number {
    return this.rows.length;
  }
  get columnCount(): number {
    return this.columnNames.length;
  }
  get rowIndex(): number {
    return this.rowIndexValue;
  }
  get isClosed(): boolean {
    return this.closed;
  }
  get isAtFirstRow(): boolean {
    return this.rowIndexValue === 0;
  }
  get isAtLastRow(): boolean {
    return this.rowIndexValue === this.rows.length - 1;
  }
  get isEnded(): boolean {
    return this.rowIndexValue >= this.rows.length;
  }
  get isStarted(): boolean {
    return this.rowIndexValue >= 0;
  }

  private check(): void {
    if (this.closed) throw new BusinessError(E_ALREADY_CLOSED, 'Already closed.');
  }
  goToRow(position: number): boolean {
    this.check();
    if (position < 0 || position >= this.rows.length) return false;
    this.rowIndexValue = position;
    return true;
  }
  goToFirstRow(): boolean {
    return this.goToRow(0);
  }
  goToLastRow(): boolean {
    return this.goToRow(this.rows.length - 1);
  }
  goToNextRow(): boolean {
    this.check();
    if (this.rowIndexValue + 1 >= this.rows.length) {
      this.rowIndexValue = this.rows.length;
      return false;
    }
    this.rowIndexValue++;
    return true;
  }
  goToPreviousRow(): boolean {
    return this.goToRow(this.rowIndexValue - 1);
  }
  goTo(offset: number): boolean {
    return this.goToRow(this.rowIndexValue + offset);
  }
  getColumnIndex(columnName: string): number {
    this.check();
    return this.columnNames.indexOf(columnName);
  }
  getColumnName(columnIndex: number): string {
    return this.columnNames[columnIndex];
  }
  private value(columnIndex: number): unknown {
    this.check();
    if (this.rowIndexValue < 0 || this.rowIndexValue >= this.rows.length) {
      throw new BusinessError(E_ROW_OUT_OF_RANGE, 'The result set is empty or the specified location is invalid.');
    }
    if (columnIndex < 0 || columnIndex >= this.columnNames.length) {
      throw new BusinessError(E_COLUMN, 'The column value is null or the column type is incompatible.');
    }
    return this.rows[this.rowIndexValue][this.columnNames[columnIndex]];
  }
  getString(columnIndex: number): string {
    const v = this.value(columnIndex);
    return v === null || v === undefined ? '' : String(v);
  }
  getLong(columnIndex: number): number {
    const v = this.value(columnIndex);
    return v === null || v === undefined ? 0 : Math.trunc(Number(v));
  }
  getDouble(columnIndex: number): number {
    const v = this.value(columnIndex);
    return v === null || v === undefined ? 0 : Number(v);
  }
  getBlob(columnIndex: number): Uint8Array {
    const v = this.value(columnIndex);
    return v instanceof Uint8Array ? new Uint8Array(v) : new Uint8Array(0);
  }
  getValue(columnIndex: number): ValueType {
    return this.value(columnIndex) as ValueType;
  }
  isColumnNull(columnIndex: number): boolean {
    const v = this.value(columnIndex);
    return v === null || v === undefined;
  }
  getRow(): ValuesBucket {
    this.check();
    const out: ValuesBucket = {};
    for (let i = 0; i < this.columnNames.length; i++) out[this.columnNames[i]] = this.value(i) as ValueType;
    return out;
  }
  close(): void {
    this.closed = true;
  }
}

class RdbPredicates {
  private readonly where: string[] = [];
  private readonly args: ValueType[] = [];
  private order: string[] = [];
  private limit = -1;
  private offset = -1;
  private pendingJoin: 'AND' | 'OR' = 'AND';

  constructor(readonly tableName: string) {}

  private add(clause: string, ...args: ValueType[]): RdbPredicates {
    if (this.where.length > 0 && this.where[this.where.length - 1] !== '(') this.where.push(this.pendingJoin);
    this.where.push(clause);
    this.args.push(...args);
    this.pendingJoin = 'AND';
    return this;
  }
  private static col(field: string): string {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(field)) throw new BusinessError(401, `Invalid field name: ${field}`);
    return field;
  }
  equalTo(field: string, value: ValueType): RdbPredicates {
    return this.add(`${RdbPredicates.col(field)} = ?`, value);
  }
  notEqualTo(field: string, value: ValueType): RdbPredicates {
    return this.add(`${RdbPredicates.col(field)} <> ?`, value);
  }
  greaterThan(field: string, value: ValueType): RdbPredicates {
    return this.add(`${RdbPredicates.col(field)} > ?`, value);
  }
  greaterThanOrEqualTo(field: string, value: ValueType): RdbPredicates {
    return this.add(`${RdbPredicates.col(field)} >= ?`, value);
  }
  lessThan(field: string, value: ValueType): RdbPredicates {
    return this.add(`${RdbPredicates.col(field)} < ?`, value);
  }
  lessThanOrEqualTo(field: string, value: ValueType): RdbPredicates {
    return this.add(`${RdbPredicates.col(field)} <= ?`, value);
  }
  isNull(field: string): RdbPredicates {
    return this.add(`${RdbPredicates.col(field)} IS NULL`);
  }
  isNotNull(field: string): RdbPredicates {
    return this.add(`${RdbPredicates.col(field)} IS NOT NULL`);
  }
  like(field: string, value: string): RdbPredicates {
    return this.add(`${RdbPredicates.col(field)} LIKE ?`, value);
  }
  in(field: string, values: ValueType[]): RdbPredicates {
    return this.add(`${RdbPredicates.col(field)} IN (${values.map(() => '?').join(', ')})`, ...values);
  }
  notIn(field: string, values: ValueType[]): RdbPredicates {
    return this.add(`${RdbPredicates.col(field)} NOT IN (${values.map(() => '?').join(', ')})`, ...values);
  }
  between(field: string, low: ValueType, high: ValueType): RdbPredicates {
    return this.add(`${RdbPredicates.col(field)} BETWEEN ? AND ?`, low, high);
  }
  and(): RdbPredicates {
    this.pendingJoin = 'AND';
    return this;
  }
  or(): RdbPredicates {
    this.pendingJoin = 'OR';
    return this;
  }
  beginWrap(): RdbPredicates {
    if (this.where.length > 0) this.where.push(this.pendingJoin);
    this.where.push('(');
    this.pendingJoin = 'AND';
    return this;
  }
  endWrap(): RdbPredicates {
    this.where.push(')');
    return this;
  }
  orderByAsc(field: string): RdbPredicates {
    this.order.push(`${RdbPredicates.col(field)} ASC`);
    return this;
  }
  orderByDesc(field: string): RdbPredicates {
    this.order.push(`${RdbPredicates.col(field)} DESC`);
    return this;
  }
  limitAs(value: number): RdbPredicates {
    this.limit = value;
    return this;
  }
  offsetAs(rowOffset: number): RdbPredicates {
    this.offset = rowOffset;
    return this;
  }

  /** @internal SQL tail (WHERE … ORDER BY … LIMIT …) and its bind arguments. */
  toSql(): { where: string; tail: string; args: ValueType[] } {
    const where = this.where.length > 0 ? ` WHERE ${this.where.join(' ').replace(/\( /g, '(').replace(/ \)/g, ')')}` : '';
    let tail = this.order.length > 0 ? ` ORDER BY ${this.order.join(', ')}` : '';
    if (this.limit >= 0 || this.offset >= 0) tail += ` LIMIT ${this.limit >= 0 ? this.limit : -1}`;
    if (this.offset >= 0) tail += ` OFFSET ${this.offset}`;
    return { where, tail, args: this.args };
  }
}

const CONFLICT_SQL: Record<number, string> = {
  [ConflictResolution.ON_CONFLICT_NONE]: '',
  [ConflictResolution.ON_CONFLICT_ROLLBACK]: ' OR ROLLBACK',
  [ConflictResolution.ON_CONFLICT_ABORT]: ' OR ABORT',
  [ConflictResolution.ON_CONFLICT_FAIL]: ' OR FAIL',
  [ConflictResolution.ON_CONFLICT_IGNORE]: ' OR IGNORE',
  [ConflictResolution.ON_CONFLICT_REPLACE]: ' OR REPLACE',
};

/** One pooled SQLite connection with its own prepared-statement cache, as the device keeps one per connection. */
class PooledConnection {
  private readonly statements = new Map<string, Database.Statement>();
  private static readonly STATEMENT_CACHE_SIZE = 64;

  constructor(readonly db: Database.Database) {}

  statement(sql: string): Database.Statement {
    let stmt = this.statements.get(sql);
    if (stmt) {
      this.statements.delete(sql);
    } else {
      stmt = this.db.prepare(sql);
      if (this.statements.size >= PooledConnection.STATEMENT_CACHE_SIZE) {
        this.statements.delete(this.statements.keys().next().value as string);
      }
    }
    this.statements.set(sql, stmt);
    return stmt;
  }

  close(): void {
    this.statements.clear();
    this.db.close();
  }
}

class RdbStore {
  /** The one connection that writes (and holds a beginTransaction() transaction). */
  private writer: PooledConnection | null;
  /** Opened lazily, after the writer has put the file in WAL mode; reads committed data only. */
  private reader: PooledConnection | null = null;
  private dead = false;

  constructor(readonly file: string) {
    try {
      const db = new Database(file);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      // Touch the schema so a file that is not a database fails at open, as on the device.
      db.prepare('SELECT count(*) FROM sqlite_master').get();
      this.writer = new PooledConnection(db);
    } catch (e) {
      throw rdbError(e);
    }
    openStores.add(this);
  }

  private check(): void {
    if (this.dead) throw new BusinessError(E_INNER, 'Inner error. The process that owned this store has died.');
    if (!this.writer) throw new BusinessError(E_ALREADY_CLOSED, 'Already closed.');
  }

  private write(): PooledConnection {
    this.check();
    return this.writer as PooledConnection;
  }

  private read(): PooledConnection {
    this.check();
    if (!this.reader) {
      const db = new Database(this.file, { readonly: true, fileMustExist: true });
      this.reader = new PooledConnection(db);
    }
    return this.reader;
  }

  private static tableName(name: string): string {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new BusinessError(401, `Invalid table name: ${name}`);
    return name;
  }

  get version(): number {
    return Number(this.write().db.pragma('user_version', { simple: true }));
  }
  set version(value: number) {
    this.write().db.pragma(`user_version = ${Math.trunc(value)}`);
  }

  async executeSql(sql: string, bindArgs: ValueType[] = []): Promise<void> {
    await nextTurn();
    try {
      const conn = this.write();
      if (!/^\s*(SELECT|PRAGMA)\b/i.test(sql)) {
        const fault = writeFault('write', sql);
        if (fault) throw sqliteError(fault);
      }
      if (bindArgs.length === 0 && /;\s*\S/.test(sql.trim())) {
        conn.db.exec(sql);
      } else {
        conn.statement(sql).run(...bindArgs.map(toSqlValue));
      }
    } catch (e) {
      throw rdbError(e);
    }
  }

  /** Runs on a reader connection: committed data only, whether or not a transaction is open on the writer. */
  async querySql(sql: string, bindArgs: ValueType[] = []): Promise<ResultSet> {
    await nextTurn();
    try {
      const stmt = this.read().statement(sql);
      const columns = stmt.columns().map((c) => c.name);
      const rows = stmt.all(...bindArgs.map(toSqlValue)) as Array<Record<string, unknown>>;
      return new ResultSet(rows, columns);
    } catch (e) {
      throw rdbError(e);
    }
  }

  async query(predicates: RdbPredicates, columns?: string[]): Promise<ResultSet> {
    const { where, tail, args } = predicates.toSql();
    const cols = columns && columns.length > 0 ? columns.join(', ') : '*';
    return this.querySql(`SELECT ${cols} FROM ${RdbStore.tableName(predicates.tableName)}${where}${tail}`, args);
  }

  async insert(table: string, values: ValuesBucket, conflict: ConflictResolution = ConflictResolution.ON_CONFLICT_NONE): Promise<number> {
    await nextTurn();
    try {
      const keys = Object.keys(values);
      const sql = `INSERT${CONFLICT_SQL[conflict] ?? ''} INTO ${RdbStore.tableName(table)} (${keys.join(', ')}) VALUES (${keys.map(() => '?').join(', ')})`;
      const fault = writeFault('write', sql);
      if (fault) throw sqliteError(fault);
      const info = this.write().statement(sql).run(...keys.map((k) => toSqlValue(values[k])));
      return info.changes === 0 ? -1 : Number(info.lastInsertRowid);
    } catch (e) {
      throw rdbError(e);
    }
  }

  async batchInsert(table: string, values: ValuesBucket[]): Promise<number> {
    let n = 0;
    for (const v of values) {
      if ((await this.insert(table, v)) >= 0) n++;
    }
    return n;
  }

  async update(values: ValuesBucket, predicates: RdbPredicates, conflict: ConflictResolution = ConflictResolution.ON_CONFLICT_NONE): Promise<number> {
    await nextTurn();
    try {
      const keys = Object.keys(values);
      const { where, args } = predicates.toSql();
      const sql = `UPDATE${CONFLICT_SQL[conflict] ?? ''} ${RdbStore.tableName(predicates.tableName)} SET ${keys.map((k) => `${k} = ?`).join(', ')}${where}`;
      const fault = writeFault('write', sql);
      if (fault) throw sqliteError(fault);
      return this.write().statement(sql).run(...keys.map((k) => toSqlValue(values[k])), ...args.map(toSqlValue)).changes;
    } catch (e) {
      throw rdbError(e);
    }
  }

  async delete(predicates: RdbPredicates): Promise<number> {
    await nextTurn();
    try {
      const { where, args } = predicates.toSql();
      const fault = writeFault('write', `DELETE FROM ${predicates.tableName}`);
      if (fault) throw sqliteError(fault);
      return this.write().statement(`DELETE FROM ${RdbStore.tableName(predicates.tableName)}${where}`).run(...args.map(toSqlValue)).changes;
    } catch (e) {
      throw rdbError(e);
    }
  }

  // BEGIN IMMEDIATE: the write lock is taken at once (in WAL, EXCLUSIVE is the same), so a read that follows cannot
  // be overtaken by another writer's commit; readers go on meanwhile.
  beginTransaction(): void {
    try {
      this.write().db.exec('BEGIN IMMEDIATE');
    } catch (e) {
      throw rdbError(e);
    }
  }
  commit(): void {
    try {
      const db = this.write().db;
      const fault = writeFault('commit', 'COMMIT');
      if (fault) {
        if (fault !== 'SQLITE_BUSY' && db.inTransaction) db.exec('ROLLBACK');
        throw sqliteError(fault);
      }
      db.exec('COMMIT');
    } catch (e) {
      throw rdbError(e);
    }
  }
  rollBack(): void {
    try {
      const conn = this.write();
      if (conn.db.inTransaction) conn.db.exec('ROLLBACK');
    } catch (e) {
      throw rdbError(e);
    }
  }

  async close(): Promise<void> {
    await nextTurn();
    this.closeConnections();
    openStores.delete(this);
  }

  private closeConnections(): void {
    // Readers first: the last connection to close checkpoints the WAL.
    if (this.reader) {
      this.reader.close();
      this.reader = null;
    }
    if (this.writer) {
      this.writer.close();
      this.writer = null;
    }
  }

  /** @internal Process death: the OS drops the connections; SQLite discards what was not committed. */
  kill(): void {
    this.dead = true;
    this.closeConnections();
    openStores.delete(this);
  }
}

function storePath(context: ContextLike, name: string): string {
  if (!name || name.includes('/') || name.includes('\\')) throw new BusinessError(14800010, 'Invalid database path.');
  const base = context.databaseDir ?? process.env.RDB_DIR ?? process.cwd();
  const dir = path.join(base, 'rdb');
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, name);
}

async function getRdbStore(context: ContextLike, config: StoreConfig): Promise<RdbStore> {
  await nextTurn();
  return new RdbStore(storePath(context, config.name));
}

async function deleteRdbStore(context: ContextLike, name: string): Promise<void> {
  await nextTurn();
  const file = storePath(context, name);
  for (const store of [...openStores]) {
    if (store.file === file) store.kill();
  }
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true });
}

export const relationalStore = {
  SecurityLevel,
  ConflictResolution,
  RdbPredicates,
  getRdbStore,
  deleteRdbStore,
};

// Type names as the ArkTS code refers to them (relationalStore.RdbStore etc.).
// eslint-disable-next-line @typescript-eslint/no-namespace
export declare namespace relationalStore {
  export type RdbStore = InstanceType<typeof RdbStoreClass>;
  export type ResultSet = InstanceType<typeof ResultSetClass>;
  export type ValuesBucket = Record<string, ValueType>;
}
const RdbStoreClass = RdbStore;
const ResultSetClass = ResultSet;

/** Node-only hook for the chaos harness: every open store dies as if the app process was killed. */
export function simulateProcessDeath(): void {
  for (const store of [...openStores]) store.kill();
}
