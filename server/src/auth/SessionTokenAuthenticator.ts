// The reference Authenticator: a session token of the app's own login, as a compact JWT signed with HMAC-SHA256
// (HS256, RFC 7519 / RFC 7518 §3.2). The app's login service mints it (`mintSessionToken`, or any JWT library with
// the same secret); the device sends it as `Authorization: Bearer <token>`.
//
// Checks: exactly three canonical base64url parts; header `alg` exactly "HS256" (it is compared, never used to pick
// an algorithm, so `none` and key-confusion downgrades cannot happen); no `crit`; the HMAC compared in constant time
// against each configured secret (rotation); `iss` and `aud` equal to the configured ones; `exp` required and in the
// future, `nbf` / `iat` not in the future, each with the configured clock skew; a lifetime bounded by `maxLifetimeSeconds`;
// `sub` the account id (1..128 characters, well-formed UTF-16); optional `bnd` the developerPayload binding.
import * as crypto from 'node:crypto';
import { AuthError, bearerToken, checkAccount, type AuthenticatedAccount, type Authenticator, type AuthRequest } from './Authenticator';

export interface SessionTokenOptions {
  /** HMAC secret(s), at least 32 bytes each. The first one signs; every one verifies (rotate by prepending). */
  secrets: readonly (string | Buffer)[];
  /** Expected `iss`. */
  issuer: string;
  /** Expected `aud` (the token's `aud` may be this string or an array holding it). */
  audience: string;
  /** Allowed clock difference with the login service (default 60 s). */
  clockSkewSeconds?: number;
  /** Longest accepted `exp - iat` (default 24 h); a token without `iat` is judged by `exp - now`. */
  maxLifetimeSeconds?: number;
  /** Clock in ms (tests). */
  now?: () => number;
}

export const MIN_SECRET_BYTES = 32;
const MAX_TOKEN_CHARS = 4096;
const B64URL = /^[A-Za-z0-9_-]+$/;

function keyOf(secret: string | Buffer): Buffer {
  const key = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  if (key.length < MIN_SECRET_BYTES) throw new Error(`session secret must be at least ${MIN_SECRET_BYTES} bytes`);
  return key;
}

function decodePart(part: string): Buffer | undefined {
  if (part.length === 0 || !B64URL.test(part) || part.length % 4 === 1) return undefined;
  const bytes = Buffer.from(part, 'base64url');
  // Canonical only: the same bytes must encode back to the same text (no stray trailing bits).
  return bytes.toString('base64url') === part ? bytes : undefined;
}

function jsonObject(bytes: Buffer | undefined): Record<string, unknown> | undefined {
  if (bytes === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(bytes.toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function hmac(key: Buffer, input: string): Buffer {
  return crypto.createHmac('sha256', key).update(input, 'ascii').digest();
}

export class SessionTokenAuthenticator implements Authenticator {
  private readonly keys: Buffer[];
  private readonly skew: number;
  private readonly maxLifetime: number;
  private readonly now: () => number;

  constructor(private readonly o: SessionTokenOptions) {
    if (o.secrets.length === 0) throw new Error('at least one session secret is required');
    if (!o.issuer || !o.audience) throw new Error('session issuer and audience are required');
    this.keys = o.secrets.map(keyOf);
    this.skew = o.clockSkewSeconds ?? 60;
    this.maxLifetime = o.maxLifetimeSeconds ?? 24 * 3600;
    this.now = o.now ?? Date.now;
  }

  authenticate(req: AuthRequest): AuthenticatedAccount {
    const token = bearerToken(req.authorization);
    if (token === undefined) throw new AuthError('session-required', 'send the session token as Authorization: Bearer <token>');
    return this.verify(token);
  }

  /** Verifies a session token; returns its account or throws AuthError. */
  verify(token: string): AuthenticatedAccount {
    const invalid = (detail: string): AuthError => new AuthError('session-invalid', detail);
    if (token.length > MAX_TOKEN_CHARS) throw invalid('session token too long');
    const parts = token.split('.');
    if (parts.length !== 3) throw invalid('session token is not a compact JWS');
    const [h, p, s] = parts as [string, string, string];
    const header = jsonObject(decodePart(h));
    const sig = decodePart(s);
    if (header === undefined || sig === undefined) throw invalid('session token is not a compact JWS');
    if (header['alg'] !== 'HS256') throw invalid('session token alg must be HS256');
    if (header['crit'] !== undefined) throw invalid('session token has crit');
    const input = `${h}.${p}`;
    // Every key is tried, in constant time per comparison, so the time does not tell which part matched.
    let ok = false;
    for (const key of this.keys) {
      const mac = hmac(key, input);
      if (mac.length === sig.length && crypto.timingSafeEqual(mac, sig)) ok = true;
    }
    if (!ok) throw invalid('session token signature does not verify');
    const claims = jsonObject(decodePart(p));
    if (claims === undefined) throw invalid('session token payload is not a JSON object');
    if (claims['iss'] !== this.o.issuer) throw invalid('session token issuer is not accepted');
    const aud = claims['aud'];
    if (!(aud === this.o.audience || (Array.isArray(aud) && aud.includes(this.o.audience)))) {
      throw invalid('session token audience is not this server');
    }
    const nowS = this.now() / 1000;
    const exp = claims['exp'];
    if (typeof exp !== 'number' || !Number.isFinite(exp)) throw invalid('session token has no exp');
    if (nowS > exp + this.skew) throw new AuthError('session-expired', 'the session has expired: sign in again');
    for (const name of ['nbf', 'iat'] as const) {
      const t = claims[name];
      if (t === undefined) continue;
      if (typeof t !== 'number' || !Number.isFinite(t)) throw invalid(`session token ${name} is not a number`);
      if (t > nowS + this.skew) throw invalid(`session token ${name} is in the future`);
    }
    const iat = typeof claims['iat'] === 'number' ? claims['iat'] : nowS;
    if (exp - iat > this.maxLifetime) throw invalid('session token lifetime is longer than allowed');
    const bnd = claims['bnd'];
    return checkAccount({
      accountId: claims['sub'] as string,
      ...(bnd === undefined ? {} : { binding: bnd as string }),
    });
  }
}

export interface MintOptions {
  secret: string | Buffer;
  issuer: string;
  audience: string;
  accountId: string;
  /** developerPayload binding, when it is not the account id. */
  binding?: string;
  /** Lifetime in seconds (default 1 h). */
  ttlSeconds?: number;
  /** Clock in ms (tests). */
  now?: number;
}

/** Mints a session token the SessionTokenAuthenticator accepts: what the app's login service does after sign-in. */
export function mintSessionToken(o: MintOptions): string {
  const iat = Math.floor((o.now ?? Date.now()) / 1000);
  const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const claims: Record<string, unknown> = { iss: o.issuer, aud: o.audience, sub: o.accountId, iat, exp: iat + (o.ttlSeconds ?? 3600) };
  if (o.binding !== undefined) claims['bnd'] = o.binding;
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const input = `${header}.${payload}`;
  return `${input}.${hmac(keyOf(o.secret), input).toString('base64url')}`;
}
