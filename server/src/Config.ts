// Server configuration: the typed object startServer() takes, and its loader from the environment (see README).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Authenticator } from './auth/Authenticator';
import { MIN_SECRET_BYTES, SessionTokenAuthenticator } from './auth/SessionTokenAuthenticator';
import type { ShipmentConfirmer } from './confirm/ConfirmClient';
import type { RevocationMode } from './jws/Revocation';
import { SIGNATURE_CHECKS, type SignatureChecks } from './jws/JwsVerifier';
import type { Ledger, LedgerHooks } from './ledger/Ledger';
import { isPostgresUrl } from './ledger/OpenLedger';
import { WAL_SYNC_MODES, type WalSync } from './ledger/SqliteLedger';

export type IapEnvironment = 'SANDBOX' | 'NORMAL';

/** IAP product types: 0 consumable, 1 non-consumable, 2 auto-renewable, 3 non-renewable. */
export type ProductType = 0 | 1 | 2 | 3;

/** productId → product type (undefined = any type accepted for this id). */
export type Catalog = ReadonlyMap<string, ProductType | undefined>;

export const DEMO_CATALOG: Catalog = new Map<string, ProductType>([
  ['gems_100', 0],
  ['gems_550', 0],
  ['gems_1200', 0],
  ['remove_ads', 1],
  ['premium_themes', 1],
  ['season_pass', 3],
  // --- subscriptions: the "Gem Club" auto-renewable group (gem_club) ---
  ['gem_club_monthly', 2],
  ['gem_club_yearly', 2],
]);

/** The fixed period of each non-renewable of the demo catalog (ISO 8601), for GET /v1/entitlements. */
export const DEMO_NON_RENEWABLE_PERIODS: ReadonlyMap<string, string> = new Map([['season_pass', 'P30D']]);

export interface ServerConfig {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8787; 0 = any free port. */
  port?: number;
  /** PEM text of the pinned IAP root certificate(s) (Huawei CBG Root CA G2 in production). */
  trustedRootPem: string | string[];
  /** Expected applicationId (AGC APP ID). */
  appId: string;
  /** Expected environment of every payload. */
  environment: IapEnvironment;
  /** Products the app sells. Default: DEMO_CATALOG. */
  products?: Catalog;
  /**
   * Where the ledger lives: an SQLite file path or ':memory:' (the embedded default), or a PostgreSQL URL
   * `postgres://user:password@host:5432/database` (several instances may share it). Ignored when `ledger` is given.
   */
  databasePath: string;
  /** A ledger of your own (any adapter of the port in ledger/Ledger.ts); the server closes it on close(). */
  ledger?: Ledger;
  /** PostgreSQL: connections in this instance's pool (default 10). */
  databasePoolSize?: number;
  /** Max request body in bytes (default 64 KiB; larger → 413). */
  bodyLimit?: number;
  /** Pino/Fastify logger options, true for defaults, false to disable (default: info to stdout). */
  logger?: boolean | { level?: string; stream?: NodeJS.WritableStream };
  /** Validated-chain cache (default 1024 entries, 1 h). */
  chainCache?: { maxEntries?: number; ttlMs?: number } | false;
  /** Optional CRL policy (default 'off'); see README. */
  revocation?: { mode: RevocationMode; timeoutMs?: number; fetch?: typeof fetch };
  /**
   * Who is calling `/v1/purchases/verify`: the account comes from this session check, never from the body. Without
   * one the server binds no order to any account (an app without accounts); `npm start` always sets one.
   */
  authenticator?: Authenticator;
  /**
   * Optional server-side confirm delivery (default: none; the device calls finishPurchase after its durable grant).
   * Only for a server that grants itself: it requires `hooks.grant`, and confirms after the grant's COMMIT.
   */
  confirm?: ShipmentConfirmer;
  /**
   * productId → fixed ISO 8601 period (P30D, P1M, …) of each non-renewable, for the expiry GET /v1/entitlements
   * reports. Default: DEMO_NON_RENEWABLE_PERIODS when `products` is unset, else none (no expiry reported).
   */
  nonRenewablePeriods?: ReadonlyMap<string, string>;
  /** Server-side entitlement hooks, run inside the ledger transaction. */
  hooks?: LedgerHooks;
  /** Most ledger writes group-committed in one transaction (default 256; 1 = one transaction per write). */
  ledgerMaxBatch?: number;
  /**
   * SQLite: keep the connections, and so every COMMIT's fsync, in a worker thread instead of on the event loop
   * (ledger/SqliteWorkerLedger.ts): for a slow disk and a free core. Default false (`npm start`: SQLITE_THREAD=on).
   * Ignored with hooks (they run in this thread) and on PostgreSQL.
   * The thread runs no app code in its transactions: no subscription store then (type 2 → 422).
   */
  sqliteThread?: boolean;
  /**
   * SQLite: how a COMMIT is made durable before it is answered (SQLITE_WAL_SYNC). 'pool': the WAL's
   * fdatasync on libuv's thread pool, the event loop free meanwhile; 'commit' (default): SQLite's own fsync inside COMMIT
   * (synchronous=FULL). Every answer waits for its fsync either way.
   */
  sqliteWalSync?: WalSync;
  /**
   * Where the ES256 signature check of each JWS runs (default 'pool', libuv's thread pool): 'loop' when there are as
   * many server instances on the machine as cores, where each instance's event loop already has a core and the
   * hand-off to a pool thread only adds wake-ups (see *Running at scale* in the README). Same answers either way.
   */
  signatureChecks?: SignatureChecks;
  /** Request, header, idle-socket, keep-alive and shutdown timeouts in ms (defaults: DEFAULT_TIMEOUTS in App.ts). */
  timeouts?: { requestMs?: number; headersMs?: number; connectionMs?: number; keepAliveMs?: number; shutdownMs?: number };
  /** Most concurrent sockets; more are refused at accept (default: no limit). */
  maxConnections?: number;
  /** Allowed clock skew for signedTime in the future (default 5 min). */
  maxClockSkewMs?: number;
  /** Clock (tests). */
  now?: () => number;
}

