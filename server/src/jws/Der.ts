// Minimal DER reader for the few certificate fields node:crypto's X509Certificate does not expose in a usable form:
// the validity window (as numbers) and the extension list (OID bytes + critical flag + value). Throws DerError on any
// malformed input; callers map that to a "bad-certificate" rejection.

export class DerError extends Error {}

interface Tlv {
  tag: number;
  head: number; // first byte of the TLV (the tag)
  start: number; // first content byte
  end: number; // one past the last content byte
}

function readTlv(buf: Uint8Array, pos: number, limit: number): Tlv {
  if (pos + 2 > limit) throw new DerError('truncated TLV');
  const tag = buf[pos]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tags not supported');
  let len = buf[pos + 1]!;
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new DerError('bad length');
    if (p + n > limit) throw new DerError('truncated length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    // DER: the shortest length form (BER long forms of short lengths are another encoding of the same certificate).
    if (len < 0x80 || buf[p] === 0) throw new DerError('non-minimal length (BER, not DER)');
    p += n;
  }
  if (p + len > limit) throw new DerError('truncated content');
  return { tag, head: pos, start: p, end: p + len };
}

function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let p = parent.start;
  while (p < parent.end) {
    const t = readTlv(buf, p, parent.end);
    out.push(t);
    p = t.end;
  }
  return out;
}

