// JwsVerifier.verifyAsync (the ES256 check on libuv's thread pool, or on the event loop with signatureChecks 'loop')
// against verify(): for every input and either placement, the same result or the same reason code, so the server
// answers the same whichever path it takes.
import assert from 'node:assert/strict';
import { pbkdf2, pbkdf2Sync } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { createTestPki, signCompactJws, type TestPki } from '../../tools/testing/TestPki';
import { RejectError } from '../src/jws/Errors';
import { JwsVerifier, SIGNATURE_CHECKS, type SignatureChecks } from '../src/jws/JwsVerifier';
import { b64url, genuinePki, orderPayload, purchaseData, startTestServer, verifyReq, withPart } from './helpers';

const HOUR = 3_600_000;
let pki: TestPki;
let foreign: TestPki;

before(async () => {
  pki = await genuinePki();
  foreign = await createTestPki();
});

type Outcome = { ok: true; payload: unknown } | { ok: false; reason: string };

function syncOutcome(v: JwsVerifier, jws: string): Outcome {
  try {
    return { ok: true, payload: v.verify(jws).payload };
  } catch (e) {
    assert.ok(e instanceof RejectError, String(e));
    return { ok: false, reason: e.reason };
  }
}

async function asyncOutcome(v: JwsVerifier, jws: string): Promise<Outcome> {
  try {
    return { ok: true, payload: (await v.verifyAsync(jws)).payload };
  } catch (e) {
    assert.ok(e instanceof RejectError, String(e));
    return { ok: false, reason: e.reason };
  }
}

