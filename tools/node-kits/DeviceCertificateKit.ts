// Node implementation of the `cert` subset of @kit.DeviceCertificateKit (@ohos.security.cert, API 12) that the
// project uses, built on @peculiar/asn1-x509 (the ASN.1 schema under @peculiar/x509) for the certificate structure
// and node:crypto for keys, signatures, validity times and OpenSSL's own d2i_X509 (so that what the device's parser
// refuses is refused here too). It models what the device's certificate framework does, which is OpenSSL
// behind a thin C layer (OpenHarmony security_certificate_framework: frameworks/adapter/v1.0/src/
// x509_certificate_openssl.c for X509Cert, cf_adapter_cert_openssl.c for getItem, cf_adapter_extension_openssl.c for
// CertExtension; error codes from "Certificate Error Codes", errorcode-cert.md):
// - cert.createX509Cert({data, encodingFormat}) reads ONE certificate (d2i_X509_bio: bytes after it are ignored);
//   input that is no certificate fails with 401 (OpensslX509CertSpiCreate returns CF_INVALID_PARAMS);
// - getNotBeforeTime()/getNotAfterTime() are ASN1_TIME_normalize'd strings: UTCTime 'YYMMDDHHMMSSZ' for 1950–2049,
//   GeneralizedTime 'YYYYMMDDHHMMSSZ' otherwise (js-apis-cert: "in an ASN.1 time format, UTCTime or
//   GeneralizedTime");
// - getItem(CERT_ITEM_TYPE_TBS) RE-ENCODES tbsCertificate (i2d_re_X509_tbs): for a DER certificate that is its own
//   bytes, for a BER one (explicit DEFAULT FALSE, long-form short lengths) it is not; getEncoded() re-encodes the
//   outer SEQUENCE around the original tbsCertificate (i2d_X509 keeps the cached encoding of cert_info);
// - getKeyUsage() is one byte (0/1) per named bit and fails with 19030001 when the certificate has no keyUsage;
//   getBasicConstraints() is the pathLenConstraint, or -1 for "no extension", "not a CA" AND "CA without pathLen";
//   match({minPathLenConstraint: -2}) is true when cA is FALSE or basicConstraints is absent;
// - CertExtension.getOidList() lists dotted OIDs as bytes; getEntry() looks extensions up by OpenSSL NID, so it fails
//   (401) for an OID OpenSSL does not know, and (19030001) when any extension of the list has no NID (the Huawei IAP
//   leaf OID has none); checkCA() needs keyUsage and basicConstraints (19030001 otherwise) and answers -1 (not a CA),
//   -2 (CA, no pathLen limit) or the pathLen; hasUnsupportedCriticalExtension() compares critical OIDs with the
//   framework's table of 27 known extensions;
// - DataBlob is {data: Uint8Array}, EncodingBlob {data, encodingFormat}, DataArray {data: Uint8Array[]}.
// CRLs, chains, trust anchors and PKCS#7 are not needed by the project and throw 801 here.
import * as crypto from 'node:crypto';
import * as asn1js from 'asn1js';
import { AsnConvert, AsnParser } from '@peculiar/asn1-schema';
import { BasicConstraints, Certificate, Extensions, KeyUsage, Name } from '@peculiar/asn1-x509';
import { BusinessError } from './BasicServicesKit';
import { publicKeyFromSpki, type cryptoFramework } from './CryptoArchitectureKit';

const E_INVALID_PARAMS = 401;
const E_NOT_SUPPORT = 801;
const E_CRYPTO_OPERATION = 19030001;
const OID_KEY_USAGE = '2.5.29.15';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';

/** OID_TO_EXT_NAME_MAP of cf_adapter_extension_openssl.c: the extensions hasUnsupportedCriticalExtension() knows. */
const SUPPORTED_EXTENSIONS = new Set([
  '2.5.29.9', '2.5.29.14', '2.5.29.15', '2.5.29.16', '2.5.29.17', '2.5.29.18', '2.5.29.19', '2.5.29.20', '2.5.29.21',
  '2.5.29.23', '2.5.29.24', '2.5.29.27', '2.5.29.28', '2.5.29.29', '2.5.29.30', '2.5.29.31', '2.5.29.32', '2.5.29.33',
  '2.5.29.35', '2.5.29.36', '2.5.29.37', '2.5.29.46', '2.5.29.54', '1.3.6.1.5.5.7.1.1', '1.3.6.1.5.5.7.1.11',
  '1.3.6.1.5.5.7.48.1.5', '2.16.840.1.113730.1.1',
]);

/** Extension OIDs that have an OpenSSL NID (what getEntry can look up): the table above and the usual others. */
const OPENSSL_NID_EXTENSIONS = new Set([...SUPPORTED_EXTENSIONS, '1.3.6.1.4.1.11129.2.4.2', '1.3.6.1.5.5.7.1.24']);

