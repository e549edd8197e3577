// Adversarial review of the server, over real HTTP on loopback: odd chains and signatures, non-canonical encodings,
// header and payload types, signedTime edges, request smuggling, concurrent replays by several accounts, notifications
// from a foreign root or for unknown orders, idempotency across a restart on the same SQLite file, and log redaction.
// The reason codes are those the on-device verifier gives for the same input (common/iap JwsHardening.test.ets).
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  caLeaf,
  hasHighS,
  leafIssuedByRoot,
  oddCertificateVectors,
  P256_ORDER_HEX,
  pinnedRootAsLeaf,
  signRaw,
  v1Leaf,
  withFlippedS,
  withForeignX5cRoot,
} from '../../tools/testing/OddChains';
import { createTestPki, signCompactJws, type TestPki } from '../../tools/testing/TestPki';
import { hex, parts, seq, tlv } from '../../tools/testing/DerBytes';
import { RejectError } from '../src/jws/Errors';
import { JwsVerifier } from '../src/jws/JwsVerifier';
import {
  APP_ID,
  b64url,
  DEFAULT_ACCOUNT,
  sessionFor,
  genuinePki,
  LogCapture,
  orderPayload,
  post,
  purchaseData,
  startTestServer,
  tmpDb,
  verifyReq,
  withPart,
  type TestServer,
} from './helpers';

const HOUR = 3_600_000;

let pki: TestPki;
let foreign: TestPki;
let server: TestServer;

before(async () => {
  pki = await genuinePki();
  foreign = await createTestPki({ subjectPrefix: 'Attacker' });
  server = await startTestServer(pki);
});
after(async () => {
  await server.close();
});

async function verdict(jws: string): Promise<string> {
  const r = await verifyReq(server, purchaseData(jws));
  if (r.status === 200) return 'valid';
  return r.status === 422 ? String(r.body.reason) : `HTTP ${r.status} ${r.text}`;
}

function headerJson(extra = ''): string {
  return `{"alg":"ES256","typ":"JWT","x5c":${JSON.stringify(pki.x5c())}${extra ? `,${extra}` : ''}}`;
}

function withScalars(jws: string, rHex: string, sHex: string): string {
  return withPart(jws, 2, Buffer.from(rHex.padStart(64, '0') + sHex.padStart(64, '0'), 'hex').toString('base64url'));
}

describe('chains the functional tests do not build', () => {
  it('a leaf issued directly by the pinned root, as [leaf, root, root] → untrusted-chain', async () => {
    assert.equal(await verdict(await leafIssuedByRoot(pki, orderPayload())), 'untrusted-chain');
  });
  it('the pinned root presented as leaf and intermediate → untrusted-chain', async () => {
    assert.equal(await verdict(pinnedRootAsLeaf(pki, orderPayload())), 'untrusted-chain');
  });
  it('a leaf that is a CA, under an intermediate with pathLen 0 → bad-certificate', async () => {
    assert.equal(await verdict(await caLeaf(pki, orderPayload())), 'bad-certificate');
  });
  it('an X.509 v1 leaf → bad-certificate', async () => {
    assert.equal(await verdict(v1Leaf(pki, orderPayload())), 'bad-certificate');
  });
  it('certificates with trailing bytes → bad-certificate', async () => {
    const x = pki.x5c();
    const padded = (b64: string): string => Buffer.concat([Buffer.from(b64, 'base64'), Buffer.alloc(2)]).toString('base64');
    assert.equal(await verdict(pki.signJws(orderPayload(), { x5c: [padded(x[0]!), x[1]!, x[2]!] })), 'bad-certificate');
    assert.equal(await verdict(pki.signJws(orderPayload(), { x5c: [x[0]!, padded(x[1]!), x[2]!] })), 'bad-certificate');
  });
  it('the shared odd-certificate vectors get the verdicts the device gives them (JwsHardening.test.ets)', async () => {
    const wrong: string[] = [];
    for (const v of await oddCertificateVectors(pki, orderPayload())) {
      const got = await verdict(v.jws);
      if (got !== v.expected) wrong.push(`${v.name}: ${got}, expected ${v.expected}`);
    }
    assert.deepEqual(wrong, []);
  });
  it('x5c[2] that is another root does not matter: leaf and intermediate chain to the pinned root → valid', async () => {
    assert.equal(await verdict(withForeignX5cRoot(pki, foreign, orderPayload())), 'valid');
  });
});

// --- DER tools for the certificate rules below (edited certificates are re-signed by their issuer's key) ----------

/** The content of the DER element `el`. */
const contentOf = (el: Buffer): Buffer => el.subarray(el[1]! < 0x80 ? 2 : 2 + (el[1]! & 0x7f));
const ECDSA_SHA256 = hex('300a06082a8648ce3d040302');

