// tools/node-kits/DeviceCertificateKit.ts is @kit.DeviceCertificateKit in every Node run: these tests pin each function
// the project calls to the documented contract of the device's kit (js-apis-cert, API 12; errorcode-cert) and, where
// the documentation is silent, to the OpenHarmony certificate framework's source (security_certificate_framework,
// x509_certificate_openssl.c, cf_adapter_cert_openssl.c, cf_adapter_extension_openssl.c).
import 'reflect-metadata';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { before, test } from 'node:test';
import * as x509 from '@peculiar/x509';
import { BusinessError } from './BasicServicesKit';
import { cert } from './DeviceCertificateKit';
import { cryptoFramework } from './CryptoArchitectureKit';
import { createTestPki, IAP_LEAF_OID, type TestPki } from '../testing/TestPki';

let pki: TestPki;
const DER = cert.EncodingFormat.FORMAT_DER;

before(async () => {
  pki = await createTestPki({ notBefore: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)), notAfter: new Date(Date.UTC(2061, 5, 7, 8, 9, 10)) });
});

async function codeOf(action: () => unknown): Promise<number | undefined> {
  try {
    await action();
  } catch (e) {
    assert.ok(e instanceof BusinessError, `expected a BusinessError, got ${String(e)}`);
    return e.code;
  }
  return undefined;
}

async function read(der: Buffer | Uint8Array): Promise<cert.X509Cert> {
  return cert.createX509Cert({ data: new Uint8Array(der), encodingFormat: DER });
}

test('createX509Cert reads DER and PEM; no certificate is 401, a non-blob 401 (js-apis-cert createX509Cert)', async () => {
  assert.equal((await read(pki.leafDer)).getVersion(), 3);
  const pem = new x509.X509Certificate(pki.leafDer).toString('pem');
  const fromPem = await cert.createX509Cert({ data: new Uint8Array(Buffer.from(pem)), encodingFormat: cert.EncodingFormat.FORMAT_PEM });
  assert.equal(fromPem.getSignatureAlgOid(), '1.2.840.10045.4.3.2');
  assert.equal(await codeOf(() => read(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]))), 401);
  assert.equal(await codeOf(() => cert.createX509Cert({ data: 'x' as unknown as Uint8Array, encodingFormat: DER })), 401);
});

test('createX509Cert reads one certificate and ignores what follows it (d2i_X509_bio); getEncoded() is that certificate', async () => {
  const longer = Buffer.concat([pki.leafDer, Buffer.from([0, 0])]);
  const c = await read(longer);
  const encoded = await c.getEncoded();
  assert.deepEqual(Buffer.from(encoded.data), pki.leafDer);
  assert.equal(encoded.encodingFormat, DER);
});

test('getNotBeforeTime/getNotAfterTime are ASN.1 times: UTCTime up to 2049, GeneralizedTime after (js-apis-cert)', async () => {
  const c = await read(pki.leafDer);
  assert.equal(c.getNotBeforeTime(), '240102030405Z');
  assert.equal(c.getNotAfterTime(), '20610607080910Z');
});

test('checkValidityWithDate: 19030003 before notBefore, 19030004 after notAfter, bounds inclusive, 19030001 for a bad date', async () => {
  const c = await read(pki.leafDer);
  c.checkValidityWithDate('240102030405Z');
  c.checkValidityWithDate('20610607080910Z');
  assert.equal(await codeOf(() => c.checkValidityWithDate('240102030404Z')), 19030003);
  assert.equal(await codeOf(() => c.checkValidityWithDate('20610607080911Z')), 19030004);
  assert.equal(await codeOf(() => c.checkValidityWithDate('yesterday')), 19030001);
});

test('getKeyUsage is one byte per bit, and 19030001 without keyUsage (GetKeyUsageX509Openssl)', async () => {
  assert.deepEqual([...(await read(pki.leafDer)).getKeyUsage().data], [1]);
  const intermediateBits = [...(await read(pki.intermediateDer)).getKeyUsage().data];
  assert.equal(intermediateBits[5], 1);
  assert.equal(intermediateBits[0] ?? 0, 0);
  const bare = await issued([new x509.Extension(IAP_LEAF_OID, false, new Uint8Array([5, 0]))]);
  assert.equal(await codeOf(() => bare.getKeyUsage()), 19030001);
});

