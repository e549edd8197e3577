// `npm run verify-jws`: the on-device rules (bundled from common/iap) on files written to a temp dir, with chains
// from TestPki. Each malformed or forged input exits 1 with one `rejected: <reason> …` line naming its own reason.
import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from '../check/EtsProject';
import * as x509 from '@peculiar/x509';
import { createTestPki, IAP_LEAF_OID, signCompactJws, TestPki } from '../testing/TestPki';
import { subscriptionVectors } from '../testing/SubscriptionVectors';
import { CliResult, runCli } from './VerifyJws';

const APP_ID = '5765880207854169737';
const DAY = 86_400_000;

function order(signedTime: number): Record<string, string | number> {
  return {
    environment: 'SANDBOX',
    purchaseOrderId: 'order-cli-1',
    purchaseToken: 'token-cli-1',
    applicationId: APP_ID,
    productId: 'gems_100',
    productType: '0',
    purchaseTime: signedTime - 1000,
    signedTime,
    price: 600,
    currency: 'CNY',
    countryCode: 'CN',
  };
}

// @peculiar/x509 is typed with DOM CryptoKey; node's webcrypto keys are the same at runtime (TestPki sets the provider).
type X509Key = x509.X509CertificateCreateWithKeyParams['signingKey'];

interface CustomCert {
  der: Buffer;
  key: crypto.KeyObject;
}

/** A certificate issued by `issuerKey` with exactly the extensions given (rules the TestPki options do not reach). */
async function issue(issuerDer: Buffer, issuerKey: crypto.KeyObject, subject: string, extensions: x509.Extension[],
  curve = 'P-256'): Promise<CustomCert> {
  const pair = (await crypto.webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: curve }, true, ['sign', 'verify'])) as
    crypto.webcrypto.CryptoKeyPair;
  const signingKey = await crypto.webcrypto.subtle.importKey('pkcs8', issuerKey.export({ type: 'pkcs8', format: 'der' }),
    { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: crypto.randomBytes(8).toString('hex').replace(/^./, '1'),
    subject,
    issuer: new x509.X509Certificate(issuerDer).subject,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + DAY),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    publicKey: pair.publicKey as unknown as X509Key,
    signingKey: signingKey as unknown as X509Key,
    extensions,
  });
  return { der: Buffer.from(cert.rawData), key: crypto.KeyObject.from(pair.privateKey) };
}

const NULL_VALUE = new Uint8Array([0x05, 0x00]);

function reasonOf(result: CliResult): string {
  assert.equal(result.stdout, '', 'a rejection prints nothing on stdout');
  const lines = result.stderr.split('\n').filter((l) => l.length > 0);
  assert.equal(lines.length, 1, `expected one line, got ${JSON.stringify(result.stderr)}`);
  const m = /^rejected: (\S+) \S/.exec(lines[0] as string);
  assert.ok(m, `not a rejection line: ${lines[0]}`);
  return m[1] as string;
}