// Enum values as in @ohos.security.cert.d.ts.
enum CertResult {
  INVALID_PARAMS = 401,
  NOT_SUPPORT = 801,
  ERR_OUT_OF_MEMORY = 19020001,
  ERR_RUNTIME_ERROR = 19020002,
  ERR_CRYPTO_OPERATION = 19030001,
  ERR_CERT_SIGNATURE_FAILURE = 19030002,
  ERR_CERT_NOT_YET_VALID = 19030003,
  ERR_CERT_HAS_EXPIRED = 19030004,
  ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 19030005,
  ERR_KEYUSAGE_NO_CERTSIGN = 19030006,
  ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE = 19030007,
}

enum EncodingFormat {
  FORMAT_DER = 0,
  FORMAT_PEM = 1,
  FORMAT_PKCS7 = 2,
}

enum CertItemType {
  CERT_ITEM_TYPE_TBS = 0,
  CERT_ITEM_TYPE_PUBLIC_KEY = 1,
  CERT_ITEM_TYPE_ISSUER_UNIQUE_ID = 2,
  CERT_ITEM_TYPE_SUBJECT_UNIQUE_ID = 3,
  CERT_ITEM_TYPE_EXTENSIONS = 4,
}

enum ExtensionOidType {
  EXTENSION_OID_TYPE_ALL = 0,
  EXTENSION_OID_TYPE_CRITICAL = 1,
  EXTENSION_OID_TYPE_UNCRITICAL = 2,
}

enum ExtensionEntryType {
  EXTENSION_ENTRY_TYPE_ENTRY = 0,
  EXTENSION_ENTRY_TYPE_ENTRY_CRITICAL = 1,
  EXTENSION_ENTRY_TYPE_ENTRY_VALUE = 2,
}

interface DataBlob {
  data: Uint8Array;
}

interface DataArray {
  data: Uint8Array[];
}

interface EncodingBlob {
  data: Uint8Array;
  encodingFormat: EncodingFormat;
}

interface X509CertMatchParameters {
  minPathLenConstraint?: number;
  [other: string]: unknown;
}

function cryptoError(what: string): BusinessError {
  return new BusinessError(E_CRYPTO_OPERATION, `crypto operation error. ${what}`);
}

function bytes(buffer: ArrayBuffer | Uint8Array): Uint8Array {
  return buffer instanceof Uint8Array ? new Uint8Array(buffer) : new Uint8Array(buffer.slice(0));
}

/** DER TLV header + content (minimal length form), for the outer SEQUENCE getEncoded() rebuilds. */
function tlv(tag: number, content: Uint8Array): Uint8Array {
  const n = content.length;
  const head = n < 0x80 ? [tag, n] : n < 0x100 ? [tag, 0x81, n] : n < 0x10000 ? [tag, 0x82, n >> 8, n & 0xff] :
    [tag, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  const out = new Uint8Array(head.length + n);
  out.set(head, 0);
  out.set(content, head.length);
  return out;
}

function pad2(n: number): string {
  return n.toString().padStart(2, '0');
}

/** ASN1_TIME_normalize: UTCTime for 1950–2049, GeneralizedTime otherwise, seconds precision, 'Z'. */
function asn1TimeString(date: Date): string {
  const year = date.getUTCFullYear();
  const rest = `${pad2(date.getUTCMonth() + 1)}${pad2(date.getUTCDate())}${pad2(date.getUTCHours())}` +
    `${pad2(date.getUTCMinutes())}${pad2(date.getUTCSeconds())}Z`;
  return year >= 1950 && year <= 2049 ? `${pad2(year % 100)}${rest}` : `${year.toString().padStart(4, '0')}${rest}`;
}

/** ASN1_TIME_set_string: 'YYMMDDHHMMSSZ' or 'YYYYMMDDHHMMSSZ'; undefined when it is neither. */
function parseAsn1Time(text: string): number | undefined {
  const m = /^(\d{2}|\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m) return undefined;
  const yy = Number(m[1]);
  const year = m[1]!.length === 2 ? (yy >= 50 ? 1900 + yy : 2000 + yy) : yy;
  const [month, day, hour, minute, second] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number];
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const d = new Date(ms);
  if (d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) return undefined;
  return ms;
}

/**
 * A validity time as OpenSSL reads it (ASN1_TIME_to_tm, through node:crypto's ASN1_TIME_print text): it also takes
 * times DER forbids (no seconds, fractions, offsets), which ASN1_TIME_normalize turns into whole seconds in UTC; a
 * time it cannot read fails (19030001).
 */
function timeOf(printed: string): Date {
  // ASN1_TIME_print: 'Mmm dd hh:mm:ss[.fff] yyyy GMT' ('Bad time value' when it cannot read it). Parsed by hand:
  // Date would read the years 0–99 as 19xx/20xx.
  const m = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.\d+)? (\d{1,4}) GMT$/.exec(printed);
  const month = m ? MONTHS.indexOf(m[1]!) : -1;
  if (!m || month < 0) throw cryptoError(`Failed to normalize asn1 time: ${printed}.`);
  const d = new Date(Date.UTC(2000, month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])));
  d.setUTCFullYear(Number(m[6]));
  return d;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function checkBlob(blob: unknown, name: string): Uint8Array {
  const data = (blob as DataBlob | null | undefined)?.data;
  if (!(data instanceof Uint8Array)) {
    throw new BusinessError(E_INVALID_PARAMS, `invalid params. ${name} must be a blob {data: Uint8Array}.`);
  }
  return data;
}