test('getBasicConstraints is the pathLen, -1 for a leaf AND for a CA without pathLen; match(-2) tells them apart', async () => {
  const leaf = await read(pki.leafDer);
  const intermediate = await read(pki.intermediateDer);
  assert.equal(leaf.getBasicConstraints(), -1);
  assert.equal(intermediate.getBasicConstraints(), 0);
  const caNoPathLen = await issued([new x509.BasicConstraintsExtension(true, undefined, true)]);
  assert.equal(caNoPathLen.getBasicConstraints(), -1);
  assert.equal(caNoPathLen.match({ minPathLenConstraint: -2 }), false);
  assert.equal(leaf.match({ minPathLenConstraint: -2 }), true);
  assert.equal(intermediate.match({ minPathLenConstraint: -2 }), false);
  assert.equal(intermediate.match({ minPathLenConstraint: 1 }), false);
  assert.equal(intermediate.match({ minPathLenConstraint: 0 }), true);
});

test('getItem: TBS and public key are DER, as re-encoded by the framework (i2d_re_X509_tbs, i2d_PUBKEY)', async () => {
  const c = await read(pki.leafDer);
  const tbs = Buffer.from(c.getItem(cert.CertItemType.CERT_ITEM_TYPE_TBS).data);
  assert.ok(pki.leafDer.subarray(4).subarray(0, tbs.length).equals(tbs));
  const spki = Buffer.from(c.getItem(cert.CertItemType.CERT_ITEM_TYPE_PUBLIC_KEY).data);
  assert.deepEqual(spki, new crypto.X509Certificate(pki.leafDer).publicKey.export({ type: 'spki', format: 'der' }));
  assert.equal(await codeOf(() => c.getItem(99 as never)), 401);
});

test('getItem(TBS) of a BER certificate (explicit critical FALSE) is its DER re-encoding, not its bytes', async () => {
  const ext = new x509.Extension(IAP_LEAF_OID, false, new Uint8Array([5, 0]));
  const der = Buffer.from(ext.rawData);
  // SEQUENCE { OID, BOOLEAN FALSE, OCTET STRING }: BER, since DER omits a DEFAULT value.
  const oid = der.subarray(2, 2 + 2 + der[3]!);
  const rest = der.subarray(2 + oid.length);
  const ber = Buffer.concat([Buffer.from([0x30, oid.length + 3 + rest.length]), oid, Buffer.from([1, 1, 0]), rest]);
  const c = await read(withLeafExtension(ber));
  const tbs = Buffer.from(c.getItem(cert.CertItemType.CERT_ITEM_TYPE_TBS).data);
  assert.ok(!withLeafExtension(ber).includes(tbs));
  assert.ok(withLeafExtension(der).includes(tbs));
  // The extensions too (i2d of the parsed list): the DER certificate's own bytes, the BER one re-encoded.
  const berExts = Buffer.from(c.getItem(cert.CertItemType.CERT_ITEM_TYPE_EXTENSIONS).data);
  const derCert = await read(withLeafExtension(der));
  const derExts = Buffer.from(derCert.getItem(cert.CertItemType.CERT_ITEM_TYPE_EXTENSIONS).data);
  assert.deepEqual(berExts, derExts);
  assert.ok(withLeafExtension(der).includes(derExts) && !withLeafExtension(ber).includes(berExts));
  assert.deepEqual(Buffer.from(derCert.getExtensionsObject().getEncoded().data), derExts);
  assert.deepEqual(Buffer.from(c.getExtensionsObject().getEncoded().data), derExts);
});

test('getSignature, getSignatureAlgOid and verify: 19030001 with the wrong key (VerifyX509Openssl)', async () => {
  const leaf = await read(pki.leafDer);
  const intermediate = await read(pki.intermediateDer);
  assert.equal(leaf.getSignatureAlgOid(), '1.2.840.10045.4.3.2');
  assert.equal(leaf.getSignature().data[0], 0x30);
  await leaf.verify(intermediate.getPublicKey());
  assert.equal(await codeOf(() => leaf.verify(leaf.getPublicKey())), 19030001);
});

