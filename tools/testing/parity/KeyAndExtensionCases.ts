// Extensions, leaf keys, encodings, x5c text, root in the wrong place.
import * as crypto from 'node:crypto';
import {
  OID, ROOT_NAME, akidExt, bcExt, chainCase, ecKey, ext, hex, iapExt, kuExt, makeCert, oid, pki, seq, skidExt, skidOf, tlv,
  leafSpec, type Case, type Key,
} from './ParityPki';

const intExts = (i: Key, root: Key, ...extra: Buffer[]): Buffer[] => [bcExt(true, 0), kuExt([5, 6]), skidExt(skidOf(i.spki)), akidExt(skidOf(root.spki)), ...extra];
/** A chain whose intermediate carries exactly `build(intKey, rootKey)` extensions. */
function intWith(nm: string, build: (i: Key, r: Key) => Buffer[]): () => Case {
  return () => { const r = ecKey(); const i = ecKey(); return chainCase(nm, pki({ root: { key: r }, int: { key: i, exts: build(i, r) } })); };
}
function leafWith(nm: string, exts: Buffer[], o: Record<string, unknown> = {}): () => Case {
  return () => chainCase(nm, pki({ leaf: { exts, ...o } }));
}
const leafBase = (): Buffer[] => [bcExt(false), kuExt([0]), iapExt()];
/** leaf with a given SPKI but signed normally; JWS signed by a fresh key (cannot verify anyway when SPKI is odd). */
function leafSpki(nm: string, spki: (k: Key) => Buffer, signWithLeaf = true): () => Case {
  return () => {
    const k = ecKey();
    const p = pki({ leaf: { key: k, spki: spki(k) } });
    return chainCase(nm, p, signWithLeaf ? {} : {});
  };
}
function compressed(k: Key): Buffer {
  const pt = k.pub.export({ format: 'jwk' }) as { x: string; y: string };
  const y = Buffer.from(pt.y, 'base64url');
  const c = Buffer.concat([Buffer.from([0x02 | (y[31]! & 1)]), Buffer.from(pt.x, 'base64url')]);
  return seq(hex('301306072a8648ce3d020106082a8648ce3d030107'), tlv(0x03, Buffer.concat([hex('00'), c])));
}
function hybrid(k: Key): Buffer {
  const pt = k.pub.export({ format: 'jwk' }) as { x: string; y: string };
  const y = Buffer.from(pt.y, 'base64url');
  return seq(hex('301306072a8648ce3d020106082a8648ce3d030107'), tlv(0x03, Buffer.concat([hex('00'), Buffer.from([0x06 | (y[31]! & 1)]), Buffer.from(pt.x, 'base64url'), y])));
}
function explicitCurve(k: Key): Buffer {
  const der = k.pub.export({ type: 'spki', format: 'der' });
  const point = der.subarray(der.length - 65);
  // ECParameters for P-256 (explicit)
  const p = hex('00ffffffff00000001000000000000000000000000ffffffffffffffffffffffff');
  const a = hex('ffffffff00000001000000000000000000000000fffffffffffffffffffffffc');
  const b = hex('5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b');
  const G = hex('046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5');
  const n = hex('00ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');
  const params = seq(hex('020101'), seq(hex('06072a8648ce3d0101'), tlv(0x02, p)), seq(tlv(0x04, a), tlv(0x04, b)), tlv(0x04, G), tlv(0x02, n), hex('020101'));
  return seq(seq(hex('06072a8648ce3d0201'), params), tlv(0x03, Buffer.concat([hex('00'), point])));
}
function offCurve(k: Key): Buffer {
  const der = Buffer.from(k.spki); der[der.length - 1] = der[der.length - 1]! ^ 1; return der;
}

