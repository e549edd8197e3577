/**
 * OddChains — JWS with the certificate chains and signatures TestPki's options do not produce (TEST ONLY), for the
 * adversarial verifier suites on the device side (imported by .ets suites as 'types/testing/OddChains' (a relative import), declared in
 * types/testing/OddChains.d.ts) and on the server side.
 *
 *   const pki = await createTestPki();
 *   const jws = await leafIssuedByRoot(pki, payload);   // x5c [leaf signed by the ROOT, root, root]
 *
 * Every function signs with the keys of `pki` (a TestPki from tools/testing/TestPki.ts), so each forgery differs from
 * a valid JWS in exactly one property.
 */
import 'reflect-metadata';
import * as crypto from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { childrenOf, readTlv, tlv } from './DerBytes';
import { IAP_LEAF_OID, signCompactJws, type TestPki } from './TestPki';

const DAY = 86_400_000;
const DER_NULL = new Uint8Array([0x05, 0x00]);
/** Order of the P-256 group. */
const P256_N = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');

type X509Key = x509.X509CertificateCreateWithKeyParams['signingKey'];

interface IssuedCert {
  der: Buffer;
  key: crypto.KeyObject;
}

async function webSigningKey(key: crypto.KeyObject): Promise<X509Key> {
  const der = key.export({ type: 'pkcs8', format: 'der' });
  const imported = await crypto.webcrypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  return imported as unknown as X509Key;
}

/** A P-256 certificate for a fresh key, issued by (issuerDer, issuerKey), with exactly `extensions`. */
async function issue(issuerDer: Buffer, issuerKey: crypto.KeyObject, subject: string, extensions: x509.Extension[],
  validity: { notBefore: number; notAfter: number } = { notBefore: Date.now() - DAY, notAfter: Date.now() + 365 * DAY }): Promise<IssuedCert> {
  const pair = (await crypto.webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as
    crypto.webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: `1${crypto.randomBytes(8).toString('hex')}`,
    subject,
    issuer: new x509.X509Certificate(issuerDer).subject,
    notBefore: new Date(validity.notBefore),
    notAfter: new Date(validity.notAfter),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    publicKey: pair.publicKey as unknown as X509Key,
    signingKey: await webSigningKey(issuerKey),
    extensions,
  });
  return { der: Buffer.from(cert.rawData), key: crypto.KeyObject.from(pair.privateKey) };
}

function signingLeafExtensions(): x509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.Extension(IAP_LEAF_OID, false, DER_NULL),
  ];
}

function jwsWith(key: crypto.KeyObject, x5c: Buffer[], payload: object): string {
  return signCompactJws(key, { alg: 'ES256', typ: 'JWT', x5c: x5c.map((d) => d.toString('base64')) }, payload);
}

/**
 * A signing leaf (OID, digitalSignature, P-256) issued directly by the ROOT, presented as x5c [leaf, root, root]:
 * a 2-level chain dressed up as 3 certificates (the "intermediate" is the pinned root itself).
 */
export async function leafIssuedByRoot(pki: TestPki, payload: object): Promise<string> {
  const leaf = await issue(pki.rootDer, pki.rootPrivateKey, 'CN=Leaf Issued By Root, O=Test, C=CN', signingLeafExtensions());
  return jwsWith(leaf.key, [leaf.der, pki.rootDer, pki.rootDer], payload);
}

/**
 * A leaf that is itself a CA (basicConstraints cA TRUE, keyCertSign + digitalSignature, the IAP OID), issued by the
 * pki's intermediate, whose pathLenConstraint is 0.
 */
export async function caLeaf(pki: TestPki, payload: object): Promise<string> {
  const leaf = await issue(pki.intermediateDer, pki.intermediatePrivateKey, 'CN=CA Leaf, O=Test, C=CN', [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign, true),
    new x509.Extension(IAP_LEAF_OID, false, DER_NULL),
  ]);
  return jwsWith(leaf.key, [leaf.der, pki.intermediateDer, pki.rootDer], payload);
}

/** The pinned root presented as the leaf (and as the intermediate), the JWS signed with the root's key. */
export function pinnedRootAsLeaf(pki: TestPki, payload: object): string {
  return jwsWith(pki.rootPrivateKey, [pki.rootDer, pki.rootDer, pki.rootDer], payload);
}

