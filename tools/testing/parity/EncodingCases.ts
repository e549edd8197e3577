// Non-minimal lengths (leading-zero and short-in-long forms) at several depths; intermediate TBS structure.
import {
  T, bcExt, chainCase, hex, kuExt, pki, seq, tlv, readTlv, kids, type Case,
} from './ParityPki';

/** Re-encodes the header of the element at `path` (child indexes from the top of `der`) with a long length form. */
function longLen(der: Buffer, path: number[], form: 'lead0' | 'short-as-long'): Buffer {
  const walk = (buf: Buffer, t: ReturnType<typeof readTlv>, rest: number[]): Buffer => {
    const content = buf.subarray(t.contentStart, t.end);
    if (rest.length === 0) {
      const n = content.length;
      const lenBytes = n < 0x100 ? [n] : [n >> 8, n & 0xff];
      const hdr = form === 'lead0' ? [t.tag, 0x80 | (lenBytes.length + 1), 0, ...lenBytes] : [t.tag, 0x81, n];
      if (form === 'short-as-long' && n >= 0x80) throw new Error('not short');
      return Buffer.concat([Buffer.from(hdr), content]);
    }
    const ch = kids(buf, t);
    const parts = ch.map((c, i) => (i === rest[0] ? walk(buf, c, rest.slice(1)) : buf.subarray(c.start, c.end)));
    return tlv(t.tag, Buffer.concat(parts));
  };
  return walk(der, readTlv(der, 0), path);
}
// TBS field indexes: 0 version, 1 serial, 2 alg, 3 issuer, 4 validity, 5 subject, 6 spki, 7 [3]
const leafTbsEdit = (nm: string, path: number[], form: 'lead0' | 'short-as-long') => (): Case =>
  chainCase(nm, pki({ leaf: { editTbs: (t) => longLen(t, path, form) } }));
const intTbsEdit = (nm: string, path: number[], form: 'lead0' | 'short-as-long') => (): Case =>
  chainCase(nm, pki({ int: { editTbs: (t) => longLen(t, path, form) } }));
function outerEdit(nm: string, which: 'leaf' | 'int', path: number[], form: 'lead0' | 'short-as-long'): () => Case {
  return () => {
    const p = pki();
    const leaf = which === 'leaf' ? longLen(p.leafDer, path, form) : p.leafDer;
    const int = which === 'int' ? longLen(p.intDer, path, form) : p.intDer;
    return { ...chainCase(nm, p), x5c: [leaf, int, p.rootDer].map((d) => d.toString('base64')) };
  };
}

export const cases: Array<() => Case> = [
  outerEdit('leaf outer SEQUENCE length 83 00 xx xx', 'leaf', [], 'lead0'),
  outerEdit('int outer SEQUENCE length 83 00 xx xx', 'int', [], 'lead0'),
  outerEdit('leaf outer signatureAlgorithm 81 0a (short as long, not signed)', 'leaf', [1], 'short-as-long'),
  outerEdit('leaf outer signature BIT STRING 82 00 xx (not signed)', 'leaf', [2], 'lead0'),
  outerEdit('int outer signature BIT STRING 82 00 xx (not signed)', 'int', [2], 'lead0'),
  leafTbsEdit('leaf TBS length 83 00 xx xx', [], 'lead0'),
  intTbsEdit('int TBS length 83 00 xx xx', [], 'lead0'),
  leafTbsEdit('leaf subject length 82 00 xx', [5], 'lead0'),
  leafTbsEdit('leaf subject length 81 xx (<128)', [5], 'short-as-long'),
  intTbsEdit('int subject length 82 00 xx (leaf issuer unchanged)', [5], 'lead0'),
  leafTbsEdit('leaf issuer length 82 00 xx', [3], 'lead0'),
  leafTbsEdit('leaf spki length 82 00 xx', [6], 'lead0'),
  leafTbsEdit('leaf spki inner BIT STRING 82 00 xx', [6, 1], 'lead0'),
  leafTbsEdit('leaf serial length 82 00 xx', [1], 'lead0'),
  leafTbsEdit('leaf validity 82 00 xx', [4], 'lead0'),
  leafTbsEdit('leaf notBefore 81 0d', [4, 0], 'short-as-long'),
  leafTbsEdit('leaf [3] length 82 00 xx', [7], 'lead0'),
  leafTbsEdit('leaf Extensions SEQUENCE 82 00 xx', [7, 0], 'lead0'),
  leafTbsEdit('leaf extension #0 SEQUENCE 82 00 xx', [7, 0, 0], 'lead0'),
  leafTbsEdit('leaf IAP extension extnValue 82 00 xx', [7, 0, 2, 1], 'lead0'),
  leafTbsEdit('leaf subject RDN SET 82 00 xx', [5, 0], 'lead0'),
  leafTbsEdit('leaf subject CN string 81 xx', [5, 2, 0, 1], 'short-as-long'),
  intTbsEdit('int Extensions SEQUENCE 82 00 xx', [7, 0], 'lead0'),
  intTbsEdit('int BC extension SEQUENCE 81 xx', [7, 0, 0], 'short-as-long'),
  // intermediate TBS structure
  () => chainCase('int uniqueID after extensions', pki({ int: { afterExts: [hex('810200ff')] } })),
  () => chainCase('int [4] after extensions', pki({ int: { afterExts: [hex('a403020101')] } })),
  () => chainCase('int extensions split over two [3]', pki({ int: { extsField: Buffer.concat([T(0xa3, seq(bcExt(true, 0))), T(0xa3, seq(kuExt([5, 6])))]) } })),
  () => chainCase('int constructed uniqueID [1]', pki({ int: { beforeExts: [hex('a103030100')] } })),
  () => chainCase('leaf uniqueIDs out of order ([2] then [1])', pki({ leaf: { beforeExts: [hex('820200aa'), hex('810200ff')] } })),
  () => chainCase('leaf issuerUniqueID BIT STRING unused 8', pki({ leaf: { beforeExts: [hex('810208ff')] } })),
  () => chainCase('leaf subjectUniqueID empty', pki({ leaf: { beforeExts: [hex('8200')] } })),
  () => chainCase('leaf signature AlgorithmIdentifier in TBS with trailing element', pki({ leaf: { editTbs: (t) => longLen(t, [], 'lead0') } })),
];
