// The certificate reader against node:crypto's own parse of the same certificates, and its refusal of BER forms.
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { before, describe, it } from 'node:test';
import { basicConstraintsCa, CertificateError, crlDistributionUris, keyUsageBits, readCertificate, readNames } from '../src/jws/CertificateReader';
import { createTestPki, type TestPki } from '../../tools/testing/TestPki';
import { hex, parts, seq, set, tlv } from '../../tools/testing/DerBytes';

let pki: TestPki;

before(async () => {
  pki = await createTestPki();
});

// --- a few DER tools: the reader never checks a signature, so edited certificates are not re-signed ---------------

const OID_CN = hex('0603550403');
/** A Name of one RDN holding the CN `value` under `tag`. */
const cnName = (tag: number, value: Buffer): Buffer => seq(set(seq(OID_CN, tlv(tag, value))));

/** The certificate `der` with its tbsCertificate fields (version, serial, signature, issuer, validity, subject, key, …) edited. */
function withTbs(der: Buffer, edit: (fields: Buffer[]) => Buffer[]): Buffer {
  const [tbs, ...rest] = parts(der);
  return seq(seq(...edit(parts(tbs!))), ...rest);
}

/** The certificate with field `index` of tbsCertificate replaced. */
const withField = (der: Buffer, index: number, field: Buffer): Buffer => withTbs(der, (f) => f.map((x, i) => (i === index ? field : x)));

/** Whether OpenSSL's d2i_X509 (node:crypto) reads `der`. */
function opensslReads(der: Buffer): boolean {
  try {
    new crypto.X509Certificate(der);
    return true;
  } catch {
    return false;
  }
}

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
  it('reads the names of any certificate, v1 included (readNames), which readCertificate refuses', () => {
    const v1 = withTbs(pki.rootDer, (f) => f.slice(1, 7));
    assert.ok(opensslReads(v1));
    assert.throws(() => readCertificate(v1), CertificateError);
    const x = readCertificate(pki.intermediateDer);
    assert.deepEqual(readNames(pki.intermediateDer), { issuer: x.issuer, subject: x.subject });
    assert.deepEqual(readNames(v1), readNames(pki.rootDer));
  });
});