export class ConfigError extends Error {}

/** Parses IAP_PRODUCTS: "id[:type],id[:type],…" (type 0..3 optional). */
export function parseProducts(value: string | undefined): Catalog {
  if (value === undefined || value.trim() === '') return DEMO_CATALOG;
  const m = new Map<string, ProductType | undefined>();
  for (const raw of value.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const [id, type] = item.split(':');
    if (!id) throw new ConfigError(`IAP_PRODUCTS: empty product id in "${value}"`);
    if (type !== undefined && !/^[0-3]$/.test(type)) throw new ConfigError(`IAP_PRODUCTS: bad type for ${id}`);
    m.set(id, type === undefined ? undefined : (Number(type) as ProductType));
  }
  if (m.size === 0) throw new ConfigError('IAP_PRODUCTS is empty');
  return m;
}

/** IAP_NON_RENEWABLE_PERIODS: "id:P30D,id:P1M,…" (ISO 8601 PnYnMnWnD). Unset: undefined (the default applies). */
export function parsePeriods(value: string | undefined): ReadonlyMap<string, string> | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const m = new Map<string, string>();
  for (const raw of value.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const [id, period] = item.split(':');
    if (!id || !period || !/^P(?:\d+Y)?(?:\d+M)?(?:\d+W)?(?:\d+D)?$/.test(period) || period === 'P') {
      throw new ConfigError(`IAP_NON_RENEWABLE_PERIODS: "${item}" is not id:PnYnMnWnD`);
    }
    m.set(id, period);
  }
  return m;
}

/**
 * DATABASE_URL: "postgres://…" / "postgresql://…" (PostgreSQL, returned as is), or SQLite: "file:path",
 * "sqlite:path", "sqlite://path", ":memory:" or a plain path.
 */
