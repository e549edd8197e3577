// Configuration from the environment, and `npm start` (server/src/Main.ts) as a real child process.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { mintSessionToken } from '../src/auth/SessionTokenAuthenticator';
import {
  ConfigError,
  DEFAULT_SESSION_AUDIENCE,
  DEFAULT_SESSION_ISSUER,
  DEMO_CATALOG,
  loadConfigFromEnv,
  parseDatabaseUrl,
  parsePeriods,
  parseProducts,
} from '../src/Config';
import { loadTestPki, type TestPkiJson } from '../../tools/testing/TestPki';
import { displayLocation } from '../src/Main';
import { orderPayload, purchaseData } from './helpers';

const MAIN = path.resolve(__dirname, '..', 'src', 'Main.ts');

describe('configuration', () => {
  it('IAP_PRODUCTS: unset → demo catalog; ids with optional types', () => {
    assert.equal(parseProducts(undefined), DEMO_CATALOG);
    assert.deepEqual([...DEMO_CATALOG.keys()], [
      'gems_100', 'gems_550', 'gems_1200', 'remove_ads', 'premium_themes', 'season_pass', 'gem_club_monthly', 'gem_club_yearly',
    ]);
    assert.deepEqual([...DEMO_CATALOG.values()], [0, 0, 0, 1, 1, 3, 2, 2]);
    const c = parseProducts(' a , b:1,c:3 ');
    assert.deepEqual([...c.entries()], [['a', undefined], ['b', 1], ['c', 3]]);
    assert.throws(() => parseProducts('a:9'), ConfigError);
  });
  it('IAP_NON_RENEWABLE_PERIODS: id:PnYnMnWnD pairs; unset → the default; anything else refused', () => {
    assert.equal(parsePeriods(undefined), undefined);
    assert.deepEqual([...parsePeriods('season_pass:P30D, vip:P1Y2M')!.entries()], [['season_pass', 'P30D'], ['vip', 'P1Y2M']]);
    for (const bad of ['season_pass', 'season_pass:30', 'season_pass:P', 'season_pass:PT1H']) assert.throws(() => parsePeriods(bad), ConfigError, bad);
  });

  it('the start-up banner never prints a database password', () => {
    assert.equal(displayLocation('postgres://iap:s3cret@db.internal:5432/ledger'), 'postgres://iap:***@db.internal:5432/ledger');
    assert.equal(displayLocation('/srv/iap/ledger.sqlite'), '/srv/iap/ledger.sqlite');
  });

  it('DATABASE_URL forms', () => {
    assert.equal(parseDatabaseUrl(undefined, 'd.sqlite'), 'd.sqlite');
    assert.equal(parseDatabaseUrl('file:x.db', 'd'), 'x.db');
    assert.equal(parseDatabaseUrl('sqlite:///tmp/y.db', 'd'), '/tmp/y.db');
    assert.equal(parseDatabaseUrl(':memory:', 'd'), ':memory:');
    // PostgreSQL URLs pass through as they are (the server then runs on PostgreSQL); other schemes are refused.
    assert.equal(parseDatabaseUrl(' postgres://u:p@h:5432/db ', 'd'), 'postgres://u:p@h:5432/db');
    assert.equal(parseDatabaseUrl('postgresql://h/db', 'd'), 'postgresql://h/db');
    assert.throws(() => parseDatabaseUrl('mysql://h/db', 'd'), ConfigError);
  });

  it('loadConfigFromEnv validates and reads the root PEM', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iap-cfg-'));
    const pem = path.join(dir, 'root.pem');
    fs.writeFileSync(pem, '-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n');
    const base = { IAP_TRUSTED_ROOT: pem, IAP_APP_ID: '42', IAP_ENVIRONMENT: 'NORMAL', SESSION_SECRET: 'a production secret of 32 bytes or more' };
    const c = loadConfigFromEnv({ ...base, PORT: '9000', IAP_PRODUCTS: 'x,y' }, { databasePath: 'db.sqlite' });
    assert.equal(c.port, 9000);
    assert.equal(c.environment, 'NORMAL');
    assert.equal(c.appId, '42');
    assert.match(String(c.trustedRootPem), /BEGIN CERTIFICATE/);
    assert.deepEqual([...(c.products ?? new Map()).keys()], ['x', 'y']);
    assert.equal(c.revocation?.mode, 'off');
    assert.throws(() => loadConfigFromEnv({ ...base, IAP_ENVIRONMENT: 'PROD' }, { databasePath: 'd' }), ConfigError);
    assert.throws(() => loadConfigFromEnv({ ...base, IAP_APP_ID: '' }, { databasePath: 'd' }), ConfigError);
    assert.throws(() => loadConfigFromEnv({ ...base, IAP_TRUSTED_ROOT: path.join(dir, 'missing.pem') }, { databasePath: 'd' }), ConfigError);
    assert.throws(() => loadConfigFromEnv({ ...base, PORT: 'http' }, { databasePath: 'd' }), ConfigError);
    assert.throws(() => loadConfigFromEnv({ ...base, IAP_CRL_MODE: 'maybe' }, { databasePath: 'd' }), ConfigError);
    assert.ok(c.authenticator, 'a session check is configured');
    // No session secret: refused, unless the operator says the app has no accounts.
    assert.throws(() => loadConfigFromEnv({ ...base, SESSION_SECRET: '' }, { databasePath: 'd' }), /SESSION_SECRET/);
    assert.throws(() => loadConfigFromEnv({ ...base, SESSION_SECRET: 'short' }, { databasePath: 'd' }), ConfigError);
    assert.equal(loadConfigFromEnv({ ...base, SESSION_SECRET: '', SESSION_AUTH: 'off' }, { databasePath: 'd' }).authenticator, undefined);
    const t = loadConfigFromEnv({ ...base, REQUEST_TIMEOUT_MS: '1500', HEADERS_TIMEOUT_MS: '700', MAX_CONNECTIONS: '50' }, { databasePath: 'd' });
    assert.deepEqual(t.timeouts, { requestMs: 1500, headersMs: 700 });
    assert.equal(t.maxConnections, 50);
    assert.throws(() => loadConfigFromEnv({ ...base, REQUEST_TIMEOUT_MS: '0' }, { databasePath: 'd' }), ConfigError);
    // Where the signature checks run: the thread pool unless told otherwise.
    assert.equal(c.signatureChecks, 'pool');
    assert.equal(loadConfigFromEnv({ ...base, SIGNATURE_CHECKS: 'LOOP' }, { databasePath: 'd' }).signatureChecks, 'loop');
    assert.throws(
      () => loadConfigFromEnv({ ...base, SIGNATURE_CHECKS: 'threads' }, { databasePath: 'd' }),
      (e: unknown) => e instanceof ConfigError && /SIGNATURE_CHECKS must be pool or loop/.test(e.message),
    );
  });
});

