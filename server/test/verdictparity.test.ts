// One signed payload, one verdict: every one-field mutation of a genuine subscription status (two periods and a
// history entry) and of a genuine one-off order gets the same verdict from the device rules (bundled from common/iap,
// through `npm run verify-jws`) and from this server's /v1/purchases/verify. Each mutation is signed properly, so
// the payload rules are what is compared, not the signature checks (the hardening suites compare those).
import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../../tools/verify-jws/VerifyJws';
import type { TestPki } from '../../tools/testing/TestPki';
import { autoRenewablePurchaseData, subGroupStatusPayload, subscriptionOrder, subscriptionStatus } from '../../tools/testing/SubscriptionVectors';
import { APP_ID, genuinePki, orderPayload, purchaseData, startTestServer, verifyReq, type TestServer } from './helpers';

type Json = Record<string, unknown>;
const DAY = 86_400_000;

// Missing, null, the other JSON types, a string of 1100 characters, a lone surrogate, U+0000, an unsold product id.
const VALUES: Array<[string, unknown]> = [
  ['absent', undefined], ['null', null], ['number', 7], ['negative', -5], ['empty', ''], ['long', 'x'.repeat(1100)],
  ['surrogate', 'a\ud800b'], ['nul', 'a\u0000b'], ['object', { a: 1 }], ['array', []], ['string', 'abc'], ['boolean', true],
];

/** Every path to a field of `o`, nested objects and arrays included. */
function paths(o: unknown, at: string[] = []): string[][] {
  if (o === null || typeof o !== 'object') return [];
  return Object.entries(o as Json).flatMap(([k, v]) => [[...at, k], ...paths(v, [...at, k])]);
}

function mutate(payload: Json, at: string[], value: unknown): Json {
  const copy = structuredClone(payload);
  let target = copy as Record<string, unknown>;
  for (const k of at.slice(0, -1)) target = target[k] as Record<string, unknown>;
  const last = at[at.length - 1]!;
  if (value === undefined) delete target[last];
  else target[last] = value;
  return copy;
}

describe('device and server verdicts agree on every one-field mutation', () => {
  const now = Date.now();
  let pki: TestPki;
  let server: TestServer;
  let dir = '';
  let rootPath = '';

  before(async () => {
    pki = await genuinePki();
    server = await startTestServer(pki, { now: () => now });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verdict-parity-'));
    rootPath = path.join(dir, 'root.pem');
    fs.writeFileSync(rootPath, pki.rootPem);
  });

  after(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const deviceVerdict = async (pd: string): Promise<string> => {
    const file = path.join(dir, 'purchase-data.json');
    fs.writeFileSync(file, pd);
    const r = await runCli(['--root', rootPath, '--app-id', APP_ID, '--environment', 'SANDBOX', file]);
    return r.exitCode === 0 ? 'valid' : (/^rejected: (\S+)/.exec(r.stderr)?.[1] ?? `unreadable: ${r.stderr.slice(0, 80)}`);
  };
  const serverVerdict = async (pd: string): Promise<string> => {
    const r = await verifyReq(server, pd);
    const body = r.body as Json;
    if (r.status === 200) return 'valid';
    // 202 not-paid: the device keeps such an order awaiting payment, which verify-jws reports as valid.
    if (r.status === 202 && body['status'] === 'not-paid') return 'valid';
    return r.status === 422 ? String(body['reason']) : `HTTP ${r.status}`;
  };

  /** Mutations where the verdicts differ, except those the two sides are documented to judge apart. */
  const divergences = async (base: () => Json, sign: (p: Json) => string, expected: (at: string, value: string, device: string, srv: string) => boolean): Promise<{ cases: number; diffs: string[] }> => {
    const diffs: string[] = [];
    let cases = 0;
    for (const at of paths(base())) {
      for (const [name, value] of VALUES) {
        const pd = sign(mutate(base(), at, value));
        const [device, srv] = [await deviceVerdict(pd), await serverVerdict(pd)];
        cases++;
        if (device !== srv && !expected(at.join('.'), name, device, srv)) diffs.push(`${at.join('.')}=${name}: device ${device}, server ${srv}`);
      }
    }
    return { cases, diffs };
  };

  // verify-jws knows no catalog: an unsold productId passes there and is the engine's `unknown-product` on a device.
  const unsold = (at: string, _v: string, device: string, srv: string): boolean =>
    at.endsWith('productId') && device === 'valid' && srv === 'unknown-product';

  it('a subscription status: two periods, a history entry', async () => {
    const status = (): Json => {
      const first = subscriptionOrder({ purchaseTime: now - 31 * DAY, signedTime: now - 31 * DAY });
      const renewal = subscriptionOrder({
        subGroupGenerationId: first['subGroupGenerationId'], subscriptionId: first['subscriptionId'],
        purchaseToken: first['purchaseToken'], purchaseTime: now - DAY, signedTime: now - DAY,
      });
      const earlier = subscriptionStatus([subscriptionOrder({ productId: 'gem_club_yearly' })], { status: '2', expiresTime: now - 40 * DAY });
      return subGroupStatusPayload(subscriptionStatus([first, renewal], {}), { historySubscriptionStatusList: [earlier] });
    };
    const { cases, diffs } = await divergences(status, (p) => autoRenewablePurchaseData(pki, p), unsold);
    assert.ok(cases > 1000, `only ${cases} mutations`);
    assert.deepEqual(diffs, []);
  });

  it('a one-off order', async () => {
    const fixed = orderPayload({ signedTime: now, purchaseTime: now - 1000 });
    // quantity: the server takes 1..10 (the IAP Kit maximum), the device engine its catalog's maxQuantity (bad-quantity).
    const quantity = (at: string, _v: string, device: string, srv: string): boolean =>
      at === 'quantity' && device === 'valid' && srv === 'invalid-payload';
    const { cases, diffs } = await divergences(() => ({ ...fixed, quantity: 1 }), (p) => purchaseData(pki.signJws(p)),
      (at, v, device, srv) => unsold(at, v, device, srv) || quantity(at, v, device, srv));
    assert.ok(cases > 150, `only ${cases} mutations`);
    assert.deepEqual(diffs, []);
  });
});