/** A certificate of `tbsFields` signed by `key` (ECDSA with SHA-256 unless the key is RSA, then PKCS#1 v1.5). */
function signed(tbsFields: Buffer[], key: crypto.KeyObject): Buffer {
  const tbs = seq(...tbsFields);
  const sig = key.asymmetricKeyType === 'ec' ? crypto.sign('sha256', tbs, { key, dsaEncoding: 'der' }) : crypto.sign('sha256', tbs, key);
  return seq(tbs, ECDSA_SHA256, tlv(0x03, Buffer.concat([Buffer.from([0]), sig])));
}

/** `der`'s tbsCertificate fields, edited by `edit`, re-signed by `key`. */
const resigned = (der: Buffer, key: crypto.KeyObject, edit: (fields: Buffer[]) => Buffer[]): Buffer => signed(edit(parts(parts(der)[0]!)), key);

/** The fields with the extensions ([3], field 7) replaced by `exts`. */
const withExtensions = (fields: Buffer[], exts: Buffer[]): Buffer[] => [...fields.slice(0, 7), tlv(0xa3, seq(...exts))];

function ext(oidContentHex: string, critical: boolean, value: Buffer): Buffer {
  return seq(tlv(0x06, hex(oidContentHex)), ...(critical ? [hex('0101ff')] : []), tlv(0x04, value));
}

const OID = { BC: '551d13', KU: '551d0f', EKU: '551d25', SAN: '551d11', POLICIES: '551d20', NC: '551d1e', PC: '551d24',
  INHIBIT: '551d36', PM: '551d21', SKID: '551d0e', AKID: '551d23', CRLDP: '551d1f' };
const INT_EXTENSIONS = (): Buffer[] => [ext(OID.BC, true, hex('30060101ff020100')), ext(OID.KU, true, hex('03020106'))];
const LEAF_EXTENSIONS = (): Buffer[] => [ext(OID.BC, true, hex('3000')), ext(OID.KU, true, hex('03020780')),
  ext('2b060104018f5b02831f0101', false, hex('0500'))];

/** A Name with every attribute value rewritten by `f` (tag, bytes) → [tag, bytes]. */
function mapName(name: Buffer, f: (tag: number, value: Buffer) => [number, Buffer]): Buffer {
  return seq(...parts(name).map((rdn) => tlv(0x31, Buffer.concat(parts(rdn).map((atv) => {
    const [type, value] = parts(atv);
    const [tag, bytes] = f(value![0]!, contentOf(value!));
    return seq(type!, tlv(tag, bytes));
  })))));
}

