// Server-side verifier for IAP Kit JWS (jwsPurchaseOrder, jwsSubscriptionStatus, jwsNotification): node:crypto for
// parsing the intermediate, chain signatures and keys; asn1js + @peculiar/asn1-x509 (CertificateReader.ts) for the
// version, names, extensions and DER rules node:crypto does not expose (full @peculiar/x509 objects measured too slow
// for the cold path); lru-cache.
//
// Rules (facts §4): alg must be ES256; x5c must hold exactly 3 certificates (leaf, intermediate, root); the leaf and
// the intermediate are validated up to a PINNED root from configuration (the root inside x5c is never trusted, not
// even looked at); the intermediate must be a CA and not self-issued (a leaf issued directly by the root is refused);
// the leaf must not be a CA and must carry the non-critical extension 1.3.6.1.4.1.2011.2.415.1.1; the ES256 signature
// is raw r||s (64 bytes); leaf and intermediate must be valid at the payload's signedTime (UTC ms, a number).
//
// The on-device verifier (common/iap core/verify) applies the same rules with the same reason codes: every part is
// canonical base64url (one text per byte string), x5c entries canonical padded Base64, certificates DER X.509 v3,
// `crit` refused before `alg` is judged, duplicate JSON keys read as JSON.parse reads them (the last one wins).
//
// Warm path: a bounded LRU cache of already-validated chains keyed on the exact x5c[0] + x5c[1] strings (the cert
// bytes), with expiry. A hit skips certificate parsing and chain signatures, but validity at signedTime is still
// checked and the JWS signature is always verified with the cached leaf KeyObject.
import * as crypto from 'node:crypto';
import { CertificateError, crlDistributionUris, readCertificate, readNames, type CertificateInfo } from './CertificateReader';
import { RejectError } from './Errors';
import { LRUCache } from 'lru-cache';

export const HUAWEI_IAP_LEAF_OID = '1.3.6.1.4.1.2011.2.415.1.1';

export interface JwsVerifierOptions {
  /** PEM text of the pinned root certificate(s); several roots allow a rotation. */
  trustedRootsPem: string | string[];
  /** Required non-critical leaf extension; default 1.3.6.1.4.1.2011.2.415.1.1. */
  requiredLeafOid?: string;
  /** Validated-chain cache; default { maxEntries: 1024, ttlMs: 1 hour }. false disables it. */
  cache?: { maxEntries?: number; ttlMs?: number } | false;
  /** How far signedTime may lie in the future (default 5 minutes). */
  maxClockSkewMs?: number;
  now?: () => number;
  /**
   * Where verifyAsync runs the ES256 signature check (default 'pool'): 'pool' = libuv's thread pool, so a lone
   * instance uses every core for the dominant cost of a request; 'loop' = on the event loop, for one instance per
   * core (several instances on the machine), where the hand-off to a pool thread only adds wake-ups and context
   * switches on cores that are already busy. The result is the same either way.
   */
  signatureChecks?: SignatureChecks;
}

/** See JwsVerifierOptions.signatureChecks. */
export type SignatureChecks = 'pool' | 'loop';
export const SIGNATURE_CHECKS: readonly SignatureChecks[] = ['pool', 'loop'];

export interface JwsHeader {
  alg: 'ES256';
  typ?: string;
  x5c: [string, string, string];
  [k: string]: unknown;
}

/** A chain validated up to a pinned root. */
export interface ValidatedChain {
  readonly leafDer: Buffer;
  /** Lower-case hex, no leading zeros. */
  readonly leafSerialHex: string;
  readonly intermediate: crypto.X509Certificate;
  readonly intermediateSerialHex: string;
  /** The pinned root the chain validated to. */
  readonly root: crypto.X509Certificate;
  readonly leafKey: crypto.KeyObject;
  /** Validity windows (ms since epoch). */
  readonly leafNotBefore: number;
  readonly leafNotAfter: number;
  readonly intNotBefore: number;
  readonly intNotAfter: number;
  /** CRL distribution point URIs of the leaf and the intermediate (for the optional revocation policy). */
  readonly leafCrlUris: string[];
  readonly intCrlUris: string[];
}