export const cases: Array<() => Case> = [
  // intermediate extension defects
  intWith('int duplicate basicConstraints', (i, r) => [...intExts(i, r), bcExt(true, 0)]),
  // basicConstraints values a schema decoder reads as cA TRUE but that are no BasicConstraints (a mutation fuzz found
  // the server accepting them): a [0] tag for the SEQUENCE, a repeated pathLen, the fields in the wrong order.
  intWith('int basicConstraints [0]-tagged instead of SEQUENCE', (i, r) => [ext(OID.BC, true, hex('a0030101ff')), ...intExts(i, r).slice(1)]),
  intWith('int basicConstraints with a second pathLen', (i, r) => [ext(OID.BC, true, hex('30090101ff020100020100')), ...intExts(i, r).slice(1)]),
  intWith('int basicConstraints pathLen before cA', (i, r) => [ext(OID.BC, true, hex('30060201000101ff')), ...intExts(i, r).slice(1)]),
  intWith('int duplicate keyUsage', (i, r) => [...intExts(i, r), kuExt([5, 6])]),
  intWith('int duplicate SKID', (i, r) => [...intExts(i, r), skidExt(skidOf(i.spki))]),
  intWith('int duplicate unknown non-critical ext', (i, r) => [...intExts(i, r), ext('1.2.3.4', false, hex('0500')), ext('1.2.3.4', false, hex('0500'))]),
  intWith('int unknown critical extension', (i, r) => [...intExts(i, r), ext('1.2.3.4.5', true, hex('0500'))]),
  intWith('int critical nameConstraints', (i, r) => [...intExts(i, r), ext(OID.NC, true, seq(tlv(0xa0, seq(tlv(0x82, Buffer.from('example.com'))))))]),
  intWith('int critical policyConstraints', (i, r) => [...intExts(i, r), ext(OID.PC, true, seq(hex('800100')))]),
  intWith('int critical inhibitAnyPolicy', (i, r) => [...intExts(i, r), ext(OID.INHIBIT, true, hex('020100'))]),
  intWith('int critical policyMappings', (i, r) => [...intExts(i, r), ext(OID.PM, true, seq(seq(hex('06032a0304'), hex('06032a0305'))))]),
  intWith('int critical certificatePolicies', (i, r) => [...intExts(i, r), ext(OID.POLICIES, true, seq(seq(hex('0603551d2000'))))]),
  intWith('int critical SKID (known to OpenSSL, not to policy lists)', (i, r) => [bcExt(true, 0), kuExt([5, 6]), ext(OID.SKID, true, tlv(0x04, skidOf(i.spki))), akidExt(skidOf(r.spki))]),
  intWith('int critical AKID', (i, r) => [bcExt(true, 0), kuExt([5, 6]), ext(OID.AKID, true, seq(tlv(0x80, skidOf(r.spki))))]),
  intWith('int basicConstraints value garbage (NULL)', (i, r) => [ext(OID.BC, true, hex('0500')), kuExt([5, 6])]),
  intWith('int basicConstraints negative pathLen', (i, r) => [ext(OID.BC, true, seq(hex('0101ff'), hex('0201ff'))), kuExt([5, 6])]),
  intWith('int basicConstraints pathLen non-minimal 00 00', (i, r) => [ext(OID.BC, true, seq(hex('0101ff'), hex('02020000'))), kuExt([5, 6])]),
  intWith('int basicConstraints trailing bytes in value', (i, r) => [ext(OID.BC, true, Buffer.concat([seq(hex('0101ff')), hex('0500')])), kuExt([5, 6])]),
  intWith('int basicConstraints non-critical', (i, r) => [bcExt(true, 0, false), kuExt([5, 6])]),
  intWith('int basicConstraints cA FALSE explicit (BER default)', (i, r) => [ext(OID.BC, true, seq(hex('010100'))), kuExt([5, 6])]),
  intWith('int keyUsage garbage (NULL)', (i, r) => [bcExt(true, 0), ext(OID.KU, true, hex('0500'))]),
  intWith('int keyUsage keyCertSign with trailing zero byte', (i, r) => [bcExt(true, 0), ext(OID.KU, true, hex('0303000400'))]),
  intWith('int keyUsage keyCertSign unused bits 0 (not minimal)', (i, r) => [bcExt(true, 0), ext(OID.KU, true, hex('03020004'))]),
  intWith('int keyUsage keyCertSign with a set unused bit', (i, r) => [bcExt(true, 0), ext(OID.KU, true, hex('03020205'))]),
  intWith('int keyUsage empty BIT STRING', (i, r) => [bcExt(true, 0), ext(OID.KU, true, hex('030100'))]),
  intWith('int keyUsage decipherOnly + keyCertSign (2 bytes)', (i, r) => [bcExt(true, 0), ext(OID.KU, true, hex('0303070480'))]),
  intWith('int no keyUsage', (i, r) => [bcExt(true, 0), skidExt(skidOf(i.spki)), akidExt(skidOf(r.spki))]),
  intWith('int SKID value garbage (NULL)', (i, r) => [bcExt(true, 0), kuExt([5, 6]), ext(OID.SKID, false, hex('0500'))]),
  intWith('int AKID value garbage (NULL)', (i, r) => [bcExt(true, 0), kuExt([5, 6]), ext(OID.AKID, false, hex('0500'))]),
  intWith('int EKU value garbage', (i, r) => [bcExt(true, 0), kuExt([5, 6]), ext(OID.EKU, false, hex('0500'))]),
  intWith('int CRLDP value garbage', (i, r) => [bcExt(true, 0), kuExt([5, 6]), ext(OID.CRLDP, false, hex('0500'))]),
  intWith('int nameConstraints value garbage (non-critical)', (i, r) => [bcExt(true, 0), kuExt([5, 6]), ext(OID.NC, false, hex('0500'))]),
  intWith('int SAN value garbage', (i, r) => [bcExt(true, 0), kuExt([5, 6]), ext(OID.SAN, false, hex('0500'))]),
  intWith('int unknown ext with indefinite-length value', (i, r) => [bcExt(true, 0), kuExt([5, 6]), ext('1.2.3.4', false, hex('3080 0500 0000'))]),
  intWith('int SKID indefinite-length constructed OCTET STRING', (i, r) => [bcExt(true, 0), kuExt([5, 6]), ext(OID.SKID, false, hex('2480 040101 0000'))]),
  intWith('int critical flag 01 (BER TRUE) on BC', (i, r) => [seq(hex('0603551d13'), hex('010101'), tlv(0x04, seq(hex('0101ff')))), kuExt([5, 6])]),
  intWith('int extension value constructed OCTET STRING', (i, r) => [bcExt(true, 0), kuExt([5, 6]), seq(oid('1.2.3.4'), hex('2404 04020500'))]),
  // leaf extension defects
  leafWith('leaf basicConstraints with pathLen, cA FALSE', [ext(OID.BC, true, seq(hex('020103'))), kuExt([0]), iapExt()]),
  leafWith('leaf basicConstraints negative pathLen', [ext(OID.BC, true, seq(hex('0201ff'))), kuExt([0]), iapExt()]),
  leafWith('leaf basicConstraints garbage value (NULL)', [ext(OID.BC, true, hex('0500')), kuExt([0]), iapExt()]),
  leafWith('leaf keyUsage trailing zero byte', [bcExt(false), ext(OID.KU, true, hex('0303008000')), iapExt()]),
  leafWith('leaf keyUsage unused bits 0 (not minimal)', [bcExt(false), ext(OID.KU, true, hex('03020080')), iapExt()]),
  leafWith('leaf keyUsage unused bit set', [bcExt(false), ext(OID.KU, true, hex('03020781')), iapExt()]),
  leafWith('leaf keyUsage unused bits 8', [bcExt(false), ext(OID.KU, true, hex('03020880')), iapExt()]),
  leafWith('leaf keyUsage garbage value (NULL)', [bcExt(false), ext(OID.KU, true, hex('0500')), iapExt()]),
  leafWith('leaf keyUsage nonRepudiation only', [bcExt(false), kuExt([1]), iapExt()]),
  leafWith('leaf no keyUsage, no basicConstraints', [iapExt()]),
  leafWith('leaf duplicate IAP OID', [...leafBase(), iapExt()]),
  leafWith('leaf duplicate keyUsage', [...leafBase(), kuExt([0])]),
  leafWith('leaf IAP OID critical', [bcExt(false), kuExt([0]), ext(OID.IAP, true, hex('0500'))]),
  leafWith('leaf IAP OID value empty', [bcExt(false), kuExt([0]), ext(OID.IAP, false, Buffer.alloc(0))]),
  leafWith('leaf IAP OID value indefinite', [bcExt(false), kuExt([0]), ext(OID.IAP, false, hex('3080 0000'))]),
  leafWith('leaf critical nameConstraints', [...leafBase(), ext(OID.NC, true, seq(tlv(0xa0, seq(tlv(0x82, Buffer.from('example.com'))))))]),
  leafWith('leaf critical policyConstraints', [...leafBase(), ext(OID.PC, true, seq(hex('800100')))]),
  leafWith('leaf critical inhibitAnyPolicy', [...leafBase(), ext(OID.INHIBIT, true, hex('020100'))]),
  leafWith('leaf critical SKID', [...leafBase(), ext(OID.SKID, true, tlv(0x04, hex('0102')))]),
  leafWith('leaf critical unknown', [...leafBase(), ext('1.2.3.4.5', true, hex('0500'))]),
  leafWith('leaf SKID garbage', [...leafBase(), ext(OID.SKID, false, hex('0500'))]),
  leafWith('leaf AKID garbage', [...leafBase(), ext(OID.AKID, false, hex('0500'))]),
  leafWith('leaf CRLDP garbage', [...leafBase(), ext(OID.CRLDP, false, hex('0500'))]),
  leafWith('leaf extension OID non-minimal (80 prefix arc)', [...leafBase(), seq(hex('0604 2a 80 03 04'), tlv(0x04, hex('0500')))]),
  leafWith('leaf extension with critical FALSE explicit', [bcExt(false), kuExt([0]), seq(oid(OID.IAP), hex('010100'), tlv(0x04, hex('0500')))]),
  // leaf keys
  leafSpki('leaf key compressed point', compressed),
  leafSpki('leaf key hybrid point', hybrid),
  leafSpki('leaf key explicit curve parameters', explicitCurve),
  leafSpki('leaf key off-curve point', offCurve),
  leafSpki('leaf key point at infinity (00)', () => seq(hex('301306072a8648ce3d020106082a8648ce3d030107'), hex('03020000'))),
  leafSpki('leaf key SPKI BIT STRING unused bits 1', (k) => { const d = Buffer.from(k.spki); d[26] = 1; return d; }),
  leafSpki('leaf key SPKI with NULL after curve OID', (k) => seq(hex('301506072a8648ce3d020106082a8648ce3d0301070500'), k.spki.subarray(23))),
  leafSpki('leaf key P-384', () => ecKey('P-384').spki),
  leafSpki('leaf key RSA', () => crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'der' })),
  () => { const i = ecKey(); const r = ecKey(); const bad = offCurve(i); return chainCase('int key off-curve point', pki({ root: { key: r }, int: { key: i, spki: bad } })); },
  () => { const i = ecKey(); const r = ecKey(); return chainCase('int key compressed point', pki({ root: { key: r }, int: { key: i, spki: compressed(i) } })); },
  () => { const i = ecKey(); const r = ecKey(); return chainCase('int key explicit curve params', pki({ root: { key: r }, int: { key: i, spki: explicitCurve(i) } })); },
  // encodings
  () => { const p = pki(); const l = p.leafDer; const b = Buffer.concat([hex('3080'), l.subarray(readHdr(l)), hex('0000')]); return { ...chainCase('leaf outer SEQUENCE indefinite length', p), x5c: [b, p.intDer, p.rootDer].map((d) => d.toString('base64')) }; },
  () => { const p = pki(); const l = p.intDer; const b = Buffer.concat([hex('3080'), l.subarray(readHdr(l)), hex('0000')]); return { ...chainCase('int outer SEQUENCE indefinite length', p), x5c: [p.leafDer, b, p.rootDer].map((d) => d.toString('base64')) }; },
  () => chainCase('leaf TBS indefinite length (re-signed)', pki({ leaf: { editTbs: (t) => Buffer.concat([hex('3080'), t.subarray(readHdr(t)), hex('0000')]) } })),
  () => chainCase('int TBS indefinite length (re-signed)', pki({ int: { editTbs: (t) => Buffer.concat([hex('3080'), t.subarray(readHdr(t)), hex('0000')]) } })),
  () => chainCase('leaf TBS non-minimal length (re-signed)', pki({ leaf: { editTbs: (t) => Buffer.concat([hex('3083'), Buffer.from([0, (t.length - readHdr(t)) >> 8, (t.length - readHdr(t)) & 0xff]), t.subarray(readHdr(t))]) } })),
  // x5c text
  () => { const p = pki(); const b = p.leafDer.toString('base64'); return { ...chainCase('x5c[0] with line break', p), x5c: [b.slice(0, 64) + '\n' + b.slice(64), p.intDer.toString('base64'), p.rootDer.toString('base64')] }; },
  () => { const p = pki(); const b = p.intDer.toString('base64'); return { ...chainCase('x5c[1] with \\r\\n', p), x5c: [p.leafDer.toString('base64'), b.slice(0, 64) + '\r\n' + b.slice(64), p.rootDer.toString('base64')] }; },
  () => { const p = pki(); return { ...chainCase('x5c[2] with spaces (never parsed)', p), x5c: [p.leafDer.toString('base64'), p.intDer.toString('base64'), ' x y '] }; },
  () => { const p = pki(); return { ...chainCase('x5c[2] garbage text', p), x5c: [p.leafDer.toString('base64'), p.intDer.toString('base64'), '!!!'] }; },
  () => { const p = pki(); return { ...chainCase('x5c[0] base64url alphabet', p), x5c: [p.leafDer.toString('base64url'), p.intDer.toString('base64'), p.rootDer.toString('base64')] }; },
  () => { const p = pki(); return { ...chainCase('x5c[0] unpadded', p), x5c: [p.leafDer.toString('base64').replace(/=+$/, ''), p.intDer.toString('base64'), p.rootDer.toString('base64')] }; },
  // root placements
  () => { const p = pki(); return { ...chainCase('root as intermediate, leaf signed by root', p), x5c: [makeCert(leafSpec(p.rootKey, p.leafKey, { issuer: ROOT_NAME })), p.rootDer, p.rootDer].map((d) => d.toString('base64')) }; },
  () => { const p = pki(); return { ...chainCase('root as leaf (x5c [root,int,root], root key)', p), x5c: [p.rootDer, p.intDer, p.rootDer].map((d) => d.toString('base64')), signer: p.rootKey.priv }; },
  () => { const p = pki(); return { ...chainCase('root as leaf and intermediate', p), x5c: [p.rootDer, p.rootDer, p.rootDer].map((d) => d.toString('base64')), signer: p.rootKey.priv }; },
  () => { const p = pki(); return { ...chainCase('intermediate as leaf (x5c [int,int,root], int key)', p), x5c: [p.intDer, p.intDer, p.rootDer].map((d) => d.toString('base64')), signer: p.intKey.priv }; },
  // the point at infinity (one 00 octet): node:crypto aborts the process when asked for such a key's details
  () => chainCase('leaf key point at infinity', pki({ leaf: { spki: INFINITY } })),
  () => { const i = ecKey(); return chainCase('int key point at infinity', pki({ int: { key: i, spki: INFINITY } })); },
];
const INFINITY = seq(hex('301306072a8648ce3d020106082a8648ce3d030107'), hex('03020000'));
function readHdr(d: Buffer): number { return d[1]! & 0x80 ? 2 + (d[1]! & 0x7f) : 2; }
