// Serials, times, versions, TBS structure, outer structure.
import {
  DAY, T, bcExt, chainCase, hex, iapExt, kuExt, pki, rawTime, seq, tlv, utc, type Case,
} from './ParityPki';

const now = Date.now();
const Y = 365 * DAY;
const serial = (h: string): Buffer => tlv(0x02, hex(h));
const vt = (a: Buffer, b: Buffer): Buffer => seq(a, b);
const U = (s: string): Buffer => rawTime(0x17, s);
const G = (s: string): Buffer => rawTime(0x18, s);
const leafV = (v: Buffer) => pki({ leaf: { validity: v } });
const intV = (v: Buffer) => pki({ int: { validity: v } });
/** The same validity on the leaf, then on the intermediate: two cases named `leaf …` and `int …`. */
const onBoth = (nm: string, v: Buffer): Array<() => Case> => [
  () => chainCase(`leaf ${nm}`, leafV(v)),
  () => chainCase(`int ${nm}`, intV(v)),
];
const at = (nm: string, p: ReturnType<typeof pki>, signedTime: number): Case => {
  const c = chainCase(nm, p);
  return { ...c, signedTime };
};

export const cases: Array<() => Case> = [
  // serials
  () => chainCase('leaf serial negative (0x80..)', pki({ leaf: { serial: serial('80112233') } })),
  () => chainCase('int serial negative', pki({ int: { serial: serial('80112233') } })),
  () => chainCase('leaf serial zero', pki({ leaf: { serial: serial('00') } })),
  () => chainCase('int serial zero', pki({ int: { serial: serial('00') } })),
  () => chainCase('leaf serial 21 bytes', pki({ leaf: { serial: serial('01' + '11'.repeat(20)) } })),
  () => chainCase('int serial 21 bytes', pki({ int: { serial: serial('01' + '11'.repeat(20)) } })),
  () => chainCase('leaf serial 40 bytes', pki({ leaf: { serial: serial('01' + '11'.repeat(39)) } })),
  () => chainCase('leaf serial non-minimal (00 01)', pki({ leaf: { serial: serial('0001') } })),
  () => chainCase('int serial non-minimal (00 01)', pki({ int: { serial: serial('0001') } })),
  () => chainCase('leaf serial non-minimal (ff 80)', pki({ leaf: { serial: serial('ff80') } })),
  () => chainCase('leaf serial empty INTEGER', pki({ leaf: { serial: tlv(0x02, Buffer.alloc(0)) } })),
  () => chainCase('int serial empty INTEGER', pki({ int: { serial: tlv(0x02, Buffer.alloc(0)) } })),
  // versions
  () => chainCase('leaf v2 (INTEGER 1) with extensions', pki({ leaf: { version: hex('a003020101') } })),
  () => chainCase('int v2 with extensions', pki({ int: { version: hex('a003020101') } })),
  () => chainCase('leaf version INTEGER 3 (v4)', pki({ leaf: { version: hex('a003020103') } })),
  () => chainCase('leaf version explicit v1 (INTEGER 0)', pki({ leaf: { version: hex('a003020100') } })),
  () => chainCase('leaf version non-minimal 00 02', pki({ leaf: { version: hex('a00402020002') } })),
  // times
  ...onBoth('UTCTime without seconds', vt(U('2001010000Z'), U('4001010000Z'))),
  ...onBoth('UTCTime fractional seconds', vt(U('200101000000.5Z'), U('400101000000Z'))),
  ...onBoth('UTCTime +0100 offset', vt(U('200101000000+0100'), U('400101000000Z'))),
  () => chainCase('leaf UTCTime no Z', leafV(vt(U('200101000000'), U('400101000000Z')))),
  ...onBoth('GeneralizedTime before 2050', vt(G('20200101000000Z'), G('20400101000000Z'))),
  ...onBoth('GeneralizedTime fractional', vt(G('20200101000000.5Z'), G('20400101000000Z'))),
  () => chainCase('leaf GeneralizedTime without Z', leafV(vt(G('20200101000000'), G('20400101000000Z')))),
  () => chainCase('leaf notAfter UTCTime 491231235959Z', leafV(vt(utc(now - DAY), U('491231235959Z')))),
  () => chainCase('leaf notAfter GeneralizedTime 20500101000000Z', leafV(vt(utc(now - DAY), G('20500101000000Z')))),
  () => chainCase('leaf notAfter UTCTime 500101000000Z (=1950)', leafV(vt(utc(now - DAY), U('500101000000Z')))),
  () => chainCase('leaf notAfter GeneralizedTime 99991231235959Z', leafV(vt(utc(now - DAY), G('99991231235959Z')))),
  () => chainCase('leaf notBefore GeneralizedTime 00010101000000Z', leafV(vt(G('00010101000000Z'), utc(now + Y)))),
  () => chainCase('leaf notBefore GeneralizedTime 00500101000000Z (year 50)', leafV(vt(G('00500101000000Z'), utc(now + Y)))),
  ...onBoth('invalid date UTCTime 201332000000Z', vt(U('201332000000Z'), utc(now + Y))),
  () => chainCase('leaf UTCTime Feb 30', leafV(vt(U('200230000000Z'), utc(now + Y)))),
  () => chainCase('leaf UTCTime 24:00:00', leafV(vt(U('200101240000Z'), utc(now + Y)))),
  () => chainCase('leaf UTCTime second 60', leafV(vt(U('200101000060Z'), utc(now + Y)))),
  () => chainCase('leaf notBefore > notAfter (both past)', leafV(vt(utc(now - DAY), utc(now - 2 * DAY)))),
  ...onBoth('notBefore > notAfter (around now)', vt(utc(now + DAY), utc(now - DAY))),
  () => chainCase('validity with 3 times', leafV(seq(utc(now - DAY), utc(now + Y), utc(now + Y)))),
  // validity at signedTime boundaries (second precision)
  () => { const nb = Math.floor(now / 1000) * 1000 - 10_000; return at('leaf notBefore == signedTime', leafV(vt(utc(nb), utc(now + Y))), nb); },
  () => { const nb = Math.floor(now / 1000) * 1000 - 10_000; return at('leaf notBefore == signedTime+1ms', leafV(vt(utc(nb), utc(now + Y))), nb - 1); },
  () => { const na = Math.floor(now / 1000) * 1000 - 10_000; return at('leaf notAfter == signedTime', leafV(vt(utc(now - Y), utc(na))), na); },
  () => { const na = Math.floor(now / 1000) * 1000 - 10_000; return at('leaf notAfter +999ms', leafV(vt(utc(now - Y), utc(na))), na + 999); },
  () => { const na = Math.floor(now / 1000) * 1000 - 10_000; return at('int notAfter +1ms', intV(vt(utc(now - Y), utc(na))), na + 1); },
  () => { const na = Math.floor(now / 1000) * 1000 - 10_000; return at('int notAfter == signedTime', intV(vt(utc(now - Y), utc(na))), na); },
  () => at('leaf expired + int not-yet-valid', pki({ leaf: { validity: vt(utc(now - 3 * DAY), utc(now - 2 * DAY)) }, int: { validity: vt(utc(now + DAY), utc(now + Y)) } }), now),
  () => at('leaf not-yet-valid + int expired', pki({ leaf: { validity: vt(utc(now + DAY), utc(now + Y)) }, int: { validity: vt(utc(now - 3 * DAY), utc(now - 2 * DAY)) } }), now),
  () => at('signedTime 10 min in future', pki(), now + 10 * 60_000),
  () => at('signedTime 1e16 (beyond Date)', pki(), 1e16),
  // unique IDs, extra fields
  () => chainCase('leaf with issuerUniqueID + subjectUniqueID', pki({ leaf: { beforeExts: [hex('810200ff'), hex('820200aa')] } })),
  () => chainCase('int with issuerUniqueID + subjectUniqueID', pki({ int: { beforeExts: [hex('810200ff'), hex('820200aa')] } })),
  () => chainCase('leaf uniqueID constructed [1]', pki({ leaf: { beforeExts: [hex('a1 03 030100')] } })),
  () => chainCase('leaf uniqueID AFTER extensions', pki({ leaf: { afterExts: [hex('810200ff')] } })),
  () => chainCase('leaf INTEGER after extensions (trailing field in TBS)', pki({ leaf: { afterExts: [hex('020101')] } })),
  () => chainCase('int INTEGER after extensions', pki({ int: { afterExts: [hex('020101')] } })),
  () => chainCase('leaf [4] after extensions', pki({ leaf: { afterExts: [hex('a4 03 020101')] } })),
  () => chainCase('leaf extensions split over two [3] fields', pki({ leaf: { extsField: Buffer.concat([T(0xa3, seq(bcExt(false), kuExt([0]))), T(0xa3, seq(iapExt()))]) } })),
  () => chainCase('leaf [3] empty (no SEQUENCE)', pki({ leaf: { extsField: hex('a300') } })),
  () => chainCase('leaf [3] with empty SEQUENCE', pki({ leaf: { exts: [] } })),
  () => chainCase('int [3] with empty SEQUENCE', pki({ int: { exts: [] } })),
  () => chainCase('leaf [3] holding 2 SEQUENCEs', pki({ leaf: { extsField: T(0xa3, seq(bcExt(false), kuExt([0]), iapExt()), seq()) } })),
  () => chainCase('leaf [3] primitive-tagged (83)', pki({ leaf: { editTbs: (t) => { const i = t.lastIndexOf(0xa3); const b = Buffer.from(t); b[i] = 0x83; return b; } } })),
  // outer structure
  () => chainCase('leaf trailing garbage inside outer SEQUENCE', pki({ leaf: { outerTrailing: hex('0500') } })),
  () => chainCase('int trailing garbage inside outer SEQUENCE', pki({ int: { outerTrailing: hex('0500') } })),
  () => { const p = pki(); return { ...chainCase('leaf bytes after certificate', p), x5c: [Buffer.concat([p.leafDer, hex('00')]).toString('base64'), p.intDer.toString('base64'), p.rootDer.toString('base64')] }; },
  () => { const p = pki(); return { ...chainCase('int bytes after certificate', p), x5c: [p.leafDer.toString('base64'), Buffer.concat([p.intDer, hex('0000')]).toString('base64'), p.rootDer.toString('base64')] }; },
];