/** A genuine chain whose x5c[2] is another root (never looked at: leaf and intermediate chain to the pinned root). */
export function withForeignX5cRoot(pki: TestPki, foreign: TestPki, payload: object): string {
  return jwsWith(pki.leafPrivateKey, [pki.leafDer, pki.intermediateDer, foreign.rootDer], payload);
}

// --- DER surgery ----------------------------------------------------------------------------------------------

/** Re-signs a certificate's (edited) tbsCertificate with `issuerKey` (ecdsa-with-SHA256). */
function resign(tbs: Buffer, issuerKey: crypto.KeyObject): Buffer {
  const algorithm = tlv(0x30, tlv(0x06, Buffer.from('2a8648ce3d040302', 'hex')));
  const signature = crypto.sign('sha256', tbs, { key: issuerKey, dsaEncoding: 'der' });
  return tlv(0x30, Buffer.concat([tbs, algorithm, tlv(0x03, Buffer.concat([Buffer.from([0]), signature]))]));
}

/**
 * The pki's leaf re-issued as an X.509 v1 certificate (no version field, hence no extensions), properly signed by
 * the intermediate; the JWS is signed with the leaf key.
 */
export function v1Leaf(pki: TestPki, payload: object): string {
  const der = pki.leafDer;
  const cert = readTlv(der, 0);
  const tbs = childrenOf(der, cert)[0]!;
  const kept = childrenOf(der, tbs).filter((t) => t.tag !== 0xa0 && t.tag !== 0xa3);
  const v1Tbs = tlv(0x30, Buffer.concat(kept.map((t) => der.subarray(t.start, t.end))));
  return jwsWith(pki.leafPrivateKey, [resign(v1Tbs, pki.intermediatePrivateKey), pki.intermediateDer, pki.rootDer], payload);
}

// --- signature surgery ------------------------------------------------------------------------------------------

function scalarBytes(v: bigint): Buffer {
  return Buffer.from(v.toString(16).padStart(64, '0'), 'hex');
}

/** The same JWS with s replaced by n − s: the other, equally valid, ECDSA signature ("high-S" when s was low). */
export function withFlippedS(jws: string): string {
  const dot = jws.lastIndexOf('.');
  const sig = Buffer.from(jws.slice(dot + 1), 'base64url');
  const s = BigInt(`0x${sig.subarray(32).toString('hex')}`);
  return `${jws.slice(0, dot + 1)}${Buffer.concat([sig.subarray(0, 32), scalarBytes(P256_N - s)]).toString('base64url')}`;
}

/** Whether the JWS's s lies in the upper half of the group order. */
export function hasHighS(jws: string): boolean {
  const sig = Buffer.from(jws.slice(jws.lastIndexOf('.') + 1), 'base64url');
  return BigInt(`0x${sig.subarray(32).toString('hex')}`) > P256_N / 2n;
}

/** The P-256 group order n as 64 hex digits (for signatures with r or s equal to n). */
export const P256_ORDER_HEX: string = P256_N.toString(16);

// --- raw signing ------------------------------------------------------------------------------------------------

/**
 * Signs the header and payload TEXTS exactly as given (no re-serialisation: duplicate keys, odd types and extra
 * header parameters survive) with the pki's leaf key; ES256 raw r||s.
 */
export function signRaw(pki: TestPki, headerJson: string, payloadText: string): string {
  const signingInput = `${Buffer.from(headerJson, 'utf8').toString('base64url')}.${Buffer.from(payloadText, 'utf8').toString('base64url')}`;
  const sig = crypto.sign('sha256', Buffer.from(signingInput, 'ascii'), { key: pki.leafPrivateKey, dsaEncoding: 'ieee-p1363' });
  return `${signingInput}.${sig.toString('base64url')}`;
}

/** DER AlgorithmIdentifier of ecdsa-with-SHA256 / SHA384, with NULL parameters when `nullParams` (RFC 5758: absent). */
function ecdsaAlgorithm(hash: 'sha256' | 'sha384', nullParams = false): Buffer {
  const oid = tlv(0x06, Buffer.from(hash === 'sha256' ? '2a8648ce3d040302' : '2a8648ce3d040303', 'hex'));
  return tlv(0x30, nullParams ? Buffer.concat([oid, Buffer.from('0500', 'hex')]) : oid);
}

