/**
 * ParityPki — certificate chains built byte by byte for the device/server verdict parity suite (TEST ONLY): a root,
 * an intermediate and an IAP leaf with SKID/AKID everywhere, each field settable, so that every case differs from a
 * genuine chain in one property and is properly signed by its issuer. The cases are in the *Cases.ts files beside
 * this one; server/test/certparity.test.ts runs them through both verifiers.
 */
import 'reflect-metadata';
import * as crypto from 'node:crypto';
import { childrenOf, hex, readTlv, seq, set, tlv } from '../DerBytes';

export { hex, readTlv, seq, set, tlv };

export const DAY = 86_400_000;
export const T = (tag: number, ...p: Buffer[]): Buffer => tlv(tag, Buffer.concat(p));
export function oidContent(dotted: string): Buffer {
  const a = dotted.split('.').map((x) => BigInt(x));
  const out: number[] = [];
  const arc = (v: bigint): void => {
    const b: number[] = [Number(v & 0x7fn)];
    v >>= 7n;
    while (v > 0n) { b.unshift(Number(v & 0x7fn) | 0x80); v >>= 7n; }
    out.push(...b);
  };
  arc(a[0]! * 40n + a[1]!);
  for (const v of a.slice(2)) arc(v);
  return Buffer.from(out);
}
export const oid = (d: string): Buffer => tlv(0x06, oidContent(d));
export const OID = {
  CN: '2.5.4.3', O: '2.5.4.10', C: '2.5.4.6',
  SKID: '2.5.29.14', KU: '2.5.29.15', BC: '2.5.29.19', AKID: '2.5.29.35', EKU: '2.5.29.37', CRLDP: '2.5.29.31',
  NC: '2.5.29.30', PM: '2.5.29.33', PC: '2.5.29.36', INHIBIT: '2.5.29.54', POLICIES: '2.5.29.32', SAN: '2.5.29.17',
  IAP: '1.3.6.1.4.1.2011.2.415.1.1',
};
/** Name from [oid, stringTag, value] triples, one per RDN. */
export function name(...attrs: Array<[string, number, string | Buffer]>): Buffer {
  return seq(...attrs.map(([o, t, v]) => set(seq(oid(o), tlv(t, typeof v === 'string' ? Buffer.from(v, 'utf8') : v)))));
}
export const UTF8 = 0x0c, PRINTABLE = 0x13;
function pad(n: number, w = 2): string { return n.toString().padStart(w, '0'); }
export function timeText(ms: number, kind: 'utc' | 'gen'): string {
  const d = new Date(ms);
  const rest = `${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;
  return kind === 'utc' ? `${pad(d.getUTCFullYear() % 100)}${rest}` : `${pad(d.getUTCFullYear(), 4)}${rest}`;
}
export const utc = (ms: number): Buffer => tlv(0x17, Buffer.from(timeText(ms, 'utc'), 'latin1'));
export const gen = (ms: number): Buffer => tlv(0x18, Buffer.from(timeText(ms, 'gen'), 'latin1'));
export const rawTime = (tag: number, text: string): Buffer => tlv(tag, Buffer.from(text, 'latin1'));
export const validity = (nb: number, na: number): Buffer => seq(utc(nb), utc(na));
export function ext(o: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(o), ...(critical ? [hex('0101ff')] : []), tlv(0x04, value));
}
export const bcExt = (ca: boolean, pathLen?: number, critical = true): Buffer =>
  ext(OID.BC, critical, seq(...(ca ? [hex('0101ff')] : []), ...(pathLen !== undefined ? [tlv(0x02, Buffer.from([pathLen]))] : [])));
/** keyUsage BIT STRING DER for bits (0 = digitalSignature, 5 = keyCertSign, 6 = cRLSign). */
export function kuValue(bits: number[]): Buffer {
  const max = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(max / 8) + 1);
  for (const b of bits) bytes[b >> 3]! |= 0x80 >> (b & 7);
  let unused = 7 - (max & 7);
  return tlv(0x03, Buffer.concat([Buffer.from([unused]), bytes]));
}
export const kuExt = (bits: number[], critical = true): Buffer => ext(OID.KU, critical, kuValue(bits));
export const skidOf = (spki: Buffer): Buffer => crypto.createHash('sha1').update(spkiBits(spki)).digest();
export const skidExt = (id: Buffer): Buffer => ext(OID.SKID, false, tlv(0x04, id));
export const akidExt = (id: Buffer): Buffer => ext(OID.AKID, false, seq(tlv(0x80, id)));
export const iapExt = (): Buffer => ext(OID.IAP, false, hex('0500'));
export function spkiBits(spki: Buffer): Buffer {
  // SEQUENCE { alg, BIT STRING } → BIT STRING content minus unused byte
  const top = readTlv(spki, 0); const k = kids(spki, top); const bs = k[1]!;
  return spki.subarray(bs.contentStart + 1, bs.end);
}
export const kids = childrenOf;

export const ALG = {
  ES256: seq(oid('1.2.840.10045.4.3.2')), ES384: seq(oid('1.2.840.10045.4.3.3')),
  RS256: seq(oid('1.2.840.113549.1.1.11'), hex('0500')), ED25519: seq(oid('1.3.101.112')),
};
export function algFor(key: crypto.KeyObject): { alg: Buffer; digest: string | null } {
  if (key.asymmetricKeyType === 'ec') {
    const c = key.asymmetricKeyDetails?.namedCurve;
    return c === 'secp384r1' ? { alg: ALG.ES384, digest: 'sha384' } : { alg: ALG.ES256, digest: 'sha256' };
  }
  if (key.asymmetricKeyType === 'rsa') return { alg: ALG.RS256, digest: 'sha256' };
  if (key.asymmetricKeyType === 'ed25519') return { alg: ALG.ED25519, digest: null };
  throw new Error('key type');
}

export interface CertSpec {
  version?: Buffer;
  serial?: Buffer;
  issuer: Buffer;
  subject: Buffer;
  validity?: Buffer;
  spki: Buffer;
  /** extensions (each an Extension DER); undefined = no [3] field */
  exts?: Buffer[];
  /** replaces the whole [3] field */
  extsField?: Buffer;
  /** fields between SPKI and [3] (unique IDs) */
  beforeExts?: Buffer[];
  /** fields after [3] */
  afterExts?: Buffer[];
  signer: crypto.KeyObject;
  /** appended inside the outer SEQUENCE after the signature */
  outerTrailing?: Buffer;
  /** edits the finished TBS before signing */
  editTbs?: (tbs: Buffer) => Buffer;
}
export function makeCert(s: CertSpec): Buffer {
  const { alg, digest } = algFor(s.signer);
  const fields = [
    s.version ?? hex('a003020102'),
    s.serial ?? tlv(0x02, Buffer.concat([Buffer.from([0x01]), crypto.randomBytes(8)])),
    alg,
    s.issuer,
    s.validity ?? validity(Date.now() - DAY, Date.now() + 365 * DAY),
    s.subject,
    s.spki,
    ...(s.beforeExts ?? []),
    ...(s.extsField ? [s.extsField] : s.exts ? [T(0xa3, seq(...s.exts))] : []),
    ...(s.afterExts ?? []),
  ];
  let tbs = seq(...fields);
  if (s.editTbs) tbs = s.editTbs(tbs);
  const sig = s.signer.asymmetricKeyType === 'ec' ? crypto.sign(digest, tbs, { key: s.signer, dsaEncoding: 'der' }) : crypto.sign(digest, tbs, s.signer);
  return seq(tbs, alg, tlv(0x03, Buffer.concat([Buffer.from([0]), sig])), ...(s.outerTrailing ? [s.outerTrailing] : []));
}

export interface Key { priv: crypto.KeyObject; pub: crypto.KeyObject; spki: Buffer }
export function ecKey(curve = 'P-256'): Key {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: curve });
  return { priv: privateKey, pub: publicKey, spki: publicKey.export({ type: 'spki', format: 'der' }) };
}
export function rsaKey(): Key {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { priv: privateKey, pub: publicKey, spki: publicKey.export({ type: 'spki', format: 'der' }) };
}
export function edKey(): Key {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
  return { priv: privateKey, pub: publicKey, spki: publicKey.export({ type: 'spki', format: 'der' }) };
}

export const ROOT_NAME = name([OID.C, PRINTABLE, 'CN'], [OID.O, UTF8, 'Parity Test'], [OID.CN, UTF8, 'Parity Root CA']);
export const INT_NAME = name([OID.C, PRINTABLE, 'CN'], [OID.O, UTF8, 'Parity Test'], [OID.CN, UTF8, 'Parity Intermediate CA']);
export const LEAF_NAME = name([OID.C, PRINTABLE, 'CN'], [OID.O, UTF8, 'Parity Test'], [OID.CN, UTF8, 'Parity IAP Leaf']);

export interface Pki {
  rootKey: Key; intKey: Key; leafKey: Key;
  rootDer: Buffer; intDer: Buffer; leafDer: Buffer;
}
export type RootOpts = Partial<CertSpec> & { key?: Key };
export type IntOpts = Partial<CertSpec> & { key?: Key };
export type LeafOpts = Partial<CertSpec> & { key?: Key };
export function rootSpec(k: Key, o: RootOpts = {}): CertSpec {
  return { issuer: ROOT_NAME, subject: ROOT_NAME, spki: k.spki, signer: k.priv,
    exts: [bcExt(true), kuExt([5, 6]), skidExt(skidOf(k.spki))], ...o };
}
export function intSpec(root: Key, k: Key, o: IntOpts = {}): CertSpec {
  return { issuer: ROOT_NAME, subject: INT_NAME, spki: k.spki, signer: root.priv,
    exts: [bcExt(true, 0), kuExt([5, 6]), skidExt(skidOf(k.spki)), akidExt(skidOf(root.spki))], ...o };
}
export function leafSpec(int: Key, k: Key, o: LeafOpts = {}): CertSpec {
  return { issuer: INT_NAME, subject: LEAF_NAME, spki: k.spki, signer: int.priv,
    exts: [bcExt(false), kuExt([0]), skidExt(skidOf(k.spki)), akidExt(skidOf(int.spki)), iapExt()], ...o };
}
/** A genuine chain; each part's spec can be overridden. */
export function pki(o: { root?: RootOpts; int?: IntOpts; leaf?: LeafOpts } = {}): Pki {
  const rootKey = o.root?.key ?? ecKey();
  const intKey = o.int?.key ?? ecKey();
  const leafKey = o.leaf?.key ?? ecKey();
  return {
    rootKey, intKey, leafKey,
    rootDer: makeCert(rootSpec(rootKey, o.root)),
    intDer: makeCert(intSpec(rootKey, intKey, o.int)),
    leafDer: makeCert(leafSpec(intKey, leafKey, o.leaf)),
  };
}

export interface Case {
  name: string;
  rootDer: Buffer;
  x5c: string[];
  signer: crypto.KeyObject;
  /** The payload's signedTime (UTC ms); the runner's default is now. */
  signedTime?: number;
}
export function chainCase(nm: string, p: Pki, over: Partial<Case> = {}): Case {
  return { name: nm, rootDer: p.rootDer, x5c: [p.leafDer, p.intDer, p.rootDer].map((d) => d.toString('base64')), signer: p.leafKey.priv, ...over };
}