function pem(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n`;
}

/** The verdict of an in-process verifier pinned to `rootDer` for the chain [leaf, intermediate, root]. */
function chainVerdict(leafDer: Buffer, intDer: Buffer, leafKey: crypto.KeyObject, rootDer = pki.rootDer): string {
  const jws = signCompactJws(leafKey, { alg: 'ES256', typ: 'JWT', x5c: [leafDer, intDer, rootDer].map((d) => d.toString('base64')) }, orderPayload());
  try {
    new JwsVerifier({ trustedRootsPem: pem(rootDer), cache: false }).verify(jws);
    return 'valid';
  } catch (e) {
    return e instanceof RejectError ? e.reason : `threw ${String(e)}`;
  }
}

const leafEdited = (edit: (fields: Buffer[]) => Buffer[]): string => chainVerdict(resigned(pki.leafDer, pki.intermediatePrivateKey, edit), pki.intermediateDer, pki.leafPrivateKey);
const intEdited = (edit: (fields: Buffer[]) => Buffer[]): string => chainVerdict(pki.leafDer, resigned(pki.intermediateDer, pki.rootPrivateKey, edit), pki.leafPrivateKey);

/** Collects "name: got, expected" for every case whose verdict is not the expected one. */
function mismatches(cases: Array<[string, () => string, string]>): string[] {
  return cases.flatMap(([name, run, expected]) => {
    const got = run();
    return got === expected ? [] : [`${name}: ${got}, expected ${expected}`];
  });
}

describe('certificate rules shared with the device (the parity fuzz)', () => {
  it('names are compared byte for byte, AKID/SKID not judged: case, spacing or string type differences → untrusted-chain', () => {
    const lower = (tag: number, v: Buffer): [number, Buffer] => [tag, Buffer.from(v.toString('latin1').toLowerCase(), 'latin1')];
    const utf8 = (_tag: number, v: Buffer): [number, Buffer] => [0x0c, v];
    const spaced = (tag: number, v: Buffer): [number, Buffer] => [tag, Buffer.from(`${v.toString('latin1')} `, 'latin1')];
    assert.deepEqual(mismatches([
      ['leaf issuer in lower case', () => leafEdited((f) => f.map((x, i) => (i === 3 ? mapName(x, lower) : x))), 'untrusted-chain'],
      ['leaf issuer as UTF8String', () => leafEdited((f) => f.map((x, i) => (i === 3 ? mapName(x, utf8) : x))), 'untrusted-chain'],
      ['leaf issuer with a trailing space', () => leafEdited((f) => f.map((x, i) => (i === 3 ? mapName(x, spaced) : x))), 'untrusted-chain'],
      ['intermediate issuer in lower case', () => intEdited((f) => f.map((x, i) => (i === 3 ? mapName(x, lower) : x))), 'untrusted-chain'],
      ['intermediate issuer as UTF8String', () => intEdited((f) => f.map((x, i) => (i === 3 ? mapName(x, utf8) : x))), 'untrusted-chain'],
      ['intermediate AKID that is not the root SKID', () => chainVerdict(pki.leafDer,
        resigned(pki.intermediateDer, pki.rootPrivateKey, (f) => withExtensions(f, [...INT_EXTENSIONS(), ext(OID.AKID, false, seq(tlv(0x80, Buffer.alloc(20, 0xab))))])),
        pki.leafPrivateKey, resigned(pki.rootDer, pki.rootPrivateKey, (f) => withExtensions(f, [...INT_EXTENSIONS(), ext(OID.SKID, false, tlv(0x04, Buffer.alloc(20, 0x11)))]))), 'valid'],
      ['leaf AKID that is not the intermediate key id', () => leafEdited((f) => withExtensions(f, [...LEAF_EXTENSIONS(),
        ext(OID.AKID, false, seq(tlv(0x80, Buffer.alloc(20, 0xcd))))])), 'valid'],
    ]), []);
  });
  it('a pinned root is matched by its subject bytes and key only: v1, no keyCertSign, an undecodable SKID → valid', () => {
    const root = (edit: (fields: Buffer[]) => Buffer[]): Buffer => resigned(pki.rootDer, pki.rootPrivateKey, edit);
    assert.deepEqual(mismatches([
      ['root v1', () => chainVerdict(pki.leafDer, pki.intermediateDer, pki.leafPrivateKey, root((f) => f.slice(1, 7))), 'valid'],
      ['root keyUsage digitalSignature only', () => chainVerdict(pki.leafDer, pki.intermediateDer, pki.leafPrivateKey,
        root((f) => withExtensions(f, [ext(OID.BC, true, hex('30030101ff')), ext(OID.KU, true, hex('03020780'))]))), 'valid'],
      ['root SKID value NULL', () => chainVerdict(pki.leafDer, pki.intermediateDer, pki.leafPrivateKey,
        root((f) => withExtensions(f, [ext(OID.BC, true, hex('30030101ff')), ext(OID.SKID, false, hex('0500'))]))), 'valid'],
    ]), []);
  });
  it('the intermediate is read fully before its issuer is judged: undecodable or duplicate extensions → bad-certificate', () => {
    const withInt = (...exts: Buffer[]): string => intEdited((f) => withExtensions(f, exts));
    const [bc, ku] = INT_EXTENSIONS();
    assert.deepEqual(mismatches([
      ['basicConstraints value NULL', () => withInt(ext(OID.BC, true, hex('0500')), ku!), 'bad-certificate'],
      ['basicConstraints negative pathLen', () => withInt(ext(OID.BC, true, hex('30060101ff0201ff')), ku!), 'bad-certificate'],
      ['basicConstraints pathLen 00 00', () => withInt(ext(OID.BC, true, hex('30070101ff02020000')), ku!), 'bad-certificate'],
      ['keyUsage value NULL', () => withInt(bc!, ext(OID.KU, true, hex('0500'))), 'bad-certificate'],
      ['keyUsage empty BIT STRING', () => withInt(bc!, ext(OID.KU, true, hex('030100'))), 'bad-certificate'],
      ['duplicate basicConstraints', () => withInt(bc!, ku!, bc!), 'bad-certificate'],
      ['duplicate SKID', () => withInt(bc!, ku!, ext(OID.SKID, false, hex('04020102')), ext(OID.SKID, false, hex('04020102'))), 'bad-certificate'],
      ['constructed issuerUniqueID', () => intEdited((f) => [...f.slice(0, 7), hex('a103030100'), ...f.slice(7)]), 'bad-certificate'],
      // Values neither side judges: OpenSSL's "not a CA" for them (X509Certificate.ca) is not the answer.
      ['SKID value NULL', () => withInt(bc!, ku!, ext(OID.SKID, false, hex('0500'))), 'valid'],
      ['CRL distribution points value NULL', () => withInt(bc!, ku!, ext(OID.CRLDP, false, hex('0500'))), 'valid'],
    ]), []);
  });
  it('an intermediate or leaf key the platform cannot decode (a point off the curve) → bad-certificate, not a 500', async () => {
    const offCurve = (spki: Buffer): Buffer => Buffer.concat([spki.subarray(0, -1), Buffer.from([spki[spki.length - 1]! ^ 1])]);
    const intJws = signCompactJws(pki.leafPrivateKey, { alg: 'ES256', x5c: [pki.leafDer,
      resigned(pki.intermediateDer, pki.rootPrivateKey, (f) => f.map((x, i) => (i === 6 ? offCurve(x) : x))), pki.rootDer].map((d) => d.toString('base64')) }, orderPayload());
    assert.equal(await verdict(intJws), 'bad-certificate');
    assert.equal(leafEdited((f) => f.map((x, i) => (i === 6 ? offCurve(x) : x))), 'bad-certificate');
  });
  it('the leaf (never parsed by OpenSSL) follows d2i_X509 and DER: serial, names, unique IDs, the fields after the key → bad-certificate', () => {
    const field = (index: number, value: Buffer) => (f: Buffer[]): Buffer[] => f.map((x, i) => (i === index ? value : x));
    const exts = (f: Buffer[]): Buffer => f[7]!;
    const cn = (tag: number, value: Buffer): Buffer => seq(tlv(0x31, seq(hex('0603550403'), tlv(tag, value))));
    const atv = seq(hex('0603550403'), hex('0c0141'));
    assert.deepEqual(mismatches([
      ['serialNumber 00 01', () => leafEdited(field(1, hex('02020001'))), 'bad-certificate'],
      ['serialNumber FF 80', () => leafEdited(field(1, hex('0202ff80'))), 'bad-certificate'],
      ['serialNumber empty', () => leafEdited(field(1, hex('0200'))), 'bad-certificate'],
      ['subject SEQUENCE { INTEGER }', () => leafEdited(field(5, seq(hex('020105')))), 'bad-certificate'],
      // d2i_X509 reads an empty RDN SET (X.501 wants one value at least); the device follows it, so both accept it.
      ['subject with an empty RDN (read by d2i_X509, so valid)', () => leafEdited(field(5, seq(hex('3100')))), 'valid'],
      ['subject UTF8String not UTF-8', () => leafEdited(field(5, cn(0x0c, hex('41fffe')))), 'bad-certificate'],
      ['subject BMPString of odd length', () => leafEdited(field(5, cn(0x1e, hex('004100')))), 'bad-certificate'],
      ['subject UniversalString of 3 bytes', () => leafEdited(field(5, cn(0x1c, hex('000041')))), 'bad-certificate'],
      ['subject CN length 81 xx', () => leafEdited(field(5, seq(tlv(0x31, seq(hex('0603550403'), hex('0c8101 41')))))), 'bad-certificate'],
      ['subject RDN length 82 00 xx', () => leafEdited(field(5, seq(hex('318200'), Buffer.from([atv.length]), atv))), 'bad-certificate'],
      ['constructed issuerUniqueID', () => leafEdited((f) => [...f.slice(0, 7), hex('a103030100'), f[7]!]), 'bad-certificate'],
      ['subjectUniqueID before issuerUniqueID', () => leafEdited((f) => [...f.slice(0, 7), hex('820200aa'), hex('810200ff'), f[7]!]), 'bad-certificate'],
      ['an INTEGER after the extensions', () => leafEdited((f) => [...f, hex('020101')]), 'bad-certificate'],
      ['the extensions split over two [3]', () => leafEdited((f) => [...f.slice(0, 7), tlv(0xa3, seq(...LEAF_EXTENSIONS().slice(0, 2))),
        tlv(0xa3, seq(LEAF_EXTENSIONS()[2]!))]), 'bad-certificate'],
      ['[3] primitive', () => leafEdited((f) => [...f.slice(0, 7), Buffer.concat([hex('83'), exts(f).subarray(1)])]), 'bad-certificate'],
      ['an extension OID padded with 0x80', () => leafEdited((f) => withExtensions(f, [...LEAF_EXTENSIONS(), ext('2a800304', false, hex('0500'))])), 'bad-certificate'],
      ['basicConstraints negative pathLen', () => leafEdited((f) => withExtensions(f, [ext(OID.BC, true, hex('30030201ff')), ...LEAF_EXTENSIONS().slice(1)])), 'bad-certificate'],
    ]), []);
  });
  it('the critical extensions accepted are the device’s: basicConstraints, keyUsage, extKeyUsage, certificatePolicies, subjectAltName', () => {
    const critical: Array<[string, string, Buffer]> = [
      ['nameConstraints', OID.NC, hex('300da00b30098207746573742e636e')],
      ['policyConstraints', OID.PC, hex('3003800100')],
      ['inhibitAnyPolicy', OID.INHIBIT, hex('020100')],
      ['policyMappings', OID.PM, hex('300a300806022a0306022a04')],
    ];
    const accepted: Array<[string, string, Buffer]> = [
      ['extKeyUsage', OID.EKU, hex('300a06082b06010505070303')],
      ['certificatePolicies', OID.POLICIES, hex('30083006 0604551d2000')],
      ['subjectAltName', OID.SAN, seq(tlv(0x82, Buffer.from('a.example')))],
    ];
    assert.deepEqual(mismatches([
      ...critical.flatMap(([name, oid, value]): Array<[string, () => string, string]> => [
        [`intermediate critical ${name}`, () => intEdited((f) => withExtensions(f, [...INT_EXTENSIONS(), ext(oid, true, value)])), 'bad-certificate'],
        [`leaf critical ${name}`, () => leafEdited((f) => withExtensions(f, [...LEAF_EXTENSIONS(), ext(oid, true, value)])), 'bad-certificate'],
      ]),
      ...accepted.flatMap(([name, oid, value]): Array<[string, () => string, string]> => [
        [`intermediate critical ${name}`, () => intEdited((f) => withExtensions(f, [...INT_EXTENSIONS(), ext(oid, true, value)])), 'valid'],
        [`leaf critical ${name}`, () => leafEdited((f) => withExtensions(f, [...LEAF_EXTENSIONS(), ext(oid, true, value)])), 'valid'],
      ]),
    ]), []);
  });
  it('a leaf whose signature field says ECDSA but that an RSA intermediate signed with RSA does not verify (X509_verify)', () => {
    const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rsaSpki = rsa.publicKey.export({ type: 'spki', format: 'der' });
    const int = resigned(pki.intermediateDer, pki.rootPrivateKey, (f) => f.map((x, i) => (i === 6 ? rsaSpki : x)));
    const leaf = resigned(pki.leafDer, rsa.privateKey, (f) => f);
    assert.equal(new crypto.X509Certificate(leaf).verify(rsa.publicKey), false);
    assert.equal(chainVerdict(leaf, int, pki.leafPrivateKey), 'untrusted-chain');
  });
});

describe('encodings', () => {
  it('x5c entries in non-canonical Base64 (missing or extra padding) → bad-certificate', async () => {
    const x = pki.x5c();
    const leaf = x[0]!;
    const variant = leaf.endsWith('=') ? leaf.replace(/=+$/, '') : `${leaf}==`;
    assert.equal(await verdict(pki.signJws(orderPayload(), { x5c: [variant, x[1]!, x[2]!] })), 'bad-certificate');
    assert.equal(await verdict(pki.signJws(orderPayload(), { x5c: [leaf, `${x[1]!} `, x[2]!] })), 'bad-certificate');
  });
  it('a signature text with non-zero trailing bits (same bytes, another text) → malformed', async () => {
    const jws = pki.signJws(orderPayload());
    const s = jws.split('.')[2]!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sibling = alphabet[alphabet.indexOf(s[85]!) + 1]!;
    const variant = withPart(jws, 2, s.slice(0, 85) + sibling);
    assert.deepEqual(Buffer.from(variant.split('.')[2]!, 'base64url'), Buffer.from(s, 'base64url'));
    assert.equal(await verdict(variant), 'malformed');
  });
  it('a payload text with non-zero trailing bits → malformed', async () => {
    // Find a payload whose base64url length leaves padding bits, then set one of them.
    let jws = '';
    for (let pad = 0; pad < 3 && !jws; pad++) {
      const candidate = pki.signJws(orderPayload({ offerId: 'x'.repeat(pad) }));
      if (candidate.split('.')[1]!.length % 4 !== 0) jws = candidate;
    }
    const p = jws.split('.')[1]!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(p[p.length - 1]!);
    const variant = withPart(jws, 1, p.slice(0, -1) + alphabet[last + 1]!);
    assert.equal(await verdict(variant), 'malformed');
  });
});

describe('header types', () => {
  const payload = (): string => JSON.stringify(orderPayload());
  it('alg in another case, with spaces, or not a string → unsupported-alg', async () => {
    for (const alg of ['"es256"', '"ES256 "', '"ES256\\u0000"', '["ES256"]', '256', 'null']) {
      assert.equal(await verdict(signRaw(pki, `{"alg":${alg},"x5c":${JSON.stringify(pki.x5c())}}`, payload())), 'unsupported-alg', alg);
    }
  });
  it('crit → malformed whatever the alg (crit is judged first, as on the device)', async () => {
    assert.equal(await verdict(signRaw(pki, headerJson('"crit":["exp"]'), payload())), 'malformed');
    assert.equal(await verdict(signRaw(pki, `{"alg":"HS256","crit":["b64"],"x5c":${JSON.stringify(pki.x5c())}}`, payload())), 'malformed');
  });
  it('x5c not an array → malformed; entries that are not strings → bad-certificate; the count first', async () => {
    assert.equal(await verdict(signRaw(pki, `{"alg":"ES256","x5c":"${pki.x5c()[0]!}"}`, payload())), 'malformed');
    assert.equal(await verdict(signRaw(pki, '{"alg":"ES256","x5c":[1,2,3]}', payload())), 'bad-certificate');
    assert.equal(await verdict(signRaw(pki, '{"alg":"ES256","x5c":[1,2]}', payload())), 'bad-chain-length');
  });
  it('duplicate keys: the last one wins, as on the device', async () => {
    const x5c = JSON.stringify(pki.x5c());
    assert.equal(await verdict(signRaw(pki, `{"alg":"none","x5c":${x5c},"alg":"ES256"}`, payload())), 'valid');
    assert.equal(await verdict(signRaw(pki, `{"alg":"ES256","x5c":${x5c},"alg":"none"}`, payload())), 'unsupported-alg');
  });
  it('kid, jku, x5u, x5t#S256 and jwk are ignored', async () => {
    const extra = '"kid":"k","jku":"https://attacker.example/jwks","x5u":"https://attacker.example/x5u","x5t#S256":"AAAA","jwk":{"kty":"EC"}';
    assert.equal(await verdict(signRaw(pki, headerJson(extra), payload())), 'valid');
  });
});

describe('signatures', () => {
  it('both ECDSA forms (low-S and high-S) are valid: Huawei does not normalise s', async () => {
    const jws = pki.signJws(orderPayload());
    const flipped = withFlippedS(jws);
    assert.notEqual(hasHighS(jws), hasHighS(flipped));
    assert.equal(await verdict(jws), 'valid');
    assert.equal(await verdict(withFlippedS(pki.signJws(orderPayload()))), 'valid');
  });
  it('r or s equal to 0, to n or above → bad-signature', async () => {
    const jws = pki.signJws(orderPayload());
    const sig = Buffer.from(jws.split('.')[2]!, 'base64url');
    const r = sig.subarray(0, 32).toString('hex');
    const s = sig.subarray(32).toString('hex');
    for (const [rr, ss] of [['0', s], [r, '0'], [P256_ORDER_HEX, s], [r, P256_ORDER_HEX], ['f'.repeat(64), s]] as const) {
      assert.equal(await verdict(withScalars(jws, rr, ss)), 'bad-signature', `${rr.slice(0, 8)} ${ss.slice(0, 8)}`);
    }
  });
});

describe('signedTime and payload types (the device reads the payload the server returns)', () => {
  it('signedTime as a string → invalid-payload', async () => {
    const now = Date.now();
    const text = JSON.stringify(orderPayload({ signedTime: now })).replace(`"signedTime":${now}`, `"signedTime":"${now}"`);
    assert.equal(await verdict(signRaw(pki, headerJson(), text)), 'invalid-payload');
  });
  it('signedTime zero, negative or not finite → invalid-payload; in seconds → cert-not-yet-valid', async () => {
    assert.equal(await verdict(pki.signJws(orderPayload({ signedTime: 0 }))), 'invalid-payload');
    assert.equal(await verdict(pki.signJws(orderPayload({ signedTime: -Date.now() }))), 'invalid-payload');
    const text = JSON.stringify(orderPayload({ signedTime: 7 })).replace('"signedTime":7', '"signedTime":1e400');
    assert.equal(await verdict(signRaw(pki, headerJson(), text)), 'invalid-payload');
    assert.equal(await verdict(pki.signJws(orderPayload({ signedTime: Math.floor(Date.now() / 1000) }))), 'cert-not-yet-valid');
  });
  it('far-future signedTime → cert-expired (certificates first, as on the device)', async () => {
    assert.equal(await verdict(pki.signJws(orderPayload({ signedTime: 1e17 }))), 'cert-expired');
  });
  it('validity bounds are inclusive to the millisecond', async () => {
    // Inside the genuine intermediate's validity (from a day before the test run).
    const notBefore = Math.floor((Date.now() - 20 * HOUR) / 1000) * 1000;
    const notAfter = Math.floor((Date.now() - HOUR) / 1000) * 1000;
    const past = await createTestPki({ parent: pki, leafNotBefore: new Date(notBefore), leafNotAfter: new Date(notAfter) });
    assert.equal(await verdict(past.signJws(orderPayload({ signedTime: notBefore }))), 'valid');
    assert.equal(await verdict(past.signJws(orderPayload({ signedTime: notAfter }))), 'valid');
    assert.equal(await verdict(past.signJws(orderPayload({ signedTime: notBefore - 1 }))), 'cert-not-yet-valid');
    assert.equal(await verdict(past.signJws(orderPayload({ signedTime: notAfter + 1 }))), 'cert-expired');
  });
  it('fields of the wrong JSON type → invalid-payload, so the device never receives a payload it cannot read', async () => {
    for (const over of [{ productType: 0 }, { price: '600' }, { needFinish: 'true' }, { purchaseTime: '1' }, { currency: 7 }, { quantity: '1' }]) {
      assert.equal(await verdict(pki.signJws(orderPayload(over))), 'invalid-payload', JSON.stringify(over));
    }
  });
  it('a payload that is not a JSON object → malformed', async () => {
    for (const text of ['[]', '42', 'null', '"x"']) {
      assert.equal(await verdict(signRaw(pki, headerJson(), text)), 'malformed', text);
    }
  });
});

describe('request smuggling', () => {
  it('extra fields, purchaseData as an object, __proto__ → 400 and no grant', async () => {
    const p = orderPayload();
    const pd = purchaseData(pki.signJws(p));
    const before = server.grants.length;
    for (const body of [
      { purchaseData: pd, accountId: 'a', grant: true },
      { purchaseData: JSON.parse(pd) as unknown },
      { purchaseData: [pd] },
      `{"purchaseData":${JSON.stringify(pd)},"__proto__":{"accountId":"x"}}`,
      `{"purchaseData":${JSON.stringify(pd)},"constructor":{"prototype":{"x":1}}}`,
    ]) {
      const r = await post(`${server.url}/v1/purchases/verify`, body);
      assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 60)}: ${r.text}`);
    }
    assert.equal(server.grants.length, before);
  });
  it('a duplicated purchaseData key reads as JSON.parse does (the last one)', async () => {
    const p = orderPayload();
    const pd = purchaseData(pki.signJws(p));
    const r = await post(`${server.url}/v1/purchases/verify`, `{"purchaseData":"{}","purchaseData":${JSON.stringify(pd)}}`, {
      authorization: `Bearer ${sessionFor(DEFAULT_ACCOUNT)}`,
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.payload.purchaseOrderId, p['purchaseOrderId']);
  });
});