/** Bytes of tbsCertificate fields as they were decoded (OpenSSL keeps a Name's original encoding). */
interface RawFields {
  /** The whole certificate when it is DER (then i2d_X509 gives exactly these bytes), undefined otherwise. */
  certificate: Uint8Array | undefined;
  issuer: Uint8Array;
  subject: Uint8Array;
  spki: Uint8Array;
  /**
   * The Extensions SEQUENCE as it stands when the tbsCertificate is DER (its i2d gives these bytes back, so the
   * kit's answer is the same without the cost of re-encoding), undefined otherwise.
   */
  extensions: Uint8Array | undefined;
  /** What X509_verify reads, for a DER certificate (undefined otherwise: verify() then asks OpenSSL itself). */
  signed: SignedParts | undefined;
}

interface SignedParts {
  tbs: Uint8Array;
  /** tbsCertificate's signature AlgorithmIdentifier and the outer signatureAlgorithm, as encoded. */
  innerAlgorithm: Uint8Array;
  outerAlgorithm: Uint8Array;
  unusedBits: number;
  signature: Uint8Array;
}

/** DER AlgorithmIdentifier (no parameters, RFC 5758) of ecdsa-with-SHA256/384/512 → digest. */
const ECDSA_ALGORITHMS = new Map([
  ['300a06082a8648ce3d040302', 'sha256'], ['300a06082a8648ce3d040303', 'sha384'], ['300a06082a8648ce3d040304', 'sha512'],
]);

class X500DistinguishedName {
  /** @internal */
  constructor(private readonly name: Name, private readonly der: Uint8Array) {}

  /** i2d_X509_NAME: the cached encoding the name was decoded from. */
  getEncoded(): EncodingBlob {
    return { data: new Uint8Array(this.der), encodingFormat: EncodingFormat.FORMAT_DER };
  }

  /** X509_NAME_oneline-like text ('/C=CN/O=…/CN=…'). */
  getName(): string {
    return this.name.map((rdn) => rdn.map((a) => `/${a.type}=${a.value.toString()}`).join('')).join('');
  }
}

class CertExtension {
  /** @internal */
  constructor(private readonly exts: Extensions, private readonly der?: Uint8Array) {}

  getEncoded(): EncodingBlob {
    const data = this.der !== undefined ? new Uint8Array(this.der) : bytes(AsnConvert.serialize(this.exts));
    return { data, encodingFormat: EncodingFormat.FORMAT_DER };
  }

  getOidList(valueType: ExtensionOidType): DataArray {
    if (valueType !== ExtensionOidType.EXTENSION_OID_TYPE_ALL && valueType !== ExtensionOidType.EXTENSION_OID_TYPE_CRITICAL &&
      valueType !== ExtensionOidType.EXTENSION_OID_TYPE_UNCRITICAL) {
      throw new BusinessError(E_INVALID_PARAMS, 'invalid params. valueType is not an ExtensionOidType.');
    }
    const picked = this.exts.filter((e) => valueType === ExtensionOidType.EXTENSION_OID_TYPE_ALL ||
      (valueType === ExtensionOidType.EXTENSION_OID_TYPE_CRITICAL) === e.critical);
    return { data: picked.map((e) => new Uint8Array(Buffer.from(e.extnID, 'latin1'))) };
  }

  getEntry(valueType: ExtensionEntryType, oid: DataBlob): DataBlob {
    const wanted = Buffer.from(checkBlob(oid, 'oid')).toString('latin1');
    if (!OPENSSL_NID_EXTENSIONS.has(wanted)) {
      throw new BusinessError(E_INVALID_PARAMS, `invalid params. OID ${wanted} has no NID.`);
    }
    if (this.exts.some((e) => !OPENSSL_NID_EXTENSIONS.has(e.extnID))) {
      throw cryptoError('an extension of the certificate has no NID.');
    }
    const found = this.exts.find((e) => e.extnID === wanted);
    if (!found) throw cryptoError(`no extension ${wanted}.`);
    if (valueType === ExtensionEntryType.EXTENSION_ENTRY_TYPE_ENTRY) return { data: bytes(AsnConvert.serialize(found)) };
    if (valueType === ExtensionEntryType.EXTENSION_ENTRY_TYPE_ENTRY_CRITICAL) return { data: new Uint8Array([found.critical ? 1 : 0]) };
    if (valueType === ExtensionEntryType.EXTENSION_ENTRY_TYPE_ENTRY_VALUE) return { data: bytes(AsnConvert.serialize(found.extnValue)) };
    throw new BusinessError(E_INVALID_PARAMS, 'invalid params. valueType is not an ExtensionEntryType.');
  }