test('getPublicKey is the framework\'s own key class: X509Cert.verify takes it, cryptoFramework verifiers refuse it; an undecodable key is 19030001', async () => {
  // x509_certificate_openssl.c: GetPublicKeyX509Openssl wraps X509_get_pubkey in X509CertPublicKeyOpensslClass,
  // VerifyX509Openssl accepts only that class, and the crypto framework's ECDSA verifier checks for its own class.
  const leaf = await read(pki.leafDer);
  const intermediate = await read(pki.intermediateDer);
  const key = intermediate.getPublicKey();
  const spki = new crypto.X509Certificate(pki.intermediateDer).publicKey.export({ type: 'spki', format: 'der' });
  assert.deepEqual(Buffer.from(key.getEncoded().data), spki);
  await leaf.verify(key);
  const verifier = cryptoFramework.createVerify('ECC256|SHA256');
  assert.equal(await codeOf(() => verifier.init(key)), 401);
  const converted = (await cryptoFramework.createAsyKeyGenerator('ECC256').convertKey({ data: new Uint8Array(spki) }, null)).pubKey;
  assert.equal(await codeOf(() => leaf.verify(converted)), 401);
  // The same certificate with its point moved off the curve: d2i still reads it, the key cannot be had.
  const leafSpki = new crypto.X509Certificate(pki.leafDer).publicKey.export({ type: 'spki', format: 'der' });
  const at = pki.leafDer.indexOf(leafSpki);
  assert.ok(at > 0);
  const offCurve = Buffer.from(pki.leafDer);
  offCurve[at + leafSpki.length - 1] ^= 0x01;
  const broken = await read(offCurve);
  assert.equal(await codeOf(() => broken.getPublicKey()), 19030001);
});

test('issuer and subject X500DistinguishedName encodings chain the certificates', async () => {
  const leaf = await read(pki.leafDer);
  const intermediate = await read(pki.intermediateDer);
  assert.deepEqual(leaf.getIssuerX500DistinguishedName().getEncoded().data, intermediate.getSubjectX500DistinguishedName().getEncoded().data);
});

test('CertExtension: OID lists by criticality, checkCA, hasUnsupportedCriticalExtension, getEntry by NID only', async () => {
  const leafExts = (await read(pki.leafDer)).getExtensionsObject();
  const text = (t: number): string[] => leafExts.getOidList(t).data.map((b) => Buffer.from(b).toString('latin1'));
  assert.ok(text(cert.ExtensionOidType.EXTENSION_OID_TYPE_ALL).includes(IAP_LEAF_OID));
  assert.ok(text(cert.ExtensionOidType.EXTENSION_OID_TYPE_UNCRITICAL).includes(IAP_LEAF_OID));
  assert.ok(text(cert.ExtensionOidType.EXTENSION_OID_TYPE_CRITICAL).includes('2.5.29.19'));
  assert.equal(leafExts.checkCA(), -1);
  assert.equal((await read(pki.intermediateDer)).getExtensionsObject().checkCA(), 0);
  assert.equal(leafExts.hasUnsupportedCriticalExtension(), false);
  // The Huawei IAP OID has no OpenSSL NID: getEntry refuses it, and any lookup in a list that contains it.
  const oid = (s: string): { data: Uint8Array } => ({ data: new Uint8Array(Buffer.from(s)) });
  assert.equal(await codeOf(() => leafExts.getEntry(cert.ExtensionEntryType.EXTENSION_ENTRY_TYPE_ENTRY_CRITICAL, oid(IAP_LEAF_OID))), 401);
  assert.equal(await codeOf(() => leafExts.getEntry(cert.ExtensionEntryType.EXTENSION_ENTRY_TYPE_ENTRY_CRITICAL, oid('2.5.29.19'))), 19030001);
  const intExts = (await read(pki.intermediateDer)).getExtensionsObject();
  assert.deepEqual([...intExts.getEntry(cert.ExtensionEntryType.EXTENSION_ENTRY_TYPE_ENTRY_CRITICAL, oid('2.5.29.19')).data], [1]);
  const odd = await issued([new x509.Extension('1.2.3.4.5.6', true, new Uint8Array([5, 0]))]);
  assert.equal(odd.getExtensionsObject().hasUnsupportedCriticalExtension(), true);
  assert.equal(await codeOf(() => odd.getExtensionsObject().checkCA()), 19030001);
});