function parseTime(buf: Uint8Array, t: Tlv): number {
  const s = Buffer.from(buf.buffer, buf.byteOffset + t.start, t.end - t.start).toString('latin1');
  let m: RegExpExecArray | null;
  let year: number;
  if (t.tag === 0x17) {
    m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
    if (!m) throw new DerError('bad UTCTime');
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (t.tag === 0x18) {
    m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
    if (!m) throw new DerError('bad GeneralizedTime');
    year = Number(m[1]);
  } else {
    throw new DerError('bad time tag');
  }
  return Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

export interface CertExtension {
  /** DER content bytes of the OID (no tag/length). */
  oid: Buffer;
  critical: boolean;
  value: Buffer;
}

export interface CertFields {
  /** DER TBSCertificate (tag and length included): the signed bytes. */
  tbs: Buffer;
  /** Content bytes of the outer signatureAlgorithm OID. */
  sigAlgOid: Buffer;
  /** Signature bytes (BIT STRING content without the unused-bits byte). */
  signature: Buffer;
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

/** Parses the TBSCertificate of a DER certificate: validity and extensions. */
export function parseCertFields(der: Uint8Array): CertFields {
  const cert = readTlv(der, 0, der.length);
  if (cert.tag !== 0x30 || cert.end !== der.length) throw new DerError('not a certificate SEQUENCE');
  const tbs = readTlv(der, cert.start, cert.end);
  if (tbs.tag !== 0x30) throw new DerError('bad TBSCertificate');
  const sigAlg = readTlv(der, tbs.end, cert.end);
  if (sigAlg.tag !== 0x30) throw new DerError('bad signatureAlgorithm');
  const sigAlgOid = readTlv(der, sigAlg.start, sigAlg.end);
  if (sigAlgOid.tag !== 0x06) throw new DerError('bad signatureAlgorithm');
  const sigBits = readTlv(der, sigAlg.end, cert.end);
  if (sigBits.tag !== 0x03 || sigBits.end !== cert.end || sigBits.end - sigBits.start < 2 || der[sigBits.start] !== 0) {
    throw new DerError('bad signature BIT STRING');
  }
  const f = children(der, tbs);
  // [0] EXPLICIT version: v3 (2) only, as on the device (v1/v2 certificates carry no extensions to check).
  const version = f[0];
  const versionInt = version?.tag === 0xa0 ? children(der, version) : [];
  if (versionInt.length !== 1 || versionInt[0]!.tag !== 0x02 || versionInt[0]!.end - versionInt[0]!.start !== 1 ||
    der[versionInt[0]!.start] !== 2) {
    throw new DerError('not an X.509 v3 certificate');
  }
  let i = 1;
  const serial = f[i++];
  if (!serial || serial.tag !== 0x02) throw new DerError('bad serialNumber');
  i++; // signature
  const issuer = f[i++];
  if (!issuer || issuer.tag !== 0x30) throw new DerError('bad issuer');
  const validity = f[i++];
  if (!validity || validity.tag !== 0x30) throw new DerError('bad validity');
  const times = children(der, validity);
  if (times.length !== 2) throw new DerError('bad validity');
  const notBefore = parseTime(der, times[0]!);
  const notAfter = parseTime(der, times[1]!);
  const subject = f[i++];
  const spki = f[i++];
  if (!subject || subject.tag !== 0x30 || !spki || spki.tag !== 0x30) throw new DerError('bad subject / public key');
  const extensions: CertExtension[] = [];
  for (; i < f.length; i++) {
    const t = f[i]!;
    if (t.tag !== 0xa3) continue; // [1] issuerUID, [2] subjectUID
    const seq = children(der, t)[0];
    if (!seq || seq.tag !== 0x30) throw new DerError('bad extensions');
    for (const ext of children(der, seq)) {
      const parts = children(der, ext);
      const oid = parts[0];
      if (!oid || oid.tag !== 0x06) throw new DerError('bad extension OID');
      let critical = false;
      let k = 1;
      if (parts[k]?.tag === 0x01) {
        // DER omits the DEFAULT FALSE and writes TRUE as FF, as the device requires.
        if (parts[k]!.end - parts[k]!.start !== 1 || der[parts[k]!.start] !== 0xff) throw new DerError('critical must be TRUE (FF) when present');
        critical = true;
        k++;
      }
      const val = parts[k];
      if (!val || val.tag !== 0x04) throw new DerError('bad extension value');
      if (extensions.some((e) => e.oid.equals(der.subarray(oid.start, oid.end)))) throw new DerError('duplicate extension');
      extensions.push({
        oid: Buffer.from(der.subarray(oid.start, oid.end)),
        critical,
        value: Buffer.from(der.subarray(val.start, val.end)),
      });
    }
  }
  const full = (t: Tlv): Buffer => Buffer.from(der.buffer, der.byteOffset + t.head, t.end - t.head);
  return {
    tbs: full(tbs),
    sigAlgOid: Buffer.from(der.buffer, der.byteOffset + sigAlgOid.start, sigAlgOid.end - sigAlgOid.start),
    signature: Buffer.from(der.buffer, der.byteOffset + sigBits.start + 1, sigBits.end - sigBits.start - 1),
    serialHex: Buffer.from(der.buffer, der.byteOffset + serial.start, serial.end - serial.start).toString('hex').replace(/^0+/, '') || '0',
    issuer: full(issuer),
    subject: full(subject),
    spki: full(spki),
    notBefore,
    notAfter,
    extensions,
  };
}

/** DER content bytes of a dotted OID, e.g. "2.5.29.19" → 55 1d 13. */
export function encodeOid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((s) => {
    if (!/^\d+$/.test(s)) throw new Error(`bad OID ${dotted}`);
    return Number(s);
  });
  if (arcs.length < 2) throw new Error(`bad OID ${dotted}`);
  const out: number[] = [arcs[0]! * 40 + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const bytes: number[] = [arc & 0x7f];
    let v = Math.floor(arc / 128);
    while (v > 0) {
      bytes.unshift((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    out.push(...bytes);
  }
  return Buffer.from(out);
}

/** KeyUsage BIT STRING bits (bit 0 = digitalSignature … bit 5 = keyCertSign), or undefined when unparsable. */
export function keyUsageBits(value: Buffer): number | undefined {
  const t = readTlv(value, 0, value.length);
  if (t.tag !== 0x03 || t.end - t.start < 1) return undefined;
  let bits = 0;
  // First content byte = unused bits; then the bit string, MSB first.
  for (let i = t.start + 1, n = 0; i < t.end && n < 2; i++, n++) {
    const byte = value[i]!;
    for (let b = 0; b < 8; b++) if (byte & (0x80 >> b)) bits |= 1 << (n * 8 + b);
  }
  return bits;
}

/** basicConstraints cA of an extension value (SEQUENCE { BOOLEAN DEFAULT FALSE, INTEGER OPTIONAL }). */
export function basicConstraintsCa(value: Buffer): boolean {
  const seq = readTlv(value, 0, value.length);
  if (seq.tag !== 0x30 || seq.end !== value.length) throw new DerError('bad basicConstraints');
  const first = children(value, seq)[0];
  return first !== undefined && first.tag === 0x01 && first.end - first.start === 1 && value[first.start] !== 0;
}

/** URIs of a CRLDistributionPoints extension value (fullName uniformResourceIdentifier entries only). */
export function crlDistributionUris(value: Buffer): string[] {
  const uris: string[] = [];
  const walk = (t: Tlv): void => {
    if (t.tag === 0x86) {
      uris.push(value.subarray(t.start, t.end).toString('latin1'));
      return;
    }
    if (t.tag & 0x20) for (const c of children(value, t)) walk(c); // constructed
  };
  walk(readTlv(value, 0, value.length));
  return uris;
}
