// AKID/SKID, names, intermediate key types, root properties.
import {
  OID, PRINTABLE, UTF8, ROOT_NAME, akidExt, bcExt, chainCase, ecKey, edKey, ext, hex, iapExt, kuExt, name,
  pki, rsaKey, seq, skidExt, skidOf, tlv, type Case,
} from './ParityPki';

const INT_NAME_PRINTABLE = name([OID.C, PRINTABLE, 'CN'], [OID.O, PRINTABLE, 'Parity Test'], [OID.CN, PRINTABLE, 'Parity Intermediate CA']);
const INT_NAME_UPPER = name([OID.C, PRINTABLE, 'CN'], [OID.O, UTF8, 'PARITY TEST'], [OID.CN, UTF8, 'parity intermediate ca']);
const ROOT_NAME_PRINTABLE = name([OID.C, PRINTABLE, 'CN'], [OID.O, PRINTABLE, 'Parity Test'], [OID.CN, PRINTABLE, 'Parity Root CA']);
const ROOT_NAME_SPACES = name([OID.C, PRINTABLE, 'CN'], [OID.O, UTF8, 'Parity  Test '], [OID.CN, UTF8, 'Parity Root CA']);

export const cases: Array<() => Case> = [
  () => chainCase('genuine (own PKI, SKID/AKID everywhere)', pki()),
  // AKID/SKID
  () => chainCase('int AKID keyid != root SKID', pki({ int: { exts: undefined, ...{} } })),
  () => {
    const r = ecKey(); const i = ecKey();
    return chainCase('int AKID keyid != root SKID (only defect)', pki({ root: { key: r }, int: { key: i, exts: [bcExt(true, 0), kuExt([5, 6]), skidExt(skidOf(i.spki)), akidExt(Buffer.alloc(20, 0xab))] } }));
  },
  () => {
    const r = ecKey(); const i = ecKey();
    return chainCase('int AKID with issuer+serial only (no keyid) wrong serial', pki({ root: { key: r }, int: { key: i, exts: [bcExt(true, 0), kuExt([5, 6]), skidExt(skidOf(i.spki)),
      ext(OID.AKID, false, seq(tlv(0xa1, tlv(0xa4, ROOT_NAME)), tlv(0x82, hex('0999'))))] } }));
  },
  () => {
    const i = ecKey();
    return chainCase('leaf AKID keyid != int SKID (only defect)', pki({ int: { key: i }, leaf: { exts: [bcExt(false), kuExt([0]), akidExt(Buffer.alloc(20, 0xcd)), iapExt()] } }));
  },
  () => {
    const r = ecKey(); const i = ecKey();
    return chainCase('root without SKID, int AKID arbitrary', pki({ root: { key: r, exts: [bcExt(true), kuExt([5, 6])] }, int: { key: i, exts: [bcExt(true, 0), kuExt([5, 6]), akidExt(Buffer.alloc(20, 0xab))] } }));
  },
  () => {
    const r = ecKey(); const i = ecKey();
    return chainCase('int SKID != hash, leaf AKID matches it', pki({ int: { key: i, exts: [bcExt(true, 0), kuExt([5, 6]), skidExt(Buffer.alloc(8, 7)), akidExt(skidOf(r.spki))] }, root: { key: r },
      leaf: { exts: [bcExt(false), kuExt([0]), akidExt(Buffer.alloc(8, 7)), iapExt()] } }));
  },
  // names
  () => chainCase('leaf issuer PrintableString, int subject UTF8String (same text)', pki({ leaf: { issuer: INT_NAME_PRINTABLE } })),
  () => chainCase('leaf issuer differs only in case', pki({ leaf: { issuer: INT_NAME_UPPER } })),
  () => chainCase('int issuer PrintableString, root subject UTF8String', pki({ int: { issuer: ROOT_NAME_PRINTABLE } })),
  () => chainCase('int issuer with extra spaces vs root subject', pki({ int: { issuer: ROOT_NAME_SPACES } })),
  () => chainCase('int issuer different name entirely', pki({ int: { issuer: name([OID.CN, UTF8, 'Someone Else']) } })),
  () => chainCase('leaf subject empty', pki({ leaf: { subject: seq() } })),
  () => chainCase('int subject empty (leaf issuer empty too)', pki({ int: { subject: seq() }, leaf: { issuer: seq() } })),
  () => { const r = ecKey(); return chainCase('root subject+issuer empty, int issuer empty', pki({ root: { key: r, issuer: seq(), subject: seq() }, int: { issuer: seq() } })); },
  () => chainCase('leaf subject CN UTF8 invalid bytes', pki({ leaf: { subject: name([OID.CN, UTF8, Buffer.from([0x41, 0xff, 0xfe])]) } })),
  () => {
    const bad = name([OID.CN, UTF8, Buffer.from([0x41, 0xff, 0xfe])]);
    return chainCase('int subject CN UTF8 invalid bytes (leaf issuer same)', pki({ int: { subject: bad }, leaf: { issuer: bad } }));
  },
  () => chainCase('leaf subject not a Name (SEQUENCE{INTEGER})', pki({ leaf: { subject: seq(hex('020105')) } })),
  () => chainCase('leaf subject SET holding INTEGER', pki({ leaf: { subject: seq(tlv(0x31, hex('020105'))) } })),
  () => {
    const bad = seq(tlv(0x31, hex('020105')));
    return chainCase('int subject SEQUENCE{SET{INTEGER}} (leaf issuer same)', pki({ int: { subject: bad }, leaf: { issuer: bad } }));
  },
  () => chainCase('leaf subject BMPString odd length', pki({ leaf: { subject: name([OID.CN, 0x1e, Buffer.from([0, 0x41, 0])]) } })),
  // intermediate key types
  () => { const i = rsaKey(); return chainCase('RSA-2048 intermediate (leaf sha256WithRSA)', pki({ int: { key: i } })); },
  () => { const i = ecKey('P-384'); return chainCase('P-384 intermediate (leaf ecdsa-with-SHA384)', pki({ int: { key: i } })); },
  () => { const i = edKey(); return chainCase('Ed25519 intermediate (leaf Ed25519-signed)', pki({ int: { key: i } })); },
  () => { const r = ecKey('P-384'); return chainCase('P-384 root (int ecdsa-with-SHA384)', pki({ root: { key: r } })); },
  () => { const r = rsaKey(); return chainCase('RSA root', pki({ root: { key: r } })); },
  // root properties
  () => { const r = ecKey(); return chainCase('root keyUsage digitalSignature only (no keyCertSign)', pki({ root: { key: r, exts: [bcExt(true), kuExt([0]), skidExt(skidOf(r.spki))] } })); },
  () => { const r = ecKey(); return chainCase('root basicConstraints cA FALSE', pki({ root: { key: r, exts: [bcExt(false), kuExt([5, 6]), skidExt(skidOf(r.spki))] } })); },
  () => { const r = ecKey(); return chainCase('root with no extensions (v3)', pki({ root: { key: r, exts: undefined } })); },
  () => { const r = ecKey(); return chainCase('root v1', pki({ root: { key: r, version: Buffer.alloc(0), exts: undefined } })); },
  () => { const r = ecKey(); return chainCase('root unknown critical ext', pki({ root: { key: r, exts: [bcExt(true), kuExt([5, 6]), ext('1.2.3.4.5', true, hex('0500'))] } })); },
  () => { const r = ecKey(); return chainCase('root expired (int/leaf valid)', pki({ root: { key: r, validity: seq(tlv(0x17, Buffer.from('200101000000Z')), tlv(0x17, Buffer.from('210101000000Z'))) } })); },
  () => { const r = ecKey(); return chainCase('root not yet valid', pki({ root: { key: r, validity: seq(tlv(0x17, Buffer.from('400101000000Z')), tlv(0x17, Buffer.from('410101000000Z'))) } })); },
  () => { const r = ecKey(); return chainCase('root with duplicate BC', pki({ root: { key: r, exts: [bcExt(true), bcExt(true), kuExt([5, 6])] } })); },
  () => { const r = ecKey(); return chainCase('root with garbage SKID', pki({ root: { key: r, exts: [bcExt(true), kuExt([5, 6]), ext(OID.SKID, false, hex('0500'))] } })); },
];
