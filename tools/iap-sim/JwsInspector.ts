// Reads and checks IAP JWS with node:crypto only, the way Huawei documents it: ES256, x5c of exactly three
// (leaf, intermediate, root), chain to a PINNED root (the root inside x5c is not trusted), leaf carries the
// non-critical extension 1.3.6.1.4.1.2011.2.415.1.1, signature over `header.payload` (raw r||s).
// An independent reference for the simulator's tests (not the product verifier). Reasons are the stable codes of
// common/iap RejectionReason, typed by the app server's RejectReason union (the same list): a certificate that does
// not parse is `bad-certificate`, a validity window not yet begun `cert-not-yet-valid`. It checks a subset (no key
// usage, CA flags or critical extensions) and uses `at`, not the payload's signedTime, as the validity instant.
import * as crypto from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { RejectReason } from '../../server/src/jws/Errors';
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

export type JwsCheck<T> = { ok: true; payload: T } | { ok: false; reason: RejectReason; detail: string };

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

/**
 * Full check against the pinned root (DER); `at` is the validity instant (default now). Throws when `pinnedRootDer`
 * itself is not a certificate: that is the caller's mistake, not a property of the JWS.
 */
export function checkJws<T>(jws: string, pinnedRootDer: Buffer, at: Date = new Date()): JwsCheck<T> {
  const fail = (reason: RejectReason, detail: string): JwsCheck<T> => ({ ok: false, reason, detail });
  let root: crypto.X509Certificate;
  try {
    root = new crypto.X509Certificate(pinnedRootDer);
  } catch (e) {
    throw new Error(`the pinned root is not a DER certificate: ${(e as Error).message}`);
  }
  let decoded: DecodedJws<T>;
  try {
    decoded = decodeJws<T>(jws);
  } catch (e) {
    return fail('malformed', (e as Error).message);
  }
  if (decoded.header.alg !== 'ES256') return fail('unsupported-alg', `alg ${String(decoded.header.alg)}`);
  const x5c = decoded.header.x5c;
  if (!Array.isArray(x5c) || x5c.length !== 3) {
    return fail('bad-chain-length', 'x5c must hold exactly three certificates');
  }
  const certificate = (index: number): crypto.X509Certificate | string => {
    const entry: unknown = x5c[index];
    if (typeof entry !== 'string') return `x5c[${index}] is not a string`;
    try {
      return new crypto.X509Certificate(Buffer.from(entry, 'base64'));
    } catch (e) {
      return `x5c[${index}] is not a DER certificate: ${(e as Error).message}`;
    }
  };
  const leaf = certificate(0);
  if (typeof leaf === 'string') return fail('bad-certificate', leaf);
  const intermediate = certificate(1);
  if (typeof intermediate === 'string') return fail('bad-certificate', intermediate);
  // x5c[2] must be a certificate too, but it is never trusted: the chain ends at the pinned root.
  const x5cRoot = certificate(2);
  if (typeof x5cRoot === 'string') return fail('bad-certificate', x5cRoot);
  if (!intermediate.checkIssued(root) || !intermediate.verify(root.publicKey)) {
    return fail('untrusted-chain', 'the intermediate is not issued by the pinned root');
  }
  if (!leaf.checkIssued(intermediate) || !leaf.verify(intermediate.publicKey)) {
    return fail('untrusted-chain', 'the leaf is not issued by the intermediate');
  }
  for (const cert of [leaf, intermediate, root]) {
    if (at < new Date(cert.validFrom)) return fail('cert-not-yet-valid', cert.subject);
    if (at > new Date(cert.validTo)) return fail('cert-expired', cert.subject);
  }
  if (!hasIapOid(leaf.raw)) return fail('missing-oid', `leaf lacks ${IAP_LEAF_OID}`);
  const input = Buffer.from(decoded.signingInput, 'ascii');
  const ok = crypto.verify('sha256', input, { key: leaf.publicKey, dsaEncoding: 'ieee-p1363' }, decoded.signature);
  if (!ok) return fail('bad-signature', 'ES256 signature does not verify');
  return { ok: true, payload: decoded.payload };
}
