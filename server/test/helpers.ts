// Shared fixtures for the server tests (not a test file itself).
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { startServer, type RunningServer } from '../src/App';
import { mintSessionToken, SessionTokenAuthenticator } from '../src/auth/SessionTokenAuthenticator';
import type { ServerConfig } from '../src/Config';
import { createTestPki, type TestPki } from '../../tools/testing/TestPki';

export const APP_ID = '110000000';

/** The app's own login, as the test servers trust it (SessionTokenAuthenticator). */
export const SESSION = {
  secret: 'test-only session secret, at least 32 bytes long',
  issuer: 'https://login.gemstore.test',
  audience: 'gemstore-iap',
} as const;
/** The account verifyReq signs in as when a test names none. */
export const DEFAULT_ACCOUNT = 'player-1';

/** A session token of the test login for `accountId` (optionally another binding, lifetime or clock). */
export function sessionFor(accountId: string, over: { binding?: string; ttlSeconds?: number; now?: number; secret?: string } = {}): string {
  return mintSessionToken({ ...SESSION, accountId, ...over });
}

export function testAuthenticator(now?: () => number): SessionTokenAuthenticator {
  return new SessionTokenAuthenticator({ secrets: [SESSION.secret], issuer: SESSION.issuer, audience: SESSION.audience, now });
}

let pkiPromise: Promise<TestPki> | undefined;
/** One genuine PKI shared by a test file (the "Huawei" chain whose root the server pins). */
export function genuinePki(): Promise<TestPki> {
  return (pkiPromise ??= createTestPki({ subjectPrefix: 'Genuine' }));
}

export function tmpDb(name = 'ledger'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iap-server-test-'));
  return path.join(dir, `${name}.sqlite`);
}

let seq = 0;
export function orderPayload(over: Record<string, unknown> = {}): Record<string, unknown> {
  const n = `${Date.now()}${++seq}${crypto.randomBytes(3).toString('hex')}`;
  return {
    environment: 'SANDBOX',
    purchaseOrderId: `order-${n}`,
    purchaseToken: `tok-${crypto.randomBytes(24).toString('hex')}`,
    applicationId: APP_ID,
    productId: 'gems_100',
    productType: '0',
    purchaseTime: Date.now() - 1000,
    finishStatus: '2',
    needFinish: true,
    price: 600,
    currency: 'CNY',
    countryCode: 'CN',
    signedTime: Date.now(),
    ...over,
  };
}

export function purchaseData(jws: string, type = 0): string {
  return JSON.stringify({ type, jwsPurchaseOrder: jws });
}

export class LogCapture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString('utf8');
    cb();
  }
}

export interface TestServer extends RunningServer {
  grants: { purchaseOrderId: string; accountId: string | undefined }[];
  revokes: string[];
  logs: LogCapture;
}

export async function startTestServer(pki: TestPki, over: Partial<ServerConfig> = {}): Promise<TestServer> {
  const grants: TestServer['grants'] = [];
  const revokes: string[] = [];
  const logs = new LogCapture();
  const server = await startServer({
    port: 0,
    trustedRootPem: pki.rootPem,
    appId: APP_ID,
    environment: 'SANDBOX',
    databasePath: tmpDb(),
    logger: { level: 'info', stream: logs },
    authenticator: testAuthenticator(),
    hooks: {
      grant: (o, accountId) => {
        grants.push({ purchaseOrderId: o.purchaseOrderId, accountId });
      },
      revoke: (o) => {
        revokes.push(o.purchaseOrderId);
      },
    },
    ...over,
  });
  return Object.assign(server, { grants, revokes, logs });
}

export interface HttpResult {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

/**
 * POSTs `body` (JSON unless a string). Signed in as DEFAULT_ACCOUNT unless `headers.authorization` is given;
 * `authorization: ''` sends no session.
 */
export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<HttpResult> {
  const auth = headers['authorization'] ?? `Bearer ${sessionFor(DEFAULT_ACCOUNT)}`;
  const rest = Object.fromEntries(Object.entries(headers).filter(([k]) => k !== 'authorization'));
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth === '' ? {} : { authorization: auth }), ...rest },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/**
 * POSTs a verify request signed in as `accountId` (default DEFAULT_ACCOUNT) with a session of the test login;
 * `null` sends no session at all.
 */
export function verifyReq(server: RunningServer, pd: string, accountId: string | null = DEFAULT_ACCOUNT): Promise<HttpResult> {
  const headers: Record<string, string> = { authorization: accountId === null ? '' : `Bearer ${sessionFor(accountId)}` };
  return post(`${server.url}/v1/purchases/verify`, { purchaseData: pd }, headers);
}

/** Replaces one part (0 header, 1 payload, 2 signature) of a compact JWS. */
export function withPart(jws: string, index: 0 | 1 | 2, value: string): string {
  const parts = jws.split('.');
  parts[index] = value;
  return parts.join('.');
}

export const b64url = (o: unknown): string => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64url');