function startMain(env: Record<string, string>): { child: ChildProcess; url: Promise<string>; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const url = new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => reject(new Error(`Main exited early (${code}): ${out}`)));
    setTimeout(() => reject(new Error(`Main did not start: ${out}`)), 20_000).unref();
  });
  return { child, url, output: () => out };
}

function exitCode(child: ChildProcess): Promise<number | null> {
  return new Promise((r) => child.on('exit', (code) => r(code)));
}

describe('npm start (Main.ts)', () => {
  it('creates a dev trust root once, serves SANDBOX orders signed by it, and shuts down gracefully on SIGTERM', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iap-main-'));
    const env = { SERVER_DATA_DIR: dir, PORT: '0', LOG_LEVEL: 'info' };
    const first = startMain(env);
    const url = await first.url;
    assert.match(first.output(), /created DEVELOPMENT trust root/);
    // The process the supervisor started is the server itself (no npm/tsx wrapper in between).
    assert.match(first.output(), new RegExp(`\\(pid ${first.child.pid}\\)`));
    assert.ok(fs.existsSync(path.join(dir, 'dev-root.pem')));
    const pki = loadTestPki(JSON.parse(fs.readFileSync(path.join(dir, 'dev-pki.json'), 'utf8')) as TestPkiJson);
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    const body = JSON.stringify({ purchaseData: purchaseData(pki.signJws(orderPayload())) });
    const anonymous = await fetch(`${url}/v1/purchases/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(anonymous.status, 401, 'npm start requires a session');
    const token = mintSessionToken({
      secret: fs.readFileSync(path.join(dir, 'dev-session.key'), 'utf8').trim(),
      issuer: DEFAULT_SESSION_ISSUER,
      audience: DEFAULT_SESSION_AUDIENCE,
      accountId: 'dev-player',
    });
    const res = await fetch(`${url}/v1/purchases/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body,
    });
    assert.equal(res.status, 200, await res.clone().text());
    const exited = exitCode(first.child);
    first.child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(first.output(), /"msg":"shutdown complete"/);
    assert.match(first.output(), /stopped \(SIGTERM\)/);
    assert.equal(fs.existsSync(path.join(dir, 'iap-server.sqlite-wal')), false, 'database closed cleanly');

    const second = startMain(env);
    await second.url;
    assert.match(second.output(), /using DEVELOPMENT trust root/);
    assert.doesNotMatch(second.output(), /created DEVELOPMENT/);
    const exited2 = exitCode(second.child);
    second.child.kill('SIGINT');
    assert.equal(await exited2, 0);
  });
});

describe('package.json start script', () => {
  it('runs node on Main.ts directly (node --import tsx), not a tsx CLI that spawns a second node', () => {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts['start'], 'node --import tsx server/src/Main.ts');
  });
});