export function parseDatabaseUrl(value: string | undefined, fallback: string): string {
  if (value === undefined || value.trim() === '') return fallback;
  const v = value.trim();
  if (v === ':memory:') return v;
  if (isPostgresUrl(v)) {
    try {
      new URL(v);
    } catch {
      throw new ConfigError('DATABASE_URL: not a valid postgres:// URL');
    }
    return v;
  }
  const m = /^(?:sqlite:\/\/|sqlite:|file:)(.*)$/.exec(v);
  const p = m ? m[1]! : v;
  if (p === '') throw new ConfigError('DATABASE_URL has no path');
  if (/^[a-z]+:\/\//i.test(p)) throw new ConfigError('DATABASE_URL: use postgres://… for PostgreSQL, or an SQLite file path');
  return p;
}

export interface EnvDefaults {
  trustedRootPath?: string;
  appId?: string;
  environment?: IapEnvironment;
  databasePath: string;
  /** File holding the session secret when SESSION_SECRET / SESSION_SECRET_FILE are unset (the dev secret). */
  sessionSecretPath?: string;
}

/** Defaults of the session token claims (SESSION_ISSUER / SESSION_AUDIENCE). */
export const DEFAULT_SESSION_ISSUER = 'gemstore-login';
export const DEFAULT_SESSION_AUDIENCE = 'gemstore-iap';

export interface SessionSettings {
  secrets: string[];
  issuer: string;
  audience: string;
}

/**
 * The session check from the environment: SESSION_SECRET (comma-separated for a rotation, the first signs) or
 * SESSION_SECRET_FILE, SESSION_ISSUER, SESSION_AUDIENCE; SESSION_AUTH=off runs without accounts. Undefined = off.
 */
export function sessionSettingsFromEnv(env: NodeJS.ProcessEnv, fallbackSecretPath?: string): SessionSettings | undefined {
  const mode = (env['SESSION_AUTH'] || 'on').toLowerCase();
  if (mode !== 'on' && mode !== 'off') throw new ConfigError('SESSION_AUTH must be on or off');
  if (mode === 'off') return undefined;
  let raw = env['SESSION_SECRET'];
  const file = env['SESSION_SECRET_FILE'] || (raw ? undefined : fallbackSecretPath);
  if (!raw && file) {
    try {
      raw = fs.readFileSync(path.resolve(file), 'utf8').trim();
    } catch {
      throw new ConfigError(`SESSION_SECRET_FILE: cannot read ${file}`);
    }
  }
  if (!raw) {
    throw new ConfigError('SESSION_SECRET (or SESSION_SECRET_FILE) is required: the account comes from a signed session; SESSION_AUTH=off runs without accounts');
  }
  const secrets = raw.split(',').map((x) => x.trim()).filter((x) => x.length > 0);
  if (secrets.length === 0 || secrets.some((x) => Buffer.byteLength(x) < MIN_SECRET_BYTES)) {
    throw new ConfigError(`SESSION_SECRET: each secret must be at least ${MIN_SECRET_BYTES} bytes`);
  }
  return {
    secrets,
    issuer: env['SESSION_ISSUER'] || DEFAULT_SESSION_ISSUER,
    audience: env['SESSION_AUDIENCE'] || DEFAULT_SESSION_AUDIENCE,
  };
}

function positiveMs(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(`${name} must be a positive integer`);
  return n;
}

/** Builds a ServerConfig from process.env-style variables. Throws ConfigError with a readable message. */
export function loadConfigFromEnv(env: NodeJS.ProcessEnv, defaults: EnvDefaults): ServerConfig {
  const port = env['PORT'] === undefined || env['PORT'] === '' ? 8787 : Number(env['PORT']);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`PORT must be 0..65535`);
  const rootPath = env['IAP_TRUSTED_ROOT'] || defaults.trustedRootPath;
  if (!rootPath) throw new ConfigError('IAP_TRUSTED_ROOT (path to the pinned root PEM) is required');
  let trustedRootPem: string;
  try {
    trustedRootPem = fs.readFileSync(path.resolve(rootPath), 'utf8');
  } catch {
    throw new ConfigError(`IAP_TRUSTED_ROOT: cannot read ${rootPath}`);
  }
  const appId = env['IAP_APP_ID'] || defaults.appId;
  if (!appId) throw new ConfigError('IAP_APP_ID is required');
  const environment = (env['IAP_ENVIRONMENT'] || defaults.environment) as string | undefined;
  if (environment !== 'SANDBOX' && environment !== 'NORMAL') {
    throw new ConfigError('IAP_ENVIRONMENT must be SANDBOX or NORMAL');
  }
  const crl = (env['IAP_CRL_MODE'] || 'off').toLowerCase();
  if (crl !== 'off' && crl !== 'soft' && crl !== 'hard') throw new ConfigError('IAP_CRL_MODE must be off, soft or hard');
  const session = sessionSettingsFromEnv(env, defaults.sessionSecretPath);
  const timeouts = {
    requestMs: positiveMs(env, 'REQUEST_TIMEOUT_MS'),
    headersMs: positiveMs(env, 'HEADERS_TIMEOUT_MS'),
    connectionMs: positiveMs(env, 'CONNECTION_TIMEOUT_MS'),
    keepAliveMs: positiveMs(env, 'KEEP_ALIVE_TIMEOUT_MS'),
    shutdownMs: positiveMs(env, 'SHUTDOWN_TIMEOUT_MS'),
  };
  const maxConnections = positiveMs(env, 'MAX_CONNECTIONS');
  const poolSize = positiveMs(env, 'DATABASE_POOL_SIZE');
  const sqliteThread = (env['SQLITE_THREAD'] || 'off').toLowerCase();
  if (sqliteThread !== 'on' && sqliteThread !== 'off') throw new ConfigError('SQLITE_THREAD must be on or off');
  const sqliteWalSync = (env['SQLITE_WAL_SYNC'] || 'commit').toLowerCase() as WalSync;
  if (!WAL_SYNC_MODES.includes(sqliteWalSync)) throw new ConfigError(`SQLITE_WAL_SYNC must be ${WAL_SYNC_MODES.join(' or ')}`);
  const signatureChecks = (env['SIGNATURE_CHECKS'] || 'pool').toLowerCase() as SignatureChecks;
  if (!SIGNATURE_CHECKS.includes(signatureChecks)) throw new ConfigError(`SIGNATURE_CHECKS must be ${SIGNATURE_CHECKS.join(' or ')}`);
  return {
    host: env['HOST'] || '127.0.0.1',
    port,
    trustedRootPem,
    appId,
    environment,
    products: parseProducts(env['IAP_PRODUCTS']),
    ...(parsePeriods(env['IAP_NON_RENEWABLE_PERIODS']) ? { nonRenewablePeriods: parsePeriods(env['IAP_NON_RENEWABLE_PERIODS'])! } : {}),
    databasePath: parseDatabaseUrl(env['DATABASE_URL'], defaults.databasePath),
    revocation: { mode: crl },
    logger: { level: env['LOG_LEVEL'] || 'info' },
    ...(session ? { authenticator: new SessionTokenAuthenticator(session) } : {}),
    timeouts: Object.fromEntries(Object.entries(timeouts).filter(([, v]) => v !== undefined)),
    ...(maxConnections !== undefined ? { maxConnections } : {}),
    ...(poolSize !== undefined ? { databasePoolSize: poolSize } : {}),
    sqliteThread: sqliteThread === 'on',
    sqliteWalSync,
    signatureChecks,
  };
}