  checkCA(): number {
    const ku = decodeOnly(this.exts, OID_KEY_USAGE, KeyUsage);
    if (ku === undefined) throw cryptoError('no keyUsage.');
    if ((ku.toNumber() & 0x20) === 0) return -1;
    const bc = decodeOnly(this.exts, OID_BASIC_CONSTRAINTS, BasicConstraints);
    if (bc === undefined) throw cryptoError('no basicConstraints.');
    if (!bc.cA) return -1;
    return bc.pathLenConstraint === undefined ? -2 : bc.pathLenConstraint;
  }

  hasUnsupportedCriticalExtension(): boolean {
    if (this.exts.length === 0) throw cryptoError('no extension.');
    return this.exts.some((e) => e.critical && !SUPPORTED_EXTENSIONS.has(e.extnID));
  }
}

/**
 * X509_get_ext_d2i: the decoded extension `oid`, undefined when it is absent, appears more than once or does not
 * decode (OpenSSL answers NULL in all three cases).
 */
function decodeOnly<T>(exts: Extensions | undefined, oid: string, type: new () => T): T | undefined {
  const found = (exts ?? []).filter((e) => e.extnID === oid);
  if (found.length !== 1) return undefined;
  try {
    return AsnParser.parse(found[0]!.extnValue, type);
  } catch {
    return undefined;
  }
}

/**
 * The key object of getPublicKey() (X509CertPublicKeyOpensslClass in x509_certificate_openssl.c): getEncoded() is
 * i2d_PUBKEY, getAlgorithm/getFormat are not supported (NULL there, undefined here).
 */
class CertPublicKey {
  readonly algName: string | undefined = undefined;
  readonly format: string | undefined = undefined;

  /** @internal */
  constructor(readonly keyObject: crypto.KeyObject) {}

  getEncoded(): DataBlob {
    return { data: new Uint8Array(this.keyObject.export({ type: 'spki', format: 'der' })) };
  }
}

class X509Cert {
  private nodeCert: crypto.X509Certificate | undefined;

  /**
   * @internal
   * @param tbsIsDer whether tbsCertificate is DER already, i.e. whether i2d_re_X509_tbs gives its own bytes back
   */
  constructor(private readonly asn: Certificate, private readonly tbsIsDer: boolean, private readonly raw: RawFields) {}

  private get tbs(): Certificate['tbsCertificate'] {
    return this.asn.tbsCertificate;
  }

  /** @internal the OpenSSL reading createX509Cert made of the same bytes */
  adoptOpenssl(openssl: crypto.X509Certificate): void {
    this.nodeCert = openssl;
  }

  /** node:crypto's view of the same bytes (OpenSSL), for signatures and the public key. */
  private node(): crypto.X509Certificate {
    this.nodeCert ??= new crypto.X509Certificate(this.encoded());
    return this.nodeCert;
  }

  async verify(key: cryptoFramework.PubKey): Promise<void> {
    // VerifyX509Openssl takes only the key class of the certificate framework (another X509Cert's getPublicKey());
    // a cryptoFramework key (convertKey) is refused as a wrong class (CF_INVALID_PARAMS).
    if (!(key instanceof CertPublicKey)) {
      throw new BusinessError(E_INVALID_PARAMS, 'invalid params. key must come from X509Cert.getPublicKey().');
    }
    const keyObject = key.keyObject;
    let ok = false;
    try {
      ok = this.ecdsaVerify(keyObject) ?? this.node().verify(keyObject);
    } catch {
      ok = false;
    }
    // X509_verify failing is CF_ERR_CRYPTO_OPERATION (VerifyX509Openssl): a wrong key and a broken signature alike.
    if (!ok) throw cryptoError('Failed to verify x509 cert\'s signature.');
  }

  /**
   * X509_verify for the common case, an ECDSA signature (no parameters) of a DER certificate checked with an EC key,
   * without OpenSSL's full parse of the certificate (the stand-in's cost, native on a device): the two algorithm
   * fields identical (X509_ALGOR_cmp), a BIT STRING of whole bytes (ASN1_item_verify), the signature over the
   * encoded tbsCertificate. undefined for anything else, which node:crypto's X509Certificate.verify (X509_verify
   * itself) decides.
   */
  private ecdsaVerify(key: crypto.KeyObject): boolean | undefined {
    const signed = this.raw.signed;
    const digest = signed === undefined ? undefined : ECDSA_ALGORITHMS.get(Buffer.from(signed.outerAlgorithm).toString('hex'));
    if (signed === undefined || digest === undefined || key.asymmetricKeyType !== 'ec') return undefined;
    if (!Buffer.from(signed.innerAlgorithm).equals(signed.outerAlgorithm) || signed.unusedBits !== 0) return false;
    return crypto.verify(digest, signed.tbs, { key, dsaEncoding: 'der' }, signed.signature);
  }

  async getEncoded(): Promise<EncodingBlob> {
    return { data: this.encoded(), encodingFormat: EncodingFormat.FORMAT_DER };
  }