describe('verifyAsync', () => {
  it('gives the result or the reason code of verify() for valid and forged inputs', async () => {
    const now = Date.now();
    const good = pki.signJws(orderPayload({ signedTime: now }));
    const [h, p, s] = good.split('.') as [string, string, string];
    const sig = Buffer.from(s, 'base64url');
    const flipped = Buffer.from(sig);
    flipped[10] = flipped[10]! ^ 1;
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>;
    const expired = await createTestPki({ parent: pki, leafNotBefore: new Date(now - 3 * HOUR), leafNotAfter: new Date(now - 2 * HOUR) });
    const cases: Record<string, { jws: string; expect: string | 'valid' }> = {
      valid: { jws: good, expect: 'valid' },
      'bit flipped in the signature': { jws: withPart(good, 2, flipped.toString('base64url')), expect: 'bad-signature' },
      'payload tampered': { jws: withPart(good, 1, b64url({ ...orderPayload({ signedTime: now }), price: 1 })), expect: 'bad-signature' },
      '63-byte signature': { jws: withPart(good, 2, sig.subarray(0, 63).toString('base64url')), expect: 'bad-signature' },
      'all-zero signature': { jws: withPart(good, 2, Buffer.alloc(64).toString('base64url')), expect: 'bad-signature' },
      'alg none': { jws: withPart(good, 0, b64url({ ...header, alg: 'none' })), expect: 'unsupported-alg' },
      'two parts': { jws: `${h}.${p}`, expect: 'malformed' },
      'foreign root': { jws: foreign.signJws(orderPayload({ signedTime: now })), expect: 'untrusted-chain' },
      'leaf expired at signedTime': { jws: expired.signJws(orderPayload({ signedTime: now })), expect: 'cert-expired' },
      'signed in the future': { jws: pki.signJws(orderPayload({ signedTime: now + 2 * HOUR })), expect: 'signed-in-future' },
      'signed with another key under the genuine header': {
        jws: signCompactJws(foreign.leafPrivateKey, header, orderPayload({ signedTime: now })),
        expect: 'bad-signature',
      },
    };
    for (const [name, c] of Object.entries(cases)) {
      // A fresh verifier per path, so that none sees a chain another cached.
      const a = syncOutcome(new JwsVerifier({ trustedRootsPem: pki.rootPem }), c.jws);
      assert.equal(a.ok ? 'valid' : a.reason, c.expect, name);
      for (const signatureChecks of SIGNATURE_CHECKS) {
        const b = await asyncOutcome(new JwsVerifier({ trustedRootsPem: pki.rootPem, signatureChecks }), c.jws);
        assert.deepEqual(b, a, `${name} (${signatureChecks})`);
      }
    }
  });

  it("rejects (never throws) on the event loop too: a forged JWS with signatureChecks 'loop' is a rejected promise", async () => {
    const v = new JwsVerifier({ trustedRootsPem: pki.rootPem, signatureChecks: 'loop' });
    const p = v.verifyAsync('not-a-jws');
    assert.ok(p instanceof Promise);
    await assert.rejects(p, (e: unknown) => e instanceof RejectError && e.reason === 'malformed');
  });

  it('refuses an unknown placement by name', () => {
    assert.throws(
      () => new JwsVerifier({ trustedRootsPem: pki.rootPem, signatureChecks: 'threads' as SignatureChecks }),
      /signatureChecks must be pool or loop, got "threads"/,
    );
  });

  for (const signatureChecks of SIGNATURE_CHECKS) it(`verifies many at once (${signatureChecks}) and still refuses each forged one on a warm cache`, async () => {
    const v = new JwsVerifier({ trustedRootsPem: pki.rootPem, signatureChecks });
    const jws = Array.from({ length: 64 }, (_, i) => {
      const j = pki.signJws(orderPayload({ purchaseOrderId: `async-${i}` }));
      if (i % 3 !== 0) return j;
      const sig = Buffer.from(j.split('.')[2]!, 'base64url');
      sig[5] = sig[5]! ^ 0x80;
      return withPart(j, 2, sig.toString('base64url'));
    });
    const outcomes = await Promise.all(jws.map((j) => asyncOutcome(v, j)));
    outcomes.forEach((o, i) => {
      if (i % 3 === 0) assert.deepEqual(o, { ok: false, reason: 'bad-signature' }, `#${i}`);
      else assert.equal(o.ok && (o.payload as { purchaseOrderId: string }).purchaseOrderId, `async-${i}`);
    });
    assert.ok((v.cacheStats()?.hits ?? 0) >= 60, 'the chain came from the cache');
  });

  it("the placement is real: with libuv's thread pool busy, 'loop' answers at once and 'pool' waits for a free thread", async () => {
    // Occupy every pool thread with a key derivation of about 300 ms (calibrated here, so a slow machine keeps the margin).
    const poolSize = Number(process.env['UV_THREADPOOL_SIZE'] ?? 4);
    const t0 = performance.now();
    pbkdf2Sync('p', 's', 20_000, 32, 'sha256');
    const iterations = Math.max(20_000, Math.round((20_000 * 300) / Math.max(1, performance.now() - t0)));
    const occupyPool = (): Promise<number> => {
      const done = Array.from({ length: poolSize }, () =>
        new Promise<number>((resolve, reject) => pbkdf2('p', 's', iterations, 32, 'sha256', (e) => (e ? reject(e) : resolve(performance.now())))),
      );
      return Promise.race(done).finally(() => Promise.all(done));
    };
    const jws = pki.signJws(orderPayload({ purchaseOrderId: 'placement-1' }));
    const settledAt: Record<string, { verified: number; firstFree: number }> = {};
    for (const signatureChecks of SIGNATURE_CHECKS) {
      const v = new JwsVerifier({ trustedRootsPem: pki.rootPem, signatureChecks });
      await v.verifyAsync(jws); // the chain is cached: what is left is the ES256 check
      const firstFree = occupyPool();
      const verified = await v.verifyAsync(jws).then(() => performance.now());
      settledAt[signatureChecks] = { verified, firstFree: await firstFree };
    }
    assert.ok(settledAt['loop']!.verified < settledAt['loop']!.firstFree, `loop waited for the pool: ${JSON.stringify(settledAt)}`);
    assert.ok(settledAt['pool']!.verified >= settledAt['pool']!.firstFree, `pool did not use the pool: ${JSON.stringify(settledAt)}`);
  });

  it("a server with signatureChecks 'loop' grants a genuine order once and refuses a forged one", async () => {
    const server = await startTestServer(pki, { signatureChecks: 'loop' });
    try {
      const good = pki.signJws(orderPayload({ purchaseOrderId: 'loop-1' }));
      const sig = Buffer.from(good.split('.')[2]!, 'base64url');
      sig[7] = sig[7]! ^ 1;
      const forged = withPart(pki.signJws(orderPayload({ purchaseOrderId: 'loop-2' })), 2, sig.toString('base64url'));
      const first = await verifyReq(server, purchaseData(good));
      assert.equal(first.status, 200, first.text);
      assert.equal(first.body.status, 'valid');
      const refused = await verifyReq(server, purchaseData(forged));
      assert.equal(refused.body.status, 'rejected', refused.text);
      assert.equal(refused.body.reason, 'bad-signature');
      assert.deepEqual(server.grants.map((g) => g.purchaseOrderId), ['loop-1']);
    } finally {
      await server.close();
    }
  });
});