describe('concurrency and restarts', () => {
  it('concurrent presentations by different accounts: exactly one grant, every other account gets 409', async () => {
    const p = orderPayload();
    const pd = purchaseData(pki.signJws(p));
    const results = await Promise.all(Array.from({ length: 12 }, (_v, i) => verifyReq(server, pd, `acct-${i}`)));
    const ok = results.filter((r) => r.status === 200);
    assert.equal(ok.length, 1, results.map((r) => r.status).join(','));
    assert.equal(results.filter((r) => r.status === 409).length, 11);
    const grants = server.grants.filter((g) => g.purchaseOrderId === p['purchaseOrderId']);
    assert.equal(grants.length, 1);
    assert.equal((await server.ledger.get(p['purchaseOrderId'] as string))?.accountId, grants[0]!.accountId);
  });

  it('idempotency survives a restart on the same SQLite file (orders and notifications)', async () => {
    const file = tmpDb('restart');
    const p = orderPayload();
    const pd = purchaseData(pki.signJws(p));
    const requestId = crypto.randomUUID();
    const note = pki.signJws({
      notificationType: 'DID_NEW_TRANSACTION',
      notificationRequestId: requestId,
      notificationMetaData: { environment: 'SANDBOX', applicationId: APP_ID, purchaseOrderId: 'o-restart', purchaseToken: 't' },
      notificationVersion: 'v3',
      signedTime: Date.now(),
    });
    const first = await startTestServer(pki, { databasePath: file });
    assert.equal((await verifyReq(first, pd, 'alice')).headers.get('x-delivery'), 'new');
    assert.equal((await post(`${first.url}/v1/notifications`, { jwsNotification: note })).headers.get('x-notification'), 'noted');
    await first.close();

    const second = await startTestServer(pki, { databasePath: file });
    try {
      const again = await verifyReq(second, pd, 'alice');
      assert.equal(again.status, 200, again.text);
      assert.equal(again.headers.get('x-delivery'), 'replay');
      assert.equal(second.grants.length, 0);
      assert.equal((await verifyReq(second, pd, 'bob')).status, 409);
      assert.equal((await post(`${second.url}/v1/notifications`, { jwsNotification: note })).headers.get('x-notification'), 'duplicate');
      assert.equal(await second.ledger.grantedCount(), 1);
    } finally {
      await second.close();
    }
  });
});