  /** i2d_X509: the outer SEQUENCE and signature re-encoded around the cached tbsCertificate encoding. */
  private encoded(): Uint8Array {
    if (this.raw.certificate !== undefined) return new Uint8Array(this.raw.certificate);
    const tbsRaw = this.asn.tbsCertificateRaw ? bytes(this.asn.tbsCertificateRaw) : bytes(AsnConvert.serialize(this.tbs));
    const alg = bytes(AsnConvert.serialize(this.asn.signatureAlgorithm));
    const sig = new Uint8Array(this.asn.signatureValue.byteLength + 1);
    sig.set(new Uint8Array(this.asn.signatureValue), 1);
    const body = new Uint8Array(tbsRaw.length + alg.length + sig.length + 8);
    let at = 0;
    for (const part of [tbsRaw, alg, tlv(0x03, sig)]) {
      body.set(part, at);
      at += part.length;
    }
    return tlv(0x30, body.subarray(0, at));
  }

  /**
   * GetPublicKeyX509Openssl: X509_get_pubkey wrapped in the framework's own key class (X509CertPublicKeyOpensslClass),
   * which only X509Cert.verify takes: cryptoFramework's verifiers check the key class and refuse it, so the device
   * code converts the SPKI (convertKey) for its own signatures. A key OpenSSL cannot decode (a point off the curve)
   * fails with 19030001.
   */
  getPublicKey(): cryptoFramework.PubKey {
    let keyObject: crypto.KeyObject;
    try {
      keyObject = publicKeyFromSpki(Buffer.from(this.raw.spki));
    } catch (e) {
      throw cryptoError(`Failed to get public key from x509 cert: ${(e as Error).message}`);
    }
    return new CertPublicKey(keyObject) as unknown as cryptoFramework.PubKey;
  }

  checkValidityWithDate(date: string): void {
    if (typeof date !== 'string') throw new BusinessError(E_INVALID_PARAMS, 'invalid params. date must be a string.');
    const at = parseAsn1Time(date);
    if (at === undefined) throw cryptoError('Failed to set time for asn1 time.');
    if (at < timeOf(this.node().validFrom).getTime()) {
      throw new BusinessError(CertResult.ERR_CERT_NOT_YET_VALID, 'the certificate has not taken effect.');
    }
    if (at > timeOf(this.node().validTo).getTime()) {
      throw new BusinessError(CertResult.ERR_CERT_HAS_EXPIRED, 'the certificate has expired.');
    }
  }

  getVersion(): number {
    return this.tbs.version + 1;
  }

  getNotBeforeTime(): string {
    return asn1TimeString(timeOf(this.node().validFrom));
  }

  getNotAfterTime(): string {
    return asn1TimeString(timeOf(this.node().validTo));
  }

  getSignature(): DataBlob {
    return { data: bytes(this.asn.signatureValue) };
  }

  getSignatureAlgOid(): string {
    return this.asn.signatureAlgorithm.algorithm;
  }

  getKeyUsage(): DataBlob {
    const ku = decodeOnly(this.tbs.extensions, OID_KEY_USAGE, KeyUsage);
    if (ku === undefined || ku.value.byteLength === 0) throw cryptoError('Failed to get x509 keyUsage in openssl!');
    const octets = new Uint8Array(ku.value);
    const length = octets.length * 8 - ku.unusedBits;
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = (octets[i >> 3]! >> (7 - (i & 7))) & 1;
    return { data: out };
  }

  getBasicConstraints(): number {
    const bc = decodeOnly(this.tbs.extensions, OID_BASIC_CONSTRAINTS, BasicConstraints);
    // INVALID_CONSTRAINTS_LEN (-1) for no extension, not a CA, and a CA without pathLenConstraint.
    if (bc === undefined || !bc.cA || bc.pathLenConstraint === undefined || bc.pathLenConstraint < 0) return -1;
    return bc.pathLenConstraint;
  }

  getItem(itemType: CertItemType): DataBlob {
    switch (itemType) {
      case CertItemType.CERT_ITEM_TYPE_TBS:
        // i2d_re_X509_tbs: re-encoded, so a BER tbsCertificate does not come back byte for byte.
        return { data: this.tbsIsDer && this.asn.tbsCertificateRaw ? bytes(this.asn.tbsCertificateRaw) :
          bytes(AsnConvert.serialize(this.tbs)) };
      case CertItemType.CERT_ITEM_TYPE_PUBLIC_KEY:
        // i2d_PUBKEY re-encodes the key: for a DER certificate, the bytes it carries.
        return { data: this.tbsIsDer ? new Uint8Array(this.raw.spki) : bytes(AsnConvert.serialize(this.tbs.subjectPublicKeyInfo)) };
      case CertItemType.CERT_ITEM_TYPE_EXTENSIONS:
        if (!this.tbs.extensions || this.tbs.extensions.length === 0) throw cryptoError('No extension in certificate!');
        return { data: this.raw.extensions !== undefined ? new Uint8Array(this.raw.extensions) : bytes(AsnConvert.serialize(this.tbs.extensions)) };
      case CertItemType.CERT_ITEM_TYPE_ISSUER_UNIQUE_ID:
      case CertItemType.CERT_ITEM_TYPE_SUBJECT_UNIQUE_ID: {
        const uid = itemType === CertItemType.CERT_ITEM_TYPE_ISSUER_UNIQUE_ID ? this.tbs.issuerUniqueID : this.tbs.subjectUniqueID;
        if (!uid) throw cryptoError('no unique identifier.');
        return { data: bytes(AsnConvert.serialize(uid)) };
      }
      default:
        throw new BusinessError(E_INVALID_PARAMS, 'invalid params. itemType is not a CertItemType.');
    }
  }