interface SignatureShape {
  /** tbsCertificate's signature field; undefined keeps the certificate's own. */
  inner?: Buffer;
  /** The outer signatureAlgorithm. */
  outer: Buffer;
  /** The digest the issuer signs with. */
  digest: 'sha256' | 'sha384';
  /** The signature BIT STRING's unused-bits count (0 for a genuine one). */
  unusedBits?: number;
}

/**
 * `der` re-signed by `issuerKey` with the signature fields of `shape`: the signature is always genuine over the
 * (edited) tbsCertificate, so what is judged is only how the algorithm and the signature are written.
 */
function resignedAs(der: Buffer, issuerKey: crypto.KeyObject, shape: SignatureShape): Buffer {
  const tbsTlv = childrenOf(der, readTlv(der, 0))[0]!;
  const fields = childrenOf(der, tbsTlv).map((t, i) => (i === 2 && shape.inner ? shape.inner : der.subarray(t.start, t.end)));
  const tbs = tlv(0x30, Buffer.concat(fields));
  const signature = crypto.sign(shape.digest, tbs, { key: issuerKey, dsaEncoding: 'der' });
  return tlv(0x30, Buffer.concat([tbs, shape.outer, tlv(0x03, Buffer.concat([Buffer.from([shape.unusedBits ?? 0]), signature]))]));
}

/** The pki's chain with its leaf re-signed as `shape` by the intermediate. */
function leafSignedAs(pki: TestPki, payload: object, shape: SignatureShape): string {
  return jwsWith(pki.leafPrivateKey, [resignedAs(pki.leafDer, pki.intermediatePrivateKey, shape), pki.intermediateDer, pki.rootDer], payload);
}

/** The pki's chain with its intermediate re-signed as `shape` by the root. */
function intermediateSignedAs(pki: TestPki, payload: object, shape: SignatureShape): string {
  return jwsWith(pki.leafPrivateKey, [pki.leafDer, resignedAs(pki.intermediateDer, pki.rootPrivateKey, shape), pki.rootDer], payload);
}

/** `tbs` with its field `index` (0 = version, 1 = serialNumber, … 4 = validity, 6 = subjectPublicKeyInfo) replaced. */
function withTbsField(tbs: Buffer, index: number, field: Buffer | ((old: Buffer) => Buffer)): Buffer {
  const fields = childrenOf(tbs, readTlv(tbs, 0)).map((t) => tbs.subarray(t.start, t.end));
  fields[index] = typeof field === 'function' ? field(fields[index]!) : field;
  return tlv(0x30, Buffer.concat(fields));
}

/** The pki's intermediate with its tbsCertificate rewritten by `edit` and re-signed by the root (same key and name). */
function intermediateTbsEdited(pki: TestPki, payload: object, edit: (tbs: Buffer) => Buffer): string {
  const der = pki.intermediateDer;
  const tbsTlv = childrenOf(der, readTlv(der, 0))[0]!;
  const tbs = edit(der.subarray(tbsTlv.start, tbsTlv.end));
  return jwsWith(pki.leafPrivateKey, [pki.leafDer, resign(tbs, pki.rootPrivateKey), pki.rootDer], payload);
}

/** A DER Validity of two raw time elements (tag 0x17 UTCTime or 0x18 GeneralizedTime, text as given). */
function validityOf(notBefore: [number, string], notAfter: [number, string]): Buffer {
  const time = ([tag, text]: [number, string]): Buffer => tlv(tag, Buffer.from(text, 'latin1'));
  return tlv(0x30, Buffer.concat([time(notBefore), time(notAfter)]));
}

/** UTCTime text YYMMDDHHMMSSZ of `ms` (1950–2049). */
function utcText(ms: number): string {
  return new Date(ms).toISOString().replace(/^\d\d(\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d).*$/, '$1$2$3$4$5$6Z');
}

