// Picks the ledger adapter from a location: a postgres:// URL → PostgresLedger, anything else (a file path or
// ':memory:') → SqliteLedger, the embedded default.
import type { Ledger, LedgerHooks, TransactionalLedger } from './Ledger';
import { PostgresLedger, type PostgresLedgerOptions } from './PostgresLedger';
import { SqliteLedger, type SqliteLedgerOptions } from './SqliteLedger';
import { SqliteWorkerLedger } from './SqliteWorkerLedger';

export interface OpenLedgerOptions extends SqliteLedgerOptions, PostgresLedgerOptions {
  /**
   * SQLite only: run the connections (and every COMMIT's fsync) in a worker thread, off the event loop
   * (SqliteWorkerLedger). Taken only when no grant/revoke hook is configured: hooks run in the caller's thread.
   */
  sqliteThread?: boolean;
}

/** True for a PostgreSQL connection URL (postgres:// or postgresql://). */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(location.trim());
}

/**
 * Opens the ledger at `location` (synchronous; a PostgreSQL ledger connects and migrates on ready(), which
 * startServer awaits before it listens).
 */
export function openLedger(location: string, hooks: LedgerHooks = {}, options: OpenLedgerOptions = {}): Ledger {
  if (isPostgresUrl(location)) return new PostgresLedger(location.trim(), hooks, options);
  if (options.sqliteThread === true && hooks.grant === undefined && hooks.revoke === undefined) {
    return new SqliteWorkerLedger(location, { maxBatch: options.maxBatch, walSync: options.walSync });
  }
  return new SqliteLedger(location, hooks, options);
}