  match(param: X509CertMatchParameters): boolean {
    for (const key of Object.keys(param ?? {})) {
      if (key !== 'minPathLenConstraint') throw new BusinessError(E_NOT_SUPPORT, `Node shim: match(${key}) is not implemented.`);
    }
    const min = param.minPathLenConstraint;
    if (min === undefined || (min < 0 && min !== -2)) return true;
    // DetailForMinPathLenConstraint looks at the FIRST basicConstraints extension.
    const ext = (this.tbs.extensions ?? []).find((e) => e.extnID === OID_BASIC_CONSTRAINTS);
    let bc: BasicConstraints | undefined;
    try {
      bc = ext === undefined ? undefined : AsnParser.parse(ext.extnValue, BasicConstraints);
    } catch {
      return false;
    }
    if (min === -2) return bc === undefined || !bc.cA;
    return bc !== undefined && bc.cA && (bc.pathLenConstraint === undefined || bc.pathLenConstraint >= min);
  }

  getIssuerX500DistinguishedName(): X500DistinguishedName {
    return new X500DistinguishedName(this.tbs.issuer, this.raw.issuer);
  }

  getSubjectX500DistinguishedName(): X500DistinguishedName {
    return new X500DistinguishedName(this.tbs.subject, this.raw.subject);
  }

  getExtensionsObject(): CertExtension {
    // i2d of an absent extension list gives nothing, from which no CertExtension can be created.
    if (!this.tbs.extensions || this.tbs.extensions.length === 0) throw cryptoError('the certificate has no extensions.');
    return new CertExtension(this.tbs.extensions, this.raw.extensions);
  }
}

const UNIVERSAL_BOOLEAN = 1;
/** Types DER encodes primitive only (BIT STRING, OCTET STRING and the character strings). */
const PRIMITIVE_ONLY = new Set([3, 4, 12, 18, 19, 20, 21, 22, 25, 26, 27, 28, 30]);

/** asn1js's warnings that mean "BER, not DER" (it also warns about integers too big for a JS number: not a defect). */
function blockWarnings(block: { warnings?: string[] } | undefined): number {
  return (block?.warnings ?? []).filter((w) => !w.startsWith('Too big Integer')).length;
}

/**
 * Whether the length octets of the TLV `raw` are in their shortest form (X.690 10.1): asn1js does not flag a long
 * form whose first length byte is 0 (83 00 01 23).
 */
function lengthIsMinimal(raw: Uint8Array): boolean {
  let at = 1;
  if ((raw[0]! & 0x1f) === 0x1f) while (at < raw.length && (raw[at++]! & 0x80) !== 0);
  const first = raw[at];
  if (first === undefined || first < 0x80) return true;
  const count = first & 0x7f;
  return count > 0 && raw[at + 1] !== 0 && !(count === 1 && raw[at + 1]! < 0x80);
}

/**
 * Whether asn1js decoded `node` from DER (X.690 §10): definite minimal lengths, minimal integers, BOOLEAN as 00/FF,
 * strings primitive; and, for the extension list (`extensions`), no explicit DEFAULT FALSE critical flag. This is
 * what decides whether OpenSSL's re-encoding of the parsed tbsCertificate equals its bytes.
 */
function isDer(node: asn1js.AsnType, extensions = false): boolean {
  const n = node as unknown as {
    idBlock: { tagClass: number; tagNumber: number; isConstructed: boolean; warnings?: string[] };
    lenBlock: { isIndefiniteForm: boolean; warnings?: string[] };
    valueBlock: { value?: asn1js.AsnType[]; valueHexView?: Uint8Array; warnings?: string[] };
  };
  if (n.lenBlock.isIndefiniteForm || blockWarnings(n.lenBlock) + blockWarnings(n.idBlock) + blockWarnings(n.valueBlock) > 0 ||
    !lengthIsMinimal((node as unknown as { valueBeforeDecodeView: Uint8Array }).valueBeforeDecodeView)) {
    return false;
  }
  const universal = n.idBlock.tagClass === 1;
  if (universal && n.idBlock.tagNumber === UNIVERSAL_BOOLEAN) {
    const v = n.valueBlock.valueHexView;
    return v !== undefined && v.length === 1 && (v[0] === 0x00 || v[0] === 0xff);
  }
  if (universal && n.idBlock.isConstructed && PRIMITIVE_ONLY.has(n.idBlock.tagNumber)) return false;
  const children = n.idBlock.isConstructed ? n.valueBlock.value ?? [] : [];
  if (extensions) {
    // Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
    for (const ext of children) {
      const parts = ((ext as unknown as { valueBlock: { value?: asn1js.AsnType[] } }).valueBlock.value ?? []);
      const flag = parts.length === 3 ? (parts[1] as unknown as { idBlock: { tagNumber: number }; valueBlock: { valueHexView?: Uint8Array } }) : undefined;
      if (flag !== undefined && flag.idBlock.tagNumber === UNIVERSAL_BOOLEAN && flag.valueBlock.valueHexView?.[0] === 0x00) {
        return false;
      }
    }
  }
  return children.every((c) => isDer(c, false));
}