export interface VerifiedJws<T = Record<string, unknown>> {
  header: JwsHeader;
  payload: T;
  signedTime: number;
  chain: ValidatedChain;
}

const B64URL = /^[A-Za-z0-9_-]+$/;
const B64 = /^[A-Za-z0-9+/]+={0,2}$/;
const OID_CRL_DP = '2.5.29.31';
// The critical extensions the device understands (basicConstraints, keyUsage, extKeyUsage, certificatePolicies,
// subjectAltName); any other critical extension makes a certificate unusable, on both sides.
const KNOWN_CRITICAL = new Set(['2.5.29.19', '2.5.29.15', '2.5.29.37', '2.5.29.32', '2.5.29.17']);
const KU_DIGITAL_SIGNATURE = 1 << 0;
const KU_KEY_CERT_SIGN = 1 << 5;
const MAX_JWS_LENGTH = 64 * 1024;
const ECDSA_SIG_HASH = new Map([
  ['1.2.840.10045.4.3.2', 'sha256'],
  ['1.2.840.10045.4.3.3', 'sha384'],
  ['1.2.840.10045.4.3.4', 'sha512'],
]);
// SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (0 unused bits) 04 ... }
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d03010703420004', 'hex');

function splitPem(pem: string): Buffer[] {
  const out: Buffer[] = [];
  const re = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(pem)) !== null) out.push(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
  return out;
}

/** Unpadded base64url whose decoding re-encodes to the same text (no stray trailing bits), as the device requires. */
function isCanonicalBase64Url(text: string): boolean {
  return B64URL.test(text) && text.length % 4 !== 1 && Buffer.from(text, 'base64url').toString('base64url') === text;
}

/** Standard Base64 with its mandatory padding, canonical (the form x5c uses), as the device requires. */
function isCanonicalBase64(text: string): boolean {
  return B64.test(text) && text.length % 4 === 0 && Buffer.from(text, 'base64').toString('base64') === text;
}