describe('notifications', () => {
  const notify = (signer: TestPki, type: string, meta: Record<string, unknown>): ReturnType<typeof post> =>
    post(`${server.url}/v1/notifications`, {
      jwsNotification: signer.signJws({
        notificationType: type,
        notificationSubtype: 'REFUND_TRANSACTION',
        notificationRequestId: crypto.randomUUID(),
        notificationMetaData: { environment: 'SANDBOX', applicationId: APP_ID, ...meta },
        notificationVersion: 'v3',
        signedTime: Date.now(),
      }),
    });

  it('a REVOKE signed by a foreign root changes nothing (422 untrusted-chain)', async () => {
    const p = orderPayload();
    const pd = purchaseData(pki.signJws(p));
    assert.equal((await verifyReq(server, pd)).status, 200);
    const forged = await notify(foreign, 'REVOKE', { purchaseOrderId: p['purchaseOrderId'], purchaseToken: p['purchaseToken'] });
    assert.equal(forged.status, 422);
    assert.equal(forged.body.reason, 'untrusted-chain');
    const dressed = await notify(foreign, 'REVOKE', { purchaseOrderId: p['purchaseOrderId'] });
    assert.equal(dressed.status, 422);
    assert.equal((await server.ledger.get(p['purchaseOrderId'] as string))?.state, 'granted');
    assert.equal(server.revokes.includes(p['purchaseOrderId'] as string), false);
  });

  it('a notification for an unknown order is answered 200; only a REVOKE leaves a (revoked) row', async () => {
    const noted = await notify(pki, 'DID_NEW_TRANSACTION', { purchaseOrderId: 'unknown-order-1', purchaseToken: 'unknown-token-1' });
    assert.equal(noted.status, 200);
    assert.equal(await server.ledger.get('unknown-order-1'), undefined);
    const revoked = await notify(pki, 'REVOKE', { purchaseOrderId: 'unknown-order-2', purchaseToken: 'unknown-token-2' });
    assert.equal(revoked.status, 200);
    assert.equal(revoked.headers.get('x-notification'), 'revoked-before-grant');
    assert.equal((await server.ledger.get('unknown-order-2'))?.state, 'revoked');
  });
});

