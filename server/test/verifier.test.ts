// JwsVerifier in-process: the bounded validated-chain cache, and the optional CRL policy (local CRL server).
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createTestCrl, createTestPki, type TestPki } from '../../tools/testing/TestPki';
import { RejectError, TransientError } from '../src/jws/Errors';
import { JwsVerifier } from '../src/jws/JwsVerifier';
import { CrlRevocationChecker } from '../src/jws/Revocation';
import { genuinePki, orderPayload, purchaseData, startTestServer, verifyReq, withPart } from './helpers';

const HOUR = 3_600_000;
let pki: TestPki;

before(async () => {
  pki = await genuinePki();
});

function rejects(fn: () => unknown, reason: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof RejectError, String(e));
    assert.equal(e.reason, reason);
    return true;
  });
}

describe('validated-chain cache', () => {
  it('a warm hit skips chain validation but still verifies the JWS signature', () => {
    const v = new JwsVerifier({ trustedRootsPem: pki.rootPem });
    const jws = pki.signJws(orderPayload());
    v.verify(jws);
    v.verify(jws);
    assert.equal(v.cacheStats()?.hits, 1);
    const sig = Buffer.from(jws.split('.')[2]!, 'base64url');
    sig[0] = sig[0]! ^ 1;
    rejects(() => v.verify(withPart(jws, 2, sig.toString('base64url'))), 'bad-signature');
    assert.equal(v.cacheStats()?.hits, 2, 'the forged JWS hit the cache and was still refused');
  });

  it('a warm hit still checks validity at signedTime', async () => {
    const now = Date.now();
    let clock = now;
    const shortLived = await createTestPki({ parent: pki, leafNotBefore: new Date(now - HOUR), leafNotAfter: new Date(now + HOUR) });
    const v = new JwsVerifier({ trustedRootsPem: pki.rootPem, cache: { ttlMs: 24 * HOUR }, now: () => clock });
    v.verify(shortLived.signJws(orderPayload({ signedTime: now })));
    clock = now + 3 * HOUR;
    rejects(() => v.verify(shortLived.signJws(orderPayload({ signedTime: now + 2 * HOUR }))), 'cert-expired');
    rejects(() => v.verify(shortLived.signJws(orderPayload({ signedTime: now - 2 * HOUR }))), 'cert-not-yet-valid');
    assert.equal(v.cacheStats()?.hits, 2);
  });

  it('is bounded (LRU eviction) and entries expire', async () => {
    let clock = Date.now();
    const v = new JwsVerifier({ trustedRootsPem: pki.rootPem, cache: { maxEntries: 3, ttlMs: 60_000 }, now: () => clock });
    const chains = await Promise.all(Array.from({ length: 5 }, () => createTestPki({ parent: pki, shareIntermediate: true })));
    for (const c of chains) v.verify(c.signJws(orderPayload({ signedTime: clock })));
    assert.equal(v.cacheStats()?.size, 3);
    assert.equal(v.cacheStats()?.evictions, 2);
    v.verify(chains[4]!.signJws(orderPayload({ signedTime: clock })));
    assert.equal(v.cacheStats()?.hits, 1);
    v.verify(chains[0]!.signJws(orderPayload({ signedTime: clock })));
    assert.equal(v.cacheStats()?.hits, 1, 'evicted entry is a miss');
    clock += 61_000;
    v.verify(chains[4]!.signJws(orderPayload({ signedTime: clock - 1000 })));
    assert.equal(v.cacheStats()?.hits, 1, 'expired entry is a miss');
  });

  it('serves many distinct chains (well past 32) from the cache', async () => {
    const v = new JwsVerifier({ trustedRootsPem: pki.rootPem, cache: { maxEntries: 1024 } });
    const chains = await Promise.all(Array.from({ length: 80 }, () => createTestPki({ parent: pki, shareIntermediate: true })));
    const jwss = chains.map((c) => c.signJws(orderPayload()));
    for (const j of jwss) v.verify(j);
    for (const j of jwss) v.verify(j);
    assert.equal(v.cacheStats()?.hits, 80);
    assert.equal(v.cacheStats()?.size, 80);
  });

  it('a chain rejected once is rejected again (failures are not cached as valid)', async () => {
    const noOid = await createTestPki({ parent: pki, leafOid: false });
    const v = new JwsVerifier({ trustedRootsPem: pki.rootPem });
    rejects(() => v.verify(noOid.signJws(orderPayload())), 'missing-oid');
    rejects(() => v.verify(noOid.signJws(orderPayload())), 'missing-oid');
    assert.equal(v.cacheStats()?.size, 0);
  });

  it('several pinned roots (rotation) are all trusted; others are not', async () => {
    const other = await createTestPki();
    const v = new JwsVerifier({ trustedRootsPem: [pki.rootPem, other.rootPem] });
    v.verify(pki.signJws(orderPayload()));
    v.verify(other.signJws(orderPayload()));
    const third = await createTestPki();
    rejects(() => v.verify(third.signJws(orderPayload())), 'untrusted-chain');
  });
});