function decodeJsonObject(part: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new RejectError('malformed', `${what} is not JSON`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new RejectError('malformed', `${what} is not a JSON object`);
  return v as Record<string, unknown>;
}

/** The time a JWS's certificates are judged valid at, read from its payload (throws RejectError when absent). */
export type TimeOf = (payload: Record<string, unknown>) => number;

function signedTimeOf(payload: Record<string, unknown>): number {
  const st = payload['signedTime'];
  // UTC milliseconds as a JSON number: a string would reach the device in the answer, which refuses it.
  if (typeof st === 'number' && Number.isFinite(st) && st > 0) return st;
  throw new RejectError('invalid-payload', 'signedTime missing or not a positive number');
}

/** A JWS that passed every check but its signature (verify / verifyAsync share them). */
interface CheckedJws {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signedTime: number;
  now: number;
  chain: ValidatedChain;
  signingInput: Buffer;
  signature: Buffer;
}

export class JwsVerifier {
  private readonly roots: crypto.X509Certificate[];
  private readonly rootKeys: crypto.KeyObject[];
  /** DER of each root's subject Name, which an intermediate's issuer must equal byte for byte. */
  private readonly rootSubjects: Buffer[];
  private readonly intCache: ExpiringLru<IntermediateEntry> | undefined;
  private readonly leafOid: string;
  private readonly cache: ExpiringLru<ValidatedChain> | undefined;
  private readonly skew: number;
  private readonly now: () => number;
  private readonly onPool: boolean;

  constructor(opts: JwsVerifierOptions) {
    const pems = Array.isArray(opts.trustedRootsPem) ? opts.trustedRootsPem : [opts.trustedRootsPem];
    const rootDers = pems.flatMap(splitPem);
    this.roots = rootDers.map((der) => new crypto.X509Certificate(der));
    if (this.roots.length === 0) throw new Error('JwsVerifier: no trusted root certificate in trustedRootsPem');
    this.rootKeys = this.roots.map((r) => r.publicKey);
    // Read apart from readCertificate: a pinned root may be v1 or carry no extensions.
    this.rootSubjects = rootDers.map((der) => readNames(der).subject);
    this.leafOid = opts.requiredLeafOid ?? HUAWEI_IAP_LEAF_OID;
    const c = opts.cache === undefined ? {} : opts.cache;
    this.cache = c === false ? undefined : new ExpiringLru<ValidatedChain>(c.maxEntries ?? 1024, c.ttlMs ?? 3_600_000);
    this.intCache = c === false ? undefined : new ExpiringLru<IntermediateEntry>(Math.min(c.maxEntries ?? 1024, 256), c.ttlMs ?? 3_600_000);
    this.skew = opts.maxClockSkewMs ?? 5 * 60_000;
    this.now = opts.now ?? Date.now;
    const placement = opts.signatureChecks ?? 'pool';
    if (!SIGNATURE_CHECKS.includes(placement)) {
      throw new Error(`JwsVerifier: signatureChecks must be ${SIGNATURE_CHECKS.join(' or ')}, got ${JSON.stringify(placement)}`);
    }
    this.onPool = placement === 'pool';
  }

  cacheStats(): { size: number; hits: number; misses: number; evictions: number } | undefined {
    const c = this.cache;
    return c && { size: c.size, hits: c.hits, misses: c.misses, evictions: c.evictions };
  }

  /**
   * Verifies a compact JWS; returns the parsed payload or throws RejectError. Synchronous. `timeOf` names the time
   * certificate validity is judged at (default: the payload's signedTime, required): a SubGroupStatusPayload may
   * carry no signedTime of its own.
   */
  verify<T = Record<string, unknown>>(jws: string, timeOf: TimeOf = signedTimeOf): VerifiedJws<T> {
    const c = this.check(jws, timeOf);
    let ok: boolean;
    try {
      ok = crypto.verify('sha256', c.signingInput, { key: c.chain.leafKey, dsaEncoding: 'ieee-p1363' }, c.signature);
    } catch {
      ok = false;
    }
    return this.finish<T>(c, ok);
  }

  /**
   * The same checks as verify(), in the same order and with the same reason codes, but with signatureChecks 'pool'
   * (the default) the ES256 signature check runs on libuv's thread pool (crypto.verify with a callback), off the event
   * loop: a server verifying many orders at once uses every core for the dominant cost of a request. Everything else
   * (parsing, the chain cache) stays synchronous. With 'loop' it is verify() behind a promise. `timeOf` as for verify().
   */
  verifyAsync<T = Record<string, unknown>>(jws: string, timeOf: TimeOf = signedTimeOf): Promise<VerifiedJws<T>> {
    let c: CheckedJws;
    try {
      if (!this.onPool) return Promise.resolve(this.verify<T>(jws, timeOf));
      c = this.check(jws, timeOf);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise((resolve, reject) => {
      const done = (ok: boolean): void => {
        try {
          resolve(this.finish<T>(c, ok));
        } catch (e) {
          reject(e);
        }
      };
      try {
        crypto.verify('sha256', c.signingInput, { key: c.chain.leafKey, dsaEncoding: 'ieee-p1363' }, c.signature, (err, ok) => done(err === null && ok));
      } catch {
        done(false);
      }
    });
  }

  /** Everything up to the signature check: structure, header, payload, chain; throws RejectError. */
  private check(jws: string, timeOf: TimeOf): CheckedJws {
    if (typeof jws !== 'string' || jws.length === 0) throw new RejectError('malformed', 'JWS is empty');
    if (jws.length > MAX_JWS_LENGTH) throw new RejectError('malformed', 'JWS too long');
    const d1 = jws.indexOf('.');
    const d2 = d1 < 0 ? -1 : jws.indexOf('.', d1 + 1);
    if (d1 <= 0 || d2 < 0 || jws.indexOf('.', d2 + 1) !== -1) {
      throw new RejectError('malformed', 'compact JWS must have exactly 3 parts');
    }
    const h = jws.slice(0, d1);
    const p = jws.slice(d1 + 1, d2);
    const s = jws.slice(d2 + 1);
    if (!isCanonicalBase64Url(h) || !isCanonicalBase64Url(p)) {
      throw new RejectError('malformed', 'JWS header and payload must be non-empty canonical unpadded base64url');
    }

    const header = decodeJsonObject(h, 'header');
    if (header['crit'] !== undefined) throw new RejectError('malformed', 'crit header parameter not supported');
    if (header['alg'] !== 'ES256') {
      throw new RejectError('unsupported-alg', `alg ${JSON.stringify(header['alg'] ?? null)} is not ES256`);
    }
    const x5c = header['x5c'];
    if (x5c === undefined) throw new RejectError('bad-chain-length', 'x5c missing');
    if (!Array.isArray(x5c)) throw new RejectError('malformed', 'x5c is not an array');
    if (x5c.length !== 3) throw new RejectError('bad-chain-length', `x5c has ${x5c.length} certificates, expected 3`);
    const [leafB64, intB64] = x5c as unknown[];
    if (typeof leafB64 !== 'string' || typeof intB64 !== 'string' || typeof x5c[2] !== 'string' || x5c[2] === '') {
      throw new RejectError('bad-certificate', 'x5c entries must be Base64 certificate strings');
    }

    // The signature part may be empty only for alg "none", which was refused above.
    if (!isCanonicalBase64Url(s)) throw new RejectError('malformed', 'JWS signature must be canonical unpadded base64url');

    const payload = decodeJsonObject(p, 'payload');
    const signedTime = timeOf(payload);
    const now = this.now();

    const chain = this.chainFor(leafB64, intB64, now);

    if (s.length !== 86) throw new RejectError('bad-signature', 'ES256 signature must be 64 bytes (raw r||s)');
    return { header, payload, signedTime, now, chain, signingInput: Buffer.from(jws.slice(0, d2), 'latin1'), signature: Buffer.from(s, 'base64url') };
  }

  /** The checks after the signature (validity at signedTime is judged on an authentic signedTime). */
  private finish<T>(c: CheckedJws, signatureOk: boolean): VerifiedJws<T> {
    const { chain, signedTime, now } = c;
    if (!signatureOk) throw new RejectError('bad-signature', 'ES256 signature does not verify with the leaf key');

    if (signedTime < chain.leafNotBefore || signedTime < chain.intNotBefore) {
      throw new RejectError('cert-not-yet-valid', 'certificate not yet valid at signedTime');
    }
    if (signedTime > chain.leafNotAfter || signedTime > chain.intNotAfter) {
      throw new RejectError('cert-expired', 'certificate expired at signedTime');
    }
    if (signedTime > now + this.skew) throw new RejectError('signed-in-future', 'signedTime is in the future');

    return { header: c.header as JwsHeader, payload: c.payload as T, signedTime, chain };
  }

  private chainFor(leafB64: string, intB64: string, now: number): ValidatedChain {
    const key = leafB64.length + ':' + leafB64 + intB64;
    const cached = this.cache?.get(key, now);
    if (cached) return cached;
    const chain = this.validateChain(leafB64, intB64, now);
    this.cache?.set(key, chain, now);
    return chain;
  }

  private decodeCert(b64: string, what: string): Buffer {
    if (!isCanonicalBase64(b64)) throw new RejectError('bad-certificate', `${what} is not canonical padded Base64`);
    return Buffer.from(b64, 'base64');
  }

  private parseFields(der: Buffer, what: string): CertificateInfo {
    try {
      return readCertificate(der);
    } catch (e) {
      if (e instanceof CertificateError) throw new RejectError('bad-certificate', `${what}: ${e.message}`);
      throw e;
    }
  }

  private checkCritical(f: CertificateInfo, what: string): void {
    for (const e of f.extensions) {
      // The IAP leaf OID critical is judged later, as missing-oid (it must be non-critical), as on the device.
      if (e.critical && !KNOWN_CRITICAL.has(e.oid) && e.oid !== this.leafOid) {
        throw new RejectError('bad-certificate', `${what} has an unsupported critical extension`);
      }
    }
  }

  /** Intermediate → one of the pinned roots; cached separately (in real traffic all leaves share a few). */
  private intermediateFor(intB64: string, now: number): IntermediateEntry {
    const hit = this.intCache?.get(intB64, now);
    if (hit) return hit;
    // Read fully first (OpenSSL's parse, the reader's rules, the key), as the device reads it: what it cannot read is a
    // bad-certificate whatever its issuer.
    const der = this.decodeCert(intB64, 'intermediate certificate');
    let cert: crypto.X509Certificate;
    try {
      cert = new crypto.X509Certificate(der);
    } catch {
      throw new RejectError('bad-certificate', 'intermediate certificate is not an X.509 certificate');
    }
    const fields = this.parseFields(der, 'intermediate');
    let key: crypto.KeyObject;
    try {
      key = cert.publicKey;
    } catch {
      // OpenSSL parses a certificate whose key it cannot decode (an off-curve point); the device refuses to read it.
      throw new RejectError('bad-certificate', 'intermediate public key cannot be decoded');
    }
    // The x5c root (third entry) is ignored on purpose: only the pinned roots are anchors. Names are compared byte for
    // byte (the device cannot do RFC 4518 matching, nor does it judge AKID/SKID); X509_verify checks the signature.
    const rootIdx = this.roots.findIndex((_r, k) => fields.issuer.equals(this.rootSubjects[k]!) && cert.verify(this.rootKeys[k]!));
    if (rootIdx < 0) throw new RejectError('untrusted-chain', 'intermediate is not issued by the pinned root');
    // A self-issued "intermediate" is a root (the pinned one, signed by itself): the leaf would be issued by a root.
    if (fields.issuer.equals(fields.subject)) {
      throw new RejectError('untrusted-chain', 'the intermediate is a self-issued root certificate, not an intermediate CA');
    }
    // basicConstraints as the reader decoded it, not X509Certificate.ca: OpenSSL answers "not a CA" when any extension
    // it caches (an SKID, a CRL distribution point) does not decode, values the device does not judge.
    if (fields.basicConstraintsCa !== true) throw new RejectError('untrusted-chain', 'intermediate is not a CA');
    if (fields.keyUsage !== undefined && !(fields.keyUsage & KU_KEY_CERT_SIGN)) {
      throw new RejectError('untrusted-chain', 'intermediate key usage lacks keyCertSign');
    }
    this.checkCritical(fields, 'intermediate');
    const entry: IntermediateEntry = { cert, key, fields, root: this.roots[rootIdx]!, crlUris: crlUrisOf(fields) };
    this.intCache?.set(intB64, entry, now);
    return entry;
  }

  private validateChain(leafB64: string, intB64: string, now: number): ValidatedChain {
    // The leaf is read before the intermediate, as on the device.
    const leafDer = this.decodeCert(leafB64, 'leaf certificate');
    const lf = this.parseFields(leafDer, 'leaf');
    // ES256 needs an EC P-256 leaf key: SubjectPublicKeyInfo = fixed prefix || 04 || X || Y. Imported now, as the
    // device's platform reads the key with the certificate: a point it cannot decode is an unreadable certificate.
    const p256 = lf.spki.length === 91 && lf.spki.subarray(0, 27).equals(P256_SPKI_PREFIX);
    let leafKey: crypto.KeyObject | undefined;
    if (p256) {
      try {
        leafKey = crypto.createPublicKey({
          key: { kty: 'EC', crv: 'P-256', x: lf.spki.subarray(27, 59).toString('base64url'), y: lf.spki.subarray(59, 91).toString('base64url') },
          format: 'jwk',
        });
      } catch {
        throw new RejectError('bad-certificate', 'leaf public key is not a valid P-256 point');
      }
    } else {
      try {
        crypto.createPublicKey({ key: lf.spki, format: 'der', type: 'spki' });
      } catch {
        // The device's platform decodes every key when it reads the certificate (an unknown curve, a broken point).
        throw new RejectError('bad-certificate', 'leaf public key cannot be decoded');
      }
    }
    const int = this.intermediateFor(intB64, now);

    // Issued iff the leaf's issuer Name is byte-identical to the intermediate's subject and the signature verifies
    // with X509_verify's rules (the intermediate's check here, every certificate's on the device): differing
    // signature algorithm fields or a signature with unused bits do not verify, whatever the key. An ECDSA-signed leaf
    // under an EC intermediate is verified directly over its TBS; anything else goes through OpenSSL's parser.
    const hash = ECDSA_SIG_HASH.get(lf.sigAlgOid);
    let issued: boolean;
    if (!lf.issuer.equals(int.fields.subject) || !lf.sigAlgMatchesTbs || lf.signatureUnusedBits !== 0) {
      issued = false;
    } else if (hash !== undefined && int.key.asymmetricKeyType === 'ec') {
      try {
        issued = crypto.verify(hash, lf.tbs, { key: int.key, dsaEncoding: 'der' }, lf.signature);
      } catch {
        issued = false;
      }
    } else {
      let leaf: crypto.X509Certificate;
      try {
        leaf = new crypto.X509Certificate(leafDer);
      } catch {
        throw new RejectError('bad-certificate', 'leaf certificate is not an X.509 certificate');
      }
      issued = leaf.verify(int.key);
    }
    if (!issued) throw new RejectError('untrusted-chain', 'leaf is not issued by the intermediate');
    this.checkCritical(lf, 'leaf');
    if (lf.basicConstraintsCa === true) throw new RejectError('bad-certificate', 'leaf is a CA certificate, not an end-entity signing leaf');
    if (lf.keyUsage !== undefined && !(lf.keyUsage & KU_DIGITAL_SIGNATURE)) {
      throw new RejectError('bad-certificate', 'leaf key usage lacks digitalSignature');
    }
    if (!lf.extensions.some((e) => !e.critical && e.oid === this.leafOid)) {
      throw new RejectError('missing-oid', 'leaf lacks the IAP extension OID as a non-critical extension');
    }
    if (leafKey === undefined) throw new RejectError('bad-certificate', 'leaf key is not an uncompressed EC P-256 key');
    return {
      leafDer,
      leafSerialHex: lf.serialHex,
      intermediate: int.cert,
      intermediateSerialHex: int.fields.serialHex,
      root: int.root,
      leafKey,
      leafNotBefore: lf.notBefore,
      leafNotAfter: lf.notAfter,
      intNotBefore: int.fields.notBefore,
      intNotAfter: int.fields.notAfter,
      leafCrlUris: crlUrisOf(lf),
      intCrlUris: int.crlUris,
    };
  }
}

interface IntermediateEntry {
  cert: crypto.X509Certificate;
  key: crypto.KeyObject;
  fields: CertificateInfo;
  root: crypto.X509Certificate;
  crlUris: string[];
}

function extValue(f: CertificateInfo, oid: string): Buffer | undefined {
  return f.extensions.find((e) => e.oid === oid)?.value;
}

function crlUrisOf(f: CertificateInfo): string[] {
  const v = extValue(f, OID_CRL_DP);
  try {
    return v ? crlDistributionUris(v) : [];
  } catch {
    return [];
  }
}

/**
 * A bounded LRU (the lru-cache package) whose entries expire `ttlMs` after they were set, on the verifier's own
 * clock (injected in tests); counts hits, misses and evictions for cacheStats().
 */
class ExpiringLru<V extends object> {
  private readonly lru: LRUCache<string, { value: V; expiresAt: number }>;
  hits = 0;
  misses = 0;
  evictions = 0;

  constructor(maxEntries: number, private readonly ttlMs: number) {
    if (!(maxEntries >= 1)) throw new Error('maxEntries must be >= 1');
    this.lru = new LRUCache({
      max: maxEntries,
      dispose: (_v, _k, reason) => {
        if (reason === 'evict') this.evictions++;
      },
    });
  }

  get size(): number {
    return this.lru.size;
  }

  get(key: string, now: number): V | undefined {
    const e = this.lru.get(key);
    if (e !== undefined && e.expiresAt > now) {
      this.hits++;
      return e.value;
    }
    if (e !== undefined) this.lru.delete(key);
    this.misses++;
    return undefined;
  }

  set(key: string, value: V, now: number): void {
    this.lru.set(key, { value, expiresAt: now + this.ttlMs });
  }
}
