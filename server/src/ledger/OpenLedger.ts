// Picks the ledger adapter from a location: a postgres:// URL → PostgresLedger, anything else (a file path or
// ':memory:') → SqliteLedger, the embedded default.
import type { LedgerHooks, TransactionalLedger } from './Ledger';
import { PostgresLedger, type PostgresLedgerOptions } from './PostgresLedger';
import { SqliteLedger, type SqliteLedgerOptions } from './SqliteLedger';

export interface OpenLedgerOptions extends SqliteLedgerOptions, PostgresLedgerOptions {}

/** True for a PostgreSQL connection URL (postgres:// or postgresql://). */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(location.trim());
}

/**
 * Opens the ledger at `location` (synchronous; a PostgreSQL ledger connects and migrates on ready(), which
 * startServer awaits before it listens).
 */
export function openLedger(location: string, hooks: LedgerHooks = {}, options: OpenLedgerOptions = {}): TransactionalLedger {
  if (isPostgresUrl(location)) return new PostgresLedger(location.trim(), hooks, options);
  return new SqliteLedger(location, hooks, options);
}
