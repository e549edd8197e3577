// The certificate fields the verifier needs, read with @peculiar/x509 (and its @peculiar/asn1-x509 schema) instead of
// a hand-written DER reader: version, serial, issuer/subject Name DER, validity, SubjectPublicKeyInfo, the extension
// list, and the typed basicConstraints / keyUsage / CRL distribution points values. Anything the library cannot
// decode throws CertificateFormatError; callers map that to a "bad-certificate" rejection.
import 'reflect-metadata';
import * as crypto from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as x509 from '@peculiar/x509';

export class CertificateFormatError extends Error {}

export const OID_BASIC_CONSTRAINTS = '2.5.29.19';
export const OID_KEY_USAGE = '2.5.29.15';
export const OID_CRL_DP = '2.5.29.31';
/** KeyUsage flags as @peculiar/x509 numbers them (digitalSignature = 1 … keyCertSign = 32). */
export const KU_DIGITAL_SIGNATURE = x509.KeyUsageFlags.digitalSignature;
export const KU_KEY_CERT_SIGN = x509.KeyUsageFlags.keyCertSign;

/** Exposes the parsed TBSCertificate version, which @peculiar/x509 keeps on its protected `asn`. */
class ParsedCertificate extends x509.X509Certificate {
  /** X.509 version field: 0 = v1, 1 = v2, 2 = v3. */
  get versionNumber(): number {
    return this.asn.tbsCertificate.version;
  }

  /** The parsed certificate encoded again by the schema, which writes DER (minimal lengths, defaults omitted). */
  derReencoding(): Buffer {
    return Buffer.from(AsnConvert.serialize(this.asn));
  }
}

export interface CertExtension {
  /** Dotted OID. */
  oid: string;
  critical: boolean;
  /** extnValue contents (DER of the extension's own type). */
  value: Buffer;
}

export interface CertFields {
  /** The certificate as OpenSSL reads it (signatures, issuer checks). */
  cert: crypto.X509Certificate;
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
}

/**
 * Reads a DER certificate; v3 only, as on the device (v1/v2 certificates carry no extensions to check).
 * @param parsed the same bytes already read by node:crypto, when the caller has them
 */
export function parseCertFields(der: Buffer, parsed?: crypto.X509Certificate): CertFields {
  let node = parsed;
  let cert: ParsedCertificate;
  try {
    node ??= new crypto.X509Certificate(der);
    cert = new ParsedCertificate(der);
  } catch (e) {
    throw new CertificateFormatError(`not a DER X.509 certificate (${(e as Error).message})`);
  }
  // Both decoders stop at the end of the certificate SEQUENCE; OpenSSL's `raw` is that SEQUENCE, so a longer input
  // carries trailing bytes (one certificate, one encoding: the device refuses them too).
  if (node.raw.length !== der.length) throw new CertificateFormatError('trailing bytes after the certificate');
  if (cert.versionNumber !== 2) throw new CertificateFormatError('not an X.509 v3 certificate');
  // One certificate, one encoding, as on the device: BER forms (long-form short lengths, an explicit critical FALSE)
  // decode to the same fields, so they are found by comparing with the schema's DER encoding of those fields.
  if (!cert.derReencoding().equals(der)) throw new CertificateFormatError('not DER (a BER or non-canonical encoding)');
  const oids = new Set<string>();
  for (const e of cert.extensions) {
    if (oids.has(e.type)) throw new CertificateFormatError(`duplicate extension ${e.type}`);
    oids.add(e.type);
  }
  const notBefore = cert.notBefore.getTime();
  const notAfter = cert.notAfter.getTime();
  if (!Number.isFinite(notBefore) || !Number.isFinite(notAfter)) throw new CertificateFormatError('bad validity');
  return {
    cert: node,
    serialHex: cert.serialNumber.toLowerCase().replace(/^0+/, '') || '0',
    issuer: Buffer.from(cert.issuerName.toArrayBuffer()),
    subject: Buffer.from(cert.subjectName.toArrayBuffer()),
    spki: Buffer.from(cert.publicKey.rawData),
    notBefore,
    notAfter,
    extensions: cert.extensions.map((e) => ({ oid: e.type, critical: e.critical, value: Buffer.from(e.value) })),
  };
}

/** The extnValue of `oid`, or undefined. */
export function extensionValue(f: CertFields, oid: string): Buffer | undefined {
  return f.extensions.find((e) => e.oid === oid)?.value;
}

/** KeyUsage flags (KU_*), or undefined when the value does not decode. */
export function keyUsageFlags(value: Buffer): number | undefined {
  try {
    return new x509.KeyUsagesExtension(extensionDer(OID_KEY_USAGE, value)).usages;
  } catch {
    return undefined;
  }
}

/** basicConstraints cA; throws CertificateFormatError when the value does not decode. */
export function basicConstraintsCa(value: Buffer): boolean {
  try {
    return new x509.BasicConstraintsExtension(extensionDer(OID_BASIC_CONSTRAINTS, value)).ca;
  } catch (e) {
    throw new CertificateFormatError(`bad basicConstraints (${(e as Error).message})`);
  }
}

/** URIs of a CRLDistributionPoints value (fullName uniformResourceIdentifier entries only); [] when unreadable. */
export function crlDistributionUris(value: Buffer): string[] {
  let ext: x509.CRLDistributionPointsExtension;
  try {
    ext = new x509.CRLDistributionPointsExtension(extensionDer(OID_CRL_DP, value));
  } catch {
    return [];
  }
  const uris: string[] = [];
  for (const point of ext.distributionPoints) {
    for (const name of point.distributionPoint?.fullName ?? []) {
      if (name.uniformResourceIdentifier !== undefined) uris.push(name.uniformResourceIdentifier);
    }
  }
  return uris;
}

/** A whole Extension DER for one extnValue: the typed extension classes of @peculiar/x509 parse that form. */
function extensionDer(oid: string, value: Buffer): ArrayBuffer {
  return new x509.Extension(oid, false, value).rawData;
}