describe('readCertificate refuses what OpenSSL’s d2i_X509 refuses (the leaf never reaches OpenSSL on the server)', () => {
  const refusedByBoth = (): Array<[string, Buffer]> => {
    const der = pki.leafDer;
    const [, , , , , , , exts] = parts(parts(der)[0]!);
    return [
      ['serialNumber padded with 00', withField(der, 1, hex('02020001'))],
      ['serialNumber padded with FF', withField(der, 1, hex('0202ff80'))],
      ['serialNumber empty', withField(der, 1, hex('0200'))],
      ['subject SEQUENCE { INTEGER }', withField(der, 5, seq(hex('020105')))],
      ['subject RDN holding an INTEGER', withField(der, 5, seq(set(hex('020105'))))],
      ['subject AttributeTypeAndValue with 3 elements', withField(der, 5, seq(set(seq(OID_CN, tlv(0x0c, Buffer.from('a')), tlv(0x0c, Buffer.from('b'))))))],
      ['subject AttributeTypeAndValue without value', withField(der, 5, seq(set(seq(OID_CN))))],
      ['subject RDN as a SEQUENCE', withField(der, 5, seq(seq(seq(OID_CN, tlv(0x0c, Buffer.from('a'))))))],
      ['subject a SET', withField(der, 5, set(set(seq(OID_CN, tlv(0x0c, Buffer.from('a'))))))],
      ['subject attribute type 0x80-padded', withField(der, 5, seq(set(seq(hex('0604 55 80 04 03'), tlv(0x0c, Buffer.from('a'))))))],
      ['subject value an INTEGER', withField(der, 5, cnName(0x02, hex('01')))],
      ['subject value an OCTET STRING', withField(der, 5, cnName(0x04, Buffer.from('a')))],
      ['subject value a VisibleString', withField(der, 5, cnName(0x1a, Buffer.from('a')))],
      ['subject value a UTCTime', withField(der, 5, cnName(0x17, Buffer.from('200101000000Z')))],
      ['subject value a SET', withField(der, 5, seq(set(seq(OID_CN, set(hex('020101'))))))],
      ['subject UTF8String not UTF-8', withField(der, 5, cnName(0x0c, hex('41fffe')))],
      ['subject UTF8String with an encoded surrogate', withField(der, 5, cnName(0x0c, hex('eda080')))],
      ['subject UTF8String overlong', withField(der, 5, cnName(0x0c, hex('c081')))],
      ['subject BMPString of odd length', withField(der, 5, cnName(0x1e, hex('004100')))],
      ['subject BMPString with a surrogate', withField(der, 5, cnName(0x1e, hex('d83dde00')))],
      ['subject UniversalString not a multiple of 4', withField(der, 5, cnName(0x1c, hex('000041')))],
      ['subject UniversalString above U+10FFFF', withField(der, 5, cnName(0x1c, hex('00110000')))],
      ['issuer UTF8String not UTF-8', withField(der, 3, cnName(0x0c, hex('41fffe')))],
      ['signature AlgorithmIdentifier with an OID padded with 0x80', withField(der, 2, seq(hex('0609 2a 86 48 ce 3d 04 03 80 02')))],
      ['key BIT STRING empty', withField(der, 6, seq(seq(hex('06072a8648ce3d0201 06082a8648ce3d030107')), hex('0300')))],
      ['key AlgorithmIdentifier with 3 elements', withField(der, 6, seq(seq(hex('06072a8648ce3d0201 06082a8648ce3d030107 0500')), hex('030100')))],
      ['issuerUniqueID with 8 unused bits', withTbs(der, (f) => [...f.slice(0, 7), hex('810208ff'), ...f.slice(7)])],
      ['subjectUniqueID empty', withTbs(der, (f) => [...f.slice(0, 7), hex('8200'), ...f.slice(7)])],
      ['subjectUniqueID before issuerUniqueID', withTbs(der, (f) => [...f.slice(0, 7), hex('820200aa'), hex('810200ff'), ...f.slice(7)])],
      ['issuerUniqueID after the extensions', withTbs(der, (f) => [...f, hex('810200ff')])],
      ['an INTEGER after the extensions', withTbs(der, (f) => [...f, hex('020101')])],
      ['a [4] after the extensions', withTbs(der, (f) => [...f, hex('a403020101')])],
      ['the extensions split over two [3]', withTbs(der, (f) => [...f.slice(0, 7), tlv(0xa3, seq(...parts(parts(exts!)[0]!).slice(0, 1))),
        tlv(0xa3, seq(...parts(parts(exts!)[0]!).slice(1)))])],
      ['[3] primitive', withTbs(der, (f) => [...f.slice(0, 7), Buffer.concat([hex('83'), exts!.subarray(1)])])],
      ['an extension OID padded with 0x80', withTbs(der, (f) => [...f.slice(0, 7),
        tlv(0xa3, seq(...parts(parts(exts!)[0]!), seq(hex('0604 2a 80 03 04'), tlv(0x04, hex('0500')))))])],
      ['a fourth element in Certificate', seq(...parts(der), hex('0500'))],
    ];
  };
  it('serial, names, algorithm identifiers, unique identifiers, the fields after the key (bad-certificate on the server)', () => {
    const wrong: string[] = [];
    for (const [name, der] of refusedByBoth()) {
      if (opensslReads(der)) wrong.push(`${name}: OpenSSL reads it (the case is wrong)`);
      try {
        readCertificate(der);
        wrong.push(`${name}: read`);
      } catch (e) {
        if (!(e instanceof CertificateError)) wrong.push(`${name}: ${String(e)}`);
      }
    }
    assert.deepEqual(wrong, []);
  });
  it('and what is BER, though OpenSSL reads it: long-form lengths anywhere, constructed strings and unique identifiers; not what both read', () => {
    const der = pki.leafDer;
    const subject = parts(parts(der)[0]!)[5]!;
    const rdn0 = parts(subject)[0]!;
    const longRdn = Buffer.concat([hex('3182'), Buffer.from([0, rdn0.length - 2]), rdn0.subarray(2)]);
    const atv = parts(rdn0)[0]!;
    const [type, value] = parts(atv);
    const longValue = Buffer.concat([value!.subarray(0, 1), Buffer.from([0x81, value!.length - 2]), value!.subarray(2)]);
    const bad: Array<[string, Buffer]> = [
      ['subject RDN SET length 82 00 xx', withField(der, 5, tlv(0x30, Buffer.concat([longRdn, ...parts(subject).slice(1)])))],
      ['subject CN length 81 xx (below 128)', withField(der, 5, tlv(0x30, Buffer.concat([set(seq(type!, longValue)), ...parts(subject).slice(1)])))],
      ['subject UTF8String constructed', withField(der, 5, seq(set(seq(OID_CN, tlv(0x2c, tlv(0x04, Buffer.from('a')))))))],
      ['issuerUniqueID constructed', withTbs(der, (f) => [...f.slice(0, 7), hex('a103030100'), ...f.slice(7)])],
    ];
    for (const [name, bytes] of bad) {
      assert.ok(opensslReads(bytes), `${name}: OpenSSL reads it`);
      assert.throws(() => readCertificate(bytes), CertificateError, name);
    }
    // What OpenSSL reads and DER allows is read: other string types, multi-valued RDNs, an empty Name, unique IDs.
    const good: Array<[string, Buffer]> = [
      ['PrintableString, T61String, IA5String, BMPString, UniversalString, BIT STRING values', withField(der, 5, seq(
        set(seq(OID_CN, tlv(0x13, Buffer.from('a')))), set(seq(OID_CN, tlv(0x14, hex('e9')))), set(seq(OID_CN, tlv(0x16, Buffer.from('a')))),
        set(seq(OID_CN, tlv(0x1e, hex('00e9')))), set(seq(OID_CN, tlv(0x1c, hex('0001f600')))), set(seq(OID_CN, tlv(0x03, hex('0041'))))))],
      ['a UTF8String with a 4-byte character', withField(der, 5, cnName(0x0c, Buffer.from('a😀', 'utf8')))],
      ['a SEQUENCE value', withField(der, 5, seq(set(seq(OID_CN, seq(hex('020101'))))))],
      ['a multi-valued RDN', withField(der, 5, seq(set(seq(OID_CN, tlv(0x0c, Buffer.from('a'))), seq(hex('060355040a'), tlv(0x0c, Buffer.from('b'))))))],
      ['an empty subject', withField(der, 5, seq())],
      ['issuerUniqueID and subjectUniqueID', withTbs(der, (f) => [...f.slice(0, 7), hex('810200ff'), hex('820200aa'), ...f.slice(7)])],
    ];
    for (const [name, bytes] of good) {
      assert.ok(opensslReads(bytes), `${name}: OpenSSL reads it`);
      assert.doesNotThrow(() => readCertificate(bytes), name);
    }
  });
  it('validity: two DER times naming a real instant, years 0–99 of a GeneralizedTime included', () => {
    const der = pki.leafDer;
    const t = (tag: number, text: string): Buffer => tlv(tag, Buffer.from(text, 'latin1'));
    const validity = (a: Buffer, b: Buffer): Buffer => withField(der, 4, seq(a, b));
    const after = t(0x17, '400101000000Z');
    for (const text of ['201301000000Z', '200230000000Z', '200101240000Z', '200101000060Z', '200101006000Z']) {
      assert.throws(() => readCertificate(validity(t(0x17, text), after)), CertificateError, text);
    }
    assert.equal(readCertificate(validity(t(0x18, '00010101000000Z'), after)).notBefore, Date.parse('0001-01-01T00:00:00Z'));
    assert.equal(readCertificate(validity(t(0x17, '500101000000Z'), after)).notBefore, Date.parse('1950-01-01T00:00:00Z'));
    assert.equal(readCertificate(validity(t(0x17, '491231235959Z'), after)).notBefore, Date.parse('2049-12-31T23:59:59Z'));
    assert.equal(readCertificate(validity(t(0x18, '20240229120000Z'), after)).notBefore, Date.parse('2024-02-29T12:00:00Z'));
  });
  it('basicConstraints pathLenConstraint negative or padded, keyUsage empty: undecodable (bad-certificate)', () => {
    assert.throws(() => basicConstraintsCa(hex('30060101ff0201ff')), CertificateError);
    assert.throws(() => basicConstraintsCa(hex('30030201ff')), CertificateError);
    assert.throws(() => basicConstraintsCa(hex('30070101ff02020000')), CertificateError);
    assert.equal(basicConstraintsCa(hex('30070101ff02020080')), true);
    assert.equal(basicConstraintsCa(hex('30060101ff020100')), true);
    assert.throws(() => keyUsageBits(hex('030100')), CertificateError);
    assert.equal(keyUsageBits(hex('03020204')), 32);
  });
});

