// The certificate fields the verifier needs that node:crypto's X509Certificate does not expose: version, the
// extension list with critical flags, key usage, basic constraints, CRL distribution points, and the signed bytes
// (for the leaf, which is checked without an OpenSSL parse: OpenSSL 3.0 decodes the public key on every parse, the
// dominant cost of a cold verification). The BER/DER decoding is asn1js's (PeculiarVentures, the engine under
// @peculiar/x509); the extension values are decoded with @peculiar/asn1-x509's RFC 5280 schemas. This file only maps
// the Certificate structure and enforces DER where the device does (one encoding per certificate).
import * as asn1js from 'asn1js';
import { AsnParser } from '@peculiar/asn1-schema';
import { BasicConstraints, CRLDistributionPoints, KeyUsage } from '@peculiar/asn1-x509';

/** A certificate that is not a DER X.509 v3 certificate; the verifier maps it to a bad-certificate rejection. */
export class CertificateError extends Error {}

export interface CertExtension {
  /** Dotted OID, e.g. "2.5.29.19". */
  oid: string;
  critical: boolean;
  /** Content of extnValue (the DER of the extension's own value). */
  value: Buffer;
}

export interface CertificateInfo {
  /** DER TBSCertificate (tag and length included): the signed bytes. */
  tbs: Buffer;
  /** Dotted OID of the outer signatureAlgorithm. */
  sigAlgOid: string;
  /**
   * Whether the outer signatureAlgorithm and tbsCertificate's signature field are the same AlgorithmIdentifier (DER,
   * so byte for byte). OpenSSL's X509_verify, which checks certificate signatures here and on the device
   * (X509Cert.verify), fails when they differ (RFC 5280 4.1.1.2: they MUST be the same).
   */
  sigAlgMatchesTbs: boolean;
  /** Signature bytes (BIT STRING content without the unused-bits byte). */
  signature: Buffer;
  /** The signature BIT STRING's unused bits (0–7); X509_verify fails unless it is 0. */
  signatureUnusedBits: number;
  /** Serial number as lower-case hex without leading zeros. */
  serialHex: string;
  /** Full DER of the issuer and subject Names. */
  issuer: Buffer;
  subject: Buffer;
  /** Full DER of SubjectPublicKeyInfo. */
  spki: Buffer;
  notBefore: number;
  notAfter: number;
  extensions: CertExtension[];
  /** keyUsage bits (bit 0 = digitalSignature … bit 5 = keyCertSign); undefined when the extension is absent. */
  keyUsage: number | undefined;
  /** basicConstraints cA; undefined when the extension is absent. */
  basicConstraintsCa: boolean | undefined;
}

/** [0] EXPLICIT INTEGER 2 (X.509 v3), the only DER encoding of the version the verifier accepts. */
const VERSION_3 = Buffer.from('a003020102', 'hex');
const OID_KEY_USAGE = '2.5.29.15';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';

type Block = asn1js.AsnType;

const TAG_CLASS_UNIVERSAL = 1;
const TAG_CLASS_CONTEXT = 3;
const PARSE_OPTIONS = { parseEmbedded: false, copyInput: false } as asn1js.FromBerOptions;
// DER times (X.690 11.7, RFC 5280 4.1.2.5): seconds present, Zulu, no fraction.
const UTC_TIME = /^\d{12}Z$/;
const GENERALIZED_TIME = /^\d{14}Z$/;

