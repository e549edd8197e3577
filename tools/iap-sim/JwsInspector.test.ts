import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { TestPki } from '../testing/TestPki';
import { sharedTestPki } from './IapSimulator';
import { checkJws } from './JwsInspector';

let pki: TestPki;

before(async () => {
  pki = await sharedTestPki();
});

const PAYLOAD = { purchaseOrderId: 'o-1', productId: 'gems_100' };

function reasonOf(jws: string, at?: Date): string {
  const check = checkJws<typeof PAYLOAD>(jws, pki.rootDer, at);
  return check.ok ? 'valid' : check.reason;
}

describe('JwsInspector reason codes (RejectionReason)', () => {
  test('a genuine JWS is valid', () => {
    assert.equal(reasonOf(pki.signJws(PAYLOAD)), 'valid');
  });

  test('an x5c entry that is not a certificate is bad-certificate, not malformed', () => {
    const [, intermediate, root] = pki.x5c();
    assert.equal(reasonOf(pki.signJws(PAYLOAD, { x5c: ['AAAA', intermediate, root] })), 'bad-certificate');
    const [leaf] = pki.x5c();
    assert.equal(reasonOf(pki.signJws(PAYLOAD, { x5c: [leaf, 'bm90IGEgY2VydA==', root] })), 'bad-certificate');
  });

  test('an x5c entry that is not a string is bad-certificate; a wrong count stays bad-chain-length', () => {
    const [leaf, intermediate] = pki.x5c();
    const header = { x5c: [leaf, intermediate, 42] as unknown as string[] };
    assert.equal(reasonOf(pki.signJws(PAYLOAD, header)), 'bad-certificate');
    assert.equal(reasonOf(pki.signJws(PAYLOAD, { x5c: [leaf, intermediate] })), 'bad-chain-length');
  });

  test('before notBefore is cert-not-yet-valid, after notAfter cert-expired', () => {
    const jws = pki.signJws(PAYLOAD);
    assert.equal(reasonOf(jws, new Date(0)), 'cert-not-yet-valid');
    assert.equal(reasonOf(jws, new Date(Date.UTC(2200, 0, 1))), 'cert-expired');
  });

  test('a pinned root that is not a certificate is the caller\'s error, thrown rather than blamed on the JWS', () => {
    assert.throws(() => checkJws(pki.signJws(PAYLOAD), Buffer.from('nope')), /pinned root/);
  });

  test('not a compact JWS is malformed', () => {
    assert.equal(reasonOf('a.b'), 'malformed');
  });
});
