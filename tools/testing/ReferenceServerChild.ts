// The reference app server (server/src) in its own process for the RemoteVerifier suites: SQLite in a temp folder,
// the test PKI of REFERENCE_PKI_FILE as its pinned root, sessions of the test login (REFERENCE_SESSION_SECRET).
// Prints `READY <url>` once listening; stops on SIGTERM. Started by ReferenceServer.ts (TEST ONLY).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startServer } from '../../server/src/App';
import { SessionTokenAuthenticator } from '../../server/src/auth/SessionTokenAuthenticator';
import { loadTestPki, type TestPkiJson } from './TestPki';

async function main(): Promise<void> {
  const pki = loadTestPki(JSON.parse(fs.readFileSync(process.env['REFERENCE_PKI_FILE']!, 'utf8')) as TestPkiJson);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reference-server-'));
  const server = await startServer({
    port: 0,
    trustedRootPem: pki.rootPem,
    appId: process.env['REFERENCE_APP_ID']!,
    environment: 'SANDBOX',
    databasePath: path.join(dir, 'ledger.sqlite'),
    logger: false,
    authenticator: new SessionTokenAuthenticator({
      secrets: [process.env['REFERENCE_SESSION_SECRET']!],
      issuer: 'reference-login',
      audience: 'reference-iap',
    }),
  });
  process.on('SIGTERM', () => {
    void server.close().then(() => process.exit(0));
  });
  process.stdout.write(`READY ${server.url}\n`);
}

void main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