/** tbsCertificate's extension list: the SEQUENCE inside its [3] field, if any. */
function extensionsNode(tbs: asn1js.AsnType): asn1js.AsnType | undefined {
  const fields = (tbs as unknown as { valueBlock: { value?: asn1js.AsnType[] } }).valueBlock.value ?? [];
  const tagged = fields.find((f) => {
    const id = (f as unknown as { idBlock: { tagClass: number; tagNumber: number } }).idBlock;
    return id.tagClass === 3 && id.tagNumber === 3;
  });
  return tagged === undefined ? undefined : ((tagged as unknown as { valueBlock: { value?: asn1js.AsnType[] } }).valueBlock.value ?? [])[0];
}

/** The first certificate in `der` (d2i_X509_bio reads one object; what follows is not looked at). */
function parseDer(der: Uint8Array): X509Cert {
  // d2i_X509 itself: what OpenSSL refuses (a field too many or missing, an empty INTEGER, a malformed name string…)
  // fails on the device whatever a JavaScript schema accepts. node:crypto reads exactly one certificate; bytes after
  // it are cut off first, as d2i_X509_bio ignores them.
  let openssl: crypto.X509Certificate;
  let decoded: ReturnType<typeof asn1js.fromBER>;
  try {
    openssl = new crypto.X509Certificate(der.subarray(0, firstElementLength(der)));
    decoded = asn1js.fromBER(der);
  } catch (e) {
    throw new BusinessError(E_INVALID_PARAMS, `invalid params. create X509Cert failed: ${(e as Error).message}`);
  }
  const cert = parseAsn(der, decoded);
  cert.adoptOpenssl(openssl);
  return cert;
}

/** Length of the definite-length TLV at the start of `der` (all of `der` for anything else: OpenSSL then judges). */
function firstElementLength(der: Uint8Array): number {
  const first = der[1];
  if (der.length < 2 || first === undefined || first === 0x80) return der.length;
  if (first < 0x80) return Math.min(der.length, 2 + first);
  const count = first & 0x7f;
  let length = 0;
  for (let i = 0; i < count; i++) length = length * 256 + (der[2 + i] ?? 0);
  return Math.min(der.length, 2 + count + length);
}

function parseAsn(der: Uint8Array, decoded: ReturnType<typeof asn1js.fromBER>): X509Cert {
  let asn: Certificate;
  try {
    if (decoded.offset === -1) throw new Error(decoded.result.error);
    asn = AsnParser.fromASN(decoded.result, Certificate);
  } catch (e) {
    throw new BusinessError(E_INVALID_PARAMS, `invalid params. create X509Cert failed: ${(e as Error).message}`);
  }
  const tbs = ((decoded.result as unknown as { valueBlock: { value: asn1js.AsnType[] } }).valueBlock.value)[0]!;
  const exts = extensionsNode(tbs);
  const tbsIsDer = isDer(tbs) && (exts === undefined || isDer(exts, true));
  // OpenSSL refuses integers with illegal padding (c2i_ASN1_INTEGER) and BER booleans in its template decoder only in
  // some places; asn1js flags both as warnings, which isDer() reads. A padded serial number fails d2i on a device.
  const serial = new Uint8Array(asn.tbsCertificate.serialNumber);
  if (serial.length > 1 && ((serial[0] === 0 && (serial[1]! & 0x80) === 0) || (serial[0] === 0xff && (serial[1]! & 0x80) !== 0))) {
    throw new BusinessError(E_INVALID_PARAMS, 'invalid params. create X509Cert failed: illegal padding in serialNumber.');
  }
  const fields = (tbs as unknown as { valueBlock: { value: asn1js.AsnType[] } }).valueBlock.value;
  const first = (fields[0] as unknown as { idBlock: { tagClass: number } }).idBlock.tagClass === 3 ? 1 : 0;
  const rawOf = (i: number): Uint8Array => (fields[first + i] as unknown as { valueBeforeDecodeView: Uint8Array }).valueBeforeDecodeView;
  // serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
  const outer = decoded.result as unknown as { lenBlock: { isIndefiniteForm: boolean; warnings?: string[] };
    valueBlock: { value: asn1js.AsnType[] }; valueBeforeDecodeView: Uint8Array };
  const certIsDer = tbsIsDer && !outer.lenBlock.isIndefiniteForm && blockWarnings(outer.lenBlock) === 0 &&
    lengthIsMinimal(outer.valueBeforeDecodeView) &&
    outer.valueBlock.value.slice(1).every((c) => isDer(c));
  const extensionsRaw = tbsIsDer && exts !== undefined ? (exts as unknown as { valueBeforeDecodeView: Uint8Array }).valueBeforeDecodeView : undefined;
  const viewOf = (b: asn1js.AsnType): Uint8Array => (b as unknown as { valueBeforeDecodeView: Uint8Array }).valueBeforeDecodeView;
  const bits = outer.valueBlock.value[2] as unknown as { valueBlock: { unusedBits: number; valueHexView: Uint8Array } };
  return new X509Cert(asn, tbsIsDer, {
    certificate: certIsDer ? outer.valueBeforeDecodeView : undefined,
    issuer: rawOf(2),
    subject: rawOf(4),
    spki: rawOf(5),
    extensions: extensionsRaw,
    signed: certIsDer ? {
      tbs: viewOf(tbs),
      innerAlgorithm: rawOf(1),
      outerAlgorithm: viewOf(outer.valueBlock.value[1]!),
      unusedBits: bits.valueBlock.unusedBits,
      signature: bits.valueBlock.valueHexView,
    } : undefined,
  });
}