/** The P-256 SubjectPublicKeyInfo of `key` with its point rewritten: compressed (02/03 ‖ X) or X ‖ (Y + 1). */
function p256Spki(key: crypto.KeyObject, form: 'compressed' | 'off-curve'): Buffer {
  const der = crypto.createPublicKey(key).export({ type: 'spki', format: 'der' });
  const prefix = der.subarray(0, 23);
  const x = der.subarray(27, 59);
  const y = Buffer.from(der.subarray(59, 91));
  if (form === 'compressed') {
    return tlv(0x30, Buffer.concat([prefix.subarray(2), tlv(0x03, Buffer.concat([Buffer.from([0, 2 + (y[31]! & 1)]), x]))]));
  }
  y[31] = y[31]! ^ 0x01;
  return tlv(0x30, Buffer.concat([prefix.subarray(2), tlv(0x03, Buffer.concat([Buffer.from([0, 4]), x, y]))]));
}

// --- shared certificate vectors -----------------------------------------------------------------------------------

/** One odd chain and the verdict both verifiers give it ('valid' or a RejectionReason code). */
export interface OddCertificateVector {
  name: string;
  jws: string;
  expected: string;
}

function intermediateExtensions(): x509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(true, 0, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
  ];
}

/** A leaf under the pki's intermediate with exactly `extensions`, and its JWS. */
async function leafWith(pki: TestPki, payload: object, extensions: x509.Extension[]): Promise<string> {
  const leaf = await issue(pki.intermediateDer, pki.intermediatePrivateKey, 'CN=Odd Leaf', extensions);
  return jwsWith(leaf.key, [leaf.der, pki.intermediateDer, pki.rootDer], payload);
}

/** The pki's leaf with its tbsCertificate rewritten by `edit` and re-signed by the intermediate. */
function leafTbsEdited(pki: TestPki, payload: object, edit: (tbs: Buffer) => Buffer): string {
  const der = pki.leafDer;
  const tbsTlv = childrenOf(der, readTlv(der, 0))[0]!;
  const tbs = edit(der.subarray(tbsTlv.start, tbsTlv.end));
  return jwsWith(pki.leafPrivateKey, [resign(tbs, pki.intermediatePrivateKey), pki.intermediateDer, pki.rootDer], payload);
}

/** `tbs` with the DER of the extension `oid` rewritten by `edit` (lengths of the enclosing TLVs recomputed). */
function withExtensionEdited(tbs: Buffer, oid: string, edit: (ext: Buffer, parts: Buffer[]) => Buffer[]): Buffer {
  const top = readTlv(tbs, 0);
  const fields = childrenOf(tbs, top).map((t) => {
    if (t.tag !== 0xa3) return tbs.subarray(t.start, t.end);
    const seq = childrenOf(tbs, t)[0]!;
    const exts = childrenOf(tbs, seq).map((e) => {
      const ext = tbs.subarray(e.start, e.end);
      const parts = childrenOf(tbs, e).map((p) => tbs.subarray(p.start, p.end));
      const oidHex = new x509.Extension(oid, false, new Uint8Array(0)).rawData;
      const wanted = Buffer.from(oidHex).subarray(2, 2 + parts[0]!.length);
      return parts[0]!.equals(wanted) ? Buffer.concat(edit(ext, parts)) : [ext].map((b) => b)[0]!;
    });
    return tlv(0xa3, tlv(0x30, Buffer.concat(exts.map((e) => (e.length > 0 && e[0] === 0x30 ? e : tlv(0x30, e))))));
  });
  return tlv(0x30, Buffer.concat(fields));
}

/** The pki's intermediate re-issued by the root as an X.509 v1 certificate (same name and key, no extensions). */
function v1Intermediate(pki: TestPki): Buffer {
  const der = pki.intermediateDer;
  const tbs = childrenOf(der, readTlv(der, 0))[0]!;
  const kept = childrenOf(der, tbs).filter((t) => t.tag !== 0xa0 && t.tag !== 0xa3);
  return resign(tlv(0x30, Buffer.concat(kept.map((t) => der.subarray(t.start, t.end)))), pki.rootPrivateKey);
}

/** An extension whose value is the given DER (hex), for encodings the generator does not produce. */
function rawExtension(oid: string, critical: boolean, valueHex: string): x509.Extension {
  return new x509.Extension(oid, critical, Buffer.from(valueHex, 'hex'));
}

/**
 * Certificates with odd extensions, non-canonical encodings, expired intermediates and roots in the wrong place, as
 * one table: the server hardening suite and the device's JwsHardening suite both run it and expect the same verdict.
 */
