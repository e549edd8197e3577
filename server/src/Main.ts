// `npm start`: the reference app server on 127.0.0.1 with an SQLite file and, unless IAP_TRUSTED_ROOT is set, a
// generated DEVELOPMENT trust root (SANDBOX mode). Everything lives under server/data/ (gitignored).
//
// Run it as `node --import tsx server/src/Main.ts` (what `npm start` runs): one process, so the PID a supervisor
// sees and signals is the server's.
//
// DEV ONLY: server/data/dev-session.key is the HMAC secret of development session tokens (mint one with
// `node --import tsx server/src/auth/MintSession.ts <accountId>`); production sets SESSION_SECRET.
// DEV ONLY: server/data/dev-pki.json holds the private keys of the development root, intermediate and leaf so that
// a simulated device (the IAP Kit simulator) can sign purchase JWS the server accepts. Never pin this root in
// production: pin Huawei CBG Root CA G2 (IAP_TRUSTED_ROOT) and set IAP_ENVIRONMENT=NORMAL.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startServer, type RunningServer } from './App';
import * as crypto from 'node:crypto';
import { ConfigError, loadConfigFromEnv } from './Config';
import { HuaweiIapClient } from './confirm/ConfirmClient';
import { createTestPki, loadTestPki, type TestPki, type TestPkiJson } from '../../tools/testing/TestPki';

/** server/data, or SERVER_DATA_DIR when set. */
export const DATA_DIR = path.resolve(process.env['SERVER_DATA_DIR'] || path.join(__dirname, '..', 'data'));
export const DEV_APP_ID = '110000000';

/** Loads the development PKI from server/data, creating it once. DEV ONLY (contains private keys). */
export async function ensureDevPki(dir = DATA_DIR): Promise<{ pki: TestPki; rootPath: string; pkiPath: string; created: boolean }> {
  const pkiPath = path.join(dir, 'dev-pki.json');
  const rootPath = path.join(dir, 'dev-root.pem');
  fs.mkdirSync(dir, { recursive: true });
  if (fs.existsSync(pkiPath)) {
    const pki = loadTestPki(JSON.parse(fs.readFileSync(pkiPath, 'utf8')) as TestPkiJson);
    if (!fs.existsSync(rootPath)) fs.writeFileSync(rootPath, pki.rootPem);
    return { pki, rootPath, pkiPath, created: false };
  }
  const pki = await createTestPki({ subjectPrefix: 'DEV ONLY ZeroLost IAP' });
  const tmp = `${pkiPath}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ warning: 'DEVELOPMENT ONLY - private keys of a local test PKI', ...pki.toJSON() }, null, 2), {
    mode: 0o600,
  });
  fs.renameSync(tmp, pkiPath);
  fs.writeFileSync(rootPath, pki.rootPem);
  return { pki, rootPath, pkiPath, created: true };
}

/** The development session secret under server/data, created once (0600). DEV ONLY. */
export function ensureDevSessionSecret(dir = DATA_DIR): { path: string; created: boolean } {
  const file = path.join(dir, 'dev-session.key');
  fs.mkdirSync(dir, { recursive: true });
  if (fs.existsSync(file)) return { path: file, created: false };
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${crypto.randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
  return { path: file, created: true };
}

/** A database location as it may be printed: a URL without its password. */
export function displayLocation(location: string): string {
  if (!/^[a-z]+:\/\//i.test(location)) return location;
  try {
    const u = new URL(location);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '[unparsable URL]';
  }
}

async function main(): Promise<void> {
  const env = process.env;
  let devNote = '';
  let rootDefault: string | undefined;
  if (!env['IAP_TRUSTED_ROOT']) {
    const dev = await ensureDevPki();
    rootDefault = dev.rootPath;
    devNote = `${dev.created ? 'created' : 'using'} DEVELOPMENT trust root ${dev.rootPath} (keys: ${dev.pkiPath}, dev only)`;
  }
  // The dev secret only with the dev root: a production set-up without SESSION_SECRET is a configuration error.
  const devSession =
    rootDefault && !env['SESSION_SECRET'] && !env['SESSION_SECRET_FILE'] && (env['SESSION_AUTH'] || 'on') !== 'off'
      ? ensureDevSessionSecret()
      : undefined;
  const config = loadConfigFromEnv(env, {
    trustedRootPath: rootDefault,
    appId: rootDefault ? DEV_APP_ID : undefined,
    environment: rootDefault ? 'SANDBOX' : undefined,
    databasePath: path.join(DATA_DIR, 'iap-server.sqlite'),
    sessionSecretPath: devSession?.path,
  });
  if (env['IAP_KEY_ID'] && env['IAP_ISSUER_ID'] && env['IAP_PRIVATE_KEY']) {
    config.confirm = new HuaweiIapClient({
      issuerId: env['IAP_ISSUER_ID'],
      keyId: env['IAP_KEY_ID'],
      privateKey: fs.readFileSync(path.resolve(env['IAP_PRIVATE_KEY']), 'utf8'),
      appId: config.appId,
      rootUrl: env['IAP_API_ROOT'] || undefined,
    });
  }

  // Signal handlers first, so a SIGINT/SIGTERM during start-up also shuts down cleanly.
  let serverPromise: Promise<RunningServer> | undefined;
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    void (async () => {
      try {
        const server = await serverPromise;
        server?.app.log.info({ signal }, 'shutting down');
        await server?.close();
        // A supervisor (and an operator reading the log) can tell a clean stop from a kill.
        server?.app.log.info({ signal }, 'shutdown complete');
        process.stdout.write(`IAP reference server stopped (${signal}): requests finished, database closed\n`);
        process.exit(0);
      } catch {
        process.exit(1);
      }
    })();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));

  serverPromise = startServer(config);
  const server = await serverPromise;
  if (stopping) return;
  const lines = [
    `IAP reference server listening on ${server.url} (pid ${process.pid})`,
    `  environment ${config.environment}, appId ${config.appId}, database ${displayLocation(config.databasePath)}`,
    `  trusted root ${env['IAP_TRUSTED_ROOT'] ? path.resolve(env['IAP_TRUSTED_ROOT']) : rootDefault}`,
    ...(devNote ? [`  ${devNote}`] : []),
    `  server-side confirm delivery: ${config.confirm ? 'on' : 'off'}; CRL policy: ${config.revocation?.mode ?? 'off'}`,
    config.authenticator
      ? `  sessions: required (Authorization: Bearer <token>)${devSession ? `; DEVELOPMENT secret ${devSession.path} (mint a token: node --import tsx server/src/auth/MintSession.ts <accountId>)` : ''}`
      : '  sessions: OFF (SESSION_AUTH=off): orders are not bound to accounts',
    `  POST ${server.url}/v1/purchases/verify   POST ${server.url}/v1/notifications   GET ${server.url}/healthz`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof ConfigError ? 'configuration error: ' : ''}${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