async function createX509Cert(inStream: EncodingBlob): Promise<X509Cert> {
  const data = checkBlob(inStream, 'inStream');
  const format = inStream.encodingFormat;
  if (format === EncodingFormat.FORMAT_DER) return parseDer(data);
  if (format === EncodingFormat.FORMAT_PEM) {
    const m = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*)-----END CERTIFICATE-----/.exec(Buffer.from(data).toString('latin1'));
    if (!m) throw new BusinessError(E_INVALID_PARAMS, 'invalid params. create X509Cert failed: no PEM certificate.');
    return parseDer(new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')));
  }
  throw new BusinessError(E_INVALID_PARAMS, 'invalid params. encodingFormat must be FORMAT_DER or FORMAT_PEM.');
}

function notImplemented(name: string): () => never {
  return () => {
    throw new BusinessError(E_NOT_SUPPORT, `Node shim: cert.${name} is not implemented.`);
  };
}

export const cert = {
  CertResult,
  EncodingFormat,
  CertItemType,
  ExtensionOidType,
  ExtensionEntryType,
  createX509Cert,
  createCertExtension: async (inStream: EncodingBlob): Promise<CertExtension> => {
    const data = checkBlob(inStream, 'inStream');
    try {
      return new CertExtension(AsnParser.parse(data, Extensions));
    } catch {
      throw cryptoError('Failed to get internal extension');
    }
  },
  createX509CRL: notImplemented('createX509CRL'),
  createCertChainValidator: notImplemented('createCertChainValidator'),
  createX509CertChain: notImplemented('createX509CertChain'),
};

// Type names as the ArkTS code refers to them (cert.X509Cert etc.).
// eslint-disable-next-line @typescript-eslint/no-namespace
export declare namespace cert {
  export type X509Cert = InstanceType<typeof X509CertClass>;
  export type CertExtension = InstanceType<typeof CertExtensionClass>;
  export type X500DistinguishedName = InstanceType<typeof X500DistinguishedNameClass>;
  export type EncodingBlob = { data: Uint8Array; encodingFormat: number };
  export type DataBlob = { data: Uint8Array };
  export type DataArray = { data: Uint8Array[] };
  export type X509CertMatchParameters = { minPathLenConstraint?: number };
}
const X509CertClass = X509Cert;
const CertExtensionClass = CertExtension;
const X500DistinguishedNameClass = X500DistinguishedName;

/**
 * Node only: the time spent inside this stand-in (its ASN.1 decoding in JavaScript), so the benchmarks can report
 * the verification core's own cost apart from it; on a device the kit is native code. Every kit function does its
 * work synchronously (createX509Cert parses before its promise is returned), so timing the calls is exact.
 */
export const certKitTime = { ms: 0, calls: 0 };
/** Kit calls in progress: a kit method calling another (getEncoded → encoded) is timed once, by the outer call. */
let kitDepth = 0;

function timed<F extends (...args: never[]) => unknown>(f: F): F {
  return function (this: unknown, ...args: never[]): unknown {
    if (kitDepth > 0) return f.apply(this, args);
    kitDepth++;
    const start = performance.now();
    try {
      return f.apply(this, args);
    } finally {
      kitDepth--;
      certKitTime.ms += performance.now() - start;
      certKitTime.calls++;
    }
  } as F;
}

for (const proto of [X509Cert.prototype, CertExtension.prototype, X500DistinguishedName.prototype] as unknown as Array<Record<string, unknown>>) {
  for (const name of Object.getOwnPropertyNames(proto)) {
    const d = Object.getOwnPropertyDescriptor(proto, name);
    if (name !== 'constructor' && d !== undefined && typeof d.value === 'function') {
      Object.defineProperty(proto, name, { ...d, value: timed(d.value as (...args: never[]) => unknown) });
    }
  }
}
cert.createX509Cert = timed(cert.createX509Cert);