export async function oddCertificateVectors(pki: TestPki, payload: object): Promise<OddCertificateVector[]> {
  const now = Date.now();
  const iap = (): x509.Extension => new x509.Extension(IAP_LEAF_OID, false, DER_NULL);
  const expiredInt = await issue(pki.rootDer, pki.rootPrivateKey, 'CN=Expired Intermediate', intermediateExtensions(),
    { notBefore: now - 400 * DAY, notAfter: now - DAY });
  const leafUnderExpired = await issue(expiredInt.der, expiredInt.key, 'CN=Leaf Under Expired', signingLeafExtensions());
  const noCertSignInt = await issue(pki.rootDer, pki.rootPrivateKey, 'CN=No CertSign Intermediate', [
    new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.cRLSign, true)]);
  const leafUnderNoCertSign = await issue(noCertSignInt.der, noCertSignInt.key, 'CN=Leaf Under No CertSign', signingLeafExtensions());
  const notCaInt = await issue(pki.rootDer, pki.rootPrivateKey, 'CN=Not CA Intermediate', [
    new x509.BasicConstraintsExtension(false, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)]);
  const leafUnderNotCa = await issue(notCaInt.der, notCaInt.key, 'CN=Leaf Under Not CA', signingLeafExtensions());
  const noKuInt = await issue(pki.rootDer, pki.rootPrivateKey, 'CN=No KeyUsage Intermediate', [new x509.BasicConstraintsExtension(true, 0, true)]);
  const leafUnderNoKu = await issue(noKuInt.der, noKuInt.key, 'CN=Leaf Under No KeyUsage', signingLeafExtensions());
  const noBcInt = await issue(pki.rootDer, pki.rootPrivateKey, 'CN=No BasicConstraints Intermediate', [
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)]);
  const leafUnderNoBc = await issue(noBcInt.der, noBcInt.key, 'CN=Leaf Under No BasicConstraints', signingLeafExtensions());
  const berKuInt = await issue(pki.rootDer, pki.rootPrivateKey, 'CN=BER KeyUsage Intermediate', [
    new x509.BasicConstraintsExtension(true, 0, true), rawExtension('2.5.29.15', true, '0381020106')]);
  const leafUnderBerKu = await issue(berKuInt.der, berKuInt.key, 'CN=Leaf Under BER KeyUsage', signingLeafExtensions());
  const oddCritInt = await issue(pki.rootDer, pki.rootPrivateKey, 'CN=Odd Critical Intermediate', [
    ...intermediateExtensions(), new x509.Extension('1.2.3.4.5.6', true, DER_NULL)]);
  const leafUnderOddCrit = await issue(oddCritInt.der, oddCritInt.key, 'CN=Leaf Under Odd Critical', signingLeafExtensions());
  // The leaf with notBefore written as `notBefore` (UTCTime unless `tag` says otherwise), notAfter in 300 days.
  const leafValidity = (notBefore: string, tag = 0x17): string => leafTbsEdited(pki, payload, (tbs) => withTbsField(tbs, 4,
    validityOf([tag, notBefore], [tag, tag === 0x17 ? utcText(now + 300 * DAY) : `20${utcText(now + 300 * DAY)}`])));
  return [
    { name: 'a leaf with an unknown critical extension', expected: 'bad-certificate',
      jws: await leafWith(pki, payload, [...signingLeafExtensions(), new x509.Extension('1.2.3.4.5.6', true, DER_NULL)]) },
    { name: 'a leaf with an unknown non-critical extension', expected: 'valid',
      jws: await leafWith(pki, payload, [...signingLeafExtensions(), new x509.Extension('1.2.3.4.5.6', false, DER_NULL)]) },
    { name: 'a leaf whose IAP extension is critical', expected: 'missing-oid',
      jws: await leafWith(pki, payload, [new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true), new x509.Extension(IAP_LEAF_OID, true, DER_NULL)]) },
    { name: 'a leaf without the IAP extension', expected: 'missing-oid',
      jws: await leafWith(pki, payload, [new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)]) },
    { name: 'a leaf whose keyUsage lacks digitalSignature', expected: 'bad-certificate',
      jws: await leafWith(pki, payload, [new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyEncipherment, true), iap()]) },
    { name: 'a leaf without basicConstraints nor keyUsage', expected: 'valid', jws: await leafWith(pki, payload, [iap()]) },
    { name: 'a leaf with an explicit critical FALSE (BER, not DER)', expected: 'bad-certificate',
      jws: leafTbsEdited(pki, payload, (tbs) => withExtensionEdited(tbs, IAP_LEAF_OID,
        (_ext, parts) => [tlv(0x30, Buffer.concat([parts[0]!, Buffer.from([0x01, 0x01, 0x00]), ...parts.slice(1)]))])) },
    // The platform's certificate kit (OpenSSL) reads 01 as TRUE; DER allows only FF: the device finds out by
    // comparing the certificate with the kit's re-encoding of it, the server by reading the DER itself.
    { name: 'a leaf whose critical flag is BER TRUE (01, not FF)', expected: 'bad-certificate',
      jws: leafTbsEdited(pki, payload, (tbs) => withExtensionEdited(tbs, '2.5.29.19',
        (_ext, parts) => [tlv(0x30, Buffer.concat([parts[0]!, Buffer.from([0x01, 0x01, 0x01]), ...parts.slice(2)]))])) },
    { name: 'a leaf with a duplicated extension', expected: 'bad-certificate',
      jws: leafTbsEdited(pki, payload, (tbs) => withExtensionEdited(tbs, IAP_LEAF_OID, (ext) => [ext, ext])) },
    { name: 'a leaf with a non-minimal length (BER long form for a short length)', expected: 'bad-certificate',
      jws: leafTbsEdited(pki, payload, (tbs) => withExtensionEdited(tbs, IAP_LEAF_OID,
        (ext) => [Buffer.concat([Buffer.from([0x30, 0x81, ext[1]!]), ext.subarray(2)])])) },
    { name: 'an expired intermediate', expected: 'cert-expired',
      jws: jwsWith(leafUnderExpired.key, [leafUnderExpired.der, expiredInt.der, pki.rootDer], payload) },
    { name: 'an intermediate whose keyUsage lacks keyCertSign', expected: 'untrusted-chain',
      jws: jwsWith(leafUnderNoCertSign.key, [leafUnderNoCertSign.der, noCertSignInt.der, pki.rootDer], payload) },
    { name: 'an intermediate that is not a CA', expected: 'untrusted-chain',
      jws: jwsWith(leafUnderNotCa.key, [leafUnderNotCa.der, notCaInt.der, pki.rootDer], payload) },
    { name: 'the pinned root presented as the intermediate', expected: 'untrusted-chain', jws: await leafIssuedByRoot(pki, payload) },
    { name: 'the intermediate presented as the leaf', expected: 'untrusted-chain',
      jws: jwsWith(pki.intermediatePrivateKey, [pki.intermediateDer, pki.intermediateDer, pki.rootDer], payload) },
    { name: 'a v1 leaf', expected: 'bad-certificate', jws: v1Leaf(pki, payload) },
    { name: 'a v1 intermediate (no basicConstraints) under the pinned root', expected: 'bad-certificate',
      jws: jwsWith(pki.leafPrivateKey, [pki.leafDer, v1Intermediate(pki), pki.rootDer], payload) },
    { name: 'an intermediate without keyUsage (basicConstraints cA only)', expected: 'valid',
      jws: jwsWith(leafUnderNoKu.key, [leafUnderNoKu.der, noKuInt.der, pki.rootDer], payload) },
    { name: 'an intermediate without basicConstraints (keyUsage keyCertSign only)', expected: 'untrusted-chain',
      jws: jwsWith(leafUnderNoBc.key, [leafUnderNoBc.der, noBcInt.der, pki.rootDer], payload) },
    { name: 'an intermediate with an unknown critical extension', expected: 'bad-certificate',
      jws: jwsWith(leafUnderOddCrit.key, [leafUnderOddCrit.der, oddCritInt.der, pki.rootDer], payload) },
    { name: 'a leaf whose basicConstraints encodes cA FALSE explicitly (BER DEFAULT)', expected: 'valid',
      jws: await leafWith(pki, payload, [rawExtension('2.5.29.19', true, '3003010100'),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true), iap()]) },
    { name: 'a leaf whose basicConstraints cA TRUE is 01, not FF', expected: 'bad-certificate',
      jws: await leafWith(pki, payload, [rawExtension('2.5.29.19', true, '3003010101'),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true), iap()]) },
    { name: 'a leaf whose basicConstraints has a pathLenConstraint without cA', expected: 'valid',
      jws: await leafWith(pki, payload, [rawExtension('2.5.29.19', true, '3003020100'),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true), iap()]) },
    { name: 'a leaf with a non-critical basicConstraints and keyUsage', expected: 'valid',
      jws: await leafWith(pki, payload, [new x509.BasicConstraintsExtension(false, undefined, false),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, false), iap()]) },
    { name: 'a leaf whose keyUsage value has a non-minimal length', expected: 'bad-certificate',
      jws: await leafWith(pki, payload, [new x509.BasicConstraintsExtension(false, undefined, true),
        rawExtension('2.5.29.15', true, '0381020780'), iap()]) },
    { name: 'an intermediate whose keyUsage value has a non-minimal length', expected: 'bad-certificate',
      jws: jwsWith(leafUnderBerKu.key, [leafUnderBerKu.der, berKuInt.der, pki.rootDer], payload) },
    { name: 'a leaf whose basicConstraints value has a non-minimal length', expected: 'bad-certificate',
      jws: await leafWith(pki, payload, [rawExtension('2.5.29.19', true, '308100'),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true), iap()]) },
    { name: 'a leaf whose keyUsage is empty', expected: 'bad-certificate',
      jws: await leafWith(pki, payload, [new x509.BasicConstraintsExtension(false, undefined, true),
        rawExtension('2.5.29.15', true, '030100'), iap()]) },
    { name: 'a leaf with a critical extendedKeyUsage (a known critical extension)', expected: 'valid',
      jws: await leafWith(pki, payload, [...signingLeafExtensions(), rawExtension('2.5.29.37', true, '300a06082b06010505070303')]) },
    { name: 'a leaf with a 256-byte non-critical extension (a DER length whose last byte is 00)', expected: 'valid',
      jws: await leafWith(pki, payload, [...signingLeafExtensions(), new x509.Extension('1.2.3.4.5.7', false, new Uint8Array(256))]) },
    { name: 'a leaf with keyUsage keyCertSign only and no basicConstraints', expected: 'bad-certificate',
      jws: await leafWith(pki, payload, [new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true), iap()]) },
    // How a certificate signature is written. Both sides check it as OpenSSL's X509_verify does (on the device
    // X509Cert.verify): the two algorithm fields must be identical and the signature whole bytes.
    { name: 'a leaf signed with ecdsa-with-SHA384 (both algorithm fields)', expected: 'valid',
      jws: leafSignedAs(pki, payload, { inner: ecdsaAlgorithm('sha384'), outer: ecdsaAlgorithm('sha384'), digest: 'sha384' }) },
    { name: 'a leaf whose tbsCertificate names SHA-384 and whose signatureAlgorithm SHA-256', expected: 'untrusted-chain',
      jws: leafSignedAs(pki, payload, { inner: ecdsaAlgorithm('sha384'), outer: ecdsaAlgorithm('sha256'), digest: 'sha256' }) },
    { name: 'a leaf whose outer signatureAlgorithm alone carries NULL parameters', expected: 'untrusted-chain',
      jws: leafSignedAs(pki, payload, { outer: ecdsaAlgorithm('sha256', true), digest: 'sha256' }) },
    { name: 'a leaf whose two algorithm fields both carry NULL parameters', expected: 'valid',
      jws: leafSignedAs(pki, payload, { inner: ecdsaAlgorithm('sha256', true), outer: ecdsaAlgorithm('sha256', true), digest: 'sha256' }) },
    { name: 'a leaf whose signature BIT STRING declares 1 unused bit', expected: 'untrusted-chain',
      jws: leafSignedAs(pki, payload, { outer: ecdsaAlgorithm('sha256'), digest: 'sha256', unusedBits: 1 }) },
    { name: 'a leaf whose signature BIT STRING declares 8 unused bits (not a BIT STRING)', expected: 'bad-certificate',
      jws: leafSignedAs(pki, payload, { outer: ecdsaAlgorithm('sha256'), digest: 'sha256', unusedBits: 8 }) },
    { name: 'an intermediate signed with ecdsa-with-SHA384 (both algorithm fields)', expected: 'valid',
      jws: intermediateSignedAs(pki, payload, { inner: ecdsaAlgorithm('sha384'), outer: ecdsaAlgorithm('sha384'), digest: 'sha384' }) },
    { name: 'an intermediate whose tbsCertificate names SHA-384 and whose signatureAlgorithm SHA-256', expected: 'untrusted-chain',
      jws: intermediateSignedAs(pki, payload, { inner: ecdsaAlgorithm('sha384'), outer: ecdsaAlgorithm('sha256'), digest: 'sha256' }) },
    { name: 'an intermediate whose outer signatureAlgorithm alone carries NULL parameters', expected: 'untrusted-chain',
      jws: intermediateSignedAs(pki, payload, { outer: ecdsaAlgorithm('sha256', true), digest: 'sha256' }) },
    { name: 'an intermediate whose signature BIT STRING declares 1 unused bit', expected: 'untrusted-chain',
      jws: intermediateSignedAs(pki, payload, { outer: ecdsaAlgorithm('sha256'), digest: 'sha256', unusedBits: 1 }) },
    // What the platform reads but a DER certificate cannot hold, and keys it cannot use: bad-certificate on both sides.
    { name: 'an intermediate whose basicConstraints value is NULL (not a BasicConstraints)', expected: 'bad-certificate',
      jws: intermediateTbsEdited(pki, payload, (tbs) => withExtensionEdited(tbs, '2.5.29.19',
        (_ext, parts) => [parts[0]!, parts[1]!, tlv(0x04, Buffer.from('0500', 'hex'))])) },
    { name: 'an intermediate whose basicConstraints pathLenConstraint is negative', expected: 'bad-certificate',
      jws: intermediateTbsEdited(pki, payload, (tbs) => withExtensionEdited(tbs, '2.5.29.19',
        (_ext, parts) => [parts[0]!, parts[1]!, tlv(0x04, Buffer.from('30060101ff0201ff', 'hex'))])) },
    { name: 'an intermediate with a critical nameConstraints (an extension neither side processes)', expected: 'bad-certificate',
      jws: await (async (): Promise<string> => {
        const int = await issue(pki.rootDer, pki.rootPrivateKey, 'CN=Name Constrained Intermediate', [...intermediateExtensions(),
          rawExtension('2.5.29.30', true, '300da00b30098207746573742e636e')]);
        const leaf = await issue(int.der, int.key, 'CN=Leaf Under Name Constraints', signingLeafExtensions());
        return jwsWith(leaf.key, [leaf.der, int.der, pki.rootDer], payload);
      })() },
    { name: 'a leaf whose serialNumber is not minimal (00 01)', expected: 'bad-certificate',
      jws: leafTbsEdited(pki, payload, (tbs) => withTbsField(tbs, 1, tlv(0x02, Buffer.from('0001', 'hex')))) },
    { name: 'a leaf whose notBefore is a UTCTime without seconds', expected: 'bad-certificate',
      jws: leafValidity(utcText(now - DAY).replace(/\d\dZ$/, 'Z')) },
    { name: 'a leaf whose notBefore is a UTCTime with an offset (+0100)', expected: 'bad-certificate',
      jws: leafValidity(utcText(now - DAY).replace(/Z$/, '+0100')) },
    { name: 'a leaf whose notBefore is month 13', expected: 'bad-certificate', jws: leafValidity('201301000000Z') },
    { name: 'a leaf whose validity is GeneralizedTime before 2050 (the platform and the server read it)', expected: 'valid',
      jws: leafValidity(`20${utcText(now - DAY)}`, 0x18) },
    { name: 'a leaf with a compressed P-256 key', expected: 'bad-certificate',
      jws: leafTbsEdited(pki, payload, (tbs) => withTbsField(tbs, 6, p256Spki(pki.leafPrivateKey, 'compressed'))) },
    { name: 'a leaf whose key is a point off the curve', expected: 'bad-certificate',
      jws: leafTbsEdited(pki, payload, (tbs) => withTbsField(tbs, 6, p256Spki(pki.leafPrivateKey, 'off-curve'))) },
    { name: 'a leaf whose issuer differs from the intermediate subject only in letter case', expected: 'untrusted-chain',
      jws: leafTbsEdited(pki, payload, (tbs) => withTbsField(tbs, 3, (issuer) => {
        const text = issuer.toString('latin1');
        const at = text.search(/[A-Z](?=[a-z])/);
        return Buffer.from(text.substring(0, at) + text[at]!.toLowerCase() + text.substring(at + 1), 'latin1');
      })) },
  ];
}