describe('CRL policy', () => {
  let crlServer: http.Server;
  let base: string;
  const crls = new Map<string, Buffer>();
  let crlPki: TestPki;
  let revokedLeaf: TestPki;

  before(async () => {
    crlServer = http.createServer((req, res) => {
      const body = crls.get(req.url ?? '');
      if (!body) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(body);
    });
    await new Promise<void>((r) => crlServer.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(crlServer.address() as AddressInfo).port}`;
    crlPki = await createTestPki({ parent: pki, leafCrlUrl: `${base}/int.crl`, intermediateCrlUrl: `${base}/root.crl` });
    revokedLeaf = await createTestPki({ parent: crlPki, shareIntermediate: true, leafCrlUrl: `${base}/int.crl` });
    crls.set('/int.crl', await createTestCrl(crlPki, { issuer: 'intermediate', revoked: [revokedLeaf.leafDer] }));
    crls.set('/root.crl', await createTestCrl(crlPki, { issuer: 'root', revoked: [] }));
  });
  after(async () => {
    await new Promise<void>((r) => crlServer.close(() => r()));
  });

  const check = async (mode: 'off' | 'soft' | 'hard', signer: TestPki): Promise<void> => {
    const v = new JwsVerifier({ trustedRootsPem: pki.rootPem });
    const c = new CrlRevocationChecker({ mode, timeoutMs: 2000 });
    await c.check(v.verify(signer.signJws(orderPayload())).chain);
  };

  it('hard: a listed leaf → cert-revoked; an unlisted one passes', async () => {
    await check('hard', crlPki);
    await assert.rejects(check('hard', revokedLeaf), (e: unknown) => e instanceof RejectError && e.reason === 'cert-revoked');
  });

  it('off: no lookup at all', async () => {
    await check('off', revokedLeaf);
  });

  it('a CRL signed by the wrong key is not accepted', async () => {
    const forgedIssuer = await createTestPki();
    const saved = crls.get('/int.crl')!;
    crls.set('/int.crl', await createTestCrl(forgedIssuer, { issuer: 'intermediate', revoked: [] }));
    try {
      await assert.rejects(check('hard', revokedLeaf), (e: unknown) => e instanceof TransientError && e.reason === 'crl-unavailable');
    } finally {
      crls.set('/int.crl', saved);
    }
  });

  it('unreachable CRL: hard → transient (503 over HTTP with Retry-After), soft → passes', async () => {
    const unreachable = await createTestPki({ parent: pki, leafCrlUrl: 'http://127.0.0.1:1/x.crl' });
    await assert.rejects(check('hard', unreachable), (e: unknown) => e instanceof TransientError && e.reason === 'crl-unavailable');
    await check('soft', unreachable);

    const server = await startTestServer(pki, { revocation: { mode: 'hard', timeoutMs: 2000 } });
    try {
      const r = await verifyReq(server, purchaseData(unreachable.signJws(orderPayload())));
      assert.equal(r.status, 503, r.text);
      assert.equal(r.body.status, 'retry');
      assert.equal(r.body.reason, 'crl-unavailable');
      assert.ok(Number(r.headers.get('retry-after')) > 0);
      const revoked = await verifyReq(server, purchaseData(revokedLeaf.signJws(orderPayload())));
      assert.equal(revoked.status, 422);
      assert.equal(revoked.body.reason, 'cert-revoked');
      assert.equal((await verifyReq(server, purchaseData(crlPki.signJws(orderPayload())))).status, 200);
    } finally {
      await server.close();
    }
  });
});