describe('npm run verify-jws', () => {
  const now = Date.now();
  let dir = '';
  let pki: TestPki;
  let rootPem = '';
  let rootDer = '';
  const file = (name: string, content: string | Buffer): string => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, content);
    return p;
  };
  const verify = (input: string, ...extra: string[]): Promise<CliResult> => runCli(['--root', rootPem, ...extra, input]);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verify-jws-test-'));
    pki = await createTestPki();
    rootPem = file('root.pem', pki.rootPem);
    rootDer = file('root.cer', pki.rootDer);
  });

  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('accepts a valid bare JWS: exit 0 and the payload JSON on stdout', async () => {
    const result = await verify(file('valid.jws', `${pki.signJws(order(now))}\n`));
    assert.equal(result.exitCode, 0, result.stdout + result.stderr);
    const payload = JSON.parse(result.stdout) as Record<string, unknown>;
    assert.equal(payload.purchaseOrderId, 'order-cli-1');
    assert.equal(payload.signedTime, now);
  });

  it('accepts a valid purchaseData JSON, and a DER root, and matching --app-id / --environment', async () => {
    const purchaseData = file('purchase-data.json', JSON.stringify({ type: 0, jwsPurchaseOrder: pki.signJws(order(now)) }));
    const result = await runCli(['--root', rootDer, '--app-id', APP_ID, '--environment', 'SANDBOX', purchaseData]);
    assert.equal(result.exitCode, 0, result.stdout + result.stderr);
    assert.equal((JSON.parse(result.stdout) as Record<string, unknown>).productId, 'gems_100');
  });

  it('rejects each malformed or forged input with its own reason code (exit 1, one line)', async () => {
    const valid = pki.signJws(order(now));
    const [h, p, s] = valid.split('.') as [string, string, string];
    const foreign = await createTestPki();
    const expired = await createTestPki({ leafNotBefore: new Date(now - 10 * DAY), leafNotAfter: new Date(now - DAY) });
    const noOid = await createTestPki({ leafOid: false });
    const tampered = Buffer.from(JSON.stringify({ ...order(now), productId: 'gems_1200' })).toString('base64url');
    const cases: Array<{ name: string; content: string; expect: string; root?: string; args?: string[] }> = [
      { name: 'forged signature', content: foreign.signJws(order(now), { x5c: pki.x5c() }), expect: 'bad-signature' },
      { name: 'tampered payload', content: `${h}.${tampered}.${s}`, expect: 'bad-signature' },
      { name: 'wrong root', content: foreign.signJws(order(now)), expect: 'untrusted-chain' },
      { name: 'alg none', content: pki.signJws(order(now), { alg: 'none' }), expect: 'unsupported-alg' },
      { name: 'HS256', content: pki.signJws(order(now), { alg: 'HS256' }), expect: 'unsupported-alg' },
      { name: '2-cert chain', content: pki.signJws(order(now), { x5c: pki.x5c().slice(0, 2) }), expect: 'bad-chain-length' },
      { name: 'expired leaf', content: expired.signJws(order(now)), expect: 'cert-expired', root: expired.rootPem },
      { name: 'missing OID', content: noOid.signJws(order(now)), expect: 'missing-oid', root: noOid.rootPem },
      { name: 'truncated JWS', content: `${h}.${p}`, expect: 'malformed' },
      { name: 'x5c entry not a certificate', content: pki.signJws(order(now), { x5c: ['AAAA', ...pki.x5c().slice(1)] }), expect: 'bad-certificate' },
      { name: 'payload lacking purchaseToken', content: pki.signJws({ ...order(now), purchaseToken: '' }), expect: 'invalid-payload' },
      { name: 'non-JSON purchaseData', content: `{"type":0,"jwsPurchaseOrder":"${valid.slice(0, 30)}`, expect: 'malformed-purchase-data' },
      { name: 'wrong app id', content: valid, expect: 'wrong-app', args: ['--app-id', 'another-app'] },
      { name: 'wrong environment', content: valid, expect: 'wrong-environment', args: ['--environment', 'NORMAL'] },
    ];
    for (const c of cases) {
      const root = c.root ? file(`${c.name}.pem`, c.root) : rootPem;
      const result = await runCli(['--root', root, ...(c.args ?? []), file(`${c.name}.txt`, c.content)]);
      assert.equal(result.exitCode, 1, `${c.name}: ${result.stdout}${result.stderr}`);
      assert.equal(reasonOf(result), c.expect, c.name);
    }
  });

  it('applies the certificate rules TestPki options do not reach (critical extensions, keyUsage, curve)', async () => {
    const leafBasics = (): x509.Extension[] => [new x509.BasicConstraintsExtension(false, undefined, true)];
    const marker = new x509.Extension(IAP_LEAF_OID, false, NULL_VALUE);
    const signWith = (leaf: CustomCert, intermediateDer: Buffer): string =>
      signCompactJws(leaf.key, { alg: 'ES256', typ: 'JWT', x5c: [leaf.der.toString('base64'), intermediateDer.toString('base64'), pki.x5c()[2]] }, order(now));
    const leafUnder = (extensions: x509.Extension[], curve?: string): Promise<CustomCert> =>
      issue(pki.intermediateDer, pki.intermediatePrivateKey, 'CN=Custom Leaf', extensions, curve);

    const cases: Array<{ name: string; jws: () => Promise<string>; expect: string }> = [
      {
        name: 'control: a custom leaf with the marker is valid',
        jws: async () => signWith(await leafUnder([...leafBasics(), marker]), pki.intermediateDer),
        expect: 'valid',
      },
      {
        name: 'unknown critical extension on the leaf',
        jws: async () => signWith(await leafUnder([...leafBasics(), marker, new x509.Extension('1.2.3.4.5', true, NULL_VALUE)]), pki.intermediateDer),
        expect: 'bad-certificate',
      },
      {
        name: 'marker extension marked critical',
        jws: async () => signWith(await leafUnder([...leafBasics(), new x509.Extension(IAP_LEAF_OID, true, NULL_VALUE)]), pki.intermediateDer),
        expect: 'missing-oid',
      },
      {
        name: 'leaf keyUsage without digitalSignature',
        jws: async () => signWith(await leafUnder([...leafBasics(), marker, new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyEncipherment, true)]), pki.intermediateDer),
        expect: 'bad-certificate',
      },
      {
        name: 'P-384 leaf key (ES256 needs P-256)',
        jws: async () => signWith(await leafUnder([...leafBasics(), marker], 'P-384'), pki.intermediateDer),
        expect: 'bad-certificate',
      },
      {
        name: 'intermediate CA whose keyUsage lacks keyCertSign',
        jws: async () => {
          const intermediate = await issue(pki.rootDer, pki.rootPrivateKey, 'CN=Custom Intermediate',
            [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)]);
          const leaf = await issue(intermediate.der, intermediate.key, 'CN=Custom Leaf', [...leafBasics(), marker]);
          return signWith(leaf, intermediate.der);
        },
        expect: 'untrusted-chain',
      },
    ];
    for (const c of cases) {
      const result = await verify(file(`${c.name}.jws`, await c.jws()));
      assert.equal(result.exitCode === 0 ? 'valid' : reasonOf(result), c.expect, `${c.name}: ${result.stderr}`);
    }
  });

  it('checks nothing about applicationId / environment unless asked', async () => {
    const otherApp = pki.signJws({ ...order(now), applicationId: 'another-app', environment: 'NORMAL' });
    assert.equal((await verify(file('other-app.jws', otherApp))).exitCode, 0);
  });

  it('exits 2 with usage on stderr for a bad command line or an unreadable root', async () => {
    const input = file('usage.jws', pki.signJws(order(now)));
    for (const argv of [[input], ['--root', rootPem], ['--root', rootPem, '--environment', 'PROD', input],
      ['--root', path.join(dir, 'missing.pem'), input], ['--root', file('junk.pem', 'junk'), input]]) {
      const result = await runCli(argv);
      assert.equal(result.exitCode, 2, JSON.stringify(argv));
      assert.equal(result.stdout, '');
      assert.ok(result.stderr.length > 0);
    }
  });

  it('is wired as the npm script: only the payload on stdout (pipeable to jq), every verdict on stderr', () => {
    const valid = file('script-valid.jws', pki.signJws(order(now)));
    const forged = file('script-none.jws', pki.signJws(order(now), { alg: 'none' }));
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const ok = spawnSync(npm, ['run', '--silent', 'verify-jws', '--', '--root', rootPem, valid], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    // The whole of stdout is one JSON document, as `| jq` needs.
    assert.equal((JSON.parse(ok.stdout) as Record<string, unknown>).purchaseToken, 'token-cli-1');
    assert.match(ok.stderr, /^valid: order order-cli-1 \(gems_100\), signed by a chain up to [^\n]+\n$/);
    const bad = spawnSync(npm, ['run', '--silent', 'verify-jws', '--', '--root', rootPem, forged], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(bad.status, 1, bad.stderr);
    assert.equal(bad.stdout, '');
    assert.match(bad.stderr, /^rejected: unsupported-alg [^\n]+\n$/);
    const usage = spawnSync(npm, ['run', '--silent', 'verify-jws', '--', valid], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(usage.status, 2);
    assert.equal(usage.stdout, '');
    assert.match(usage.stderr, /--root is required/);
  });

  it('says in its usage line which root formats it reads, and reads both', async () => {
    const result = await runCli(['--help']);
    assert.equal(result.exitCode, 2);
    assert.match(result.stderr, /--root <root\.pem\|root\.cer>/);
    assert.match(result.stderr, /PEM or DER/);
    const input = file('formats.jws', pki.signJws(order(now)));
    assert.equal((await runCli(['--root', rootPem, input])).exitCode, 0);
    assert.equal((await runCli(['--root', rootDer, input])).exitCode, 0);
  });

  it('rejects a genuine order that carries a revocation code as revoked, and prints no payload', async () => {
    const revoked = file('revoked.jws', pki.signJws({ ...order(now), purchaseOrderRevocationReasonCode: '1' }));
    const result = await verify(revoked);
    assert.equal(result.exitCode, 1);
    assert.equal(reasonOf(result), 'revoked');
    const empty = file('not-revoked.jws', pki.signJws({ ...order(now), purchaseOrderRevocationReasonCode: '' }));
    assert.equal((await verify(empty)).exitCode, 0, 'an empty code means not revoked');
  });

  it('takes subscription purchaseData: the shared vectors get the verdict of the engine and the app server', async () => {
    const vectors = await subscriptionVectors(pki, { appId: APP_ID, environment: 'SANDBOX', now });
    // The CLI knows no catalog: the two vectors about the catalog's products are the engine's to reject.
    const catalogOnly = new Set(['unknown-subscription-product', 'consumable-in-status']);
    const wrong: string[] = [];
    let n = 0;
    for (const v of vectors) {
      if (catalogOnly.has(v.name) || !v.purchaseData.includes('"type":2')) continue;
      n++;
      const result = await verify(file(`${v.name}.json`, v.purchaseData), '--app-id', APP_ID, '--environment', 'SANDBOX');
      const got = result.exitCode === 0 ? `valid ${/\) (\S+),/.exec(result.stderr)?.[1] ?? '?'}` : reasonOf(result);
      const expected = v.expected.verdict === 'valid' ? `valid ${v.expected.state}` : v.expected.verdict;
      if (got !== expected) wrong.push(`${v.name}: expected ${expected}, got ${got} (${result.stderr.trim()})`);
    }
    assert.ok(n > 25, `${n} subscription vectors`);
    assert.deepEqual(wrong, []);
    const active = vectors.find((v) => v.name === 'active-with-renewals');
    assert.ok(active);
    const result = await verify(file('active.json', active.purchaseData));
    assert.equal(result.exitCode, 0);
    assert.match(result.stderr, /^valid: subscription \S+ \(gem_club_monthly\) active, entitled, expires \S+, periods to grant: \S+ \S+ \S+;/);
    assert.ok(JSON.parse(result.stdout).lastSubscriptionStatus, 'the SubGroupStatusPayload on stdout');
  });
});
