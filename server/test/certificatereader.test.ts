// The certificate reader against node:crypto's own parse of the same certificates, and its refusal of BER forms.
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { before, describe, it } from 'node:test';
import { basicConstraintsCa, CertificateError, crlDistributionUris, keyUsageBits, readCertificate } from '../src/jws/CertificateReader';
import { createTestPki, type TestPki } from '../../tools/testing/TestPki';

let pki: TestPki;

before(async () => {
  pki = await createTestPki();
});

/** `der` with its outer length rewritten in the long form `0x82 hi lo` (or 0x83 00 hi lo when `extraZero`). */
function withLongOuterLength(der: Buffer, extraZero: boolean): Buffer {
  assert.equal(der[1], 0x82);
  const len = der.subarray(2, 4);
  return Buffer.concat([Buffer.from([0x30, extraZero ? 0x83 : 0x82]), extraZero ? Buffer.from([0]) : Buffer.alloc(0), len, der.subarray(4)]);
}

describe('readCertificate', () => {
  it('reads what node:crypto reads: serial, validity, the signed bytes and the key', () => {
    for (const der of [pki.leafDer, pki.intermediateDer, pki.rootDer]) {
      const x = new crypto.X509Certificate(der);
      const c = readCertificate(der);
      assert.equal(c.serialHex, x.serialNumber.toLowerCase().replace(/^0+/, ''));
      assert.equal(c.notBefore, Date.parse(x.validFrom));
      assert.equal(c.notAfter, Date.parse(x.validTo));
      assert.deepEqual(crypto.createPublicKey({ key: c.spki, format: 'der', type: 'spki' }).export({ format: 'jwk' }), x.publicKey.export({ format: 'jwk' }));
      assert.equal(c.sigAlgOid, '1.2.840.10045.4.3.2');
      assert.ok(c.tbs.length > 0 && der.includes(c.tbs) && der.includes(c.signature));
      assert.equal(c.basicConstraintsCa, x.ca);
    }
  });
  it('decodes keyUsage bits, basicConstraints and CRL distribution URIs with their RFC 5280 schemas', () => {
    assert.equal(keyUsageBits(Buffer.from('03020780', 'hex')), 1); // digitalSignature
    assert.equal(keyUsageBits(Buffer.from('03020106', 'hex')), 32 | 64); // keyCertSign | cRLSign
    assert.equal(basicConstraintsCa(Buffer.from('30030101ff', 'hex')), true);
    assert.equal(basicConstraintsCa(Buffer.from('3000', 'hex')), false);
    // SEQUENCE { DistributionPoint { [0] { [0] { [6] "http://x/c.crl" } } } }
    const uri = Buffer.from('http://x/c.crl', 'latin1');
    const gn = Buffer.concat([Buffer.from([0x86, uri.length]), uri]);
    const dp = Buffer.concat([Buffer.from([0x30, gn.length + 4, 0xa0, gn.length + 2, 0xa0, gn.length]), gn]);
    assert.deepEqual(crlDistributionUris(Buffer.concat([Buffer.from([0x30, dp.length]), dp])), ['http://x/c.crl']);
  });
  it('refuses BER forms, truncation and trailing bytes with a CertificateError', () => {
    const der = pki.leafDer;
    const bad: Array<[string, Buffer]> = [
      ['trailing byte', Buffer.concat([der, Buffer.from([0])])],
      ['truncated', der.subarray(0, der.length - 1)],
      ['length with a leading zero byte', withLongOuterLength(der, true)],
      ['indefinite length', Buffer.concat([Buffer.from([0x30, 0x80]), der.subarray(4), Buffer.from([0, 0])])],
      ['not a SEQUENCE', Buffer.concat([Buffer.from([0x31]), der.subarray(1)])],
      ['empty', Buffer.alloc(0)],
    ];
    for (const [name, bytes] of bad) assert.throws(() => readCertificate(bytes), CertificateError, name);
    assert.doesNotThrow(() => readCertificate(withLongOuterLength(der, false)));
    // A length whose last byte is zero (256) is DER; asn1js 3.1 warns about it, the reader must not refuse it.
    assert.doesNotThrow(() => keyUsageBits(Buffer.concat([Buffer.from('0382010000', 'hex'), Buffer.alloc(0xff)])));
    assert.throws(() => keyUsageBits(Buffer.from('0381020780', 'hex')), CertificateError);
    assert.throws(() => basicConstraintsCa(Buffer.from('3003010101', 'hex')), CertificateError);
    assert.throws(() => basicConstraintsCa(Buffer.from('30030101ff00', 'hex')), CertificateError);
  });
});
