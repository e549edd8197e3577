/**
 * ReferenceServer — the real app server of server/ in a child process, for the .ets suites that check that the
 * device's RemoteVerifier and the server agree (TEST ONLY). Orders are signed by a test PKI the server pins;
 * sessions are minted like the app's login would.
 *
 *   const server = await startReferenceServer(APP_ID);
 *   const order = server.order('');                         // or server.order('alice'): developerPayload
 *   config.credentials = () => Promise.resolve(server.session('alice'));
 *   await new RemoteVerifier(config).verify(order.purchaseData, order.jws);
 *
 * Imported by .ets suites as 'types/testing/ReferenceServer' (a relative import) (declared in types/testing/ReferenceServer.d.ts).
 */
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mintSessionToken } from '../../server/src/auth/SessionTokenAuthenticator';
import { createTestPki, type TestPki } from './TestPki';

export interface ReferenceOrder {
  purchaseOrderId: string;
  purchaseData: string;
  jws: string;
}

export interface ReferenceServer {
  readonly baseUrl: string;
  /** The PKI the server pins as its root: sign subscription vectors with it. */
  readonly pki: TestPki;
  order(developerPayload: string): ReferenceOrder;
  session(accountId: string): string;
  expiredSession(accountId: string): string;
  forgedSession(accountId: string): string;
  close(): Promise<void>;
}

const ISSUER = 'reference-login';

/** The repository root: this file is bundled into .test-out/ for the suites, so look upwards for the child script. */
function repoRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'tools', 'testing', 'ReferenceServerChild.ts'))) return dir;
    if (path.dirname(dir) === dir) throw new Error('ReferenceServerChild.ts not found above ' + __dirname);
  }
}
const AUDIENCE = 'reference-iap';

export async function startReferenceServer(appId: string): Promise<ReferenceServer> {
  const pki = await createTestPki({ subjectPrefix: 'Reference' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reference-pki-'));
  const pkiFile = path.join(dir, 'pki.json');
  fs.writeFileSync(pkiFile, JSON.stringify(pki.toJSON()), { mode: 0o600 });
  const secret = crypto.randomBytes(32).toString('base64url');
  const root = repoRoot();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'tools', 'testing', 'ReferenceServerChild.ts')], {
    cwd: root,
    env: { ...process.env, REFERENCE_PKI_FILE: pkiFile, REFERENCE_APP_ID: appId, REFERENCE_SESSION_SECRET: secret },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const baseUrl = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /READY (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => reject(new Error(`reference server exited (${code}): ${out}`)));
    setTimeout(() => reject(new Error(`reference server did not start: ${out}`)), 30_000).unref();
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let n = 0;
  return {
    baseUrl,
    pki,
    order(developerPayload: string, unpaid = false): ReferenceOrder {
      const id = `ref-${Date.now()}-${++n}-${crypto.randomBytes(3).toString('hex')}`;
      const now = Date.now();
      const payload: Record<string, unknown> = {
        environment: 'SANDBOX',
        purchaseOrderId: id,
        purchaseToken: `tok-${crypto.randomBytes(16).toString('hex')}`,
        applicationId: appId,
        productId: 'gems_100',
        productType: '0',
        purchaseTime: now - 1000,
        signedTime: now,
        quantity: 1,
        price: 600,
        currency: 'CNY',
        countryCode: 'CN',
      };
      if (developerPayload.length > 0) payload['developerPayload'] = developerPayload;
      if (unpaid) delete payload['purchaseTime'];
      const jws = pki.signJws(payload);
      return { purchaseOrderId: id, jws, purchaseData: JSON.stringify({ type: 0, jwsPurchaseOrder: jws }) };
    },
    session: (accountId: string) => mintSessionToken({ secret, issuer: ISSUER, audience: AUDIENCE, accountId }),
    expiredSession: (accountId: string) =>
      mintSessionToken({ secret, issuer: ISSUER, audience: AUDIENCE, accountId, now: Date.now() - 7_200_000, ttlSeconds: 600 }),
    forgedSession: (accountId: string) =>
      mintSessionToken({ secret: crypto.randomBytes(32).toString('base64url'), issuer: ISSUER, audience: AUDIENCE, accountId }),
    async close(): Promise<void> {
      child.kill('SIGTERM');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
