// Reads and checks IAP JWS with node:crypto only, the way Huawei documents it: ES256, x5c of exactly three
// (leaf, intermediate, root), chain to a PINNED root (the root inside x5c is not trusted), leaf carries the
// non-critical extension 1.3.6.1.4.1.2011.2.415.1.1, signature over `header.payload` (raw r||s).
// An independent reference for the simulator's tests (not the product verifier). Reasons use the stable
// codes of common/iap RejectionReason.
import * as crypto from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { IAP_LEAF_OID } from '../testing/TestPki';

export interface JwsHeader {
  alg?: unknown;
  typ?: unknown;
  x5c?: unknown;
}

export interface DecodedJws<T> {
  header: JwsHeader;
  payload: T;
  signingInput: string;
  signature: Buffer;
}

export type JwsCheck<T> = { ok: true; payload: T } | { ok: false; reason: string; detail: string };

/** Splits and decodes a compact JWS without checking anything; throws on malformed input. */
export function decodeJws<T>(jws: string): DecodedJws<T> {
  const parts = jws.split('.');
  if (parts.length !== 3) throw new Error('a compact JWS has three parts');
  const json = (s: string): unknown => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
  return {
    header: json(parts[0]) as JwsHeader,
    payload: json(parts[1]) as T,
    signingInput: `${parts[0]}.${parts[1]}`,
    signature: Buffer.from(parts[2], 'base64url'),
  };
}

function hasIapOid(der: Buffer): boolean {
  const ext = new x509.X509Certificate(der).getExtension(IAP_LEAF_OID);
  return ext !== null && !ext.critical;
}

/** Full check against the pinned root (DER); `at` is the validity instant (default now). */
export function checkJws<T>(jws: string, pinnedRootDer: Buffer, at: Date = new Date()): JwsCheck<T> {
  const fail = (reason: string, detail: string): JwsCheck<T> => ({ ok: false, reason, detail });
  let decoded: DecodedJws<T>;
  try {
    decoded = decodeJws<T>(jws);
  } catch (e) {
    return fail('malformed', (e as Error).message);
  }
  if (decoded.header.alg !== 'ES256') return fail('unsupported-alg', `alg ${String(decoded.header.alg)}`);
  const x5c = decoded.header.x5c;
  if (!Array.isArray(x5c) || x5c.length !== 3 || !x5c.every((c) => typeof c === 'string')) {
    return fail('bad-chain-length', 'x5c must hold exactly three certificates');
  }
  let leaf: crypto.X509Certificate;
  let intermediate: crypto.X509Certificate;
  let root: crypto.X509Certificate;
  try {
    leaf = new crypto.X509Certificate(Buffer.from(x5c[0] as string, 'base64'));
    intermediate = new crypto.X509Certificate(Buffer.from(x5c[1] as string, 'base64'));
    root = new crypto.X509Certificate(pinnedRootDer);
  } catch (e) {
    return fail('malformed', `certificate: ${(e as Error).message}`);
  }
  if (!intermediate.checkIssued(root) || !intermediate.verify(root.publicKey)) {
    return fail('untrusted-chain', 'the intermediate is not issued by the pinned root');
  }
  if (!leaf.checkIssued(intermediate) || !leaf.verify(intermediate.publicKey)) {
    return fail('untrusted-chain', 'the leaf is not issued by the intermediate');
  }
  for (const cert of [leaf, intermediate, root]) {
    if (at < new Date(cert.validFrom) || at > new Date(cert.validTo)) return fail('cert-expired', cert.subject);
  }
  if (!hasIapOid(leaf.raw)) return fail('missing-oid', `leaf lacks ${IAP_LEAF_OID}`);
  const input = Buffer.from(decoded.signingInput, 'ascii');
  const ok = crypto.verify('sha256', input, { key: leaf.publicKey, dsaEncoding: 'ieee-p1363' }, decoded.signature);
  if (!ok) return fail('bad-signature', 'ES256 signature does not verify');
  return { ok: true, payload: decoded.payload };
}