/** The one BER element `data` holds (asn1js), or CertificateError when it holds anything else. */
function decodeOne(data: Buffer, what: string): Block {
  let parsed: ReturnType<typeof asn1js.fromBER>;
  try {
    parsed = asn1js.fromBER(data, PARSE_OPTIONS);
  } catch (e) {
    throw new CertificateError(`${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (parsed.offset !== data.length || parsed.result.error) throw new CertificateError(what);
  return parsed.result;
}

/** An extension value decoded with its RFC 5280 schema (@peculiar/asn1-x509); BER and trailing bytes are refused. */
function decodeValue<T>(value: Buffer, schema: new () => T, what: string): T {
  const block = decodeOne(value, `bad ${what}`);
  assertDer(block);
  try {
    return AsnParser.fromASN<T>(block, schema);
  } catch (e) {
    throw new CertificateError(`bad ${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function bytes(view: Uint8Array): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

function childrenOf(b: Block): Block[] {
  if (!b.idBlock.isConstructed) return [];
  const v = (b.valueBlock as { value?: unknown }).value;
  return Array.isArray(v) ? (v as Block[]) : [];
}

/**
 * DER leaves one encoding per value: no indefinite lengths, the shortest length form, single-byte tags for the
 * structures a certificate uses, and a BOOLEAN is 00 or FF. asn1js decodes BER, so these are checked on its tree.
 */
function assertDer(b: Block): void {
  const len = b.lenBlock;
  if (len.isIndefiniteForm) throw new CertificateError('indefinite length (BER, not DER)');
  if (!isMinimalLength(len)) throw new CertificateError('non-minimal length (BER, not DER)');
  if (b.idBlock.isHexOnly || b.idBlock.tagNumber >= 31) throw new CertificateError('multi-byte tags not supported');
  if (b instanceof asn1js.Boolean) {
    const v = b.valueBlock.valueHexView;
    if (v.length !== 1 || (v[0] !== 0 && v[0] !== 0xff)) throw new CertificateError('BOOLEAN must be 00 or FF');
  }
  for (const c of childrenOf(b)) assertDer(c);
}

/**
 * DER's length is the shortest form (X.690 10.1): short below 128, else as few bytes as the value needs. Judged from
 * the decoded length and the size of its encoding, not from asn1js's warnings: asn1js 3.1 flags a zero LAST length
 * byte (valid DER for 256, 512, ...) and misses a zero first one.
 */
function isMinimalLength(len: { length: number; blockLength: number; longFormUsed: boolean }): boolean {
  if (!len.longFormUsed) return true;
  let needed = 1;
  for (let v = len.length; v > 0xff; v = Math.floor(v / 256)) needed++;
  return len.length >= 0x80 && len.blockLength === 1 + needed;
}

function timeOf(b: Block | undefined): number {
  const text = b === undefined ? '' : bytes((b.valueBlock as { valueHexView: Uint8Array }).valueHexView).toString('latin1');
  if (b instanceof asn1js.UTCTime && UTC_TIME.test(text)) return b.toDate().getTime();
  if (b instanceof asn1js.GeneralizedTime && GENERALIZED_TIME.test(text)) return b.toDate().getTime();
  throw new CertificateError('bad validity time (DER UTCTime or GeneralizedTime with seconds and Z)');
}

/** One element of a DER buffer: its header as asn1js decoded it; its content stays bytes until it is needed. */
interface Element {
  tagClass: number;
  tagNumber: number;
  constructed: boolean;
  start: number;
  contentStart: number;
  end: number;
}

// asn1js's identifier and length decoders, reused for every header: the names and the public key are compared and
// handed to node:crypto as bytes, so decoding their content would only cost time (a cold verification reads two
// certificates it has never seen).
const HEADER = new asn1js.Primitive();

/** The element at `pos` (header decoded, DER length rules checked), contained in [pos, limit). */
function elementAt(buf: Buffer, pos: number, limit: number): Element {
  const id = HEADER.idBlock;
  const len = HEADER.lenBlock;
  id.error = '';
  len.error = '';
  const contentStartAfterTag = id.fromBER(buf, pos, limit - pos);
  if (contentStartAfterTag === -1) throw new CertificateError(`bad tag: ${id.error}`);
  const contentStart = len.fromBER(buf, contentStartAfterTag, limit - contentStartAfterTag);
  if (contentStart === -1) throw new CertificateError(`bad length: ${len.error}`);
  if (len.isIndefiniteForm) throw new CertificateError('indefinite length (BER, not DER)');
  if (!isMinimalLength(len)) throw new CertificateError('non-minimal length (BER, not DER)');
  if (id.isHexOnly || id.tagNumber >= 31) throw new CertificateError('multi-byte tags not supported');
  const end = contentStart + len.length;
  if (end > limit) throw new CertificateError('truncated content');
  return { tagClass: id.tagClass, tagNumber: id.tagNumber, constructed: id.isConstructed, start: pos, contentStart, end };
}

function elementsIn(buf: Buffer, parent: Element): Element[] {
  const out: Element[] = [];
  if (!parent.constructed) return out;
  for (let p = parent.contentStart; p < parent.end;) {
    const e = elementAt(buf, p, parent.end);
    out.push(e);
    p = e.end;
  }
  return out;
}

function isSequence(e: Element | undefined): e is Element {
  return e !== undefined && e.tagClass === TAG_CLASS_UNIVERSAL && e.tagNumber === 16 && e.constructed;
}

function isUniversalElement(e: Element | undefined, tagNumber: number): e is Element {
  return e !== undefined && e.tagClass === TAG_CLASS_UNIVERSAL && e.tagNumber === tagNumber && !e.constructed;
}

function raw(buf: Buffer, e: Element): Buffer {
  return buf.subarray(e.start, e.end);
}

function content(buf: Buffer, e: Element): Buffer {
  return buf.subarray(e.contentStart, e.end);
}

/** The element fully decoded by asn1js, DER rules checked. */
function decoded(buf: Buffer, e: Element): Block {
  const b = decodeOne(raw(buf, e), 'undecodable field');
  assertDer(b);
  return b;
}

/**
 * A decoding memoised by the exact bytes: OIDs and keyUsage / basicConstraints values repeat across certificates (a
 * handful of distinct encodings in practice), and their decoding is a pure function of the bytes. Bounded, so that
 * odd certificates cannot grow it; failures are not memoised.
 */
class Memo<T> {
  private readonly map = new Map<string, T>();

  constructor(private readonly decode: (bytes: Buffer) => T) {}

  get(bytes: Buffer): T {
    const key = bytes.toString('latin1');
    let v = this.map.get(key);
    if (v === undefined) {
      v = this.decode(bytes);
      if (this.map.size < MEMO_MAX) this.map.set(key, v);
    }
    return v;
  }
}

const MEMO_MAX = 256;
const OID_NAMES = new Memo((tlv: Buffer): string => {
  const oid = decodeOne(tlv, 'bad OID');
  assertDer(oid);
  if (!(oid instanceof asn1js.ObjectIdentifier)) throw new CertificateError('bad OID');
  return oid.valueBlock.toString();
});
const KEY_USAGE = new Memo((value: Buffer): number => decodeValue(value, KeyUsage, 'keyUsage').toNumber() || 0);
const BASIC_CONSTRAINTS_CA = new Memo((value: Buffer): boolean => decodeValue(value, BasicConstraints, 'basicConstraints').cA);

function oidOf(buf: Buffer, e: Element): string {
  return OID_NAMES.get(raw(buf, e));
}

function extensionsOf(buf: Buffer, wrappers: Element[]): CertExtension[] {
  const out: CertExtension[] = [];
  for (const wrapper of wrappers) {
    const inner = elementsIn(buf, wrapper);
    const seq = inner[0];
    if (inner.length !== 1 || !isSequence(seq)) throw new CertificateError('bad extensions');
    for (const ext of elementsIn(buf, seq)) {
      const parts = elementsIn(buf, ext);
      const oidEl = parts[0];
      if (!isSequence(ext) || !isUniversalElement(oidEl, 6)) throw new CertificateError('bad extension OID');
      let k = 1;
      let critical = false;
      const flag = parts[k];
      if (isUniversalElement(flag, 1)) {
        // DER writes TRUE as FF and omits the DEFAULT FALSE (X.690 11.1, 11.5), as the device requires.
        if (flag.end - flag.contentStart !== 1 || buf[flag.contentStart] !== 0xff) throw new CertificateError('critical must be TRUE (FF) when present');
        critical = true;
        k++;
      }
      const val = parts[k];
      if (!isUniversalElement(val, 4) || parts.length !== k + 1) throw new CertificateError('bad extension value');
      const oid = oidOf(buf, oidEl);
      if (out.some((e) => e.oid === oid)) throw new CertificateError('duplicate extension');
      out.push({ oid, critical, value: content(buf, val) });
    }
  }
  return out;
}

/** Reads a DER certificate: throws CertificateError unless it is one DER X.509 v3 certificate and nothing else. */
export function readCertificate(der: Buffer): CertificateInfo {
  const cert = elementAt(der, 0, der.length);
  if (!isSequence(cert) || cert.end !== der.length) throw new CertificateError('not one certificate SEQUENCE');
  const top = elementsIn(der, cert);
  const [tbs, sigAlgEl, sigEl] = top;
  if (top.length !== 3 || !isSequence(tbs)) throw new CertificateError('bad TBSCertificate');
  const sigAlgOid = isSequence(sigAlgEl) ? elementsIn(der, sigAlgEl)[0] : undefined;
  if (!isUniversalElement(sigAlgOid, 6)) throw new CertificateError('bad signatureAlgorithm');
  // A BIT STRING starts with its unused-bits count, 0–7 (OpenSSL's parser refuses anything else, as on the device).
  // A count other than 0 is a signature that does not verify (X509_verify), not an unreadable certificate.
  if (!isUniversalElement(sigEl, 3) || sigEl.end - sigEl.contentStart < 1 || der[sigEl.contentStart]! > 7) {
    throw new CertificateError('bad signature BIT STRING');
  }
  const f = elementsIn(der, tbs);
  // [0] EXPLICIT version: v3 only, as on the device (v1/v2 certificates carry no extensions to check). DER has one
  // encoding of it.
  if (f[0] === undefined || !raw(der, f[0]).equals(VERSION_3)) throw new CertificateError('not an X.509 v3 certificate');
  const [, serial, , issuer, validityEl, subject, spki] = f;
  if (!isUniversalElement(serial, 2)) throw new CertificateError('bad serialNumber');
  if (!isSequence(issuer)) throw new CertificateError('bad issuer');
  const times = isSequence(validityEl) ? childrenOf(decoded(der, validityEl)) : [];
  if (times.length !== 2) throw new CertificateError('bad validity');
  const notBefore = timeOf(times[0]);
  const notAfter = timeOf(times[1]);
  if (!isSequence(subject) || !isSequence(spki)) throw new CertificateError('bad subject / public key');
  // After subjectPublicKeyInfo: [1] issuerUniqueID, [2] subjectUniqueID, [3] extensions.
  const wrappers = f.slice(7).filter((e) => e.tagClass === TAG_CLASS_CONTEXT && e.tagNumber === 3 && e.constructed);
  const extensions = extensionsOf(der, wrappers);
  // Decoded here, so that an undecodable value makes the certificate unparsable (bad-certificate), as on the device.
  const ku = extensions.find((e) => e.oid === OID_KEY_USAGE);
  const bc = extensions.find((e) => e.oid === OID_BASIC_CONSTRAINTS);
  return {
    tbs: raw(der, tbs),
    sigAlgOid: oidOf(der, sigAlgOid),
    sigAlgMatchesTbs: f[2] !== undefined && raw(der, f[2]).equals(raw(der, sigAlgEl!)),
    signature: der.subarray(sigEl.contentStart + 1, sigEl.end),
    signatureUnusedBits: der[sigEl.contentStart]!,
    serialHex: content(der, serial).toString('hex').replace(/^0+/, '') || '0',
    issuer: raw(der, issuer),
    subject: raw(der, subject),
    spki: raw(der, spki),
    notBefore,
    notAfter,
    extensions,
    keyUsage: ku === undefined ? undefined : keyUsageBits(ku.value),
    basicConstraintsCa: bc === undefined ? undefined : basicConstraintsCa(bc.value),
  };
}

/** KeyUsage bits of an extension value (bit 0 = digitalSignature … bit 5 = keyCertSign); CertificateError when it does not decode. */
export function keyUsageBits(value: Buffer): number {
  return KEY_USAGE.get(value);
}

/** basicConstraints cA of an extension value; throws CertificateError when the value does not decode. */
export function basicConstraintsCa(value: Buffer): boolean {
  return BASIC_CONSTRAINTS_CA.get(value);
}

/** URIs of a CRLDistributionPoints extension value (fullName uniformResourceIdentifier entries only). */
export function crlDistributionUris(value: Buffer): string[] {
  const uris: string[] = [];
  for (const dp of decodeValue(value, CRLDistributionPoints, 'cRLDistributionPoints')) {
    for (const name of dp.distributionPoint?.fullName ?? []) {
      if (name.uniformResourceIdentifier !== undefined) uris.push(name.uniformResourceIdentifier);
    }
  }
  return uris;
}