describe('log redaction', () => {
  it('no purchaseToken, JWS part, purchaseData or notification token in the logs, whatever the path', async () => {
    const logs = new LogCapture();
    const s = await startTestServer(pki, { logger: { level: 'debug', stream: logs } });
    try {
      const p = orderPayload();
      const jws = pki.signJws(p);
      const pd = purchaseData(jws);
      const notificationToken = `ntok-${crypto.randomBytes(16).toString('hex')}`;
      await verifyReq(s, pd, 'acct-1');
      await verifyReq(s, pd, 'acct-2');
      await verifyReq(s, purchaseData(withPart(jws, 2, 'A'.repeat(86))));
      await verifyReq(s, purchaseData(pki.signJws({ ...p, purchaseOrderRevocationReasonCode: '1' })));
      await verifyReq(s, purchaseData(pki.signJws({ ...p, applicationId: 'other' })));
      await verifyReq(s, purchaseData(jws.replace('.', '..')));
      await post(`${s.url}/v1/purchases/verify`, { purchaseData: pd, smuggled: p['purchaseToken'] });
      await post(`${s.url}/v1/purchases/verify`, `{"purchaseData":${JSON.stringify(pd)}`);
      await post(`${s.url}/v1/purchases/verify`, { purchaseData: `${pd}${'x'.repeat(70 * 1024)}` });
      await post(`${s.url}/v1/notifications`, {
        jwsNotification: pki.signJws({
          notificationType: 'REVOKE',
          notificationRequestId: crypto.randomUUID(),
          notificationMetaData: { environment: 'SANDBOX', applicationId: APP_ID, purchaseToken: notificationToken },
          notificationVersion: 'v3',
          signedTime: Date.now(),
        }),
      });
      await post(`${s.url}/v1/notifications`, { jwsNotification: foreign.signJws({ notificationMetaData: { purchaseToken: notificationToken } }) });
      const text = logs.text;
      assert.ok(text.includes(String(p['purchaseOrderId'])), 'the order id is logged');
      for (const secret of [String(p['purchaseToken']), notificationToken, ...jws.split('.').map((x) => x.slice(0, 32)), b64url(p).slice(0, 32)]) {
        assert.equal(text.includes(secret), false, `leaked into the logs: ${secret.slice(0, 12)}…`);
      }
    } finally {
      await s.close();
    }
  });
});
