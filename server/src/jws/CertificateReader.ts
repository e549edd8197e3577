// The certificate fields the verifier needs that node:crypto's X509Certificate does not expose: version, the
// extension list with critical flags, key usage, basic constraints, CRL distribution points, and the signed bytes
// (for the leaf, which is checked without an OpenSSL parse: OpenSSL 3.0 decodes the public key on every parse, the
// dominant cost of a cold verification). The BER/DER decoding is asn1js's (PeculiarVentures, the engine under
// @peculiar/x509); the extension values are decoded with @peculiar/asn1-x509's RFC 5280 schemas. This file maps the
// Certificate structure and refuses what the device refuses: what OpenSSL's d2i_X509 (the device's parser) refuses,
// since the leaf never reaches OpenSSL here, and anything that is not DER (one encoding per certificate).
import { isUtf8 } from 'node:buffer';
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
const TAG_BOOLEAN = 1;
const TAG_INTEGER = 2;
const TAG_BIT_STRING = 3;
const TAG_NULL = 5;
const TAG_OID = 6;
const TAG_ENUMERATED = 10;
const TAG_UTF8_STRING = 12;
const TAG_SEQUENCE = 16;
const TAG_SET = 17;
const TAG_UTC_TIME = 23;
const TAG_GENERALIZED_TIME = 24;
const TAG_UNIVERSAL_STRING = 28;
const TAG_BMP_STRING = 30;
// Universal types DER encodes primitive only (X.690 10.2): the simple types, BIT / OCTET STRING, the strings, times.
const PRIMITIVE_ONLY = new Set([1, 2, 3, 4, 5, 6, 10, 12, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 30]);
// The value types OpenSSL's X509_NAME_ENTRY accepts (its B_ASN1_PRINTABLE tag mask, the tags it maps to "unknown"
// included); d2i_X509 refuses a Name holding any other (an INTEGER, an OCTET STRING, a VisibleString, a time...).
const NAME_VALUE_TAGS = new Set([3, 7, 8, 9, 11, 12, 13, 14, 15, 16, 18, 19, 20, 22, 28, 29, 30]);
const PARSE_OPTIONS = { parseEmbedded: false, copyInput: false } as asn1js.FromBerOptions;
// DER times (X.690 11.7, RFC 5280 4.1.2.5): seconds present, Zulu, no fraction.
const UTC_TIME = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/;
const GENERALIZED_TIME = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/;

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
function decodeValue<T>(value: Buffer, schema: new () => T, what: string, block = derBlock(value, what)): T {
  try {
    return AsnParser.fromASN<T>(block, schema);
  } catch (e) {
    throw new CertificateError(`bad ${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The one DER element `value` holds, decoded by asn1js. */
function derBlock(value: Buffer, what: string): Block {
  const block = decodeOne(value, `bad ${what}`);
  assertDer(block);
  return block;
}

function childrenOf(b: Block): Block[] {
  if (!b.idBlock.isConstructed) return [];
  const v = (b.valueBlock as { value?: unknown }).value;
  return Array.isArray(v) ? (v as Block[]) : [];
}

/**
 * DER leaves one encoding per value: no indefinite lengths, the shortest length form, single-byte tags for the
 * structures a certificate uses, a BOOLEAN is 00 or FF and an INTEGER has no padding byte. asn1js decodes BER, so
 * these are checked on its tree.
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
  if ((b instanceof asn1js.Integer || b instanceof asn1js.Enumerated) && !isMinimalInteger(b.valueBlock.valueHexView)) {
    throw new CertificateError('INTEGER not in its shortest form');
  }
  for (const c of childrenOf(b)) assertDer(c);
}

/** INTEGER content in DER (X.690 8.3.2): at least one byte, no leading 00 or FF that only repeats the sign. */
function isMinimalInteger(v: Uint8Array): boolean {
  if (v.length === 0) return false;
  return v.length === 1 || !((v[0] === 0 && (v[1]! & 0x80) === 0) || (v[0] === 0xff && (v[1]! & 0x80) !== 0));
}

/** OBJECT IDENTIFIER content as c2i_ASN1_OBJECT accepts it: non-empty, complete, no sub-identifier padded with 0x80. */
function isValidOid(v: Uint8Array): boolean {
  if (v.length === 0 || (v[v.length - 1]! & 0x80) !== 0) return false;
  for (let i = 0; i < v.length; i++) {
    if (v[i] === 0x80 && (i === 0 || (v[i - 1]! & 0x80) === 0)) return false;
  }
  return true;
}

/** BIT STRING content as c2i_ASN1_BIT_STRING accepts it: the unused-bits byte, 0–7. */
function isValidBitString(v: Uint8Array): boolean {
  return v.length >= 1 && v[0]! <= 7;
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

/**
 * A validity time in DER: UTCTime YYMMDDHHMMSSZ (YY below 50 is 20YY) or GeneralizedTime YYYYMMDDHHMMSSZ, naming a
 * real instant (no month 13, February 30 or second 60: the device writes the platform's reading back and compares).
 */
function timeOf(buf: Buffer, e: Element | undefined): number {
  const utc = isUniversalElement(e, TAG_UTC_TIME);
  const form = utc ? UTC_TIME : isUniversalElement(e, TAG_GENERALIZED_TIME) ? GENERALIZED_TIME : undefined;
  const m = form?.exec(content(buf, e!).toString('latin1'));
  if (!m) throw new CertificateError('bad validity time (DER UTCTime or GeneralizedTime with seconds and Z)');
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const fullYear = utc ? (year < 50 ? 2000 + year : 1900 + year) : year;
  // setUTCFullYear, not Date.UTC, which reads years 0–99 as 1900–1999.
  const d = new Date(0);
  d.setUTCFullYear(fullYear, month - 1, day);
  d.setUTCHours(hour, minute, second, 0);
  if (d.getUTCFullYear() !== fullYear || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day || d.getUTCHours() !== hour ||
    d.getUTCMinutes() !== minute || d.getUTCSeconds() !== second) {
    throw new CertificateError('bad validity time (not a calendar date and time)');
  }
  return d.getTime();
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
// handed to node:crypto as bytes, so they are walked header by header rather than decoded into asn1js objects (a cold
// verification reads two certificates it has never seen).
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
  return e !== undefined && e.tagClass === TAG_CLASS_UNIVERSAL && e.tagNumber === TAG_SEQUENCE && e.constructed;
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

/**
 * An element of an open type (ASN.1 ANY: algorithm parameters, a SEQUENCE attribute value), down to its primitive
 * leaves: DER headers (elementAt), DER forms of the universal types, and the content checks d2i_X509 makes on a
 * universal primitive it meets there (asn1_ex_c2i).
 */
function checkAny(buf: Buffer, e: Element): void {
  if (e.tagClass === TAG_CLASS_UNIVERSAL) {
    const t = e.tagNumber;
    if (e.constructed && PRIMITIVE_ONLY.has(t)) throw new CertificateError(`constructed universal type ${t} (BER, not DER)`);
    if (!e.constructed && (t === TAG_SEQUENCE || t === TAG_SET)) throw new CertificateError('primitive SEQUENCE or SET');
    if (!e.constructed && !isValidPrimitive(t, content(buf, e))) throw new CertificateError(`bad universal type ${t} content`);
  }
  for (const c of elementsIn(buf, e)) checkAny(buf, c);
}

function isValidPrimitive(tag: number, v: Buffer): boolean {
  switch (tag) {
    case TAG_BOOLEAN:
      return v.length === 1 && (v[0] === 0 || v[0] === 0xff);
    case TAG_INTEGER:
    case TAG_ENUMERATED:
      return isMinimalInteger(v);
    case TAG_NULL:
      return v.length === 0;
    case TAG_OID:
      return isValidOid(v);
    case TAG_BIT_STRING:
      return isValidBitString(v);
    case TAG_BMP_STRING:
      return v.length % 2 === 0;
    case TAG_UNIVERSAL_STRING:
      return v.length % 4 === 0;
    default:
      return true;
  }
}

/** AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL }; its OID element. */
function checkAlgorithm(buf: Buffer, e: Element | undefined, what: string): Element {
  const parts = isSequence(e) ? elementsIn(buf, e) : [];
  const oidEl = parts[0];
  if (!isUniversalElement(oidEl, TAG_OID) || !isValidOid(content(buf, oidEl)) || parts.length > 2) {
    throw new CertificateError(`bad ${what} AlgorithmIdentifier`);
  }
  if (parts[1] !== undefined) checkAny(buf, parts[1]);
  return oidEl;
}

/** SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }. */
function checkSpki(buf: Buffer, e: Element | undefined): void {
  const parts = isSequence(e) ? elementsIn(buf, e) : [];
  checkAlgorithm(buf, parts[0], 'public key');
  const key = parts[1];
  if (parts.length !== 2 || !isUniversalElement(key, TAG_BIT_STRING) || !isValidBitString(content(buf, key))) {
    throw new CertificateError('bad subjectPublicKeyInfo');
  }
}

/**
 * A Name as d2i_X509 reads it and DER writes it: SEQUENCE OF RelativeDistinguishedName (SET OF at least one
 * AttributeTypeAndValue ::= SEQUENCE { type OBJECT IDENTIFIER, value }), every value of a type X509_NAME_ENTRY takes
 * and, for the strings OpenSSL converts to UTF-8 when it reads a Name (x509_name_canon), a valid one.
 */
function checkName(name: Buffer): true {
  const top = elementAt(name, 0, name.length);
  if (!isSequence(top) || top.end !== name.length) throw new CertificateError('a Name is a SEQUENCE');
  for (const rdn of elementsIn(name, top)) {
    const atvs = rdn.tagClass === TAG_CLASS_UNIVERSAL && rdn.tagNumber === TAG_SET && rdn.constructed ? elementsIn(name, rdn) : [];
    // RFC 5280 wants at least one AttributeTypeAndValue, but d2i_X509 reads an empty SET, so the device reads it too
    // (and nothing is judged on it): only a SET is required.
    if (!(rdn.tagClass === TAG_CLASS_UNIVERSAL && rdn.tagNumber === TAG_SET && rdn.constructed)) {
      throw new CertificateError('a RelativeDistinguishedName is a SET');
    }
    for (const atv of atvs) {
      const parts = isSequence(atv) ? elementsIn(name, atv) : [];
      const [type, value] = parts;
      if (parts.length !== 2 || !isUniversalElement(type, TAG_OID) || !isValidOid(content(name, type))) {
        throw new CertificateError('bad AttributeTypeAndValue');
      }
      checkNameValue(name, value!);
    }
  }
  return true;
}

function checkNameValue(buf: Buffer, e: Element): void {
  if (e.tagClass !== TAG_CLASS_UNIVERSAL || !NAME_VALUE_TAGS.has(e.tagNumber)) throw new CertificateError('bad attribute value type');
  if (e.tagNumber === TAG_SEQUENCE || e.constructed) {
    // A SEQUENCE is an open type here; a constructed string is BER (and the SEQUENCE must be constructed).
    if (e.tagNumber !== TAG_SEQUENCE || !e.constructed) throw new CertificateError('constructed string (BER, not DER)');
    checkAny(buf, e);
    return;
  }
  const v = content(buf, e);
  if (e.tagNumber === TAG_UTF8_STRING && !isUtf8(v)) throw new CertificateError('UTF8String is not well-formed UTF-8');
  if (e.tagNumber === TAG_BIT_STRING && !isValidBitString(v)) throw new CertificateError('bad BIT STRING attribute value');
  if (e.tagNumber === TAG_BMP_STRING && !isValidUcs(v, 2)) throw new CertificateError('bad BMPString');
  if (e.tagNumber === TAG_UNIVERSAL_STRING && !isValidUcs(v, 4)) throw new CertificateError('bad UniversalString');
}

/** UCS-2 (BMPString) or UCS-4 (UniversalString) text of Unicode scalar values: no surrogate, nothing above U+10FFFF. */
function isValidUcs(v: Buffer, width: 2 | 4): boolean {
  if (v.length % width !== 0) return false;
  for (let i = 0; i < v.length; i += width) {
    const c = width === 2 ? v.readUInt16BE(i) : v.readUInt32BE(i);
    if ((c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff) return false;
  }
  return true;
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
  // asn1js reads a sub-identifier padded with 0x80 (with a warning); c2i_ASN1_OBJECT refuses it.
  if (!(oid instanceof asn1js.ObjectIdentifier) || !isValidOid(content(tlv, elementAt(tlv, 0, tlv.length)))) {
    throw new CertificateError('bad OID');
  }
  return oid.valueBlock.toString();
});
// Issuer and subject Names repeat across certificates as much as OIDs do (every leaf names its intermediate).
const VALID_NAMES = new Memo(checkName);
const KEY_USAGE = new Memo((value: Buffer): number => {
  const block = derBlock(value, 'keyUsage');
  // RFC 5280 4.2.1.3: at least one bit; an empty BIT STRING is refused on the device too.
  if (block instanceof asn1js.BitString && block.valueBlock.valueHexView.length === 0) throw new CertificateError('bad keyUsage: empty');
  return decodeValue(value, KeyUsage, 'keyUsage', block).toNumber() || 0;
});
const BASIC_CONSTRAINTS_CA = new Memo((value: Buffer): boolean => {
  const block = derBlock(value, 'basicConstraints');
  // SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL }, nothing else and in that order, as the
  // device's ExtensionDerChecker requires (the schema decoder would skip an extra or repeated element).
  const fields = childrenOf(block);
  const shape = fields.map((c) => (c instanceof asn1js.Boolean ? 'b' : c instanceof asn1js.Integer ? 'i' : '?')).join('');
  if (!(block instanceof asn1js.Sequence) || !['', 'b', 'i', 'bi'].includes(shape)) {
    throw new CertificateError('bad basicConstraints: not a BasicConstraints SEQUENCE');
  }
  const pathLen = fields.find((c) => c instanceof asn1js.Integer);
  // pathLenConstraint INTEGER (0..MAX): OpenSSL marks a negative one invalid, and the device refuses it.
  if (pathLen instanceof asn1js.Integer && (pathLen.valueBlock.valueHexView[0]! & 0x80) !== 0) {
    throw new CertificateError('bad basicConstraints: negative pathLenConstraint');
  }
  return decodeValue(value, BasicConstraints, 'basicConstraints', block).cA;
});

function oidOf(buf: Buffer, e: Element): string {
  return OID_NAMES.get(raw(buf, e));
}

function extensionsOf(buf: Buffer, wrapper: Element | undefined): CertExtension[] {
  const out: CertExtension[] = [];
  if (wrapper === undefined) return out;
  const inner = elementsIn(buf, wrapper);
  const seq = inner[0];
  if (inner.length !== 1 || !isSequence(seq)) throw new CertificateError('bad extensions');
  for (const ext of elementsIn(buf, seq)) {
    const parts = elementsIn(buf, ext);
    const oidEl = parts[0];
    if (!isSequence(ext) || !isUniversalElement(oidEl, TAG_OID)) throw new CertificateError('bad extension OID');
    let k = 1;
    let critical = false;
    const flag = parts[k];
    if (isUniversalElement(flag, TAG_BOOLEAN)) {
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
  return out;
}

/**
 * The fields after subjectPublicKeyInfo, as X509_CINF reads them: [1] IMPLICIT issuerUniqueID and [2] IMPLICIT
 * subjectUniqueID (BIT STRINGs, primitive in DER), [3] EXPLICIT extensions, each at most once and in that order,
 * nothing else. Returns the [3] field, if any.
 */
function extensionsField(buf: Buffer, trailing: Element[]): Element | undefined {
  let next = 1;
  let extensions: Element | undefined;
  for (const e of trailing) {
    if (e.tagClass !== TAG_CLASS_CONTEXT || e.tagNumber < next || e.tagNumber > 3 || e.constructed !== (e.tagNumber === 3)) {
      throw new CertificateError('unexpected field after subjectPublicKeyInfo');
    }
    if (e.tagNumber === 3) extensions = e;
    else if (!isValidBitString(content(buf, e))) throw new CertificateError('bad unique identifier');
    next = e.tagNumber + 1;
  }
  return extensions;
}

/** The raw issuer and subject Names of any certificate (v1 too: a pinned root is only matched by its subject bytes). */
export function readNames(der: Buffer): { issuer: Buffer; subject: Buffer } {
  const cert = elementAt(der, 0, der.length);
  const tbs = isSequence(cert) && cert.end === der.length ? elementsIn(der, cert)[0] : undefined;
  const f = isSequence(tbs) ? elementsIn(der, tbs) : [];
  // [0] EXPLICIT version DEFAULT v1: absent from a v1 certificate.
  const k = f[0] !== undefined && f[0].tagClass === TAG_CLASS_CONTEXT && f[0].tagNumber === 0 ? 1 : 0;
  const issuer = f[k + 2];
  const subject = f[k + 4];
  if (!isSequence(issuer) || !isSequence(subject)) throw new CertificateError('not a certificate with an issuer and a subject');
  return { issuer: raw(der, issuer), subject: raw(der, subject) };
}

/** Reads a DER certificate: throws CertificateError unless it is one DER X.509 v3 certificate and nothing else. */
export function readCertificate(der: Buffer): CertificateInfo {
  const cert = elementAt(der, 0, der.length);
  if (!isSequence(cert) || cert.end !== der.length) throw new CertificateError('not one certificate SEQUENCE');
  const top = elementsIn(der, cert);
  const [tbs, sigAlgEl, sigEl] = top;
  if (top.length !== 3 || !isSequence(tbs)) throw new CertificateError('bad TBSCertificate');
  const sigAlgOid = checkAlgorithm(der, sigAlgEl, 'signature');
  // A BIT STRING starts with its unused-bits count, 0–7 (OpenSSL's parser refuses anything else, as on the device).
  // A count other than 0 is a signature that does not verify (X509_verify), not an unreadable certificate.
  if (!isUniversalElement(sigEl, TAG_BIT_STRING) || !isValidBitString(content(der, sigEl))) {
    throw new CertificateError('bad signature BIT STRING');
  }
  const f = elementsIn(der, tbs);
  // [0] EXPLICIT version: v3 only, as on the device (v1/v2 certificates carry no extensions to check). DER has one
  // encoding of it.
  if (f[0] === undefined || !raw(der, f[0]).equals(VERSION_3)) throw new CertificateError('not an X.509 v3 certificate');
  const [, serial, tbsSigAlg, issuer, validityEl, subject, spki] = f;
  // c2i_ASN1_INTEGER refuses an empty or padded INTEGER.
  if (!isUniversalElement(serial, TAG_INTEGER) || !isMinimalInteger(content(der, serial))) throw new CertificateError('bad serialNumber');
  checkAlgorithm(der, tbsSigAlg, 'tbsCertificate signature');
  if (!isSequence(issuer)) throw new CertificateError('bad issuer');
  VALID_NAMES.get(raw(der, issuer));
  const times = isSequence(validityEl) ? elementsIn(der, validityEl) : [];
  if (times.length !== 2) throw new CertificateError('bad validity');
  const notBefore = timeOf(der, times[0]);
  const notAfter = timeOf(der, times[1]);
  if (!isSequence(subject)) throw new CertificateError('bad subject');
  VALID_NAMES.get(raw(der, subject));
  checkSpki(der, spki);
  const extensions = extensionsOf(der, extensionsField(der, f.slice(7)));
  // Decoded here, so that an undecodable value makes the certificate unparsable (bad-certificate), as on the device.
  const ku = extensions.find((e) => e.oid === OID_KEY_USAGE);
  const bc = extensions.find((e) => e.oid === OID_BASIC_CONSTRAINTS);
  return {
    tbs: raw(der, tbs),
    sigAlgOid: oidOf(der, sigAlgOid),
    sigAlgMatchesTbs: raw(der, tbsSigAlg!).equals(raw(der, sigAlgEl!)),
    signature: der.subarray(sigEl.contentStart + 1, sigEl.end),
    signatureUnusedBits: der[sigEl.contentStart]!,
    serialHex: content(der, serial).toString('hex').replace(/^0+/, '') || '0',
    issuer: raw(der, issuer),
    subject: raw(der, subject),
    spki: raw(der, spki!),
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
