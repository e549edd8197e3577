// The account behind a request comes from an authenticated session, never from the request body. An Authenticator
// turns the request's credential (the app's own login session, or a token of your identity provider) into an
// account, or refuses it with a typed AuthError (HTTP 401).

/** Who is calling, as the app's login established it. */
export interface AuthenticatedAccount {
  /** Your user id (1..128 characters, well-formed UTF-16). Orders are bound to it in the ledger. */
  accountId: string;
  /**
   * What the app sends as `developerPayload` at createPurchase for this account (the device's AccountProvider
   * binding, e.g. a salted hash of the user id). Default: `accountId`. An order whose signed developerPayload is not
   * this value belongs to another account (HTTP 403 `account-mismatch`).
   */
  binding?: string;
}

/** The parts of an HTTP request an authenticator may look at. */
export interface AuthRequest {
  /** The `Authorization` header, verbatim (undefined when absent). Never log it. */
  authorization: string | undefined;
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

export interface Authenticator {
  /** Resolves the caller's account; throws AuthError when there is no valid session. */
  authenticate(req: AuthRequest): Promise<AuthenticatedAccount> | AuthenticatedAccount;
}

export type AuthFailure = 'session-required' | 'session-invalid' | 'session-expired';

/** A request without a valid session: answered 401 with `reason` and a `WWW-Authenticate: Bearer` challenge. */
export class AuthError extends Error {
  constructor(
    readonly reason: AuthFailure,
    readonly detail: string,
  ) {
    super(`${reason}: ${detail}`);
    this.name = 'AuthError';
  }
}

export const MAX_ACCOUNT_ID = 128;
export const MAX_BINDING = 256;

/**
 * Unpaired surrogates would be stored as invalid UTF-8 and could never be matched again; U+0000 cannot be stored in
 * PostgreSQL text at all (SQLite would take it): both are refused, so that both ledgers hold the same things.
 */
export function isWellFormed(s: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]|\u0000/.test(s);
}

/** Checks what an authenticator returned (yours too): a bad account id is a bad session, never stored. */
export function checkAccount(a: AuthenticatedAccount): AuthenticatedAccount {
  const id: unknown = a?.accountId;
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ACCOUNT_ID || !isWellFormed(id)) {
    throw new AuthError('session-invalid', `the session's account id must be 1..${MAX_ACCOUNT_ID} characters of well-formed text`);
  }
  const b: unknown = a.binding;
  if (b !== undefined && (typeof b !== 'string' || b.length === 0 || b.length > MAX_BINDING || !isWellFormed(b))) {
    throw new AuthError('session-invalid', `the session's binding must be 1..${MAX_BINDING} characters of well-formed text`);
  }
  return b === undefined ? { accountId: id } : { accountId: id, binding: b };
}

/** `Bearer <token>` → the token; undefined when the header is absent; AuthError for another scheme or shape. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined || authorization === '') return undefined;
  const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization);
  if (!m) throw new AuthError('session-invalid', 'Authorization must be "Bearer <token>"');
  return m[1];
}