/** A P-256 certificate issued by the pki's intermediate with exactly `extensions`, read by the kit. */
async function issued(extensions: x509.Extension[]): Promise<cert.X509Cert> {
  const keys = (await crypto.webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as crypto.webcrypto.CryptoKeyPair;
  const signingKey = await crypto.webcrypto.subtle.importKey('pkcs8', pki.intermediatePrivateKey.export({ type: 'pkcs8', format: 'der' }),
    { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  const c = await x509.X509CertificateGenerator.create({
    serialNumber: '01', subject: 'CN=Kit Test', issuer: new x509.X509Certificate(pki.intermediateDer).subject,
    notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 86_400_000),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' }, publicKey: keys.publicKey as never, signingKey: signingKey as never, extensions,
  });
  return read(Buffer.from(c.rawData));
}

/** The pki's leaf DER with its extension list replaced by the single extension `ext` (unsigned: parsing only). */
function withLeafExtension(ext: Buffer): Buffer {
  const tlv = (tag: number, c: Buffer): Buffer => {
    const n = c.length;
    const head = n < 0x80 ? [tag, n] : n < 0x100 ? [tag, 0x81, n] : [tag, 0x82, n >> 8, n & 0xff];
    return Buffer.concat([Buffer.from(head), c]);
  };
  const der = pki.leafDer;
  const len = (at: number): [number, number] => {
    const b = der[at + 1]!;
    if (b < 0x80) return [2, b];
    const k = b & 0x7f;
    let v = 0;
    for (let i = 0; i < k; i++) v = v * 256 + der[at + 2 + i]!;
    return [2 + k, v];
  };
  const [th] = len(0);
  const [tbh, tbl] = len(th);
  const fields: Buffer[] = [];
  for (let p = th + tbh; p < th + tbh + tbl;) {
    const [h, l] = len(p);
    fields.push(der.subarray(p, p + h + l));
    p += h + l;
  }
  const edited = fields.map((f) => (f[0] === 0xa3 ? tlv(0xa3, tlv(0x30, ext)) : f));
  const tbs = tlv(0x30, Buffer.concat(edited));
  const rest = der.subarray(th + tbh + tbl);
  return tlv(0x30, Buffer.concat([tbs, rest]));
}

test('X509Cert.verify answers as OpenSSL X509_verify on every odd certificate of the shared vectors (fast ECDSA path included)', async () => {
  const { oddCertificateVectors } = await import('../testing/OddChains');
  const x5cOf = (jws: string): Buffer[] =>
    (JSON.parse(Buffer.from(jws.split('.')[0]!, 'base64url').toString('utf8')) as { x5c: string[] }).x5c.map((b) => Buffer.from(b, 'base64'));
  const root = new crypto.X509Certificate(pki.rootDer);
  const kitRoot = await read(pki.rootDer);
  let compared = 0;
  let failures = 0;
  for (const v of await oddCertificateVectors(pki, { purchaseOrderId: 'o' })) {
    const [leafDer, intDer] = x5cOf(v.jws);
    const pairs: Array<[Buffer, Buffer | 'root']> = [[intDer!, 'root'], [leafDer!, intDer!]];
    for (const [subjectDer, issuerDer] of pairs) {
      let openssl: boolean | undefined;
      let issuerKit: cert.X509Cert;
      try {
        const subject = new crypto.X509Certificate(subjectDer);
        openssl = subject.verify(issuerDer === 'root' ? root.publicKey : new crypto.X509Certificate(issuerDer).publicKey);
        issuerKit = issuerDer === 'root' ? kitRoot : await read(issuerDer);
      } catch {
        continue; // OpenSSL cannot read one of them: nothing to compare
      }
      const code = await codeOf(async () => (await read(subjectDer)).verify(issuerKit.getPublicKey()));
      assert.equal(code === undefined, openssl, `${v.name}: kit ${code ?? 'verified'}, X509_verify ${openssl}`);
      assert.ok(code === undefined || code === cert.CertResult.ERR_CRYPTO_OPERATION, `${v.name}: ${code}`);
      compared++;
      if (!openssl) failures++;
    }
  }
  // The vectors include signatures that do not verify (algorithm fields that differ, unused bits), so both answers occur.
  assert.ok(compared > 40 && failures >= 6, `compared ${compared}, of which ${failures} do not verify`);
});
